"""``tradingbot run`` as a user runs it: a real process, its logs, its exit code, Ctrl-C."""

from __future__ import annotations

import re
import signal
import socket

import pytest

from bot_process import BotProcess, tradingbot
from tiny import TINY_FLAGS, TINY_SIZES
from tradingbot.agent.checkpoint import checkpoint_name


def run(args, env=None, timeout=60):
    """``tradingbot run *args`` to its end, HTTP on a free port of 127.0.0.1, with none of the settings these
    tests check inherited."""
    environ = {"HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0", **(env or {})}
    return tradingbot("run", *args, env=environ, unset=("SYMBOLS", "POLICY", "MAX_STEPS", "LOG_LEVEL"), timeout=timeout)


def test_help_documents_the_flags_and_their_variables():
    out = run(["--help"]).stdout
    for flag, env in [
        ("--source", "MARKET_SOURCE"),
        ("--symbols", "SYMBOLS"),
        ("--capital", "INITIAL_CAPITAL"),
        ("--seed", "SEED"),
        ("--max-steps", "MAX_STEPS"),
        ("--log-level", "LOG_LEVEL"),
        ("--policy", "POLICY"),
    ]:
        assert flag in out and env in out


def test_a_bounded_run_trades_logs_progress_and_exits_zero():
    result = run(["--max-steps", "300", "--log-interval", "0.2", "--seed", "3", "--policy", "random"])
    assert result.returncode == 0, result.stderr
    assert "policy random (baseline)" in result.stdout
    assert "stopped after 300 steps (max steps reached)" in result.stdout
    progress = [line for line in result.stdout.splitlines() if "| value $" in line]
    assert progress and "trades" in progress[-1] and "P&L" in progress[-1] and "step 300" in progress[-1]


def test_the_hold_baseline_never_trades_and_keeps_its_capital():
    result = run(["--max-steps", "50", "--policy", "hold", "--capital", "5000"])
    assert result.returncode == 0, result.stderr
    assert "policy hold (baseline)" in result.stdout
    assert "value $5,000.00, P&L +$0.00, 0 trades" in result.stdout


def test_environment_variables_configure_the_run_and_flags_win():
    result = run(["--max-steps", "5", "--symbols", "QQQ"], env={"SYMBOLS": "AAPL,MSFT", "POLICY": "hold"})
    assert result.returncode == 0, result.stderr
    assert "symbols QQQ," in result.stdout and "policy hold" in result.stdout


def test_invalid_settings_exit_2_with_a_clear_message_and_no_traceback():
    result = run(["--max-steps", "5"], env={"INITIAL_CAPITAL": "-1"})
    assert result.returncode == 2
    assert "INITIAL_CAPITAL / --capital" in result.stderr and "Traceback" not in result.stderr


def test_the_learning_agent_trains_checkpoints_and_resumes(tmp_path):
    args = [
        "--max-steps",
        "250",
        "--update-frequency",
        "100",
        "--save-frequency",
        "200",
        "--checkpoint-dir",
        str(tmp_path),
        *TINY_FLAGS,
    ]
    first = run(args)
    assert first.returncode == 0, first.stderr
    assert "policy ppo (agent)" in first.stdout and "fresh agent" in first.stdout
    assert "updates 2 (policy loss" in first.stdout
    assert f"checkpoint saved: {tmp_path}/checkpoint-000000000200.pt" in first.stdout
    assert f"final checkpoint saved: {tmp_path}/checkpoint-000000000250.pt" in first.stdout
    second = run(args)
    assert second.returncode == 0, second.stderr
    assert f"resumed from {tmp_path}/checkpoint-000000000250.pt: step 250, 2 updates" in second.stdout
    assert "step 500 |" in second.stdout

    wider = run([*args, "--policy-hidden", "64"])
    assert wider.returncode == 2
    assert f"policy_hidden: checkpoint {TINY_SIZES['policy_hidden']}, this bot 64" in wider.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_loop_cleanly_with_a_final_checkpoint(sig, tmp_path):
    bot = BotProcess(
        ["--step-interval", "0.001", "--log-interval", "0.2", "--checkpoint-dir", str(tmp_path), *TINY_FLAGS],
        tmp_path / "bot.log",
    )
    try:
        bot.wait_for_line("| value $", 30)
        bot.process.send_signal(sig)
        assert bot.process.wait(15) == 0, bot.output()[-3000:]
    finally:
        bot.process.kill()
    out = bot.output()
    assert "(signal)" in out and "Traceback" not in out
    final_step = int(re.search(r"stopped after (\d+) steps \(signal\)", out).group(1))
    assert (tmp_path / checkpoint_name(final_step)).exists()  # saved at shutdown (or by the step just before)


def test_asking_for_a_missing_gpu_is_a_clear_start_error(tmp_path):
    import torch  # noqa: PLC0415 - only this test needs to know whether a GPU exists

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = run(["--max-steps", "1", "--device", "cuda", "--checkpoint-dir", str(tmp_path)])
    assert result.returncode == 2
    assert "no CUDA GPU is available" in result.stdout and "Traceback" not in result.stderr


def test_reserved_gpus_that_are_not_visible_are_reported_not_silently_ignored(tmp_path):
    import torch  # noqa: PLC0415 - only this test needs to know whether a GPU exists

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = run(["--max-steps", "2", "--device", "auto", "--gpu-count", "1", "--checkpoint-dir", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stdout.splitlines() if " ERROR " in line]
    assert errors and "1 GPU(s) reserved but none is visible, running on the CPU" in errors[0]
    assert "CPU build" in errors[0]  # this machine's torch: the cure is the -cuda image


def test_a_taken_port_is_a_clear_start_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["--max-steps", "1", "--policy", "hold"], env={"HTTP_PORT": str(port)})
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stdout and "Traceback" not in result.stderr
