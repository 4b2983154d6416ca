"""Translation tables: MDQ ramps, one schedule phase per segment (pure, no I/O)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cpq_sync.errors import DataError
from cpq_sync.records import OrderItemRecord
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.order import OrderTranslation, translate_order
from tests.unit.builders import one_time_line
from tests.unit.test_translate_order import PBE_A, PBE_B, PROD_A, PROD_B, bundle, ctx, line

__all__ = ["ctx"]


def segment(
    n: int, index: int, start: str, end: str, qty: str, unit: str, months: int = 12, **values: Any
) -> OrderItemRecord:
    return line(
        n, PROD_A, PBE_A, qty, unit, **values,
        servicedate=start, enddate=end, sbqq__subscriptionterm__c=months,
        sbqq__segmentindex__c=index, sbqq__segmentlabel__c=f"Year {index}", sbqq__segmentkey__c="K1",
    )  # fmt: skip


TERM36 = {"sbqq__quote__r.sbqq__subscriptionterm__c": 36}
CASES: list[tuple[str, list[OrderItemRecord], dict[str, Any], list[tuple[int, list[tuple[int, int]], str]]]] = [
    (
        "three yearly segments, the price of each its own",
        [
            segment(1, 1, "2022-01-01", "2022-12-31", "10", "96"),
            segment(2, 2, "2023-01-01", "2023-12-31", "15", "108"),
            segment(3, 3, "2024-01-01", "2024-12-31", "20", "120"),
        ],
        TERM36,
        [(12, [(800, 10)], "1"), (12, [(900, 15)], "2"), (12, [(1000, 20)], "3")],
    ),
    (
        "a non-segmented line is on every phase",
        [
            segment(1, 1, "2022-01-01", "2022-12-31", "10", "120"),
            segment(2, 2, "2023-01-01", "2023-12-31", "20", "96"),
            line(3, PROD_A, PBE_A, "2", "480", sbqq__subscriptionterm__c=24, sbqq__billingfrequency__c="Monthly"),
        ],
        {"sbqq__quote__r.sbqq__subscriptionterm__c": 24},
        [(12, [(1000, 10), (2000, 2)], "1"), (12, [(800, 20), (2000, 2)], "2")],
    ),
]


ANNUAL = {"sbqq__billingfrequency__c": "Annual", "sbqq__defaultsubscriptionterm__c": 12}
CASES += [
    (
        "annual segments and a monthly line: each line on its own frequency",
        [
            segment(1, 1, "2022-01-01", "2022-12-31", "10", "1200", **ANNUAL),
            segment(2, 2, "2023-01-01", "2023-12-31", "15", "1080", **ANNUAL),
            line(3, PROD_A, PBE_A, "2", "240", sbqq__subscriptionterm__c=24),
        ],
        {"sbqq__quote__r.sbqq__subscriptionterm__c": 24},
        [(12, [(1000, 2), (120000, 10)], "1"), (12, [(1000, 2), (108000, 15)], "2")],
    ),
    (
        "monthly segments of six months next to an annual line",
        [
            segment(1, 1, "2022-01-01", "2022-06-30", "4", "60", months=6),
            segment(2, 2, "2022-07-01", "2022-12-31", "8", "60", months=6),
            line(3, PROD_A, PBE_A, "1", "1200", **ANNUAL),
        ],
        {},
        [(6, [(1000, 4), (120000, 1)], "1"), (6, [(1000, 8), (120000, 1)], "2")],
    ),
]


# Segments that are not a whole number of their line's billing periods: (name, lines, order values) -> per phase
# (months, [(cents a period, quantity)], segment index, [(prorated cents a unit, units)]): the line idles at
# quantity 0 and its prorated months (UnitPrice x months / the segment's term) bill once when they start.
PRORATED: list[tuple[str, list[OrderItemRecord], dict[str, Any], list[tuple[int, Any, str, Any]]]] = [
    (
        "half-year segments of an annual line: each billed once, at its start",
        [
            segment(1, 1, "2022-01-01", "2022-06-30", "4", "600", months=6, **ANNUAL),
            segment(2, 2, "2022-07-01", "2022-12-31", "8", "600", months=6, **ANNUAL),
            line(3, PROD_A, PBE_A, "1", "120"),
        ],
        {},
        [(6, [(1000, 1), (120000, 0)], "1", [(60000, 4)]), (6, [(1000, 1), (120000, 0)], "2", [(60000, 8)])],
    ),
    (
        "an 18-month ramp billed annually: a whole year, then a last segment of 6 months billed once",
        [
            segment(1, 1, "2022-01-01", "2022-12-31", "10", "1200", **ANNUAL),
            segment(2, 2, "2023-01-01", "2023-06-30", "15", "600", months=6, **ANNUAL),
        ],
        {"sbqq__quote__r.sbqq__subscriptionterm__c": 18},
        [(12, [(120000, 10)], "1", []), (6, [(120000, 0)], "2", [(60000, 15)])],
    ),
    (
        "quarterly segments of an annual line",
        [segment(k, k, f"2022-{3 * k - 2:02d}-01", f"2022-{3 * k:02d}-{30 if k in (2, 3) else 31}", str(5 * k),
                 "300", months=3, **ANNUAL) for k in (1, 2, 3, 4)],
        {},
        [(3, [(120000, 0)], str(k), [(30000, 5 * k)]) for k in (1, 2, 3, 4)],
    ),
    (
        "a year's segment across the annual boundary: its months before it, then after it, each billed once",
        [
            segment(1, 1, "2022-01-01", "2022-06-30", "4", "600", months=6, **ANNUAL),
            segment(2, 2, "2022-07-01", "2023-06-30", "8", "1200", **ANNUAL),
        ],
        {"sbqq__quote__r.sbqq__subscriptionterm__c": 18},
        [(6, [(120000, 0)], "1", [(60000, 4)]), (6, [(120000, 0)], "2", [(60000, 8)]),
         (6, [(120000, 0)], "2", [(60000, 8)])],
    ),
]  # fmt: skip


def phase_amounts(result: OrderTranslation) -> list[tuple[dict[str, Any], list[tuple[int, int]]]]:
    """Each phase of the schedule with its items as (cents a period, quantity), sorted."""
    prices = {o.key: o.params for o in result.objects if o.key.startswith("price:")}
    return [
        (
            phase,
            sorted(
                (int(Decimal(prices[i["price"].key]["unit_amount_decimal"])), i["quantity"]) for i in phase["items"]
            ),
        )
        for phase in result.main.params["phases"]
    ]


@pytest.mark.parametrize(("name", "items", "order_values", "expected"), PRORATED, ids=[c[0] for c in PRORATED])
def test_segments_that_are_not_whole_billing_periods_bill_cpqs_prorated_amount(
    ctx: TranslateContext, name: str, items: list[OrderItemRecord], order_values: dict[str, Any], expected: Any
) -> None:
    got = []
    for phase, amounts in phase_amounts(translate_order(bundle(items, **order_values), ctx)):
        stubs = [(int(Decimal(a["price_data"]["unit_amount_decimal"])), a["quantity"])
                 for a in phase.get("add_invoice_items", [])]  # fmt: skip
        # Stripe's proration off at each change; the first phase keeps it, so a backdated start bills its past.
        assert phase.get("proration_behavior") == ("none" if got else None)
        got.append((phase["duration"]["interval_count"], amounts, phase["metadata"]["salesforce_segment_index"], stubs))
    assert got == expected
    # In money: the phases bill exactly what CPQ sold (each line's quantity x UnitPrice).
    billed = 0
    for months, amounts, _, stubs in got:
        billed += sum(cents * units for cents, units in stubs)
        billed += sum(cents * qty * (months // 12 if cents >= 120000 else months) for cents, qty in amounts)
    assert billed == sum(int(i.quantity * i.unit_price * 100) for i in items)


def test_a_segment_off_the_monthly_anniversaries_is_an_error(ctx: TranslateContext) -> None:
    items = [
        segment(1, 1, "2022-01-01", "2022-06-14", "4", "600", months=6, **ANNUAL),
        segment(2, 2, "2022-06-15", "2022-12-31", "8", "600", months=6, **ANNUAL),
    ]
    with pytest.raises(DataError, match="not a whole number of months") as err:
        translate_order(bundle(items), ctx)
    assert err.value.record_id == items[0].id


@pytest.mark.parametrize(("name", "items", "order_values", "expected"), CASES, ids=[c[0] for c in CASES])
def test_segments_become_phases(
    ctx: TranslateContext, name: str, items: list[OrderItemRecord], order_values: dict[str, Any], expected: Any
) -> None:
    got = []
    for phase, amounts in phase_amounts(translate_order(bundle(items, **order_values), ctx)):
        got.append((phase["duration"]["interval_count"], amounts, phase["metadata"]["salesforce_segment_index"]))
    assert got == expected


def test_segment_outside_the_order_is_an_error(ctx: TranslateContext) -> None:
    items = [
        segment(1, 1, "2022-01-01", "2022-12-31", "10", "120"),
        segment(2, 2, "2023-01-01", "2023-12-31", "10", "120"),
    ]
    with pytest.raises(DataError, match="not within the order") as err:
        translate_order(bundle(items), ctx)  # a 12-month order with a second-year segment
    assert err.value.record_id == items[1].id


# A migrated MDQ order (from 2022-01-01, activated 2021-12-20, before the sync start date): each line, segment by
# segment, bills nothing that started before the sync start date (the replaced system billed it: whole periods,
# and a segment's prorated months billed once) and bills the rest as CPQ sold it. (lines, order values, sync
# start) -> per phase (months, [(cents a period, quantity)], segment index, [(prorated cents a unit, units)]) and
# the money Stripe bills in all, in cents.
YEARLY = [segment(k, k, f"{2021 + k}-01-01", f"{2021 + k}-12-31", str(5 + 5 * k), "1200", **ANNUAL) for k in (1, 2, 3)]
MONTHLY = [segment(k, k, f"{2021 + k}-01-01", f"{2021 + k}-12-31", str(5 + 5 * k), "120") for k in (1, 2, 3)]
QUARTERS = [segment(k, k, f"2022-{3 * k - 2:02d}-01", f"2022-{3 * k:02d}-{30 if k in (2, 3) else 31}", str(5 * k),
                    "300", months=3, **ANNUAL) for k in (1, 2, 3, 4)]  # fmt: skip
RAMP18 = [
    segment(1, 1, "2022-01-01", "2022-12-31", "10", "1200", **ANNUAL),
    segment(2, 2, "2023-01-01", "2023-06-30", "15", "600", months=6, **ANNUAL),
]
WITH_MONTHLY = [
    segment(1, 1, "2022-01-01", "2022-12-31", "10", "1200", **ANNUAL),
    segment(2, 2, "2023-01-01", "2023-12-31", "15", "1080", **ANNUAL),
    line(3, PROD_A, PBE_A, "2", "240", sbqq__subscriptionterm__c=24),
]
T36, T24, T18 = ({"sbqq__quote__r.sbqq__subscriptionterm__c": t} for t in (36, 24, 18))
MIGRATED: list[tuple[str, list[OrderItemRecord], dict[str, Any], str, list[tuple[int, Any, str, Any]], int]] = [
    ("annual segments, sync start in year 2: years 1 and 2 paid, year 3 billed", YEARLY, T36, "2023-03-15",
     [(12, [(120000, 0)], "1", []), (12, [(120000, 0)], "2", []), (12, [(120000, 20)], "3", [])], 20 * 120000),
    ("monthly segments, sync start in year 2: its months from April on billed", MONTHLY, T36, "2023-03-15",
     [(12, [(1000, 0)], "1", []), (3, [(1000, 0)], "2", []), (9, [(1000, 15)], "2", []),
      (12, [(1000, 20)], "3", [])], 9 * 15 * 1000 + 12 * 20 * 1000),
    ("sync start on a segment's first day: that segment billed", YEARLY, T36, "2023-01-01",
     [(12, [(120000, 0)], "1", []), (12, [(120000, 15)], "2", []), (12, [(120000, 20)], "3", [])],
     35 * 120000),
    ("quarterly segments of an annual line, sync start in Q2: Q1 and Q2 paid, Q3 and Q4 billed once", QUARTERS, {},
     "2022-05-15", [(3, [(120000, 0)], "1", []), (3, [(120000, 0)], "2", []),
                    (3, [(120000, 0)], "3", [(30000, 15)]), (3, [(120000, 0)], "4", [(30000, 20)])], 35 * 30000),
    ("18-month ramp, sync start in year 1: its last 6 months billed once", RAMP18, T18, "2022-06-01",
     [(12, [(120000, 0)], "1", []), (6, [(120000, 0)], "2", [(60000, 15)])], 15 * 60000),
    ("18-month ramp, sync start in the last 6 months: all paid", RAMP18, T18, "2023-02-01",
     [(12, [(120000, 0)], "1", []), (6, [(120000, 0)], "2", [])], 0),
    ("annual segments and a monthly line: each resumes on its own period", WITH_MONTHLY, T24, "2022-03-15",
     [(3, [(1000, 0), (120000, 0)], "1", []), (9, [(1000, 2), (120000, 0)], "1", []),
      (12, [(1000, 2), (108000, 15)], "2", [])], 21 * 2 * 1000 + 15 * 108000),
]  # fmt: skip


@pytest.mark.parametrize(("name", "items", "order_values", "sync_start", "expected", "money"), MIGRATED,
                         ids=[c[0] for c in MIGRATED])  # fmt: skip
def test_a_migrated_mdq_order_does_not_bill_its_paid_periods_again(
    ctx: TranslateContext,
    name: str,
    items: list[OrderItemRecord],
    order_values: dict[str, Any],
    sync_start: str,
    expected: Any,
    money: int,
) -> None:
    import dataclasses
    import datetime as dt

    migrating = dataclasses.replace(ctx, migrated_before=dt.date.fromisoformat(sync_start))
    setup = one_time_line(9, PROD_B, PBE_B, "1", "500")  # invoiced with the order by the replaced system
    order = bundle([*items, setup], activateddate="2021-12-20T10:00:00Z", **order_values)
    result = translate_order(order, migrating)
    prices = {o.key: o.params for o in result.objects if o.key.startswith("price:")}
    got, billed = [], 0
    for phase in result.main.params["phases"]:
        amounts = sorted(
            (int(Decimal(prices[i["price"].key]["unit_amount_decimal"])), i["quantity"]) for i in phase["items"]
        )
        stubs = [(int(Decimal(a["price_data"]["unit_amount_decimal"])), a["quantity"])
                 for a in phase.get("add_invoice_items", [])]  # fmt: skip
        if any(q == 0 for _, q in amounts):
            assert phase["proration_behavior"] == "none"
        months = phase["duration"]["interval_count"]
        got.append((months, amounts, phase["metadata"]["salesforce_segment_index"], stubs))
        billed += sum(cents * units for cents, units in stubs)
        for item in phase["items"]:  # each period of the phase bills at its start
            every = prices[item["price"].key]["recurring"]["interval_count"]
            assert months % every == 0 or not item["quantity"]  # a line billing in a phase bills whole periods
            billed += (
                int(Decimal(prices[item["price"].key]["unit_amount_decimal"])) * item["quantity"] * (months // every)
            )
    assert got == expected
    assert billed == money
    # Activated on or after the sync start date, the same order bills from its start, as CPQ sold it.
    recent = bundle(items, activateddate=f"{sync_start}T10:00:00Z", **order_values)
    new = translate_order(recent, migrating).main.params["phases"]
    assert new == translate_order(bundle(items, **order_values), ctx).main.params["phases"]
