"""Paper portfolio of long option positions, accounted fill by fill.

Money is in USD. Option prices are per share; one contract covers ``shares_per_contract`` (100)
shares. A buy pays ``quantity x ask x 100`` plus commission and fees; a sell receives ``quantity x
bid x 100`` less commission and fees; an expiring position settles in cash at the price the
environment gives (intrinsic value less the cost of trading the delivered shares), with no commission.
A position's cost includes the fees paid to open it, so realised P&L is net of fees on both sides, and
``value - initial cash == realised P&L + unrealised P&L`` holds at every moment.
Cash never goes negative: a buy that cannot be paid for is refused before anything changes.

Every change goes through :meth:`Portfolio.apply` of a :class:`Fill`, the same function that rebuilds
an account from its trade journal: replaying the journal's fills in order gives the very same floats.
The portfolio keeps no list of fills (the journal is the history): its size is its open positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from tradingbot.market.occ import parse_occ
from tradingbot.market.types import OptionContract

FillKind = Literal["buy", "sell", "expire"]
FILL_KINDS: tuple[FillKind, ...] = ("buy", "sell", "expire")


class TradeRejectedError(ValueError):
    """An order the portfolio refuses; nothing was changed."""


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Per-contract costs of an order, USD: broker commission and pass-through regulatory fees."""

    commission_per_contract: float = 0.65
    regulatory_fee_per_contract: float = 0.05
    """Approximately ORF ($0.027) plus OCC clearing ($0.02) per contract."""

    def __post_init__(self) -> None:
        if not (self.commission_per_contract >= 0 and self.regulatory_fee_per_contract >= 0):
            raise ValueError("commission and fees must be non-negative")

    def commission(self, quantity: int) -> float:
        """Commission for an order of ``quantity`` contracts."""
        return self.commission_per_contract * quantity

    def fees(self, quantity: int) -> float:
        """Regulatory fees for an order of ``quantity`` contracts."""
        return self.regulatory_fee_per_contract * quantity


@dataclass(frozen=True, slots=True)
class Fill:
    """One change to the portfolio: ``cash_delta`` is what it did to cash, ``realized_pnl`` what it realised.

    ``price_source`` says where ``price`` came from: ``ask`` and ``bid`` for trades, and for an expiry
    the settlement rule and the underlying's price it used (e.g. ``intrinsic of SPY mid 601.23``).
    """

    timestamp_ms: int
    ticker: str
    underlying: str
    kind: FillKind
    quantity: int
    price: float
    multiplier: int
    commission: float
    fees: float
    cash_delta: float
    realized_pnl: float
    price_source: str = ""


@dataclass(slots=True)
class Position:
    """An open long position; ``cost`` is everything paid to open it (premium, commission, fees)."""

    contract: OptionContract
    quantity: int
    cost: float
    mark: float
    """Latest mark price per share (the mid of the last valid quote), USD."""
    opened_ms: int
    marked_ms: int = 0
    """Market time of that quote, epoch ms (0: not marked since the account was restored)."""

    @property
    def market_value(self) -> float:
        """Quantity x mark x multiplier, USD."""
        return self.quantity * self.mark * self.contract.shares_per_contract

    @property
    def unrealized_pnl(self) -> float:
        """Market value less cost, USD."""
        return self.market_value - self.cost


def _valid_price(price: float) -> bool:
    return math.isfinite(price) and price >= 0


def _cost_share(position: Position, quantity: int) -> float:
    """The part of a position's cost that ``quantity`` of its contracts carry, USD."""
    return position.cost * quantity / position.quantity


