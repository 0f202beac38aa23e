"""OCC option symbols in Massive's compact form: ``O:`` + root + YYMMDD + C|P + strike x 1000 as 8 digits."""

from __future__ import annotations

import re
from datetime import date

from tradingbot.market.types import ContractType, OptionContract

_OCC = re.compile(r"^O:(?P<root>[A-Z][A-Z0-9.]{0,5})(?P<date>\d{6})(?P<type>[CP])(?P<strike>\d{8})$")


class InvalidOptionSymbolError(ValueError):
    """A string that is not a Massive option ticker."""


def format_occ(underlying: str, expiration: date, contract_type: ContractType, strike: float) -> str:
    """Massive's option ticker for a contract; ``strike`` in USD, resolved to a tenth of a cent."""
    milli = round(strike * 1000)
    if not 0 < milli < 100_000_000:
        raise InvalidOptionSymbolError(f"strike {strike!r} does not fit the 8-digit OCC strike field")
    code = "C" if contract_type == "call" else "P"
    return f"O:{underlying}{expiration:%y%m%d}{code}{milli:08d}"


def parse_occ(ticker: str) -> OptionContract:
    """Parse ``O:SPY251219C00650000`` into an :class:`OptionContract`; anything else raises a clear error."""
    match = _OCC.match(ticker)
    if match is None:
        raise InvalidOptionSymbolError(
            f"{ticker!r} is not an option ticker of the form O:<ROOT><YYMMDD><C|P><8-digit strike x 1000>"
        )
    raw = match["date"]
    try:
        expiration = date(2000 + int(raw[:2]), int(raw[2:4]), int(raw[4:]))
    except ValueError as error:
        raise InvalidOptionSymbolError(f"{ticker!r} has an impossible expiry date {raw}") from error
    contract_type: ContractType = "call" if match["type"] == "C" else "put"
    return OptionContract(
        ticker=ticker,
        underlying=match["root"],
        contract_type=contract_type,
        strike=int(match["strike"]) / 1000,
        expiration=expiration,
    )
