"""Calendar arithmetic the translators share: CPQ terms are months, Stripe dates are Unix timestamps (UTC)."""

from __future__ import annotations

import calendar
import datetime as dt
import functools


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus `months` months, clamped to the last day of a shorter month (Jan 31 + 1 -> Feb 28/29)."""
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    if day.day <= 28:  # in every month (most anniversaries): no month length to look up
        return dt.date(year, month, day.day)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_between(start: dt.date, day: dt.date) -> int:
    """Whole months from `start` to `day` (monthly anniversaries of `start` on or before `day`)."""
    months = (day.year - start.year) * 12 + day.month - start.month
    return months - 1 if add_months(start, months) > day else months


@functools.lru_cache(maxsize=1 << 14)
def utc_midnight(day: dt.date) -> int:
    """Midnight UTC of `day` as a Unix timestamp (made once for each day: a run has a few thousand dates)."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
