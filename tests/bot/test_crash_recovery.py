"""SIGKILL the bot at random moments while it trains and checkpoints: every restart resumes from a valid checkpoint."""

from __future__ import annotations

import random
import re

from bot_process import SMALL_AGENT, killed_while_trading
from tradingbot.agent.checkpoint import checkpoint_paths, read_checkpoint

ARGS = [
    *("--steps-per-day", "26", "--update-frequency", "20", "--save-frequency", "15", "--checkpoint-keep", "3"),
    *SMALL_AGENT,
    *("--log-interval", "0.05"),
]
RESUMED = re.compile(r"resumed from \S+checkpoint-(\d{12})\.pt: step (\d+)")


def newest_valid_step(directory):
    steps = [read_checkpoint(p).step for p in checkpoint_paths(directory)]  # raises if any file is torn
    return max(steps, default=None)


def test_every_restart_after_sigkill_resumes_from_a_valid_checkpoint(tmp_path):
    rng = random.Random(7)
    expected = None
    resumed_steps = []
    for _ in range(10):
        output = killed_while_trading([*ARGS, "--checkpoint-dir", str(tmp_path)], rng.uniform(0.1, 1.5))
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
