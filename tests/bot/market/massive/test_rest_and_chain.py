"""Option chains over REST (pagination, rate limits, refused keys) and chains built from them."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import date

import aiohttp
import numpy as np
import pytest

from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.market.massive.chain import build_chain, implied_volatility, nearest_contracts, parse_snapshot
from tradingbot.market.massive.rest import MassiveRest, MassiveRestError, RestConfig
from tradingbot.market.massive.server import MarketServer
from tradingbot.market.pricing import black_scholes
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig
from tradingbot.market.types import OptionQuote

KEY = "rest-key-3e1"
pytestmark = pytest.mark.timeout(60)


def simulator() -> MarketSimulator:
    return MarketSimulator(SimulatorConfig(("SPY",), seed=5))


async def fetch(server: MarketServer, key: str = KEY, page_limit: int = 25, retries: int = 3):
    async with aiohttp.ClientSession() as session:
        rest = MassiveRest(
            key,
            session,
            RestConfig(base_url=server.url, page_limit=page_limit, retries=retries, backoff_initial_s=0.01),
        )
        return await rest.option_chain("SPY"), rest


def test_every_page_is_followed_and_rate_limits_are_waited_out():
    async def scenario():
        async with MarketServer(simulator(), {KEY}, interval_s=3600) as server:
            listed = len(server.market.current().symbols["SPY"].chain)
            server.faults.rate_limit_every = 3
            results, rest = await fetch(server)
            assert len(results) == listed and listed > 25  # several pages
            assert len({r["details"]["ticker"] for r in results}) == listed
            assert rest.retries_done >= 1

    asyncio.run(scenario())


def test_a_refused_key_is_fatal_and_not_in_the_error():
    async def scenario():
        async with MarketServer(simulator(), {KEY}, interval_s=3600) as server:
            with pytest.raises(MassiveRestError) as refused:
                await fetch(server, key="wrong-key-8")
            assert refused.value.fatal and "Unknown API Key" in str(refused.value)
            assert "wrong-key-8" not in str(refused.value)

    asyncio.run(scenario())


def test_an_unreachable_server_fails_after_bounded_retries(dead_endpoint):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            rest = MassiveRest(KEY, session, RestConfig(base_url=dead_endpoint, retries=2, backoff_initial_s=0.01))
            with pytest.raises(MassiveRestError, match="ClientConnectorError") as failed:
                await rest.option_chain("SPY")
            assert not failed.value.fatal and rest.retries_done == 2

    asyncio.run(scenario())


def test_snapshot_parsing_keeps_what_is_valid():
    good = {
        "details": {"ticker": "O:SPY260116C00100000"},
        "last_quote": {"bid": 1.1, "ask": 1.2},
        "implied_volatility": 0.2,
        "greeks": {"delta": 0.5, "gamma": 0.1, "theta": -0.02, "vega": 0.1},
    }
    crossed = {"details": {"ticker": "O:SPY260116P00095000"}, "last_quote": {"bid": 2.0, "ask": 1.0}}
    other = {"details": {"ticker": "O:QQQ260116C00100000"}}
    broken = [{"details": {"ticker": "O:SPY2601"}}, {"details": "x"}, "x"]
    parsed = parse_snapshot("SPY", [good, crossed, other, *broken])
    assert [c.ticker for c, _ in parsed] == ["O:SPY260116C00100000", "O:SPY260116P00095000"]
    assert parsed[0][1]["bid"] == 1.1 and math.isnan(parsed[1][1]["bid"]) and math.isnan(parsed[1][1]["iv"])


def test_live_quotes_override_the_snapshot_and_missing_greeks_are_computed():
    now = 1767715200000  # 2026-01-06 16:00 UTC, a Tuesday
    base = parse_snapshot(
        "SPY",
        [
            {
                "details": {"ticker": "O:SPY260116C00100000"},
                "last_quote": {"bid": 1.0, "ask": 1.2},
                "implied_volatility": 0.25,
                "greeks": {"delta": 0.55, "gamma": 0.05, "theta": -0.03, "vega": 0.08},
            },
            {"details": {"ticker": "O:SPY260116P00100000"}, "last_quote": {"bid": 1.9, "ask": 2.1}},
        ],
    )
    quotes = {
        "O:SPY260116C00100000": OptionQuote("O:SPY260116C00100000", 1.3, 5, 1.4, 5, now - 1000),
        "O:SPY260116P00100000": OptionQuote("O:SPY260116P00100000", 9.0, 5, 9.1, 5, now - 10**9),
    }  # stale
    chain = build_chain("SPY", base, now - 5000, quotes, 100.0, now)
    assert (chain.bid[0], chain.ask[0]) == (1.3, 1.4) and chain.timestamp_ms == now - 1000
    assert (chain.bid[1], chain.ask[1]) == (1.9, 2.1)  # older than the snapshot: ignored
    assert chain.delta[0] == 0.55  # the snapshot's own Greek is kept
    assert -1 < chain.delta[1] < 0 and chain.gamma[1] > 0 and 0.05 < chain.implied_volatility[1] < 2


def test_implied_volatility_inverts_black_scholes():
    strike = np.array([90.0, 100.0, 110.0])
    years = np.array([0.1, 0.25, 0.5])
    is_call = np.array([True, False, True])
    sigma = np.array([0.15, 0.3, 0.6])
    price = black_scholes(100.0, strike, years, sigma, is_call, 0.04).price
    assert np.allclose(implied_volatility(price, 100.0, strike, years, is_call, 0.04), sigma, atol=1e-4)
    assert math.isnan(
        implied_volatility(np.array([0.0]), 100.0, np.array([50.0]), np.array([0.1]), np.array([True]), 0.04)[0]
    )  # below intrinsic: no volatility fits


def test_streamed_contracts_cover_every_expiry_near_the_money():
    base = parse_snapshot(
        "SPY", [{"details": {"ticker": f"O:SPY2601{d}C00{k:03d}000"}} for d in (16, 23) for k in range(80, 121, 5)]
    )
    chosen = nearest_contracts(base, 100.0, date(2026, 1, 6), 4)
    assert chosen == ["O:SPY260116C00100000", "O:SPY260123C00100000", "O:SPY260116C00095000", "O:SPY260123C00095000"]


def test_minute_bars_come_back_in_order_for_the_warm_up():
    async def scenario():
        server = MarketServer(simulator(), {KEY}, interval_s=3600, history_minutes=30)
        async with server, aiohttp.ClientSession() as session:
            rest = MassiveRest(KEY, session, RestConfig(base_url=server.url))
            now = int(time.time() * 1000)
            bars = await rest.minute_bars("SPY", now - 3_600_000, now)
        assert len(bars) == 30 and [t for t, _ in bars] == sorted(t for t, _ in bars)
        assert all(price > 0 for _, price in bars) and bars[1][0] - bars[0][0] == 60_000

    asyncio.run(scenario())


def test_warm_up_history_feeds_the_price_features(static_market):
    spot = static_market().current().symbols["SPY"].quote.mid
    start = static_market().current().timestamp_ms
    rising = {"SPY": [(start - (60 - i) * 60_000, spot * (0.9 + i * 0.1 / 60)) for i in range(60)]}
    cold = PaperTradingEnvironment(static_market(), EnvironmentConfig()).reset()
    warm = PaperTradingEnvironment(static_market(), EnvironmentConfig(), rising).reset()
    assert not np.allclose(cold, warm)  # the one-hour return and volatility now see the history
