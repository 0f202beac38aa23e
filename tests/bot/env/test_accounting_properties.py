"""Property: whatever actions are taken, every figure of the portfolio reconciles to its fills.

The ledger below is recomputed from the fill list alone, independently of the portfolio's own
incremental bookkeeping, and fill prices are checked against the quotes they executed on.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tradingbot.env.actions import NUM_ACTIONS
from tradingbot.env.paper import EnvironmentConfig, PaperTradingEnvironment
from tradingbot.env.portfolio import FeeSchedule, Portfolio
from tradingbot.market.clock import session_close_ms
from tradingbot.market.sim.simulator import MarketSimulator, SimulatorConfig

SYMBOLS = ("SPY", "QQQ")
TOL = 1e-6

any_action = st.integers(0, NUM_ACTIONS - 1)
mostly_hold = st.one_of(st.just(0), st.just(0), any_action)  # holds let positions live until they expire
action_sequences = st.lists(st.tuples(mostly_hold, mostly_hold), min_size=30, max_size=100)


def check_fill_prices(fills, before, after):
    """Buys at the ask and sells at the bid of the snapshot they executed on; settlements at intrinsic less the
    shares' half-spread (physical delivery sold at the bid, or bought at the ask)."""
    for fill in fills:
        quotes = before if fill.timestamp_ms == before.timestamp_ms else after
        chain = quotes.symbols[fill.underlying].chain
        i = chain.index[fill.ticker]
        if fill.kind == "buy":
            assert fill.price == chain.ask[i]
        elif fill.kind == "sell":
            assert fill.price == chain.bid[i] > 0
        else:
            contract = chain.contracts[i]
            assert fill.timestamp_ms >= session_close_ms(contract.expiration)
            quote = quotes.symbols[fill.underlying].quote
            sign = 1 if contract.contract_type == "call" else -1
            intrinsic = max(sign * (quote.mid - contract.strike), 0.0)
            delivered = max(intrinsic - (quote.ask - quote.bid) / 2, 0.0) if intrinsic > 0 else 0.0
            assert fill.price == pytest.approx(delivered if delivered >= 0.01 else 0.0)


def check_ledger(env, fees: FeeSchedule, fills):
    book = env.portfolio
    quantity: dict[str, int] = defaultdict(int)
    for fill in fills:
        gross = fill.quantity * fill.price * fill.multiplier
        if fill.kind == "buy":
            assert fill.cash_delta == pytest.approx(
                -(gross + fill.quantity * (fees.commission_per_contract + fees.regulatory_fee_per_contract)),
                abs=TOL,
            )
            quantity[fill.ticker] += fill.quantity
        elif fill.kind == "sell":
            assert fill.cash_delta == pytest.approx(
                gross - fill.quantity * (fees.commission_per_contract + fees.regulatory_fee_per_contract),
                abs=TOL,
            )
            quantity[fill.ticker] -= fill.quantity
        else:
            assert fill.cash_delta == pytest.approx(gross, abs=TOL) and fill.commission == fill.fees == 0
            quantity[fill.ticker] -= fill.quantity
        assert fill.multiplier == 100
    held = {t: q for t, q in quantity.items() if q}
    assert held == {t: p.quantity for t, p in book.positions.items()}
    assert all(q > 0 for q in held.values())  # long only

    assert book.cash == pytest.approx(book.initial_cash + sum(f.cash_delta for f in fills), abs=TOL)
    assert book.cash >= 0
    closes = [f for f in fills if f.kind != "buy"]
    assert book.realized_pnl == pytest.approx(sum(f.realized_pnl for f in closes), abs=TOL)
    assert book.trades == sum(f.kind in ("buy", "sell") for f in fills)
    assert book.closed == len(closes) and book.wins == sum(f.realized_pnl > 0 for f in closes)
    assert book.value == pytest.approx(
        book.cash + sum(p.quantity * p.mark * 100 for p in book.positions.values()), abs=TOL
    )
    assert book.value - book.initial_cash == pytest.approx(book.realized_pnl + book.unrealized_pnl, abs=TOL)
    total_paid = sum(-f.cash_delta for f in fills if f.kind == "buy")
    total_back = sum(f.cash_delta for f in closes)
    open_cost = sum(p.cost for p in book.positions.values())
    assert total_paid - open_cost - total_back == pytest.approx(-book.realized_pnl, abs=TOL)
    now = env.snapshot.timestamp_ms
    assert all(session_close_ms(p.contract.expiration) > now for p in book.positions.values())


def check_replay(book: Portfolio, fills, capital: float) -> None:
    """The fills applied to a fresh account, in order, give this account to the last bit (the journal's replay)."""
    replayed = Portfolio(capital, FeeSchedule(0.0, 0.0))  # recorded fees are applied, not today's schedule
    for fill in fills:
        replayed.apply(fill)
    assert (replayed.cash, replayed.realized_pnl) == (book.cash, book.realized_pnl)
    assert (replayed.trades, replayed.closed, replayed.wins) == (book.trades, book.closed, book.wins)
    assert {t: (p.quantity, p.cost) for t, p in replayed.positions.items()} == {
        t: (p.quantity, p.cost) for t, p in book.positions.items()
    }


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    actions=action_sequences,
    seed=st.integers(0, 2**16),
    capital=st.sampled_from([2_000.0, 100_000.0]),
    cutoff=st.sampled_from([0.0, 45.0]),
)
def test_every_figure_reconciles_to_the_fills(actions, seed, capital, cutoff):
    fees = FeeSchedule(0.65, 0.05)
    source = MarketSimulator(SimulatorConfig(SYMBOLS, seed=seed, start_date=date(2026, 1, 8), steps_per_day=13))
    env = PaperTradingEnvironment(
        source,
        EnvironmentConfig(initial_capital=capital, fees=fees, expiry_cutoff_minutes=cutoff, steps_per_day=13),
    )
    reward_total = 0.0
    fills = []
    for step in actions:
        before = env.snapshot
        result = env.step(list(step))
        fills.extend(result.info.fills)
        check_fill_prices(result.info.fills, before, env.snapshot)
        check_ledger(env, fees, fills)
        check_replay(env.portfolio, fills, capital)
        reward_total += result.reward
        for fill in result.info.fills:
            event(f"fill: {fill.kind}")
        assert result.info.portfolio_value == pytest.approx(env.portfolio.value)
    assert reward_total == pytest.approx(100 * (env.portfolio.value - capital) / capital, abs=1e-9)
