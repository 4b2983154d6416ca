"""Stripe's period arithmetic and line money, as pure tables."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from cpq_sync.sandbox.stripe.billing import amounts, periods


def d(y: int, m: int, day: int, h: int = 0) -> datetime:
    return datetime(y, m, day, h, tzinfo=UTC)


@pytest.mark.parametrize(
    ("anchor", "n", "expected"),
    [
        (d(2023, 1, 31), 1, d(2023, 2, 28)),
        (d(2024, 1, 31), 1, d(2024, 2, 29)),
        (d(2023, 1, 31), 2, d(2023, 3, 31)),  # anchored on the anchor, not chained from Feb 28
        (d(2023, 1, 31), 3, d(2023, 4, 30)),
        (d(2023, 1, 30), 1, d(2023, 2, 28)),
        (d(2023, 1, 15, 9), 12, d(2024, 1, 15, 9)),
        (d(2023, 11, 30), 3, d(2024, 2, 29)),
        (d(2023, 3, 31), -1, d(2023, 2, 28)),
    ],
)
def test_monthly_boundaries_clamp_to_month_end(anchor: datetime, n: int, expected: datetime) -> None:
    assert periods.boundary(anchor, "month", 1, n) == expected


@pytest.mark.parametrize(
    ("anchor", "interval", "count", "n", "expected"),
    [
        (d(2024, 1, 31), "month", 3, 1, d(2024, 4, 30)),
        (d(2024, 1, 31), "month", 3, 2, d(2024, 7, 31)),
        (d(2024, 11, 30), "month", 3, 1, d(2025, 2, 28)),
        (d(2024, 2, 29), "year", 1, 1, d(2025, 2, 28)),
        (d(2024, 2, 29), "year", 1, 4, d(2028, 2, 29)),
        (d(2024, 2, 29), "week", 2, 1, d(2024, 3, 14)),
        (d(2024, 2, 29), "day", 10, 1, d(2024, 3, 10)),
    ],
)
def test_interval_count_and_units(
    anchor: datetime, interval: periods.Interval, count: int, n: int, expected: datetime
) -> None:
    assert periods.boundary(anchor, interval, count, n) == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (d(2023, 2, 28), (d(2023, 2, 28), d(2023, 3, 31))),
        (d(2023, 2, 27, 23), (d(2023, 1, 31), d(2023, 2, 28))),
        (d(2023, 1, 31), (d(2023, 1, 31), d(2023, 2, 28))),
        (d(2022, 12, 31), (d(2022, 12, 31), d(2023, 1, 31))),  # before the anchor
        (d(2023, 12, 1), (d(2023, 11, 30), d(2023, 12, 31))),
    ],
)
def test_period_containing(when: datetime, expected: tuple[datetime, datetime]) -> None:
    assert periods.period_containing(d(2023, 1, 31), "month", 1, when) == expected


def test_periods_cover_a_range_clipped_at_both_ends() -> None:
    got = periods.periods(d(2022, 1, 1), "month", 1, d(2022, 1, 15), d(2022, 4, 10))
    assert got == [
        (d(2022, 1, 15), d(2022, 2, 1)),
        (d(2022, 2, 1), d(2022, 3, 1)),
        (d(2022, 3, 1), d(2022, 4, 1)),
        (d(2022, 4, 1), d(2022, 4, 10)),
    ]
    assert periods.periods(d(2022, 1, 1), "month", 1, d(2022, 3, 1), d(2022, 3, 1)) == []


def test_twelve_monthly_periods_from_a_month_end() -> None:
    starts = [p[0] for p in periods.periods(d(2023, 1, 31), "month", 1, d(2023, 1, 31), d(2024, 1, 31))]
    assert [s.day for s in starts] == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def test_proration_fraction_is_by_the_second() -> None:
    # Feb 15 .. Mar 1 of a Feb 1 .. Mar 1 month (28 days) is half of it.
    assert periods.fraction(d(2023, 2, 15), d(2023, 3, 1), d(2023, 2, 1), d(2023, 3, 1)) == Fraction(1, 2)
    assert periods.fraction(d(2023, 1, 1), d(2023, 5, 1), d(2023, 2, 1), d(2023, 3, 1)) == 1
    assert periods.fraction(d(2023, 4, 1), d(2023, 5, 1), d(2023, 2, 1), d(2023, 3, 1)) == 0


def test_timestamps_round_trip() -> None:
    assert periods.from_timestamp(periods.to_timestamp(d(2022, 1, 1))) == d(2022, 1, 1)
    assert periods.to_timestamp(d(2022, 1, 1)) == 1640995200


PER_UNIT: dict[str, Any] = {"billing_scheme": "per_unit", "unit_amount": 1000, "unit_amount_decimal": "1000"}
GRADUATED: dict[str, Any] = {
    "billing_scheme": "tiered",
    "tiers_mode": "graduated",
    "tiers": [
        {"up_to": 10, "unit_amount_decimal": "500", "flat_amount": 1000},
        {"up_to": 20, "unit_amount_decimal": "400", "flat_amount": None},
        {"up_to": None, "unit_amount_decimal": "300", "flat_amount_decimal": "250.5"},
    ],
}
VOLUME: dict[str, Any] = {**GRADUATED, "tiers_mode": "volume"}


@pytest.mark.parametrize(
    ("price", "quantity", "expected"),
    [
        (PER_UNIT, 10, 10000),
        ({"billing_scheme": "per_unit", "unit_amount_decimal": "0.333333333333"}, 3, 1),
        ({"billing_scheme": "per_unit", "unit_amount_decimal": "12.5"}, 1, 13),  # half up
        ({"billing_scheme": "per_unit", "unit_amount_decimal": "12.49"}, 1, 12),
        ({**PER_UNIT, "transform_quantity": {"divide_by": 5, "round": "up"}}, 11, 3000),
        ({**PER_UNIT, "transform_quantity": {"divide_by": 5, "round": "down"}}, 11, 2000),
        (GRADUATED, 0, 0),
        (GRADUATED, 5, 2500 + 1000),
        (GRADUATED, 15, 5000 + 1000 + 2000),
        (GRADUATED, 25, 5000 + 1000 + 4000 + 1500 + 251),  # 250.5 flat rounds half up with the line
        (VOLUME, 5, 2500 + 1000),
        (VOLUME, 15, 6000),
        (VOLUME, 25, 7500 + 251),
    ],
)
def test_line_amounts(price: dict[str, Any], quantity: int, expected: int) -> None:
    assert amounts.line_amount(price, quantity) == expected


def test_prorated_line_rounds_once() -> None:
    # 10 x 10.00 for 17 of 31 days: 5483.87... -> 5484
    assert amounts.line_amount(PER_UNIT, 10, Fraction(17, 31)) == 5484
    assert amounts.line_amount(PER_UNIT, 10, Fraction(-17, 31)) == -5484


@pytest.mark.parametrize(
    ("coupons", "base", "expected"),
    [
        ([{"percent_off": 10}], 12345, 1235),
        ([{"percent_off": 12.5}], 1000, 125),
        ([{"amount_off": 500, "currency": "usd"}], 12345, 500),
        ([{"amount_off": 50000, "currency": "usd"}], 12345, 12345),
        # percent first, then amount, whatever the order given
        ([{"amount_off": 1000, "currency": "usd"}, {"percent_off": 50}], 10000, 6000),
    ],
)
def test_coupons(coupons: list[dict[str, Any]], base: int, expected: int) -> None:
    assert amounts.apply_coupons(coupons, base, "usd") == expected


def test_amount_off_in_another_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="eur"):
        amounts.apply_coupons([{"id": "c", "amount_off": 100, "currency": "eur"}], 1000, "usd")


def test_allocate_sums_exactly() -> None:
    assert amounts.allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert sum(amounts.allocate(997, [6000, 10000, 1])) == 997
    assert amounts.allocate(0, [5, 5]) == [0, 0]


def test_effective_unit_amount() -> None:
    assert amounts.effective_unit_amount(PER_UNIT, 3) == Decimal(1000)
    assert amounts.effective_unit_amount(VOLUME, 15) == Decimal(400)
