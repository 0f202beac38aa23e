"""The command line answers at once and stops cleanly: ``--help`` loads no heavy library, and Ctrl-C at any
moment of a start, while it loads, builds or trades, exits without a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from bot_process import TRADINGBOT

HEAVY = ("torch", "numpy", "aiohttp", "websockets", "boto3", "psycopg", "prometheus_client", "msgspec")
"""Libraries that take a second or more between them to import: none is needed to parse a command line."""


def test_the_command_line_is_parsed_without_loading_any_heavy_library():
    probe = (
        "import sys\n"
        "from tradingbot.cli import parser\n"
        "for command in ('run', 'pretrain', 'evaluate', 'report', 'trades', 'serve-market', 'market-report'):\n"
        "    try:\n"
        "        parser().parse_args([command, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout[-2000:]


@pytest.mark.parametrize("after_s", [0.05, 0.3, 0.8, 1.5, 3.0, 6.0])
def test_ctrl_c_at_any_moment_of_a_start_exits_cleanly(after_s, tmp_path):
    """SIGINT while Python starts, while the command loads torch and the market, while the bot builds
    its books and model, or while it trades: exit 130 (interrupted) or 0 (a clean stop), one line, no traceback."""
    log = tmp_path / "bot.log"
    command = [*TRADINGBOT, "run", "--host", "127.0.0.1", "--port", "0", "--checkpoint-dir", str(tmp_path)]
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        time.sleep(after_s)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    output = log.read_text()
    assert code in (0, 130), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    if code == 130:
        assert "tradingbot: interrupted" in output
