"""Translation tables: MDQ ramps, one schedule phase per segment (pure, no I/O)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cpq_sync.errors import DataError
from cpq_sync.records import OrderItemRecord
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.order import translate_order
from tests.unit.test_translate_order import PBE_A, PROD_A, bundle, ctx, line

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


@pytest.mark.parametrize(("name", "items", "order_values", "expected"), PRORATED, ids=[c[0] for c in PRORATED])
def test_segments_that_are_not_whole_billing_periods_bill_cpqs_prorated_amount(
    ctx: TranslateContext, name: str, items: list[OrderItemRecord], order_values: dict[str, Any], expected: Any
) -> None:
    result = translate_order(bundle(items, **order_values), ctx)
    prices = {o.key: o.params for o in result.objects if o.key.startswith("price:")}
    got = []
    for phase in result.main.params["phases"]:
        amounts = sorted(
            (int(Decimal(prices[i["price"].key]["unit_amount_decimal"])), i["quantity"]) for i in phase["items"]
        )
        stubs = [(int(Decimal(a["price_data"]["unit_amount_decimal"])), a["quantity"])
                 for a in phase.get("add_invoice_items", [])]  # fmt: skip
        assert phase["proration_behavior"] == "none"
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
    result = translate_order(bundle(items, **order_values), ctx)
    prices = {o.key: o.params for o in result.objects if o.key.startswith("price:")}
    got = []
    for phase in result.main.params["phases"]:
        amounts = sorted(
            (int(Decimal(prices[i["price"].key]["unit_amount_decimal"])), i["quantity"]) for i in phase["items"]
        )
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
