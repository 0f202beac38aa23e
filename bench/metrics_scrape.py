"""Latency of /health, /ready, /status and /metrics while the bot trades and trains, p50 and p99.

Starts a real bot (default network, a PPO update every 20 steps, so an update is running much of the
time) on 127.0.0.1, lets it warm up, then requests each endpoint in turn over one keep-alive
connection; also reports the bot's own step rate meanwhile. Final JSON line.

    python bench/metrics_scrape.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

PATHS = ("/health", "/ready", "/status", "/metrics")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def steps_done(connection: http.client.HTTPConnection) -> int:
    """The bot's step counter, from /metrics."""
    connection.request("GET", "/metrics")
    for line in connection.getresponse().read().decode().splitlines():
        if line.startswith("trading_bot_steps_total "):
            return int(float(line.split()[1]))
    raise RuntimeError("trading_bot_steps_total missing from /metrics")


def main() -> None:
    """Run the bot, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as checkpoints:
        bot = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tradingbot",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--update-frequency",
                "20",
                "--checkpoint-dir",
                checkpoints,
                "--log-level",
                "WARNING",
            ],
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            deadline = time.monotonic() + 60
            while True:
                try:
                    if steps_done(connection) > 100:
                        break
                except (ConnectionError, OSError, http.client.HTTPException):
                    connection.close()
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            latencies: dict[str, list[float]] = {path: [] for path in PATHS}
            first_steps, started = steps_done(connection), time.monotonic()
            for i in range(args.requests):
                path = PATHS[i % len(PATHS)]
                begin = time.perf_counter()
                connection.request("GET", path)
                connection.getresponse().read()
                latencies[path].append(time.perf_counter() - begin)
            steps_per_s = (steps_done(connection) - first_steps) / (time.monotonic() - started)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(60)
    results = {
        path: {
            "p50_ms": round(float(np.percentile(v, 50)) * 1e3, 3),
            "p99_ms": round(float(np.percentile(v, 99)) * 1e3, 3),
        }
        for path, v in latencies.items()
    }
    for path, figures in results.items():
        print(f"{path:9s} p50 {figures['p50_ms']:7.2f} ms   p99 {figures['p99_ms']:7.2f} ms")
    print(f"bot steps/s while scraped (update every 20 steps): {steps_per_s:.0f}")
    print(
        json.dumps(
            {
                "bench": "metrics_scrape",
                "requests": args.requests,
                "bot_steps_per_s": round(steps_per_s, 1),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
