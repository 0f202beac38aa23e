"""The US equity-options session clock: Eastern time, the 09:30-16:00 regular session, expiry close.

All timestamps in the package are Unix epoch milliseconds (UTC), as on Massive's wire.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
SESSION_OPEN = time(9, 30)
SESSION_CLOSE = time(16, 0)
SESSION_MINUTES = 390
"""Length of the regular session in minutes (09:30 to 16:00 ET)."""
MS_PER_MINUTE = 60_000
MS_PER_DAY = 86_400_000
MS_PER_YEAR = int(365.25 * MS_PER_DAY)
"""Calendar year in milliseconds; option time to expiry is measured in calendar years."""


def eastern(timestamp_ms: int) -> datetime:
    """The Eastern-time wall clock of an epoch-millisecond timestamp."""
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC).astimezone(EASTERN)


def at_eastern(day: date, clock: time) -> int:
    """Epoch milliseconds of a wall-clock time in Eastern time on a given day (DST-aware)."""
    return int(datetime.combine(day, clock, tzinfo=EASTERN).timestamp() * 1000)


def session_open_ms(day: date) -> int:
    """Epoch milliseconds of 09:30 ET on ``day``."""
    return at_eastern(day, SESSION_OPEN)


def session_close_ms(day: date) -> int:
    """Epoch milliseconds of 16:00 ET on ``day``: the regular close, when options expiring that day expire."""
    return at_eastern(day, SESSION_CLOSE)


def session_minute(timestamp_ms: int) -> float:
    """Minutes since 09:30 ET on the timestamp's Eastern date (negative before the open, 390 at the close)."""
    local = eastern(timestamp_ms)
    return (timestamp_ms - session_open_ms(local.date())) / MS_PER_MINUTE


def next_weekday(day: date) -> date:
    """The next Monday-to-Friday date after ``day`` (the simulator's calendar has no holidays)."""
    step = day + timedelta(days=1)
    while step.weekday() >= 5:
        step += timedelta(days=1)
    return step