class Portfolio:
    """Cash, open positions and the fill ledger of one paper account."""

    def __init__(self, initial_cash: float, fees: FeeSchedule) -> None:
        if not (math.isfinite(initial_cash) and initial_cash > 0):
            raise ValueError(f"initial cash must be a positive amount of USD, got {initial_cash!r}")
        self.initial_cash = initial_cash
        self.fee_schedule = fees
        self.cash = initial_cash
        self.positions: dict[str, Position] = {}
        self.realized_pnl = 0.0
        self.trades = 0
        self.closed = 0
        self.wins = 0
        self.peak_value = initial_cash

    def buy_cost(self, contract: OptionContract, quantity: int, ask: float) -> float:
        """Total cash a buy of ``quantity`` contracts at ``ask`` would take, USD."""
        fees = self.fee_schedule
        return quantity * ask * contract.shares_per_contract + fees.commission(quantity) + fees.fees(quantity)

    def buy(self, contract: OptionContract, quantity: int, ask: float, timestamp_ms: int) -> Fill:
        """Buy ``quantity`` contracts at the ask; refused if the price is invalid or cash would go negative."""
        if quantity <= 0:
            raise TradeRejectedError(f"quantity must be positive, got {quantity}")
        if not (_valid_price(ask) and ask > 0):
            raise TradeRejectedError(f"no valid ask for {contract.ticker}: {ask!r}")
        total = self.buy_cost(contract, quantity, ask)
        if total > self.cash + 1e-9:
            raise TradeRejectedError(
                f"buying {quantity} {contract.ticker} costs ${total:,.2f}, cash is ${self.cash:,.2f}"
            )
        commission, fees = self.fee_schedule.commission(quantity), self.fee_schedule.fees(quantity)
        fill = Fill(
            timestamp_ms,
            contract.ticker,
            contract.underlying,
            "buy",
            quantity,
            ask,
            contract.shares_per_contract,
            commission,
            fees,
            -total,
            0.0,
            "ask",
        )
        self.apply(fill, contract)
        return fill

    def sell(self, ticker: str, quantity: int, bid: float, timestamp_ms: int) -> Fill:
        """Sell ``quantity`` contracts of a held position at the bid (a zero bid cannot be sold)."""
        position = self._held(ticker, quantity)
        if not (_valid_price(bid) and bid > 0):
            raise TradeRejectedError(f"no valid bid for {ticker}: {bid!r}")
        fees = self.fee_schedule
        commission, reg = fees.commission(quantity), fees.fees(quantity)
        proceeds = quantity * bid * position.contract.shares_per_contract - commission - reg
        return self._close(position, "sell", quantity, bid, commission, reg, proceeds, timestamp_ms, "bid")

    def settle(self, ticker: str, intrinsic: float, timestamp_ms: int, source: str = "intrinsic") -> Fill:
        """Settle a whole expiring position in cash at ``intrinsic`` value per share (no commission);
        ``source`` records the underlying price it was computed from."""
        position = self._held(ticker, None)
        if not _valid_price(intrinsic):
            raise TradeRejectedError(f"invalid settlement price for {ticker}: {intrinsic!r}")
        proceeds = position.quantity * intrinsic * position.contract.shares_per_contract
        return self._close(position, "expire", position.quantity, intrinsic, 0.0, 0.0, proceeds, timestamp_ms, source)

    def _held(self, ticker: str, quantity: int | None) -> Position:
        position = self.positions.get(ticker)
        if position is None:
            raise TradeRejectedError(f"no position in {ticker} (long options only: nothing to sell)")
        if quantity is not None and not 0 < quantity <= position.quantity:
            raise TradeRejectedError(f"cannot sell {quantity} of {position.quantity} {ticker} held")
        return position

    def _close(
        self,
        position: Position,
        kind: FillKind,
        quantity: int,
        price: float,
        commission: float,
        fees: float,
        proceeds: float,
        timestamp_ms: int,
        source: str,
    ) -> Fill:
        fill = Fill(
            timestamp_ms,
            position.contract.ticker,
            position.contract.underlying,
            kind,
            quantity,
            price,
            position.contract.shares_per_contract,
            commission,
            fees,
            proceeds,
            proceeds - _cost_share(position, quantity),
            source,
        )
        self.apply(fill)
        return fill

    def apply(self, fill: Fill, contract: OptionContract | None = None) -> None:
        """Book one fill: the only way cash, positions and the counters change.

        Live trading and the journal's replay both come through here, so a replayed account equals the
        live one to the last bit. A buy of a contract not held needs its ``contract`` (else it is read
        from the OCC ticker).
        """
        if fill.kind == "buy":
            held = self.positions.get(fill.ticker)
            if held is None:
                listed = contract if contract is not None else parse_occ(fill.ticker)
                self.positions[fill.ticker] = Position(
                    listed, fill.quantity, -fill.cash_delta, fill.price, fill.timestamp_ms, fill.timestamp_ms
                )
            else:
                held.quantity += fill.quantity
                held.cost -= fill.cash_delta
            self.cash = max(self.cash + fill.cash_delta, 0.0)
            self.trades += 1
            return
        position = self._held(fill.ticker, fill.quantity)
        cost_share = _cost_share(position, fill.quantity)
        self.cash += fill.cash_delta
        self.realized_pnl += fill.realized_pnl
        position.quantity -= fill.quantity
        position.cost -= cost_share
        if position.quantity == 0:
            del self.positions[fill.ticker]
        if fill.kind != "expire":
            self.trades += 1
        self.closed += 1
        self.wins += fill.realized_pnl > 0

    def copy(self) -> Portfolio:
        """An independent copy (positions included), to roll a step back to."""
        other = Portfolio(self.initial_cash, self.fee_schedule)
        other.cash, other.realized_pnl, other.peak_value = self.cash, self.realized_pnl, self.peak_value
        other.trades, other.closed, other.wins = self.trades, self.closed, self.wins
        other.positions = {ticker: replace(position) for ticker, position in self.positions.items()}
        return other

    def snapshot(self) -> dict[str, Any]:
        """The open book and the account's totals as plain data (checkpoints, the journal's opening)."""
        return {
            "initial_cash": self.initial_cash,
            "cash": self.cash,
            "realized_pnl": self.realized_pnl,
            "trades": self.trades,
            "closed": self.closed,
            "wins": self.wins,
            "peak_value": self.peak_value,
            "positions": [
                {"ticker": t, "quantity": p.quantity, "cost": p.cost, "mark": p.mark, "opened_ms": p.opened_ms}
                for t, p in self.positions.items()
            ],
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any], fees: FeeSchedule) -> Portfolio:
        """Rebuild an account from :meth:`snapshot` (fees are today's schedule). A ``fills`` list in it
        (checkpoints of format 1) is ignored: the trade journal holds the history now."""
        book = cls(float(data["initial_cash"]), fees)
        book.cash = float(data["cash"])
        book.realized_pnl = float(data["realized_pnl"])
        book.trades, book.closed, book.wins = int(data["trades"]), int(data["closed"]), int(data["wins"])
        book.peak_value = float(data["peak_value"])
        for row in data["positions"]:
            contract = parse_occ(str(row["ticker"]))
            book.positions[contract.ticker] = Position(
                contract, int(row["quantity"]), float(row["cost"]), float(row["mark"]), int(row["opened_ms"])
            )
        return book

    def update_peak(self) -> None:
        """Record the current value as the high-water mark if it is one (for drawdown)."""
        self.peak_value = max(self.peak_value, self.value)

    @property
    def market_value(self) -> float:
        """Marked value of all open positions, USD."""
        return sum(p.market_value for p in self.positions.values())

    @property
    def value(self) -> float:
        """Cash plus the marked value of positions, USD."""
        return self.cash + self.market_value

    @property
    def unrealized_pnl(self) -> float:
        """Marked value of positions less their cost, USD."""
        return sum(p.unrealized_pnl for p in self.positions.values())

    @property
    def win_rate(self) -> float:
        """Fraction of closed positions (sold or expired) that realised a gain; 0 before the first close."""
        return self.wins / self.closed if self.closed else 0.0

    @property
    def drawdown(self) -> float:
        """Fall of the value from its high-water mark, as a fraction of that mark."""
        return max(0.0, 1.0 - self.value / self.peak_value)
