"""Option chains from Massive data: the REST snapshot as the base, live quotes on top, Greeks filled in.

Pure functions. The snapshot gives contracts, quotes, implied volatility and Greeks (absent for some
contracts or plans). Live WebSocket quotes newer than the snapshot replace its bid and ask. Greeks the
snapshot lacks are computed locally with Black-Scholes from the live underlying price and the contract's
implied volatility, itself implied from the live mid where the snapshot has none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np

from tradingbot.market.clock import session_close_ms
from tradingbot.market.occ import InvalidOptionSymbolError, parse_occ
from tradingbot.market.pricing import RISK_FREE_RATE, black_scholes
from tradingbot.market.types import FloatArray, OptionChain, OptionContract, OptionQuote

MS_PER_YEAR = 365.0 * 24 * 3600 * 1000
_NAN = math.nan


def _finite(value: Any, positive: bool = False) -> float:  # noqa: ANN401 - JSON values
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return _NAN
    return float(value) if (value > 0 or (not positive and value == 0)) else _NAN


def _section(value: Any) -> dict[str, Any]:  # noqa: ANN401 - JSON values
    return value if isinstance(value, dict) else {}


def parse_snapshot(underlying: str, results: list[Any]) -> list[tuple[OptionContract, dict[str, float]]]:
    """The contracts of ``/v3/snapshot/options`` results with their figures (NaN where absent or invalid)."""
    contracts = []
    for item in results:
        if not isinstance(item, dict):
            continue
        details = _section(item.get("details"))
        ticker = details.get("ticker")
        try:
            contract = parse_occ(ticker) if isinstance(ticker, str) else None
        except InvalidOptionSymbolError:
            contract = None
        if contract is None or contract.underlying != underlying:
            continue
        quote, greeks = _section(item.get("last_quote")), _section(item.get("greeks"))
        bid, ask = _finite(quote.get("bid")), _finite(quote.get("ask"))
        if not (bid >= 0 and ask > 0 and ask >= bid):
            bid = ask = _NAN
        figures = {
            "bid": bid,
            "ask": ask,
            "iv": _finite(item.get("implied_volatility"), positive=True),
            **{k: _finite(greeks.get(k)) for k in ("delta", "gamma", "theta", "vega")},
        }
        contracts.append((contract, figures))
    return contracts


def implied_volatility(
    price: FloatArray, spot: float, strike: FloatArray, years: FloatArray, is_call: np.ndarray, rate: float
) -> FloatArray:
    """Black-Scholes implied volatility by bisection on [0.01, 5]; NaN where no volatility fits the price."""
    low = np.full_like(price, 0.01)
    high = np.full_like(price, 5.0)
    for _ in range(40):
        mid = (low + high) / 2
        value = black_scholes(spot, strike, years, mid, is_call, rate).price
        above = value > price
        high = np.where(above, mid, high)
        low = np.where(above, low, mid)
    iv = (low + high) / 2
    floor = black_scholes(spot, strike, years, np.full_like(price, 0.01), is_call, rate).price
    ceiling = black_scholes(spot, strike, years, np.full_like(price, 5.0), is_call, rate).price
    return np.where((price >= floor) & (price <= ceiling) & np.isfinite(price) & (years > 0), iv, _NAN)


def build_chain(
    underlying: str,
    base: list[tuple[OptionContract, dict[str, float]]],
    base_ms: int,
    quotes: Mapping[str, OptionQuote],
    spot: float,
    now_ms: int,
    rate: float = RISK_FREE_RATE,
) -> OptionChain:
    """The chain at ``now_ms``: ``base`` (taken at ``base_ms``) with newer live quotes and every Greek known."""
    n = len(base)
    contracts = tuple(c for c, _ in base)
    column = (
        {
            k: np.array([f[k] for _, f in base], dtype=np.float64)
            for k in ("bid", "ask", "iv", "delta", "gamma", "theta", "vega")
        }
        if n
        else {}
    )
    bid = column.get("bid", np.empty(0))
    ask = column.get("ask", np.empty(0))
    newest = base_ms
    for i, contract in enumerate(contracts):
        live = quotes.get(contract.ticker)
        if live is not None and live.timestamp_ms >= base_ms:  # the newest quote, valid or not: the env judges
            bid[i], ask[i] = live.bid, live.ask
            newest = max(newest, live.timestamp_ms)
    strike = np.array([c.strike for c in contracts], dtype=np.float64)
    is_call = np.array([c.contract_type == "call" for c in contracts], dtype=np.bool_)
    expiration = np.array([c.expiration.toordinal() for c in contracts], dtype=np.int64)
    closes = {day: session_close_ms(day) for day in {c.expiration for c in contracts}}  # a few expiries
    years = np.array([(closes[c.expiration] - now_ms) / MS_PER_YEAR for c in contracts], dtype=np.float64)
    iv = column.get("iv", np.empty(0))
    greeks = {k: column.get(k, np.empty(0)) for k in ("delta", "gamma", "theta", "vega")}
    if n and math.isfinite(spot) and spot > 0:
        missing_iv = ~np.isfinite(iv)
        if missing_iv.any():
            implied = implied_volatility((bid + ask) / 2, spot, strike, years, is_call, rate)
            iv = np.where(missing_iv, implied, iv)
        missing = ~np.isfinite(greeks["delta"]) & np.isfinite(iv)
        if missing.any():
            valued = black_scholes(spot, strike, years, np.where(np.isfinite(iv), iv, 0.2), is_call, rate)
            greeks = {k: np.where(missing, getattr(valued, k), v) for k, v in greeks.items()}
    return OptionChain(
        underlying=underlying,
        timestamp_ms=min(newest, now_ms),
        underlying_price=spot,
        contracts=contracts,
        index={c.ticker: i for i, c in enumerate(contracts)},
        strike=strike,
        is_call=is_call,
        expiration_ordinal=expiration,
        bid=bid,
        ask=ask,
        implied_volatility=iv,
        **greeks,
    )


def nearest_contracts(
    base: list[tuple[OptionContract, dict[str, float]]], spot: float, today: date, limit: int
) -> list[str]:
    """The ``limit`` contracts to stream quotes for: nearest expiries first, then strikes nearest the spot."""
    ranked = sorted(
        (c for c, _ in base if c.expiration >= today),
        key=lambda c: (c.expiration, abs(c.strike - spot) if math.isfinite(spot) else 0.0),
    )
    by_expiry: dict[date, list[OptionContract]] = {}
    for contract in ranked:
        by_expiry.setdefault(contract.expiration, []).append(contract)
    chosen: list[str] = []
    rounds = max((len(v) for v in by_expiry.values()), default=0)
    for i in range(rounds):  # round-robin over expiries so that every tenor gets its at-the-money strikes
        for contracts in by_expiry.values():
            if i < len(contracts) and len(chosen) < limit:
                chosen.append(contracts[i].ticker)
    return chosen
