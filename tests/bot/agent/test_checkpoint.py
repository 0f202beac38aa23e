"""Checkpoints: atomic writes, pruning, resume from the newest valid file, clear incompatibility errors."""

from __future__ import annotations

import logging
import os

import pytest
import torch

from tradingbot.agent.checkpoint import (
    Checkpoint,
    CheckpointCorruptError,
    CheckpointIncompatibleError,
    CheckpointWriteError,
    checkpoint_name,
    checkpoint_paths,
    initial_weights,
    read_checkpoint,
    write_checkpoint,
)
from tradingbot.agent.checkpoint_store import CheckpointStore
from tradingbot.agent.network import NetworkConfig
from tradingbot.build import build_trader
from tradingbot.config import load_settings
from tradingbot.env.portfolio import FeeSchedule, Portfolio
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig


def saved_trader(small_trader, tmp_path, steps=30, **kwargs):
    store = CheckpointStore(tmp_path, keep=3)
    trader = small_trader(store=store, save_frequency=10, **kwargs)
    for _ in range(steps):
        trader.tick()
    return trader, store


def test_a_checkpoint_round_trips_weights_optimizer_metrics_and_portfolio(small_trader, small, tmp_path):
    trader, store = saved_trader(small_trader, tmp_path)
    checkpoint = store.latest(small)
    assert checkpoint is not None and checkpoint.step == 30
    assert checkpoint.network == small.as_dict()
    for name, tensor in trader.learner.agent.network.state_dict().items():
        assert torch.equal(checkpoint.agent["network"][name], tensor)
    assert checkpoint.agent["optimizer"]["state"], "optimizer moments are saved"
    assert checkpoint.agent["updates"] == trader.learner.agent.updates == 1
    assert checkpoint.metrics["updates"] == 1 and "policy_loss" in checkpoint.metrics
    restored = Portfolio.from_snapshot(checkpoint.portfolio, FeeSchedule())
    assert restored.snapshot() == trader.env.portfolio.snapshot()


def test_checkpoints_are_plain_data_loadable_with_weights_only(small_trader, tmp_path):
    saved_trader(small_trader, tmp_path)
    newest = checkpoint_paths(tmp_path)[-1]
    payload = torch.load(newest, weights_only=True)
    assert payload["format_version"] == 2 and payload["step"] == 30 and len(payload["config_hash"]) == 16
    assert "fills" not in payload["portfolio"]  # the history is the journal's: checkpoints do not grow with it


def test_a_checkpoint_does_not_grow_with_the_number_of_trades(small_trader, tmp_path):
    trader, _ = saved_trader(small_trader, tmp_path, steps=20)
    early = checkpoint_paths(tmp_path)[-1].stat().st_size
    for _ in range(200):
        trader.tick()
    trader.save()
    assert trader.env.portfolio.trades > 100
    late = checkpoint_paths(tmp_path)[-1].stat().st_size
    assert late < early * 1.05  # open positions and totals only (a list of every fill grew ~240 KB a 1,000 steps)


def test_only_the_newest_k_are_kept_and_no_temporary_file_remains(small_trader, tmp_path):
    saved_trader(small_trader, tmp_path, steps=60)
    assert [p.name for p in checkpoint_paths(tmp_path)] == [
        "checkpoint-000000000040.pt",
        "checkpoint-000000000050.pt",
        "checkpoint-000000000060.pt",
    ]
    assert sorted(os.listdir(tmp_path)) == [p.name for p in checkpoint_paths(tmp_path)]


