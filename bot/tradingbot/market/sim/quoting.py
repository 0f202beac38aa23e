"""How simulated market makers quote options: width by value, time of day, stress and expiry day, in ticks.

A contract's quoted width is ``spread_fixed + spread_proportional x value`` (its profile's figures),
times a time-of-day factor (widest in the opening minutes, wider again in the last minutes), times a
stress factor (the at-the-money implied volatility over its calm level, so quotes widen as volatility
rises), times :data:`EXPIRY_DAY_WIDENING` for contracts expiring today, and never under one tick.
Bids round down and asks up to the tick: a cent for penny classes, otherwise a cent under $3 and five
cents from $3.
"""

from __future__ import annotations

import math

import numpy as np

from tradingbot.market.clock import SESSION_MINUTES
from tradingbot.market.sim.profiles import UnderlyingProfile
from tradingbot.market.types import BoolArray, FloatArray

OPENING_WIDENING = 1.5
"""Extra width at the opening bell, decaying with a time constant of :data:`OPENING_MINUTES`."""
OPENING_MINUTES = 10.0
CLOSING_WIDENING = 0.4
"""Extra width at the close, building up over the last :data:`CLOSING_MINUTES`."""
CLOSING_MINUTES = 8.0
EXPIRY_DAY_WIDENING = 1.5
STRESS_RANGE = (0.75, 3.0)
"""Bounds of the stress factor."""


def time_of_day_factor(minute: float) -> float:
    """Quoted-width multiple at ``minute`` since 09:30 ET (1 at midday)."""
    opening = OPENING_WIDENING * math.exp(-max(minute, 0.0) / OPENING_MINUTES)
    closing = CLOSING_WIDENING * math.exp(-max(SESSION_MINUTES - minute, 0.0) / CLOSING_MINUTES)
    return 1.0 + opening + closing


def stress_factor(atm_volatility: float, calm_volatility: float) -> float:
    """Quoted-width multiple for an at-the-money implied volatility against its calm level."""
    return float(np.clip(atm_volatility / calm_volatility, *STRESS_RANGE))


def option_quotes(
    value: FloatArray, profile: UnderlyingProfile, widening: float, expiring_today: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Bid and ask (USD per share) around theoretical ``value``; ``widening`` is time of day x stress.

    The bid is 0 (no bid) when the value is under half the width; the ask is at least one tick above it.
    """
    tick = np.where(profile.penny | (value < 3.0), 0.01, 0.05)
    width = (profile.spread_fixed + profile.spread_proportional * value) * widening
    width = np.maximum(np.where(expiring_today, width * EXPIRY_DAY_WIDENING, width), tick)
    bid = np.maximum(np.floor((value - width / 2) / tick + 1e-9) * tick, 0.0)
    ask = np.ceil((value + width / 2) / tick - 1e-9) * tick
    ask = np.maximum(ask, bid + tick)
    return np.round(bid, 2), np.round(ask, 2)
