"""An index over a chain's listed contracts (by expiry, type and strike), built once per listing.

A chain's contracts change only when strikes or expiries are listed (the simulator: once a day),
while its quotes change every step; the layout lets each step find contracts by binary search.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

from tradingbot.market.types import IntArray, OptionChain, OptionContract


@dataclass(frozen=True, slots=True)
class ChainLayout:
    """Sorted expiries, and for each (expiry ordinal, is call) the chain indices sorted by strike."""

    expiries: IntArray
    columns: dict[tuple[int, bool], tuple[list[int], list[float]]]
    """Plain lists: a step does a handful of scalar binary searches, where lists beat numpy calls."""

    @classmethod
    def of(cls, chain: OptionChain) -> ChainLayout:
        """Index ``chain``'s contracts."""
        columns: dict[tuple[int, bool], tuple[list[int], list[float]]] = {}
        for expiry in np.unique(chain.expiration_ordinal):
            for call in (True, False):
                rows = np.flatnonzero((chain.expiration_ordinal == expiry) & (chain.is_call == call))
                if rows.size:
                    order = np.argsort(chain.strike[rows], kind="stable")
                    columns[(int(expiry), call)] = (rows[order].tolist(), chain.strike[rows[order]].tolist())
        return cls(np.unique(chain.expiration_ordinal), columns)

    def expiries_after(self, day_ordinal: int) -> IntArray:
        """Listed expiries strictly after a day (``date.toordinal()``), ascending."""
        return self.expiries[self.expiries > day_ordinal]

    def nearest(self, expiry: int, call: bool, strike: float) -> int | None:
        """Chain index of the contract of that expiry and type whose strike is nearest ``strike``."""
        column = self.columns.get((expiry, call))
        if column is None:
            return None
        rows, strikes = column
        right = bisect_left(strikes, strike)
        if right == 0:
            return rows[0]
        if right == len(strikes):
            return rows[-1]
        left = right - 1
        return rows[left] if strike - strikes[left] <= strikes[right] - strike else rows[right]


class LayoutCache:
    """Remembers the layout of each underlying's latest listing (keyed by the contracts tuple's identity)."""

    def __init__(self) -> None:
        self._latest: dict[str, tuple[tuple[OptionContract, ...], ChainLayout]] = {}

    def layout(self, chain: OptionChain) -> ChainLayout:
        """The layout of ``chain``, rebuilt only when its listing changed."""
        cached = self._latest.get(chain.underlying)
        if cached is not None and cached[0] is chain.contracts:
            return cached[1]
        layout = ChainLayout.of(chain)
        self._latest[chain.underlying] = (chain.contracts, layout)
        return layout
