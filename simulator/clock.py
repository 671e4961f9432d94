"""The simulator's clock: Unix seconds, and the date and timestamp strings its records carry.

Formatting is cached: generating a million entities formats millions of timestamps.
"""

from __future__ import annotations

import calendar
import functools
import time

__all__ = ["DAY", "EPOCH", "compact_day", "day_of", "rfc3339"]

DAY = 86_400
#: where the mutation clock starts; generated history lies before it. Six hours into
#: 2025-01-01, so the reference slice's runs of that day (``simulator.reference``) are history
EPOCH = calendar.timegm((2025, 1, 1, 6, 0, 0))


@functools.lru_cache(maxsize=4096)
def _date(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY))


@functools.lru_cache(maxsize=DAY)
def _clock(second_of_day: int) -> str:
    h, rest = divmod(second_of_day, 3600)
    return f"{h:02d}:{rest // 60:02d}:{rest % 60:02d}"


def day_of(t: int) -> str:
    """``YYYY-MM-DD`` of a Unix time."""
    return _date(t // DAY)


def rfc3339(t: int) -> str:
    """A Unix time as RFC 3339 with ``Z``, second precision (dates and clock times cached)."""
    day, second = divmod(t, DAY)
    return f"{_date(day)}T{_clock(second)}Z"


def compact_day(t: int) -> str:
    """``YYYYMMDD`` of a Unix time, as run and instance ids carry it."""
    return day_of(t).replace("-", "")