def test_a_truncated_newest_checkpoint_is_reported_and_the_previous_one_used(small_trader, small, tmp_path, caplog):
    saved_trader(small_trader, tmp_path)
    newest = checkpoint_paths(tmp_path)[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    with caplog.at_level(logging.WARNING):
        checkpoint = CheckpointStore(tmp_path).latest(small)
    assert checkpoint is not None and checkpoint.step == 20
    assert "checkpoint-000000000030.pt" in caplog.text and "skipping" in caplog.text


@pytest.mark.parametrize("garbage", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_garbage_files_never_load(small_trader, small, tmp_path, garbage):
    saved_trader(small_trader, tmp_path)
    (tmp_path / "checkpoint-000000000099.pt").write_bytes(garbage)
    checkpoint = CheckpointStore(tmp_path).latest(small)
    assert checkpoint is not None and checkpoint.step == 30


def test_pruning_never_deletes_the_checkpoint_it_just_wrote_for_newer_corrupt_files(small_trader, small, tmp_path):
    for step in (500, 600):  # corrupt files with higher numbers than anything this bot will write
        (tmp_path / checkpoint_name(step)).write_bytes(b"garbage")
    saved_trader(small_trader, tmp_path, steps=50)
    names = [p.name for p in checkpoint_paths(tmp_path)]
    assert names == [checkpoint_name(s) for s in (30, 40, 50, 500, 600)]  # kept: none is provably older
    assert CheckpointStore(tmp_path).latest(small).step == 50  # a restart resumes from the newest valid one


def test_corrupt_files_older_than_a_valid_checkpoint_are_pruned(small_trader, tmp_path):
    (tmp_path / checkpoint_name(5)).write_bytes(b"garbage")
    saved_trader(small_trader, tmp_path, steps=20)
    assert [p.name for p in checkpoint_paths(tmp_path)] == [checkpoint_name(10), checkpoint_name(20)]


def test_a_directory_of_only_corrupt_files_is_reported_loudly_and_kept(small, tmp_path, caplog):
    for step in (10, 20):
        (tmp_path / checkpoint_name(step)).write_bytes(b"not a checkpoint")
    store = CheckpointStore(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert store.latest(small) is None
    assert store.corrupt_at_start == [checkpoint_name(10), checkpoint_name(20)]
    assert "none of the 2 checkpoint files" in caplog.text and "not deleted" in caplog.text
    assert len(checkpoint_paths(tmp_path)) == 2


def test_a_save_that_torch_fails_with_a_runtime_error_is_a_write_error(small_trader, tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0\nmore lines")

    monkeypatch.setattr(torch, "save", full_disk)
    store = CheckpointStore(tmp_path)
    with pytest.raises(CheckpointWriteError, match=r"RuntimeError: \[enforce fail"):
        store.save(Checkpoint(step=1, network={}, agent={}))
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_a_file_of_the_wrong_shape_is_corrupt_not_a_crash(small, tmp_path):

    torch.save({"format_version": 1, "network": {"x": 1}}, tmp_path / "checkpoint-000000000001.pt")
    torch.save([1, 2, 3], tmp_path / "checkpoint-000000000002.pt")
    assert CheckpointStore(tmp_path).latest(small) is None


def test_leftovers_of_an_interrupted_write_are_removed(small_trader, small, tmp_path):
    saved_trader(small_trader, tmp_path)
    leftover = tmp_path / ".tmp-checkpoint-000000000040-1234"
    leftover.write_bytes(b"half a checkpoint")
    assert CheckpointStore(tmp_path).latest(small).step == 30
    assert not leftover.exists()


def test_an_incompatible_network_is_a_clear_error_naming_the_settings(small_trader, small, tmp_path):
    saved_trader(small_trader, tmp_path)
    other = NetworkConfig(small.observation_size, feature_hidden=16, mlp_hidden=16, policy_hidden=48, window=4)
    with pytest.raises(CheckpointIncompatibleError, match=r"policy_hidden: checkpoint 24, this bot 48.*window"):
        CheckpointStore(tmp_path).latest(other)


def test_model_dir_seeds_weights(small_trader, small, tmp_path):
    saved_trader(small_trader, tmp_path)
    seed = initial_weights(tmp_path, small)
    assert seed is not None and seed.step == 30
    assert initial_weights(tmp_path / "missing", small) is None


def test_a_failing_volume_is_reported_and_trading_goes_on(small_trader, tmp_path, caplog):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the checkpoint directory should be")
    trader = small_trader(store=CheckpointStore(blocked), save_frequency=5)
    with caplog.at_level(logging.ERROR):
        for _ in range(12):
            trader.tick()
    assert trader.step == 12 and trader.learner.save_failures == 2
    assert "checkpoint at step 5 failed" in caplog.text


def test_write_is_atomic_against_a_crash_between_write_and_rename(small_trader, small, tmp_path, monkeypatch):
    trader, _ = saved_trader(small_trader, tmp_path)

    def crash(*_args):
        raise KeyboardInterrupt("killed before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        trader.save()
    monkeypatch.undo()
    assert CheckpointStore(tmp_path).latest(small).step == 30  # the old set is intact and the torn file is gone
    assert all(not p.name.startswith(".tmp") for p in tmp_path.iterdir())


def test_the_simulated_market_continues_exactly_after_a_restore():
    config = SimulatorConfig(("SPY", "QQQ"), seed=5, steps_per_day=13)
    original = MarketSimulator(config)
    for _ in range(30):
        original.advance()
    saved = original.state_dict()
    resumed = MarketSimulator(config)
    resumed.load_state_dict(saved)
    for _ in range(40):
        a, b = original.advance(), resumed.advance()
        assert a.timestamp_ms == b.timestamp_ms
        for symbol in config.symbols:
            assert a.symbols[symbol].quote == b.symbols[symbol].quote
            assert (a.symbols[symbol].chain.ask == b.symbols[symbol].chain.ask).all()
    with pytest.raises(ValueError, match="symbols"):
        MarketSimulator(SimulatorConfig(("SPY",), seed=5)).load_state_dict(saved)
    other = MarketSimulator(SimulatorConfig(("SPY", "QQQ"), seed=5, steps_per_day=2))
    before = other.current()
    with pytest.raises(ValueError, match="steps per day"):
        other.load_state_dict(saved)  # saved at step 4 of a 13-step day
    assert other.current() is before  # a state that does not fit changes nothing


def test_reading_a_missing_file_is_a_corrupt_checkpoint(tmp_path):
    with pytest.raises(CheckpointCorruptError, match="unreadable"):
        read_checkpoint(tmp_path / "checkpoint-000000000001.pt")


def test_saved_tensors_that_do_not_fit_are_a_clear_start_error(small_trader, small, tmp_path):
    _, store = saved_trader(small_trader, tmp_path)
    checkpoint = store.latest(small)
    broken = dict(checkpoint.agent, network={k: v for k, v in checkpoint.agent["network"].items() if "actor" not in k})
    write_checkpoint(tmp_path, Checkpoint(step=31, network=checkpoint.network, agent=broken))
    settings = load_settings(
        {},
        {
            "checkpoint_dir": str(tmp_path),
            "feature_hidden": "16",
            "mlp_hidden": "16",
            "policy_hidden": "24",
            "window": "8",
            "steps_per_day": "13",
        },
    )
    with pytest.raises(CheckpointIncompatibleError, match=r"checkpoint-000000000031\.pt does not fit this network"):
        build_trader(settings)
