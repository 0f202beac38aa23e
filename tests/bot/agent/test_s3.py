"""Checkpoints mirrored to S3, against moto's standalone server: upload, prune, restore, outages, a lost
bucket, boto3's own error types, and a bounded final pass."""

from __future__ import annotations

import logging
import time

import boto3

from tradingbot.agent.checkpoint import checkpoint_name, checkpoint_paths
from tradingbot.agent.checkpoint_store import CheckpointStore
from tradingbot.agent.s3_mirror import S3Mirror

ACCESS_KEY = "AKIATESTKEYID0000001"
SECRET_KEY = "test/secret+Value0123456789abcdefghijkl"
PREFIX = "prod/spy-bot"


def client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )


def mirror(endpoint, **kwargs):
    return S3Mirror("bots", PREFIX, endpoint_url=endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, **kwargs)


def keys(s3):
    return [o["Key"] for o in s3.list_objects_v2(Bucket="bots").get("Contents", [])]


def eventually(check, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_checkpoints_are_uploaded_pruned_and_restored_into_an_empty_volume(moto, small_trader, small, tmp_path):
    s3 = client(moto.url)
    s3.create_bucket(Bucket="bots")
    uploader = mirror(moto.url)
    trader = small_trader(store=CheckpointStore(tmp_path / "a", keep=2, mirror=uploader), save_frequency=10)
    for _ in range(40):
        trader.tick()
    assert uploader.close(30)
    assert keys(s3) == [f"{PREFIX}/{checkpoint_name(30)}", f"{PREFIX}/{checkpoint_name(40)}"]
    status = uploader.status
    assert status.uploads == 4 and status.failures == 0 and status.pending == 0 and status.last_success_unix

    fresh = tmp_path / "new-pod"
    checkpoint = CheckpointStore(fresh, mirror=mirror(moto.url)).latest(small)
    assert checkpoint is not None and checkpoint.step == 40
    assert [p.name for p in checkpoint_paths(fresh)] == [checkpoint_name(40)]


def test_a_corrupt_object_in_s3_is_skipped_for_the_previous_one(moto, small_trader, small, tmp_path):
    s3 = client(moto.url)
    s3.create_bucket(Bucket="bots")
    uploader = mirror(moto.url)
    trader = small_trader(store=CheckpointStore(tmp_path / "a", mirror=uploader), save_frequency=10)
    for _ in range(20):
        trader.tick()
    uploader.close(30)
    s3.put_object(Bucket="bots", Key=f"{PREFIX}/{checkpoint_name(99)}", Body=b"truncated")
    checkpoint = CheckpointStore(tmp_path / "b", mirror=mirror(moto.url)).latest(small)
    assert checkpoint is not None and checkpoint.step == 20


def test_an_s3_outage_never_blocks_trading_and_the_mirror_keeps_retrying(dead_endpoint, small_trader, tmp_path, caplog):
    uploader = mirror(dead_endpoint, backoff_initial_s=0.05, backoff_max_s=0.2)
    trader = small_trader(store=CheckpointStore(tmp_path, mirror=uploader), save_frequency=10)
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        for _ in range(20):
            trader.tick()
        elapsed = time.monotonic() - started
        eventually(lambda: uploader.status.failures >= 5)  # it retries on its own, forever
        assert not uploader.close(1.0)
    assert elapsed < 5.0  # uploads run beside the loop, however long they retry
    assert [p.name for p in checkpoint_paths(tmp_path)] == [checkpoint_name(10), checkpoint_name(20)]
    status = uploader.status
    assert status.uploads == 0 and status.pending == 2 and status.last_error_class == "EndpointConnectionError"
    assert "not mirrored" in caplog.text and "the local files are kept" in caplog.text
    assert ACCESS_KEY not in caplog.text and SECRET_KEY not in caplog.text and SECRET_KEY not in status.last_error


def test_a_lost_bucket_is_reported_and_the_mirror_catches_up_once_s3_is_back(moto, small_trader, tmp_path):
    s3 = client(moto.url)
    s3.create_bucket(Bucket="bots")
    uploader = mirror(moto.url, backoff_initial_s=0.05, backoff_max_s=0.3)
    trader = small_trader(store=CheckpointStore(tmp_path, keep=3, mirror=uploader), save_frequency=10)
    for _ in range(20):
        trader.tick()
    eventually(lambda: uploader.status.pending == 0 and uploader.status.uploads == 2)
    moto.stop()  # the store loses everything: a restarted moto has no bucket
    moto.start()
    for _ in range(20):
        trader.tick()  # two more checkpoints while S3 says NoSuchBucket
    eventually(lambda: uploader.status.last_error_class == "NoSuchBucket")
    assert uploader.status.pending == 3 and uploader._thread.is_alive()
    client(moto.url).create_bucket(Bucket="bots")  # the operator of the store restores the bucket
    eventually(lambda: uploader.status.pending == 0)
    assert keys(client(moto.url)) == [f"{PREFIX}/{checkpoint_name(s)}" for s in (20, 30, 40)]  # nothing lost
    assert uploader.status.last_error is None and uploader.close(5)


def test_a_new_pod_starts_fresh_when_s3_is_down(dead_endpoint, small, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert CheckpointStore(tmp_path, mirror=mirror(dead_endpoint)).latest(small) is None
    assert "cannot list" in caplog.text and SECRET_KEY not in caplog.text
