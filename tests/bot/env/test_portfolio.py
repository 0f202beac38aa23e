"""Portfolio accounting at fixed prices: fills at bid/ask, fees, x100 multiplier, settlement, no negative cash."""

from __future__ import annotations

from datetime import date

import pytest

from tradingbot.env.portfolio import FeeSchedule, Portfolio, TradeRejectedError
from tradingbot.market.occ import parse_occ

CALL = parse_occ("O:SPY260116C00100000")
PUT = parse_occ("O:SPY260116P00100000")
FEES = FeeSchedule(commission_per_contract=0.65, regulatory_fee_per_contract=0.05)


def test_buying_pays_the_ask_times_100_plus_per_contract_costs():
    book = Portfolio(10_000.0, FEES)
    fill = book.buy(CALL, 2, 1.20, 0)
    assert fill.cash_delta == pytest.approx(-(2 * 1.20 * 100 + 2 * 0.65 + 2 * 0.05))
    assert book.cash == pytest.approx(10_000 - 241.40)
    assert book.positions[CALL.ticker].quantity == 2
    assert fill.commission == pytest.approx(1.30) and fill.fees == pytest.approx(0.10)


def test_buy_then_immediate_sell_loses_exactly_the_spread_plus_fees():
    book = Portfolio(10_000.0, FEES)
    book.buy(CALL, 3, 1.20, 0)
    fill = book.sell(CALL.ticker, 3, 1.10, 1)
    spread = 3 * 100 * (1.20 - 1.10)
    fees = 2 * 3 * (0.65 + 0.05)
    assert book.cash == pytest.approx(10_000 - spread - fees)
    assert fill.realized_pnl == pytest.approx(-(spread + fees))
    assert book.realized_pnl == pytest.approx(-(spread + fees))
    assert not book.positions and book.closed == 1 and book.wins == 0 and book.trades == 2


def test_a_buy_that_would_make_cash_negative_is_refused_and_changes_nothing():
    book = Portfolio(100.0, FEES)
    with pytest.raises(TradeRejectedError, match="costs"):
        book.buy(CALL, 1, 1.00, 0)  # $100 + $0.70 of fees
    assert book.cash == 100.0 and not book.positions and book.trades == 0


@pytest.mark.parametrize("ask", [float("nan"), 0.0, -1.0, float("inf")])
def test_a_buy_at_an_invalid_ask_is_refused(ask):
    book = Portfolio(10_000.0, FEES)
    with pytest.raises(TradeRejectedError, match="no valid ask"):
        book.buy(CALL, 1, ask, 0)
    assert book.cash == 10_000.0 and not book.positions and book.trades == 0


def test_only_held_contracts_can_be_sold_long_options_only():
    book = Portfolio(10_000.0, FEES)
    with pytest.raises(TradeRejectedError, match="no position"):
        book.sell(CALL.ticker, 1, 1.0, 0)
    book.buy(CALL, 1, 1.0, 0)
    with pytest.raises(TradeRejectedError, match="cannot sell 2"):
        book.sell(CALL.ticker, 2, 1.0, 0)
    with pytest.raises(TradeRejectedError, match="no valid bid"):
        book.sell(CALL.ticker, 1, 0.0, 0)
    assert book.positions[CALL.ticker].quantity == 1 and book.trades == 1


def test_partial_sells_realise_the_average_cost_share():
    book = Portfolio(10_000.0, FEES)
    book.buy(CALL, 1, 1.00, 0)
    book.buy(CALL, 1, 2.00, 1)
    fill = book.sell(CALL.ticker, 1, 3.00, 2)
    cost_each = (100 + 200 + 2 * 0.70) / 2
    assert fill.realized_pnl == pytest.approx(300 - 0.70 - cost_each)
    assert book.positions[CALL.ticker].cost == pytest.approx(cost_each)
    assert book.wins == 1 and book.win_rate == 1.0


def test_in_the_money_expiry_settles_at_intrinsic_value_without_commission():
    book = Portfolio(10_000.0, FEES)
    book.buy(CALL, 2, 3.00, 0)
    fill = book.settle(CALL.ticker, 5.00, 1)  # spot 105 at expiry, strike 100
    assert fill.kind == "expire" and fill.cash_delta == pytest.approx(2 * 5.00 * 100)
    assert fill.realized_pnl == pytest.approx(1000 - (600 + 1.40))
    assert book.cash == pytest.approx(10_000 - 601.40 + 1000)
    assert book.trades == 1 and book.closed == 1 and book.wins == 1


def test_out_of_the_money_expiry_loses_the_premium_and_fees():
    book = Portfolio(10_000.0, FEES)
    book.buy(PUT, 1, 2.50, 0)
    fill = book.settle(PUT.ticker, 0.0, 1)
    assert fill.cash_delta == 0.0 and fill.realized_pnl == pytest.approx(-(250 + 0.70))
    assert book.cash == pytest.approx(10_000 - 250.70) and not book.positions and book.win_rate == 0.0


def test_value_and_pnl_reconcile_while_positions_are_open():
    book = Portfolio(10_000.0, FEES)
    book.buy(CALL, 2, 1.20, 0)
    book.buy(PUT, 1, 0.80, 0)
    book.positions[CALL.ticker].mark = 1.50
    book.positions[PUT.ticker].mark = 0.40
    assert book.value == pytest.approx(book.cash + 2 * 150 + 40)
    assert book.value - 10_000 == pytest.approx(book.realized_pnl + book.unrealized_pnl)
    book.update_peak()
    book.positions[CALL.ticker].mark = 1.00
    assert book.drawdown == pytest.approx(1 - book.value / book.peak_value)


@pytest.mark.parametrize("cash", [0.0, -5.0, float("nan")])
def test_an_account_needs_positive_capital(cash):
    with pytest.raises(ValueError, match="initial cash"):
        Portfolio(cash, FEES)


def test_fees_cannot_be_negative():
    with pytest.raises(ValueError, match="non-negative"):
        FeeSchedule(commission_per_contract=-0.1)


def test_contracts_carry_the_100_share_multiplier():
    assert CALL.shares_per_contract == 100
    assert CALL.expiration == date(2026, 1, 16)
