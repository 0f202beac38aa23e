"""``serve-market``'s server in a thread of its own, so that a test can switch its faults on and off while a
real bot process trades against it over 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tradingbot.market.clock import eastern
from tradingbot.market.massive.server import Faults, MarketServer
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig

KEY = "hostile-test-key"
T = TypeVar("T")


class MarketThread:
    """The local Massive server over the simulator, stamped with the wall clock, on a free port."""

    def __init__(self, symbols: tuple[str, ...] = ("SPY",), interval_s: float = 0.05, seed: int = 3) -> None:
        self._symbols, self._interval_s, self._seed = symbols, interval_s, seed
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self.server: MarketServer | None = None
        self._thread = threading.Thread(target=self._run, name="market-server", daemon=True)

    @property
    def faults(self) -> Faults:
        assert self.server is not None
        return self.server.faults

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.port}"

    def bot_args(self) -> list[str]:
        """``tradingbot run`` flags that point a bot at this server."""
        return [
            "--source",
            "massive",
            "--massive-ws-url",
            f"ws://{self.url}",
            "--massive-rest-url",
            f"http://{self.url}",
        ]

    def call(self, make: Callable[[MarketServer], Awaitable[T]]) -> T:
        """Run a coroutine of the server on its loop and wait for its result."""
        assert self.server is not None
        return asyncio.run_coroutine_threadsafe(make(self.server), self._loop).result(30)  # type: ignore[arg-type]

    def __enter__(self) -> MarketThread:
        self._thread.start()
        if not self._started.wait(60):
            raise RuntimeError("the market server did not start")
        return self

    def __exit__(self, *_: Any) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        today = eastern(int(time.time() * 1000)).date()
        market = MarketSimulator(SimulatorConfig(self._symbols, self._seed, today))
        async with MarketServer(market, {KEY}, "127.0.0.1", 0, self._interval_s, history_minutes=30) as server:
            self.server = server
            self._started.set()
            await self._stop.wait()
