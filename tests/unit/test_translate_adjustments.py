"""Translation tables: one-time adjustments (rounding remainders of new orders, reduction credits of
amendments and off-boundary terminations), pure, no I/O."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.contract import Contract, translate_contract
from cpq_sync.translate.order import translate_order
from tests.unit import test_translate_contract as contracts
from tests.unit.test_translate_mdq import segment
from tests.unit.test_translate_order import PBE_A, PBE_B, PROD_A, PROD_B, bundle, ctx, line

__all__ = ["ctx"]

MONTHS = {"Monthly": 1, "Quarterly": 3, "Annual": 12}
# (quantity, UnitPrice for the term, term, frequency) -> the remainder in cents Stripe must bill once on top of
# its periods (each rounded to the cent), so the term bills exactly TotalPrice.
ROUNDING: list[tuple[str, int, str, int, str, int | None]] = [
    ("1000.00 over 12 months: 83.33 a month bills 999.96", 1, "1000", 12, "Monthly", 4),
    ("1000.00 over 24 months: 41.67 a month bills 1000.08", 1, "1000", 24, "Monthly", -8),
    ("3 units at 1000.00 over 12 months: 250.00 a month, nothing to settle", 3, "1000", 12, "Monthly", None),
    ("100.00 over 36 months billed quarterly: 8.33 a quarter bills 99.96", 1, "100", 36, "Quarterly", 4),
    ("whole cents: nothing to settle", 2, "120", 12, "Monthly", None),
]


@pytest.mark.parametrize(("name", "qty", "unit", "term", "frequency", "expected"), ROUNDING,
                         ids=[r[0] for r in ROUNDING])  # fmt: skip
def test_rounding_remainder_is_settled_once(
    ctx: TranslateContext, name: str, qty: int, unit: str, term: int, frequency: str, expected: int | None
) -> None:
    item = line(1, PROD_A, PBE_A, str(qty), unit, sbqq__subscriptionterm__c=term,
                sbqq__billingfrequency__c=frequency, sbqq__defaultsubscriptionterm__c=MONTHS[frequency])  # fmt: skip
    main = translate_order(bundle([item], **{"sbqq__quote__r.sbqq__subscriptionterm__c": term}), ctx).main
    adjustments = main.children.get("adjustments", [])
    assert [a["amount"] for a in adjustments] == ([expected] if expected else [])
    for a in adjustments:
        assert a["currency"] == "usd" and a["metadata"]["salesforce_order_item_id"] == item.id


MONTHLY24 = {"sbqq__subscriptionterm__c": 24, "sbqq__billingfrequency__c": "Monthly"}
# Schedules of several phases: (order lines, order values) -> {first line of a price: its remainder in cents}.
# 15 x 949.62 over 24 months is 593.5125 a month: Stripe bills 593.51, 6 cents short over the term.
SEVERAL_PHASES: list[tuple[str, list[Any], dict[str, Any], dict[str, int]]] = [
    (
        "an MDQ ramp's unsegmented line billing a fraction of a cent a month: on every phase, settled once",
        [segment(1, 1, "2022-01-01", "2022-12-31", "10", "120"), segment(2, 2, "2023-01-01", "2023-12-31", "15", "120"),
         line(3, PROD_B, PBE_B, "15", "949.62", **MONTHLY24)],
        {"sbqq__quote__r.sbqq__subscriptionterm__c": 24},
        {"i3": 6},
    ),
    (
        "segments billing a fraction of a cent a month: each segment's remainder, settled once",
        [segment(1, 1, "2022-01-01", "2022-12-31", "1", "1000"),
         segment(2, 2, "2023-01-01", "2023-12-31", "1", "1000")],
        {"sbqq__quote__r.sbqq__subscriptionterm__c": 24},
        {"i1": 4, "i2": 4},  # 83.33 a month for 12 months bills 999.96, each year
    ),
    (
        "segments billing whole cents: nothing to settle",
        [segment(1, 1, "2022-01-01", "2022-12-31", "10", "120"), segment(2, 2, "2023-01-01", "2023-12-31", "15", "96")],
        {"sbqq__quote__r.sbqq__subscriptionterm__c": 24},
        {},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "items", "order_values", "expected"), SEVERAL_PHASES,
                         ids=[c[0] for c in SEVERAL_PHASES])  # fmt: skip
def test_rounding_remainder_over_several_phases(
    ctx: TranslateContext, name: str, items: list[Any], order_values: dict[str, Any], expected: dict[str, int]
) -> None:
    main = translate_order(bundle(items, **order_values), ctx).main
    assert len(main.params["phases"]) > 1
    line_ids = {f"i{n}": item.id for n, item in enumerate(items, start=1)}
    got = {a["key"]: a["amount"] for a in main.children.get("adjustments", [])}
    assert got == {f"rounding:{line_ids[k]}": v for k, v in expected.items()}


def test_an_amended_contract_settles_the_change_to_its_remainder(ctx: TranslateContext) -> None:
    """15 x 949.62 over 24 months (6 cents short over the term, settled with the initial order), amended from
    month 12 to 20 units at CPQ's prorated 474.81 (the same 39.5675 a month: the price is reused). 20 units bill
    791.35 a month exactly, so the contract is only 3 cents short: the amendment settles -3."""

    contracts_start, to = contracts.START, contracts.M(contracts.START, 24)
    initial = contracts.repriced(contracts.bundle(1, [(contracts.PROD_A, 15)], to=to), "949.62")
    amendment = contracts.repriced(contracts.amend(2, 12, [(contracts.PROD_A, 5, A1)], to=to), "474.81")
    alone = translate_order(initial, ctx).main
    assert [(a["key"], a["amount"]) for a in alone.children["adjustments"]] == [(f"rounding:{A1}", 6)]
    result = translate_contract(Contract(contracts.CONTRACT, initial, [amendment]), ctx)
    assert result.failures == {} and result.main is not None
    assert contracts.phase_view(result)[-1][0] == contracts.M(contracts_start, 12)
    assert len({k for *_, items in contracts.phase_view(result) for k in items}) == 1  # the price is reused
    amendment_id = amendment.order.id
    assert [(a["key"], a["amount"], a["metadata"]) for a in result.main.children["adjustments"]] == [
        (f"rounding:{A1}", 6, {"salesforce_order_item_id": A1}),
        (f"rounding:{amendment_id}", -3, {"salesforce_order_id": amendment_id}),
    ]
    # Billed: 12 x 593.51 + 12 x 791.35 + 6 - 3 = what CPQ sold, 15 x 949.62 + 5 x 474.81.
    assert 12 * 593_51 + 12 * 791_35 + 6 - 3 == 15 * 949_62 + 5 * 474_81


A1, Y1, M = contracts.A1, contracts.Y1, contracts.M
# Reductions off a line's billing boundary: (frequency of A, initial lines, month, amendment lines) ->
# {product: credit in cents} (CPQ's negative prorated amount: UnitPrice x removed units x months to the line's
# boundary / the amendment's term; 10 USD a month of term for A and Y).
CREDITS: list[tuple[str, str, list[Any], int, list[Any], dict[str, int]]] = [
    ("quarterly line down 1 in month 1: 2 months to the quarter", "Quarterly", [(contracts.PROD_A, 10)], 1,
     [(contracts.PROD_A, -1, A1)], {contracts.PROD_A: -2000}),
    ("annual line down 2 in month 3: 9 months", "Monthly", [(contracts.PROD_A, 10), (contracts.PROD_Y, 5)], 3,
     [(contracts.PROD_Y, -2, Y1)], {contracts.PROD_Y: -18000}),
    ("monthly line down on its boundary: no credit", "Monthly", [(contracts.PROD_A, 10), (contracts.PROD_Y, 5)], 3,
     [(contracts.PROD_A, -2, A1)], {}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "frequency", "lines", "month", "changes", "expected"), CREDITS,
                         ids=[c[0] for c in CREDITS])  # fmt: skip
def test_reduction_off_the_boundary_is_credited_as_cpq_prorated_it(
    ctx: TranslateContext, name: str, frequency: str, lines: list[Any], month: int, changes: list[Any],
    expected: dict[str, int],
) -> None:  # fmt: skip
    initial = contracts.bundle(1, lines, frequency=frequency)
    amendment = contracts.amend(2, month, changes, frequency=frequency)
    result = translate_contract(Contract(contracts.CONTRACT, initial, [amendment]), ctx)
    assert result.failures == {} and result.main is not None
    product_of = {i.id: i.product2_id for i in amendment.items}
    got = {product_of[a["metadata"]["salesforce_order_item_id"]]: a["amount"]
           for a in result.main.children.get("adjustments", [])}  # fmt: skip
    assert got == expected
    # The units leave the phase from the amendment on, without Stripe's own proration.
    assert result.main.params["phases"][-1]["proration_behavior"] == "none"


def test_termination_off_a_boundary_idles_to_it_and_credits_the_unused_time(ctx: TranslateContext) -> None:
    initial = contracts.bundle(1, [(contracts.PROD_A, 10), (contracts.PROD_Y, 2)])
    end = contracts.amend(2, 3, [(contracts.PROD_A, -10, A1), (contracts.PROD_Y, -2, Y1)])
    result = translate_contract(Contract(contracts.CONTRACT, initial, [end]), ctx)
    assert result.failures == {} and result.main is not None
    view = contracts.phase_view(result)
    # The monthly line stops on its boundary; the annual one idles to its own (the contract's end).
    assert view == [(contracts.START, M(contracts.START, 3), {contracts.A: 10, contracts.Y: 2}),
                    (M(contracts.START, 3), contracts.END, {contracts.A: 0, contracts.Y: 0})]  # fmt: skip
    assert [a["amount"] for a in result.main.children["adjustments"]] == [-2 * 9000]
    # On a boundary of every line the schedule simply ends there.
    monthly = contracts.bundle(1, [(contracts.PROD_A, 10)])
    stop = translate_contract(
        Contract(contracts.CONTRACT, monthly, [contracts.amend(2, 3, [(contracts.PROD_A, -10, A1)])]), ctx
    )
    assert stop.main is not None and "adjustments" not in stop.main.children
    assert contracts.phase_view(stop)[-1][1] == M(contracts.START, 3)
    # Still a termination: one with a later amendment queued is refused.
    later = contracts.amend(3, 6, [(contracts.PROD_A, 1, A1)])
    refused = translate_contract(Contract(contracts.CONTRACT, initial, [end, later]), ctx)
    assert "more amendments" in refused.failures[end.order.id].message


def test_a_termination_settles_the_remainder_of_its_flat_lines_whatever_else_it_credits(
    ctx: TranslateContext,
) -> None:
    """15 x 949.62 over 24 months (6 cents short over the term, settled with the initial order) and an annual
    block-priced line, both terminated in month 3 (the block off its boundary: credited). The monthly line billed
    3 x 593.51 for CPQ's 15 x 949.62 - 15 x 830.92 (its prorated 830.9175 rounded to the cent): the termination
    settles -9 (less the 6 already settled). The block's credit is no part of that remainder (a block bills its
    block, not quantity x UnitPrice: its lines are left out of the settlement)."""
    to = contracts.M(contracts.START, 24)

    def priced(order: Any, unit_price: str) -> Any:
        a, y = order.items
        a = a.model_copy(update={"unit_price": Decimal(unit_price)})
        return dataclasses.replace(order, items=[a, y.model_copy(update={"pricing_method": "Block"})])

    initial = priced(contracts.bundle(1, [(contracts.PROD_A, 15), (contracts.PROD_Y, 1)], to=to), "949.62")
    end = priced(contracts.amend(2, 3, [(contracts.PROD_A, -15, A1), (contracts.PROD_Y, -1, Y1)], to=to), "830.92")
    result = translate_contract(Contract(contracts.CONTRACT, initial, [end]), ctx)
    assert result.failures == {} and result.main is not None
    block_end = end.items[1].id
    assert [(a["key"], a["amount"]) for a in result.main.children["adjustments"]] == [
        (f"rounding:{A1}", 6),
        (f"credit:{block_end}", -9000),
        (f"rounding:{end.order.id}", -9),
    ]
    assert 3 * 593_51 + 6 - 9 == 15 * 949_62 - 15 * 830_92
