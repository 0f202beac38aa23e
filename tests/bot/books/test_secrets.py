"""No credential anywhere: every log line at DEBUG (botocore's included), the log file, /status,
/metrics, /trades, the journal and the checkpoints, while the bot trades and mirrors to S3."""

from __future__ import annotations

import boto3
import pytest

from bot_process import SMALL_AGENT, BotProcess

pytestmark = pytest.mark.timeout(300)
SECRETS = {
    "S3_ACCESS_KEY": "AKIASECRETSCAN000001",
    "S3_SECRET_KEY": "sEcReT/Scan+Value0123456789abcdefghijkl",
    "MASSIVE_API_KEY": "massive-secret-scan-key-0123456789",
}


def test_no_secret_reaches_any_log_line_endpoint_or_file(tmp_path, moto):
    s3 = boto3.client(
        "s3",
        endpoint_url=moto.url,
        aws_access_key_id=SECRETS["S3_ACCESS_KEY"],
        aws_secret_access_key=SECRETS["S3_SECRET_KEY"],
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="bots")
    checkpoints, logs = tmp_path / "checkpoints", tmp_path / "logs"
    bot = BotProcess(
        [
            *SMALL_AGENT, "--log-level", "DEBUG", "--step-interval", "0.01", "--update-frequency", "20",
            "--save-frequency", "30", "--steps-per-day", "26", "--checkpoint-dir", str(checkpoints),
            "--journal", str(checkpoints / "journal.sqlite"), "--log-dir", str(logs),
            "--s3-bucket", "bots", "--s3-endpoint", moto.url,
        ],
        tmp_path / "stdout.log",
        env=SECRETS,
    )  # fmt: skip
    try:
        bot.wait_for(lambda s: ((s.get("checkpoints") or {}).get("s3") or {}).get("uploads", 0) >= 2, what="uploads")
        served = {path: bot.get(path)[1] for path in ("/status", "/metrics", "/trades?limit=1000", "/ready", "/health")}
    finally:
        assert bot.stop() == 0
    stdout = bot.output()
    assert "botocore" in stdout and "Authorization" in stdout  # botocore's DEBUG lines were logged ...
    assert "Credential=***/" in stdout  # ... with the access key id masked
    assert '"trades": [{' in served["/trades?limit=1000"]
    files = {path: path.read_bytes() for path in [*checkpoints.iterdir(), *logs.iterdir()] if path.is_file()}
    assert any(p.name.startswith("checkpoint-") for p in files) and any(p.name.startswith("journal") for p in files)
    for secret in SECRETS.values():
        assert secret not in stdout
        for path, body in served.items():
            assert secret not in body, path
        for path, content in files.items():
            assert secret.encode() not in content, path
