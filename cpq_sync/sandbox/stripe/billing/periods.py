"""Stripe's billing-period arithmetic, as pure functions over aware UTC datetimes.

Rules (Stripe's, see "Set the subscription billing renewal date"):

* Periods are anchored on the billing cycle anchor: the n-th period boundary is
  ``anchor + n * interval_count intervals``, always computed from the anchor, never chained from the previous
  boundary. So a monthly anchor of Jan 31 gives Feb 28 (Feb 29 in a leap year), then Mar 31, Apr 30, ...:
  the day of month is the anchor's day, clamped to the length of the month. ``year`` is twelve months
  (Feb 29 -> Feb 28 in common years); ``week`` is seven days and ``day`` one day.
  The time of day is the anchor's.
* A period is half-open: ``[start, end)``.
* Proration is by the second: the fraction of a period that ``[start, end)`` covers is its length in
  seconds over the period's length in seconds (Stripe prorates to the second).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Literal

Interval = Literal["day", "week", "month", "year"]
INTERVALS: tuple[Interval, ...] = ("day", "week", "month", "year")


def from_timestamp(ts: int) -> datetime:
    """Unix seconds -> aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


def to_timestamp(when: datetime) -> int:
    """Aware datetime -> unix seconds (naive datetimes are taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def add_months(anchor: datetime, months: int) -> datetime:
    """``anchor`` moved by ``months`` months, the day clamped to the target month's length."""
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month0 = divmod(index, 12)
    day = min(anchor.day, calendar.monthrange(year, month0 + 1)[1])
    return anchor.replace(year=year, month=month0 + 1, day=day)


def add_intervals(anchor: datetime, interval: Interval, count: int) -> datetime:
    """``anchor`` + ``count`` intervals (count may be negative), computed from the anchor."""
    if interval == "month":
        return add_months(anchor, count)
    if interval == "year":
        return add_months(anchor, 12 * count)
    if interval == "week":
        return anchor + timedelta(weeks=count)
    if interval == "day":
        return anchor + timedelta(days=count)
    raise ValueError(f"unknown interval {interval!r}")


def boundary(anchor: datetime, interval: Interval, interval_count: int, n: int) -> datetime:
    """The n-th period boundary of a cycle anchored on ``anchor`` (n=0 is the anchor itself)."""
    if interval_count < 1:
        raise ValueError("interval_count must be >= 1")
    return add_intervals(anchor, interval, n * interval_count)


def period_index(anchor: datetime, interval: Interval, interval_count: int, when: datetime) -> int:
    """The n such that ``boundary(n) <= when < boundary(n + 1)`` (negative before the anchor)."""
    if interval in ("month", "year"):
        months = (12 if interval == "year" else 1) * interval_count
        diff = (when.year - anchor.year) * 12 + (when.month - anchor.month)
        n = diff // months
    else:
        step = timedelta(days=(7 if interval == "week" else 1) * interval_count)
        n = (when - anchor) // step
    # The estimate is off by at most one either way because of clamping and time of day.
    while boundary(anchor, interval, interval_count, n) > when:
        n -= 1
    while boundary(anchor, interval, interval_count, n + 1) <= when:
        n += 1
    return n


def period_containing(
    anchor: datetime, interval: Interval, interval_count: int, when: datetime
) -> tuple[datetime, datetime]:
    """The anchored period ``[start, end)`` that contains ``when``."""
    n = period_index(anchor, interval, interval_count, when)
    return boundary(anchor, interval, interval_count, n), boundary(anchor, interval, interval_count, n + 1)


def periods(
    anchor: datetime, interval: Interval, interval_count: int, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The anchored periods covering ``[start, end)``, the first and last clipped to ``start`` and ``end``."""
    out: list[tuple[datetime, datetime]] = []
    if end <= start:
        return out
    n = period_index(anchor, interval, interval_count, start)
    while True:
        p_start = boundary(anchor, interval, interval_count, n)
        p_end = boundary(anchor, interval, interval_count, n + 1)
        if p_start >= end:
            return out
        out.append((max(p_start, start), min(p_end, end)))
        n += 1


def end_after(start: datetime, interval: Interval, interval_count: int) -> datetime:
    """The end of a duration ``{interval, interval_count}`` starting at ``start`` (a phase's length)."""
    return add_intervals(start, interval, interval_count)


def fraction(part_start: datetime, part_end: datetime, period_start: datetime, period_end: datetime) -> Fraction:
    """Share of ``[period_start, period_end)`` covered by ``[part_start, part_end)``, by the second."""
    total = to_timestamp(period_end) - to_timestamp(period_start)
    if total <= 0:
        raise ValueError("empty period")
    lo = max(to_timestamp(part_start), to_timestamp(period_start))
    hi = min(to_timestamp(part_end), to_timestamp(period_end))
    return Fraction(max(0, hi - lo), total)
