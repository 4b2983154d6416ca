"""SOQL date literals (TODAY, LAST_N_DAYS:n, THIS_MONTH, ...) as half-open UTC day ranges [start, end).

The org's locale is en_US in UTC: weeks start on Sunday, fiscal years are calendar years.
"""

from __future__ import annotations

from datetime import date, timedelta

from cpq_sync.sandbox.salesforce.errors import SalesforceError

_FIXED = frozenset(
    """YESTERDAY TODAY TOMORROW LAST_WEEK THIS_WEEK NEXT_WEEK LAST_MONTH THIS_MONTH NEXT_MONTH LAST_90_DAYS
    NEXT_90_DAYS THIS_QUARTER LAST_QUARTER NEXT_QUARTER THIS_YEAR LAST_YEAR NEXT_YEAR""".split()  # noqa: SIM905
)
_WITH_N = frozenset(
    """LAST_N_DAYS NEXT_N_DAYS N_DAYS_AGO LAST_N_WEEKS NEXT_N_WEEKS N_WEEKS_AGO LAST_N_MONTHS NEXT_N_MONTHS
    N_MONTHS_AGO LAST_N_QUARTERS NEXT_N_QUARTERS N_QUARTERS_AGO LAST_N_YEARS NEXT_N_YEARS
    N_YEARS_AGO""".split()  # noqa: SIM905
)


def is_date_literal(word: str) -> bool:
    return word in _FIXED or word in _WITH_N


def needs_n(word: str) -> bool:
    return word in _WITH_N


def _month_start(day: date, shift: int = 0) -> date:
    m0 = day.month - 1 + shift
    return date(day.year + m0 // 12, m0 % 12 + 1, 1)


def _quarter_start(day: date, shift: int = 0) -> date:
    first = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return _month_start(first, 3 * shift)


def _week_start(day: date, shift: int = 0) -> date:
    return day - timedelta(days=(day.weekday() + 1) % 7) + timedelta(weeks=shift)


def date_range(word: str, n: int | None, today: date) -> tuple[date, date]:
    """The [start, end) range of a date literal relative to ``today``."""
    one = timedelta(days=1)
    if word == "TODAY":
        return today, today + one
    if word == "YESTERDAY":
        return today - one, today
    if word == "TOMORROW":
        return today + one, today + 2 * one
    if word in ("LAST_90_DAYS", "NEXT_90_DAYS"):
        n, word = 90, word.replace("90", "N")
    if word.endswith("_WEEK"):
        shift = {"LAST": -1, "THIS": 0, "NEXT": 1}[word.split("_")[0]]
        start = _week_start(today, shift)
        return start, start + timedelta(weeks=1)
    if word.endswith("_MONTH"):
        shift = {"LAST": -1, "THIS": 0, "NEXT": 1}[word.split("_")[0]]
        return _month_start(today, shift), _month_start(today, shift + 1)
    if word.endswith("_QUARTER"):
        shift = {"LAST": -1, "THIS": 0, "NEXT": 1}[word.split("_")[0]]
        return _quarter_start(today, shift), _quarter_start(today, shift + 1)
    if word.endswith("_YEAR"):
        shift = {"LAST": -1, "THIS": 0, "NEXT": 1}[word.split("_")[0]]
        return date(today.year + shift, 1, 1), date(today.year + shift + 1, 1, 1)
    if n is None:
        raise SalesforceError("MALFORMED_QUERY", f"date literal {word} needs a value: {word}:n")
    unit = word.split("_")[-1]
    if word == "LAST_N_DAYS":
        return today - timedelta(days=n), today + one
    if word == "NEXT_N_DAYS":
        return today + one, today + one + timedelta(days=n)
    if word == "N_DAYS_AGO":
        return today - timedelta(days=n), today - timedelta(days=n) + one

    def start_of(k: int) -> date:
        if unit == "WEEKS":
            return _week_start(today, k)
        if unit == "MONTHS":
            return _month_start(today, k)
        if unit == "QUARTERS":
            return _quarter_start(today, k)
        return date(today.year + k, 1, 1)

    if word.startswith("LAST_N_"):
        return start_of(-n), start_of(0)
    if word.startswith("NEXT_N_"):
        return start_of(1), start_of(1 + n)
    return start_of(-n), start_of(-n + 1)  # N_<unit>_AGO
