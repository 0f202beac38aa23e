"""A recorded Massive session replayed as a market source (:class:`ReplaySource`), through the live
decoding path and the same snapshot building, so the same file and settings give the same snapshots."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tradingbot.market.massive.chain import parse_snapshot
from tradingbot.market.massive.recording import read_recording
from tradingbot.market.massive.snapshots import ChainBase, build_snapshot
from tradingbot.market.massive.stream import FeedState
from tradingbot.market.massive.wire import FrameDecoder
from tradingbot.market.quality import DataRules
from tradingbot.market.source import FeedError, FeedStatus, ReplayFinishedError
from tradingbot.market.types import MarketSnapshot


class ReplaySource:
    """A recorded session, replayed through the live decoding path in recorded time.

    Each :meth:`advance` moves the clock ``step_s`` seconds of recorded time and applies every entry
    up to it; with ``speed`` > 0 it also waits the recorded time divided by ``speed``. The same file
    and settings always give the same snapshots.
    """

    def __init__(
        self,
        path: Path,
        symbols: tuple[str, ...],
        step_s: float = 60.0,
        speed: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        rules: DataRules | None = None,
    ) -> None:
        self._symbols = symbols
        self.rules = rules or DataRules()
        self.step_ms = int(step_s * 1000)
        self.speed = speed
        self._sleep = sleep
        self.state = FeedState()
        self.chains: dict[str, ChainBase] = {}
        self._decoders = {"stocks": FrameDecoder("stocks"), "options": FrameDecoder("options")}
        try:
            self._entries: Iterator[dict[str, Any]] = read_recording(path)
            self._pending = next(self._entries, None)
        except OSError as error:  # missing, unreadable, or not gzip
            raise FeedError(f"cannot read the recording {path}: {error}") from None
        if self._pending is None:
            raise FeedError(f"{path} holds no recorded market data")
        self.clock_ms = self._pending["t"]
        self._apply_until(self.clock_ms)
        self._replayed_unix: float | None = time.time()

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def current(self) -> MarketSnapshot:
        return build_snapshot(self._symbols, self.state, self.chains, self.clock_ms, self.clock_ms / 1000, self.rules)

    def advance(self) -> MarketSnapshot:
        if self._pending is None:
            raise ReplayFinishedError("the recording is over")
        self.state.take_trades()
        target = self.clock_ms + self.step_ms
        if self.speed > 0:
            self._sleep(self.step_ms / 1000 / self.speed)
        self._apply_until(target)
        self.clock_ms = target
        self._replayed_unix = time.time()
        return self.current()

    def status(self) -> FeedStatus:
        """Connected while data remains; data times are when it was replayed (wall clock)."""
        return FeedStatus(
            self._pending is not None,
            self._replayed_unix,
            0,
            {"events": self.state.event_counts(), "recorded_ms": self.clock_ms},
        )

    def close(self) -> None:
        """Nothing to release (the file is read lazily and closed at its end)."""

    def _apply_until(self, target_ms: int) -> None:
        while self._pending is not None and self._pending["t"] <= target_ms:
            entry = self._pending
            cluster = entry.get("c")
            if cluster in self._decoders and isinstance(entry.get("f"), str):
                events = self._decoders[cluster].decode(entry["f"])
                self.state.apply(events, 100_000, entry["t"] / 1000, arrival=entry["t"] / 1000)
            elif cluster == "rest" and isinstance(entry.get("u"), str) and isinstance(entry.get("b"), list):
                self.chains[entry["u"]] = ChainBase(
                    parse_snapshot(entry["u"], entry["b"]), entry["t"], entry["t"] / 1000
                )
            self._pending = next(self._entries, None)
