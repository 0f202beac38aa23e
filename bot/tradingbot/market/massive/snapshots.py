"""The market at a decision instant, built from a Massive feed's state and its chain snapshots: the one
path both the live and the replayed source take, so a replay of a recorded session reproduces it exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tradingbot.market.massive.chain import build_chain
from tradingbot.market.massive.stream import FeedState
from tradingbot.market.quality import DataRules
from tradingbot.market.types import MarketSnapshot, OptionContract, StockQuote, SymbolSnapshot


@dataclass(frozen=True)
class ChainBase:
    """A parsed REST chain snapshot: the epoch ms it was taken, and when it arrived (arrival clock, s)."""

    contracts: list[tuple[OptionContract, dict[str, float]]]
    taken_ms: int
    arrived: float


def build_snapshot(
    symbols: tuple[str, ...],
    state: FeedState,
    chains: dict[str, ChainBase],
    now_ms: int,
    arrival_now: float,
    rules: DataRules,
) -> MarketSnapshot:
    """The market at ``now_ms`` (epoch ms) from the feed's newest data and chain snapshots.

    Ages are by arrival (``arrival_now`` on the feed's arrival clock). A live option quote replaces the
    snapshot's only while it is fresh by arrival and not stamped beyond the future tolerance; whether a
    quote is valid is the environment's to judge, so one-sided or crossed quotes come through as they are.
    """
    with state.lock:
        stock_quotes = dict(state.stock_quotes)
        stock_trades = dict(state.stock_trades)
        option_quotes = dict(state.option_quotes)
        arrived = dict(state.arrived)
    latest_ms = now_ms + rules.future_tolerance_s * 1000
    live = {
        ticker: quote
        for ticker, quote in option_quotes.items()
        if arrival_now - arrived.get(ticker, -math.inf) <= rules.max_data_age_s and quote.timestamp_ms <= latest_ms
    }
    out = {}
    for symbol in symbols:
        quote = stock_quotes.get(symbol) or StockQuote(symbol, math.nan, 0, math.nan, 0, 1)
        base = chains.get(symbol) or ChainBase([], 0, -math.inf)
        chain = build_chain(symbol, base.contracts, base.taken_ms, live, quote.mid, now_ms)
        quote_age = arrival_now - arrived[symbol] if symbol in arrived else math.nan
        out[symbol] = SymbolSnapshot(quote, stock_trades.get(symbol), chain, quote_age, arrival_now - base.arrived)
    return MarketSnapshot(now_ms, out)
