"""Massive option tickers."""

from __future__ import annotations

from datetime import date

import pytest

from tradingbot.market.occ import InvalidOptionSymbolError, format_occ, parse_occ


@pytest.mark.parametrize(
    ("ticker", "root", "kind", "strike", "expiry"),
    [
        ("O:SPY251219C00650000", "SPY", "call", 650.0, date(2025, 12, 19)),
        ("O:SPY241220P00720000", "SPY", "put", 720.0, date(2024, 12, 20)),
        ("O:AAPL260116C00032500", "AAPL", "call", 32.5, date(2026, 1, 16)),
        ("O:SPXW260320P01250000", "SPXW", "put", 1250.0, date(2026, 3, 20)),
    ],
)
def test_parse_and_format_round_trip(ticker, root, kind, strike, expiry):
    contract = parse_occ(ticker)
    assert (contract.underlying, contract.contract_type, contract.strike, contract.expiration) == (
        root,
        kind,
        strike,
        expiry,
    )
    assert format_occ(root, expiry, kind, strike) == ticker


@pytest.mark.parametrize(
    "bad",
    [
        "O:AAPL211022C000150000",
        "SPY251219C00650000",
        "O:SPY251219X00650000",
        "O:SPY251340C00650000",
        "O:",
        "",
    ],
)
def test_malformed_tickers_are_rejected_clearly(bad):
    with pytest.raises(InvalidOptionSymbolError, match=r"option ticker|impossible expiry"):
        parse_occ(bad)


def test_strikes_that_do_not_fit_are_refused():
    with pytest.raises(InvalidOptionSymbolError):
        format_occ("SPY", date(2026, 1, 16), "call", 100_000.0)
