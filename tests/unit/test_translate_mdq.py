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


def test_a_segment_that_is_not_whole_periods_of_its_line_is_an_error(ctx: TranslateContext) -> None:
    items = [
        segment(1, 1, "2022-01-01", "2022-06-30", "4", "600", months=6, **ANNUAL),  # half a year billed annually
        segment(2, 2, "2022-07-01", "2022-12-31", "8", "600", months=6, **ANNUAL),
        line(3, PROD_A, PBE_A, "1", "120"),
    ]
    with pytest.raises(DataError, match="not a whole number of its 12-month billing periods") as err:
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
