"""Translation tables: terms that are not a whole number of billing periods (pure, no I/O)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cpq_sync.errors import DataError
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.order import translate_order
from tests.unit.test_translate_order import PBE_A, PROD_A, bundle, ctx, line

__all__ = ["ctx"]

ANNUAL = {"sbqq__billingfrequency__c": "Annual", "sbqq__defaultsubscriptionterm__c": 12}
# (term, quantity, UnitPrice for the term, multiplier) -> [(phase months, recurring quantity, prorated cents/unit)]
CASES: list[tuple[str, int, str, str, str, list[tuple[int, int, int | None]]]] = [
    ("18 months billed annually", 18, "3", "180", "1.5", [(12, 3, None), (6, 0, 6000)]),
    ("9 months billed annually", 9, "2", "90", "0.75", [(9, 0, 9000)]),
    ("30 months billed annually", 30, "1", "300", "2.5", [(24, 1, None), (6, 0, 6000)]),
]


@pytest.mark.parametrize(("name", "term", "qty", "unit", "mult", "expected"), CASES, ids=[c[0] for c in CASES])
def test_leftover_months_bill_once(
    ctx: TranslateContext, name: str, term: int, qty: str, unit: str, mult: str, expected: Any
) -> None:
    item = line(1, PROD_A, PBE_A, qty, unit, sbqq__subscriptionterm__c=term, sbqq__proratemultiplier__c=mult, **ANNUAL)
    result = translate_order(bundle([item], **{"sbqq__quote__r.sbqq__subscriptionterm__c": term}), ctx)
    got = []
    for phase in result.main.params["phases"]:
        prorated = [i for i in phase.get("add_invoice_items", []) if "price_data" in i]
        cents = int(Decimal(prorated[0]["price_data"]["unit_amount_decimal"])) if prorated else None
        if prorated:
            assert prorated[0]["quantity"] == int(qty) and prorated[0]["metadata"]["salesforce_proration"] == "true"
            # off on a later phase; a first phase keeps it, so a backdated start bills its past
            assert phase.get("proration_behavior") == ("none" if got else None)
        got.append((phase["duration"]["interval_count"], phase["items"][0]["quantity"], cents))
    assert got == expected


MONTHS = {"Monthly": 1, "Quarterly": 3, "Semiannual": 6, "Annual": 12}
# A line per frequency, 12 USD a month each (UnitPrice = 12 x term), quantity = its position + 1, so each
# line bills 12 USD x quantity a month of its term in all.
# (term, frequencies) -> [(phase months, recurring quantities in line order, {line: prorated cents per unit})]
MIXED: list[tuple[str, int, list[str], list[tuple[int, list[int], dict[int, int]]]]] = [
    ("18 months, annual and monthly", 18, ["Annual", "Monthly"], [(12, [1, 2], {}), (6, [0, 2], {0: 7200})]),
    ("9 months, annual and monthly", 9, ["Annual", "Monthly"], [(9, [0, 2], {0: 10800})]),
    ("10 months, quarterly and monthly", 10, ["Quarterly", "Monthly"], [(9, [1, 2], {}), (1, [0, 2], {0: 1200})]),
    (
        "9 months, annual and semiannual: each line its own split",
        9,
        ["Annual", "Semiannual"],
        [(6, [0, 2], {0: 10800}), (3, [0, 0], {1: 3600})],
    ),
    (
        "30 months, annual, quarterly and monthly",
        30,
        ["Annual", "Quarterly", "Monthly"],
        [(24, [1, 2, 3], {}), (6, [0, 2, 3], {0: 7200})],
    ),
    ("12 months, annual and monthly: nothing to prorate", 12, ["Annual", "Monthly"], [(12, [1, 2], {})]),
]


@pytest.mark.parametrize(("name", "term", "frequencies", "expected"), MIXED, ids=[c[0] for c in MIXED])
def test_lines_of_different_frequencies_are_each_prorated_on_their_own_periods(
    ctx: TranslateContext, name: str, term: int, frequencies: list[str], expected: Any
) -> None:
    items = [
        line(
            n, PROD_A, PBE_A, str(n + 1), str(12 * term),
            sbqq__billingfrequency__c=frequency, sbqq__subscriptionterm__c=term,
            sbqq__defaultsubscriptionterm__c=MONTHS[frequency],
            sbqq__proratemultiplier__c=str(Decimal(term) / MONTHS[frequency]),
        )
        for n, frequency in enumerate(frequencies)
    ]  # fmt: skip
    result = translate_order(bundle(items, **{"sbqq__quote__r.sbqq__subscriptionterm__c": term}), ctx)
    assert result.main.params["billing_mode"] == {"type": "flexible"}
    position = {item.id: n for n, item in enumerate(items)}
    got = []
    for phase in result.main.params["phases"]:
        quantities = {position[i["metadata"]["salesforce_order_item_id"]]: i["quantity"] for i in phase["items"]}
        stubs = {}
        for stub in phase.get("add_invoice_items", []):
            assert stub["quantity"] == items[position[stub["metadata"]["salesforce_order_item_id"]]].quantity
            stubs[position[stub["metadata"]["salesforce_order_item_id"]]] = int(
                Decimal(stub["price_data"]["unit_amount_decimal"])
            )
        if stubs:  # off on a later phase; a first phase keeps it, so a backdated start bills its past
            assert phase.get("proration_behavior") == ("none" if got else None)
        got.append((phase["duration"]["interval_count"], [quantities[n] for n in range(len(items))], stubs))
    assert got == expected
    # Over the term every line bills what CPQ sold: its whole periods plus its prorated leftover.
    prices = {o.key: o.params for o in result.objects if o.key.startswith("price:")}
    billed = Decimal(0)
    for phase in result.main.params["phases"]:
        for item in phase["items"]:
            every = prices[item["price"].key]["recurring"]["interval_count"]
            periods = phase["duration"]["interval_count"] // every
            billed += Decimal(prices[item["price"].key]["unit_amount_decimal"]) * item["quantity"] * periods
        billed += sum(Decimal(s["price_data"]["unit_amount_decimal"]) * s["quantity"]
                      for s in phase.get("add_invoice_items", []))  # fmt: skip
    assert billed == sum(item.quantity * item.unit_price * 100 for item in items)


def test_a_multiplier_that_disagrees_with_the_term_is_an_error(ctx: TranslateContext) -> None:
    item = line(1, PROD_A, PBE_A, "3", "180", sbqq__subscriptionterm__c=18, sbqq__proratemultiplier__c="1.25", **ANNUAL)
    with pytest.raises(DataError, match="prorate multiplier") as err:
        translate_order(bundle([item], **{"sbqq__quote__r.sbqq__subscriptionterm__c": 18}), ctx)
    assert err.value.record_id == item.id and err.value.field == "SBQQ__ProrateMultiplier__c"


MIGRATION: list[tuple[str, str, list[tuple[int, int]]]] = [
    ("nothing billed before the start", "2022-01-01", [(12, 10)]),
    ("three monthly periods already billed", "2022-03-15", [(3, 0), (9, 10)]),
    ("all billed", "2023-06-01", [(12, 0)]),
]


@pytest.mark.parametrize(("name", "sync_start", "expected"), MIGRATION, ids=[m[0] for m in MIGRATION])
def test_migrated_order_does_not_rebill_paid_periods(
    ctx: TranslateContext, name: str, sync_start: str, expected: list[tuple[int, int]]
) -> None:
    import dataclasses
    import datetime as dt

    migrating = dataclasses.replace(ctx, migrated_before=dt.date.fromisoformat(sync_start))
    item = line(1, PROD_A, PBE_A, "10", "120")
    order = bundle([item], activateddate="2021-12-20T10:00:00Z")
    phases = translate_order(order, migrating).main.params["phases"]
    assert [(p["duration"]["interval_count"], p["items"][0]["quantity"]) for p in phases] == expected
    assert all(p.get("proration_behavior") == "none" for p in phases if p["items"][0]["quantity"] == 0)
    # An order activated on or after the sync start date bills as usual.
    recent = bundle([item], activateddate="2023-07-01T10:00:00Z")
    assert len(translate_order(recent, migrating).main.params["phases"]) == 1


# A migrated 24-month order from 2022-01-01 (activated before the sync start) with an annual, a quarterly and a
# monthly line: each line resumes with its own first period starting on or after the sync start date.
MIGRATED_MIXED: list[tuple[str, str, list[tuple[int, list[int]]]]] = [
    ("sync start 2022-02-15: two months, a quarter, a year paid", "2022-02-15",
     [(2, [0, 0, 0]), (1, [0, 0, 3]), (9, [0, 2, 3]), (12, [1, 2, 3])]),
    ("sync start 2022-04-01: the quarter in progress starts on it", "2022-04-01",
     [(3, [0, 0, 0]), (9, [0, 2, 3]), (12, [1, 2, 3])]),
    ("sync start 2023-01-01", "2023-01-01", [(12, [0, 0, 0]), (12, [1, 2, 3])]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "sync_start", "expected"), MIGRATED_MIXED, ids=[m[0] for m in MIGRATED_MIXED])
def test_migrated_order_mixing_frequencies_resumes_each_line_on_its_own_period(
    ctx: TranslateContext, name: str, sync_start: str, expected: list[tuple[int, list[int]]]
) -> None:
    import dataclasses
    import datetime as dt

    migrating = dataclasses.replace(ctx, migrated_before=dt.date.fromisoformat(sync_start))
    items = [
        line(n, PROD_A, PBE_A, str(n + 1), str(1200 * (n + 1)), sbqq__billingfrequency__c=frequency,
             sbqq__subscriptionterm__c=24, sbqq__defaultsubscriptionterm__c=MONTHS[frequency])
        for n, frequency in enumerate(["Annual", "Quarterly", "Monthly"])
    ]  # fmt: skip
    order = bundle(items, activateddate="2021-12-20T10:00:00Z", **{"sbqq__quote__r.sbqq__subscriptionterm__c": 24})
    phases = translate_order(order, migrating).main.params["phases"]
    assert [(p["duration"]["interval_count"], [i["quantity"] for i in p["items"]]) for p in phases] == expected
    assert all(p.get("proration_behavior") == "none" for p in phases if 0 in [i["quantity"] for i in p["items"]])


# A migrated 18-month order from 2022-01-01 (activated before the sync start): 3 annual seats (UnitPrice 180: a
# year, then 6 months billed once, 60 USD a seat) and 2 of a monthly line. The periods billed before the sync
# start date are not billed again, the leftover months only if they start on or after it.
# (sync start) -> [(phase months, [annual, monthly quantities], prorated (cents a unit, units) billed)]
MIGRATED_PRORATED: list[tuple[str, str, list[tuple[int, list[int], list[tuple[int, int]]]]]] = [
    ("sync start in month 2: the first year paid, the leftover billed", "2022-02-15",
     [(2, [0, 0], []), (10, [0, 2], []), (6, [0, 2], [(6000, 3)])]),
    ("sync start on the leftover's first day: billed", "2023-01-01", [(12, [0, 0], []), (6, [0, 2], [(6000, 3)])]),
    ("sync start in the leftover months: paid", "2023-03-01", [(12, [0, 0], []), (2, [0, 0], []), (4, [0, 2], [])]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "sync_start", "expected"), MIGRATED_PRORATED, ids=[m[0] for m in MIGRATED_PRORATED])
def test_migrated_order_with_a_prorated_term(
    ctx: TranslateContext, name: str, sync_start: str, expected: list[tuple[int, list[int], list[tuple[int, int]]]]
) -> None:
    import dataclasses
    import datetime as dt

    migrating = dataclasses.replace(ctx, migrated_before=dt.date.fromisoformat(sync_start))
    items = [
        line(1, PROD_A, PBE_A, "3", "180", sbqq__subscriptionterm__c=18, sbqq__proratemultiplier__c="1.5", **ANNUAL),
        line(2, PROD_A, PBE_A, "2", "180", sbqq__subscriptionterm__c=18),
    ]
    order = bundle(items, activateddate="2021-12-20T10:00:00Z", **{"sbqq__quote__r.sbqq__subscriptionterm__c": 18})
    phases = translate_order(order, migrating).main.params["phases"]
    got = []
    for p in phases:
        stubs = [
            (int(Decimal(a["price_data"]["unit_amount_decimal"])), a["quantity"])
            for a in p.get("add_invoice_items", [])
        ]
        got.append((p["duration"]["interval_count"], [i["quantity"] for i in p["items"]], stubs))
    assert got == expected
    assert all(p.get("proration_behavior") == "none" for p in phases if 0 in [i["quantity"] for i in p["items"]])
