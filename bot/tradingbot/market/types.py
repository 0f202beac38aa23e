"""Market-data types shared by every source (simulator, Massive, replay).

Field meanings follow Massive's wire protocol: prices in USD per share, stock quote sizes in round
lots, option sizes in contracts, timestamps in epoch milliseconds (UTC), theta per calendar day and
vega per one volatility point (0.01 of implied volatility).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import numpy.typing as npt

ContractType = Literal["call", "put"]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class StockQuote:
    """National best bid and offer of an underlying (Massive ``Q`` on the stocks cluster)."""

    symbol: str
    bid: float
    bid_size: int
    ask: float
    ask_size: int
    timestamp_ms: int

    @property
    def mid(self) -> float:
        """Midpoint of bid and ask, USD."""
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class StockTrade:
    """A trade print of an underlying (Massive ``T`` on the stocks cluster); ``size`` in shares."""

    symbol: str
    price: float
    size: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class OptionContract:
    """A listed option contract, identified by its Massive ticker (``O:SPY251219C00650000``)."""

    ticker: str
    underlying: str
    contract_type: ContractType
    strike: float
    expiration: date
    shares_per_contract: int = 100


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """Top-of-book quote of one option contract (Massive ``Q`` on the options cluster)."""

    ticker: str
    bid: float
    bid_size: int
    ask: float
    ask_size: int
    timestamp_ms: int


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


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """The market at one decision instant (epoch ms), for every traded symbol."""

    timestamp_ms: int
    symbols: Mapping[str, SymbolSnapshot]
