"""Market-data types shared by every source (simulator, Massive, replay).

Field meanings follow Massive's wire protocol: prices in USD per share, stock quote sizes in round
lots, option sizes in contracts, timestamps in epoch milliseconds (UTC), theta per calendar day and
vega per one volatility point (0.01 of implied volatility).

The streamed event types (quotes, trades, aggregates, status) are msgspec Structs that carry their
wire names (``sym``, ``bp``, ``ap``, …) and ``ev`` tags, so a Massive frame decodes straight from bytes
into them (see :mod:`tradingbot.market.massive.wire`); the constraints below apply to that decoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

import msgspec
import numpy as np
import numpy.typing as npt

ContractType = Literal["call", "put"]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

Quote = Annotated[float, msgspec.Meta(ge=0)]
"""A bid or ask, USD: finite and not negative (0 means no bid)."""
Price = Annotated[float, msgspec.Meta(gt=0)]
"""A traded or bar price, USD: finite and positive."""
Size = Annotated[int, msgspec.Meta(ge=0)]
Millis = Annotated[int, msgspec.Meta(gt=0)]
"""Epoch milliseconds, UTC."""

_QUOTE_NAMES = {"bid": "bp", "bid_size": "bs", "ask": "ap", "ask_size": "as", "timestamp_ms": "t"}


class StockQuote(
    msgspec.Struct, frozen=True, gc=False, tag_field="ev", tag="Q", rename={"symbol": "sym", **_QUOTE_NAMES}
):
    """National best bid and offer of an underlying (Massive ``Q`` on the stocks cluster)."""

    symbol: str
    bid: Quote
    bid_size: Size
    ask: Quote
    ask_size: Size
    timestamp_ms: Millis

    @property
    def mid(self) -> float:
        """Midpoint of bid and ask, USD."""
        return (self.bid + self.ask) / 2


_TRADE_NAMES = {"price": "p", "size": "s", "timestamp_ms": "t"}


class StockTrade(
    msgspec.Struct, frozen=True, gc=False, tag_field="ev", tag="T", rename={"symbol": "sym", **_TRADE_NAMES}
):
    """A trade print of an underlying (Massive ``T`` on the stocks cluster); ``size`` in shares."""

    symbol: str
    price: Price
    size: Size
    timestamp_ms: Millis


class OptionQuote(
    msgspec.Struct, frozen=True, gc=False, tag_field="ev", tag="Q", rename={"ticker": "sym", **_QUOTE_NAMES}
):
    """Top-of-book quote of one option contract (Massive ``Q`` on the options cluster)."""

    ticker: str
    bid: Quote
    bid_size: Size
    ask: Quote
    ask_size: Size
    timestamp_ms: Millis


class OptionTrade(
    msgspec.Struct, frozen=True, gc=False, tag_field="ev", tag="T", rename={"ticker": "sym", **_TRADE_NAMES}
):
    """A trade print of one option contract (Massive ``T`` on the options cluster); ``size`` in contracts."""

    ticker: str
    price: Price
    size: Size
    timestamp_ms: Millis


class Aggregate(
    msgspec.Struct,
    frozen=True,
    gc=False,
    tag_field="ev",
    rename={
        "symbol": "sym",
        "open": "o",
        "high": "h",
        "low": "l",
        "close": "c",
        "volume": "v",
        "vwap": "vw",
        "start_ms": "s",
        "end_ms": "e",
    },
):
    """A bar of a stock or option (``symbol`` is the ticker): OHLC in USD, volume in shares or contracts."""

    symbol: str
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Size
    start_ms: Millis
    end_ms: Millis
    vwap: Price | None = None


class SecondAggregate(Aggregate, frozen=True, gc=False, tag="A"):
    """A per-second bar (Massive ``A``)."""


class MinuteAggregate(Aggregate, frozen=True, gc=False, tag="AM"):
    """A per-minute bar (Massive ``AM``)."""


class Status(msgspec.Struct, frozen=True, gc=False, tag_field="ev", tag="status"):
    """A status message of the stream: ``connected``, ``auth_success``, ``auth_failed``, ``success`` …"""

    status: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class OptionContract:
    """A listed option contract, identified by its Massive ticker (``O:SPY251219C00650000``)."""

    ticker: str
    underlying: str
    contract_type: ContractType
    strike: float
    expiration: date
    shares_per_contract: int = 100


@dataclass(frozen=True, slots=True, eq=False)
class OptionChain:
    """A snapshot of one underlying's option chain, stored column-wise (one array element per contract).

    ``bid``/``ask`` are NaN for contracts without a two-sided quote; ``implied_volatility`` (a decimal
    fraction) and the Greeks are NaN where the source lacks them. ``expiration_ordinal`` is
    ``date.toordinal()`` of each contract's expiry, so selecting by expiry stays vectorised.
    """

    underlying: str
    timestamp_ms: int
    underlying_price: float
    contracts: tuple[OptionContract, ...]
    index: Mapping[str, int]
    strike: FloatArray
    is_call: BoolArray
    expiration_ordinal: IntArray
    bid: FloatArray
    ask: FloatArray
    implied_volatility: FloatArray
    delta: FloatArray
    gamma: FloatArray
    theta: FloatArray
    vega: FloatArray

    def __len__(self) -> int:
        return len(self.contracts)

    def bid_ask(self, ticker: str) -> tuple[float, float] | None:
        """The contract's (bid, ask) in this chain, USD per share, or ``None`` when it is not listed here."""
        i = self.index.get(ticker)
        return None if i is None else (float(self.bid[i]), float(self.ask[i]))


@dataclass(frozen=True, slots=True)
class SymbolSnapshot:
    """Everything known about one underlying at one instant: its quote, last trade and option chain."""

    quote: StockQuote
    trade: StockTrade | None
    chain: OptionChain
    quote_age_s: float = 0.0
    """Seconds since ``quote`` arrived here, on this process's clock (0 for data made now, the simulator's);
    NaN when no quote ever arrived."""
    chain_age_s: float = 0.0
    """Seconds since the chain's newest data (snapshot or live quote) arrived here."""


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """The market at one decision instant (epoch ms), for every traded symbol."""

    timestamp_ms: int
    symbols: Mapping[str, SymbolSnapshot]
