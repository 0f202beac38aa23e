"""Checkpoints mirrored to S3, against moto's standalone server: upload, restore, outages, no leaked secrets."""

from __future__ import annotations

import logging
import time

import boto3

from tradingbot.agent.checkpoint import CheckpointStore, S3Mirror, checkpoint_paths

ACCESS_KEY = "AKIATESTKEYID0000001"
SECRET_KEY = "test/secret+Value0123456789abcdefghijkl"


def mirror(endpoint, **kwargs):
    return S3Mirror(
        "bots", "prod/spy-bot", endpoint_url=endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, keep=2, **kwargs
    )


def make_bucket(endpoint):
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="bots")
    return s3


def test_checkpoints_are_uploaded_pruned_and_restored_into_an_empty_volume(moto_s3, small_trader, small, tmp_path):
    s3 = make_bucket(moto_s3)
    uploader = mirror(moto_s3)
    trader = small_trader(store=CheckpointStore(tmp_path / "a", keep=3, mirror=uploader), save_frequency=10)
    for _ in range(40):
        trader.tick()
    assert uploader.close(30)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bots")["Contents"]]
    assert keys == ["prod/spy-bot/checkpoint-000000000030.pt", "prod/spy-bot/checkpoint-000000000040.pt"]
    assert uploader.status.uploads == 4 and uploader.status.failures == 0

    fresh = tmp_path / "new-pod"
    restorer = mirror(moto_s3)
    checkpoint = CheckpointStore(fresh, mirror=restorer).latest(small)
    restorer.close(5)
    assert checkpoint is not None and checkpoint.step == 40
    assert [p.name for p in checkpoint_paths(fresh)] == ["checkpoint-000000000040.pt"]


def test_a_corrupt_object_in_s3_is_skipped_for_the_previous_one(moto_s3, small_trader, small, tmp_path):
    s3 = make_bucket(moto_s3)
    uploader = mirror(moto_s3)
    trader = small_trader(store=CheckpointStore(tmp_path / "a", mirror=uploader), save_frequency=10)
    for _ in range(20):
        trader.tick()
    uploader.close(30)
    s3.put_object(Bucket="bots", Key="prod/spy-bot/checkpoint-000000000099.pt", Body=b"truncated")
    restorer = mirror(moto_s3)
    checkpoint = CheckpointStore(tmp_path / "b", mirror=restorer).latest(small)
    restorer.close(5)
    assert checkpoint is not None and checkpoint.step == 20


def test_an_s3_outage_never_blocks_trading_nor_loses_the_local_checkpoint(
    dead_endpoint, small_trader, tmp_path, caplog
):
    uploader = mirror(dead_endpoint, attempts=3, backoff_s=0.05)
    trader = small_trader(store=CheckpointStore(tmp_path, mirror=uploader), save_frequency=10)
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        for _ in range(20):
            trader.tick()
        elapsed = time.monotonic() - started
        assert uploader.close(30)
    assert elapsed < 5.0  # uploads run beside the loop, however long they retry
    assert [p.name for p in checkpoint_paths(tmp_path)] == ["checkpoint-000000000010.pt", "checkpoint-000000000020.pt"]
    assert uploader.status.failures == 2 and uploader.status.uploads == 0
    assert "failed (attempt 3/3)" in caplog.text and "gave up" in caplog.text
    assert ACCESS_KEY not in caplog.text and SECRET_KEY not in caplog.text
    assert uploader.status.last_error is not None and SECRET_KEY not in uploader.status.last_error


def test_a_new_pod_starts_fresh_when_s3_is_down(dead_endpoint, small, tmp_path, caplog):
    restorer = mirror(dead_endpoint)
    with caplog.at_level(logging.WARNING):
        assert CheckpointStore(tmp_path, mirror=restorer).latest(small) is None
    restorer.close(5)
    assert "cannot list" in caplog.text and SECRET_KEY not in caplog.text
