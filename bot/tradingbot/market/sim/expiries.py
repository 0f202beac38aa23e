"""Listed option expiries and the trading time left until them.

Listings follow the US equity-options calendar (without holidays, like the simulator's clock): SPY
and QQQ list an expiry every weekday (:data:`DAILY_EXPIRIES` consecutive ones are listed), every
class lists the next :data:`WEEKLY_EXPIRIES` Fridays and the standard monthlies (third Fridays) of
this month and the next :data:`MONTHLY_EXPIRIES`.

Variance accrues in trading time: each weekday carries one day of variance, an
``overnight_share`` of it in the gap before the open and the rest spread evenly over the 390-minute
session; weekends carry none. Option prices use this clock, so a weekend is neither a gift to sellers
nor a tax on buyers.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from tradingbot.market.clock import SESSION_MINUTES
from tradingbot.market.types import FloatArray

DAILY_EXPIRIES = 5
WEEKLY_EXPIRIES = 6
MONTHLY_EXPIRIES = 3


def third_friday(year: int, month: int) -> date:
    """The standard monthly expiry of ``year``-``month``."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def _months_ahead(day: date, count: int) -> list[tuple[int, int]]:
    index = day.year * 12 + day.month - 1
    return [divmod(index + k, 12) for k in range(count + 1)]


def listed_expiries(day: date, daily: bool) -> list[date]:
    """Expiries listed on trading day ``day`` (weekday), ascending; ``daily`` adds Monday-to-Friday expiries."""
    expiries: set[date] = set()
    if daily:
        step = day
        while len(expiries) < DAILY_EXPIRIES:
            if step.weekday() < 5:
                expiries.add(step)
            step += timedelta(days=1)
    friday = day + timedelta(days=(4 - day.weekday()) % 7)
    expiries.update(friday + timedelta(weeks=k) for k in range(WEEKLY_EXPIRIES))
    for year, month in _months_ahead(day, MONTHLY_EXPIRIES):
        monthly = third_friday(year, month + 1)
        if monthly >= day:
            expiries.add(monthly)
    return sorted(expiries)


def trading_days_after(today: date, expiries: list[date]) -> FloatArray:
    """Weekdays after ``today`` up to and including each expiry (-1 for an expiry before today)."""
    start = np.datetime64(today + timedelta(days=1))
    ends = np.array([np.datetime64(e + timedelta(days=1)) for e in expiries])
    later = np.busday_count(start, np.maximum(ends, start)).astype(np.float64)
    return np.where([e >= today for e in expiries], later, -1.0)


def variance_days(minute: float, days_after: FloatArray, overnight_share: float) -> FloatArray:
    """Trading days of variance from ``minute`` (since 09:30 ET) to each expiry's 16:00 close.

    ``days_after`` comes from :func:`trading_days_after`; an expiry before today has none left.
    """
    left_today = (1.0 - overnight_share) * max(SESSION_MINUTES - minute, 0.0) / SESSION_MINUTES
    return np.where(days_after >= 0, left_today + days_after, 0.0)
