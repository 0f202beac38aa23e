"""The operator at work: API writes per bot created and per no-op resync, time to Reconciled for 1 and
for 100 bots, and the operator's memory with 100 bots.

Runs the real operator (``kopf run``) as a process against the test API emulator (in this process,
which counts every write request it receives). No peer: the figures are the operator's own budget.
Final JSON line.

    python bench/operator_reconcile.py [--bots 100] [--resync 2]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "testbed"))

import kubeemu  # noqa: E402 - the test bed lives with the tests

BOTS = "/apis/tradingbot.dev/v1alpha1/namespaces/bench/tradingbots"


def call(url: str, method: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, method=method, data=data)  # noqa: S310 - the local emulator
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local emulator
        return json.loads(response.read() or b"{}")


def bot(name: str) -> dict:
    return {
        "apiVersion": "tradingbot.dev/v1alpha1",
        "kind": "TradingBot",
        "metadata": {"name": name},
        "spec": {"symbols": ["SPY"], "initialCapital": 100000},
    }


def reconciled(item: dict) -> bool:
    conditions = (item.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Reconciled" and c["status"] == "True" for c in conditions)


def wait_reconciled(url: str, names: list[str], created: dict[str, float], timeout_s: float) -> dict[str, float]:
    """Seconds from each bot's creation to its Reconciled=True, polled every 50 ms."""
    done: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while len(done) < len(names):
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(done)} of {len(names)} bots reconciled within {timeout_s} s")
        now = time.monotonic()
        for item in call(url, "GET", BOTS)["items"]:
            name = item["metadata"]["name"]
            if name in created and name not in done and reconciled(item):
                done[name] = now - created[name]
        time.sleep(0.05)
    return done


def writes(server: kubeemu.EmulatorThread) -> collections.Counter[tuple[str, str]]:
    return collections.Counter(server.call(lambda: dict(server.emulator.writes)))


def operator_writes(before: collections.Counter, after: collections.Counter) -> dict[str, int]:
    """Writes by the operator (the bench's own POSTs of TradingBots excluded), by kind."""
    delta = after - before
    delta.pop(("POST", "tradingbots"), None)
    return {f"{method} {plural}": n for (method, plural), n in sorted(delta.items())}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=100)
    parser.add_argument("--resync", type=float, default=2.0, help="the operator's RESYNC_INTERVAL, seconds")
    args = parser.parse_args()
    with kubeemu.EmulatorThread() as server, tempfile.TemporaryDirectory() as tmp:
        kubeconfig = kubeemu.write_kubeconfig(Path(tmp) / "kubeconfig", server.url, "bench")
        call(
            server.url,
            "POST",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            __import__("yaml").safe_load((ROOT / "crds" / "tradingbots.yaml").read_text()),
        )
        call(server.url, "POST", "/api/v1/namespaces", {"metadata": {"name": "bench"}})
        env = dict(
            os.environ,
            KUBECONFIG=str(kubeconfig),
            RESYNC_INTERVAL=str(args.resync),
            STATUS_INTERVAL="3600",
            METRICS_PORT="0",
            PYTHONPATH=str(ROOT / "operator"),
        )
        log = (Path(tmp) / "operator.log").open("w")
        kopf = Path(sys.executable).with_name("kopf")
        operator = subprocess.Popen(
            [str(kopf), "run", "-A", "--standalone", "-m", "tradingbot_operator.handlers"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(3)  # login, discovery, watches
            results: dict[str, object] = {}
            before = writes(server)
            created = {"single": time.monotonic()}
            call(server.url, "POST", BOTS, bot("single"))
            single = wait_reconciled(server.url, ["single"], created, 60)["single"]
            time.sleep(2 * args.resync)  # let the Deployment's watch event and the status settle
            per_create = operator_writes(before, writes(server))
            results["1_bot"] = {
                "seconds_to_reconciled": round(single, 3),
                "writes_per_create": per_create,
                "writes_per_create_total": sum(per_create.values()),
            }

            names = [f"bot-{i:03d}" for i in range(args.bots)]
            before = writes(server)
            started = time.monotonic()
            created = {}
            for name in names:
                created[name] = time.monotonic()
                call(server.url, "POST", BOTS, bot(name))
            latencies = sorted(wait_reconciled(server.url, names, created, 600).values())
            all_done = time.monotonic() - started
            time.sleep(2 * args.resync)
            burst = operator_writes(before, writes(server))
            results[f"{args.bots}_bots"] = {
                "seconds_to_all_reconciled": round(all_done, 2),
                "p50_seconds_to_reconciled": round(statistics.median(latencies), 3),
                "max_seconds_to_reconciled": round(latencies[-1], 3),
                "writes_per_create": round(sum(burst.values()) / args.bots, 2),
                "operator_rss_mib": round(rss_mib(operator.pid), 1),
            }

            before = writes(server)
            window = 5 * args.resync
            time.sleep(window)
            idle = operator_writes(before, writes(server))
            resyncs = (args.bots + 1) * window / args.resync
            results["noop_resync"] = {
                "resyncs": int(resyncs),
                "writes": sum(idle.values()),
                "writes_per_resync": round(sum(idle.values()) / resyncs, 4),
                "by_kind": idle,
            }
        finally:
            operator.terminate()
            operator.wait(30)
    print(
        f"1 bot: Reconciled in {results['1_bot']['seconds_to_reconciled']} s, "
        f"{results['1_bot']['writes_per_create_total']} writes ({results['1_bot']['writes_per_create']})"
    )
    many = results[f"{args.bots}_bots"]
    print(
        f"{args.bots} bots: all Reconciled in {many['seconds_to_all_reconciled']} s "
        f"(p50 {many['p50_seconds_to_reconciled']} s, max {many['max_seconds_to_reconciled']} s), "
        f"{many['writes_per_create']} writes per bot, operator RSS {many['operator_rss_mib']} MiB"
    )
    print(f"no-op resync: {results['noop_resync']['writes']} writes over {results['noop_resync']['resyncs']} resyncs")
    print(json.dumps({"bench": "operator_reconcile", **results}))


if __name__ == "__main__":
    main()
