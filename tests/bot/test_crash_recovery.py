"""SIGKILL the bot at random moments while it trains and checkpoints: every restart resumes from a valid checkpoint."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time

from tradingbot.agent.checkpoint import checkpoint_paths, read_checkpoint

COMMAND = [
    sys.executable,
    "-m",
    "tradingbot",
    "run",
    "--steps-per-day",
    "26",
    "--update-frequency",
    "20",
    "--save-frequency",
    "15",
    "--checkpoint-keep",
    "3",
    "--policy-hidden",
    "32",
    "--feature-hidden",
    "16",
    "--mlp-hidden",
    "16",
    "--log-interval",
    "0.05",
    "--hold-prior",
    "0",
]
RESUMED = re.compile(r"resumed from \S+checkpoint-(\d{12})\.pt: step (\d+)")


def start(directory):
    environ = dict(os.environ, PYTHONUNBUFFERED="1", HTTP_HOST="127.0.0.1", HTTP_PORT="0")
    return subprocess.Popen(
        [*COMMAND, "--checkpoint-dir", str(directory)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def newest_valid_step(directory):
    steps = [read_checkpoint(p).step for p in checkpoint_paths(directory)]  # raises if any file is torn
    return max(steps, default=None)


def test_every_restart_after_sigkill_resumes_from_a_valid_checkpoint(tmp_path):
    rng = random.Random(7)
    expected = None
    resumed_steps = []
    for _ in range(10):
        proc = start(tmp_path)
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "paper trading with" in line:
                break
        time.sleep(rng.uniform(0.1, 1.5))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        output = "".join(seen) + rest
        match = RESUMED.search(output)
        if expected is None:
            assert "fresh agent" in output
        else:
            assert match is not None, output[-2000:]
            assert int(match.group(2)) == expected
            resumed_steps.append(expected)
        expected = newest_valid_step(tmp_path)  # every file under a checkpoint name loads
    assert resumed_steps and resumed_steps == sorted(resumed_steps)
    assert resumed_steps[-1] > 0
