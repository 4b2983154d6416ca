"""Translation tables: a contract's schedule rebuilt from its initial order and its amendments (pure, no I/O)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from cpq_sync.config import DEFAULT_MAPPINGS_DIR
from cpq_sync.desired import Ref
from cpq_sync.mapping.compile import compile_mappings
from cpq_sync.mapping.loader import load_mappings
from cpq_sync.records import AccountRecord, OrderItemRecord, OrderRecord, PricebookEntryRecord, Product2Record
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.contract import (
    Contract,
    ContractTranslation,
    add_months,
    group_contracts,
    translate_contract,
)
from cpq_sync.translate.dates import utc_midnight
from cpq_sync.translate.order import OrderBundle, translate_order

ACCOUNT = "001000000000001AAA"
CONTRACT = "800000000000001AAA"
PROD_A, PROD_B, PROD_Y = "01t000000000001AAA", "01t000000000002AAA", "01t000000000003AAA"
PBE_A, PBE_B, PBE_Y = "01u000000000001AAA", "01u000000000002AAA", "01u000000000003AAA"
START = dt.date(2026, 1, 1)
END = dt.date(2027, 1, 1)
PRICES = {PROD_A: (PBE_A, Decimal(10)), PROD_B: (PBE_B, Decimal(20)), PROD_Y: (PBE_Y, Decimal(10))}
BILLED_YEARLY = {PROD_Y}  # billed annually whatever the order's other lines do (10 USD a month, 120 a year)
INTERVALS = {"Monthly": 1, "Quarterly": 3, "Annual": 12}


@pytest.fixture(scope="module")
def ctx() -> TranslateContext:
    return TranslateContext(mappings=compile_mappings(load_mappings(DEFAULT_MAPPINGS_DIR)))


def order_id(n: int) -> str:
    return f"801000000000{n:03d}AAA"


def item_id(order: int, n: int) -> str:
    return f"802000000{order:03d}{n:03d}AAA"


def bundle(
    n: int,
    lines: list[tuple[str, int] | tuple[str, int, str]],
    *,
    start: dt.date = START,
    amendment: bool = False,
    frequency: str = "Monthly",
    stripe_id: str | None = None,
    end: dt.date | None = None,
    to: dt.date = END,
) -> OrderBundle:
    months = (to.year - start.year) * 12 + to.month - start.month
    items = []
    for k, spec in enumerate(lines):
        product_id, quantity = spec[0], spec[1]
        revised = spec[2] if len(spec) == 3 else None
        pbe_id, price = PRICES[product_id]
        line_frequency = "Annual" if product_id in BILLED_YEARLY else frequency
        items.append(
            OrderItemRecord.from_flat(
                {
                    "id": item_id(n, k),
                    "orderid": order_id(n),
                    "product2id": product_id,
                    "pricebookentryid": pbe_id,
                    "quantity": quantity,
                    "unitprice": price * months,
                    "currencyisocode": "USD",
                    "sbqq__chargetype__c": "Recurring",
                    "sbqq__billingfrequency__c": line_frequency,
                    "sbqq__subscriptionpricing__c": "Fixed Price",
                    "sbqq__subscriptionterm__c": months,
                    "sbqq__defaultsubscriptionterm__c": INTERVALS[line_frequency],
                    "sbqq__revisedorderproduct__c": revised,
                }
            )
        )
    order = OrderRecord.from_flat(
        {
            "id": order_id(n),
            "accountid": ACCOUNT,
            "type": "Amendment" if amendment else "New",
            "effectivedate": start.isoformat(),
            "enddate": (end or to - dt.timedelta(days=1)).isoformat(),
            "currencyisocode": "USD",
            "contractid": CONTRACT,
            "sbqq__quote__r.sbqq__startdate__c": start.isoformat(),
            "sbqq__quote__r.sbqq__subscriptionterm__c": months,
            "stripe_id__c": stripe_id,
        }
    )
    products = {p: Product2Record.from_flat({"id": p, "name": p, "sbqq__subscriptionterm__c": 1}) for p in PRICES}
    pbes = {}
    for p, (pbe_id, price) in PRICES.items():
        pbe_frequency = "Annual" if p in BILLED_YEARLY else frequency
        pbes[pbe_id] = PricebookEntryRecord.from_flat(
            {
                "id": pbe_id,
                "product2id": p,
                "unitprice": price * INTERVALS[pbe_frequency],
                "currencyisocode": "USD",
                "product2.sbqq__subscriptionterm__c": INTERVALS[pbe_frequency],
                "product2.sbqq__billingfrequency__c": pbe_frequency,
            }
        )
    return OrderBundle(order, items, AccountRecord.from_flat({"id": ACCOUNT, "name": "Acme"}), products, pbes)


def amend(n: int, months: int, lines: list[tuple[str, int] | tuple[str, int, str]], **kw: Any) -> OrderBundle:
    return bundle(n, lines, start=add_months(START, months), amendment=True, **kw)


def repriced(order: OrderBundle, unit_price: str) -> OrderBundle:
    """`order` with its lines at another UnitPrice (a rep's price, or CPQ's prorated one)."""
    items = [i.model_copy(update={"unit_price": Decimal(unit_price)}) for i in order.items]
    return dataclasses.replace(order, items=items)


A1 = item_id(1, 0)  # the initial order's first line (product A)
B1 = item_id(1, 1)


def phase_view(result: ContractTranslation) -> list[tuple[dt.date, dt.date, dict[str, int]]]:
    assert result.main is not None
    out = []
    for phase in result.main.params["phases"]:
        items = {item["price"].key: item["quantity"] for item in phase["items"]}
        start = dt.datetime.fromtimestamp(phase["start_date"], dt.UTC).date()
        end = dt.datetime.fromtimestamp(phase["end_date"], dt.UTC).date()
        out.append((start, end, items))
    return out


M = add_months
A, B = f"price:{PBE_A}", f"price:{PBE_B}"
CASES: list[tuple[str, list[OrderBundle], list[tuple[dt.date, dt.date, dict[str, int]]]]] = [
    (
        "connector's worked example: A 10, then A -4 and B +5 from month 2",
        [amend(2, 1, [(PROD_A, -4, A1), (PROD_B, 5)])],
        [(START, M(START, 1), {A: 10}), (M(START, 1), END, {A: 6, B: 5})],
    ),
    (
        "several amendments aggregate in order",
        [amend(2, 2, [(PROD_A, 5, A1)]), amend(3, 5, [(PROD_A, -3, A1)])],
        [(START, M(START, 2), {A: 10}), (M(START, 2), M(START, 5), {A: 15}), (M(START, 5), END, {A: 12})],
    ),
    (
        "a line added by an amendment is revised by a later one",
        [amend(2, 2, [(PROD_B, 2)]), amend(3, 4, [(PROD_B, 1, item_id(2, 0))])],
        [(START, M(START, 2), {A: 10}), (M(START, 2), M(START, 4), {A: 10, B: 2}), (M(START, 4), END, {A: 10, B: 3})],
    ),
    (
        "termination: the schedule ends at the amendment's start",
        [amend(2, 3, [(PROD_A, -10, A1)])],
        [(START, M(START, 3), {A: 10})],
    ),
    (
        "partial termination: the line at 0 leaves the phase",
        [amend(2, 1, [(PROD_B, 4)]), amend(3, 6, [(PROD_A, -10, A1)])],
        [(START, M(START, 1), {A: 10}), (M(START, 1), M(START, 6), {A: 10, B: 4}), (M(START, 6), END, {B: 4})],
    ),
    (
        "two amendments on one day: one phase",
        [amend(2, 2, [(PROD_A, 1, A1)]), amend(3, 2, [(PROD_A, 1, A1)])],
        [(START, M(START, 2), {A: 10}), (M(START, 2), END, {A: 12})],
    ),
]


@pytest.mark.parametrize(("name", "amendments", "expected"), CASES, ids=[c[0] for c in CASES])
def test_phases(ctx: TranslateContext, name: str, amendments: list[OrderBundle], expected: Any) -> None:
    initial = bundle(1, [(PROD_A, 10)])
    result = translate_contract(Contract(CONTRACT, initial, amendments), ctx)
    assert result.failures == {}
    assert phase_view(result) == expected
    assert result.applied == [a.order.id for a in amendments]
    assert result.main is not None
    assert result.main.also_records and all(p.get("start_date") for p in result.main.params["phases"])
    for phase in result.main.params["phases"][1:]:
        assert phase["proration_behavior"] == "none"


def test_unchanged_price_is_reused_and_new_lines_write_back_their_price(ctx: TranslateContext) -> None:
    initial = bundle(1, [(PROD_A, 10)])
    amendment = amend(2, 1, [(PROD_A, -4, A1), (PROD_B, 5)])
    result = translate_contract(Contract(CONTRACT, initial, [amendment]), ctx)
    assert result.line_prices[item_id(2, 0)] == result.line_prices[A1] == A
    assert result.line_prices[item_id(2, 1)] == B
    assert sorted(o.key for o in result.objects if o.key.startswith("price:")) == [A, B]


def test_units_removed_leave_the_removals_own_price_first_then_the_latest_added(ctx: TranslateContext) -> None:
    """1 unit of A; 5 more from month 2 at another price (10.90 a month: a new item next to it); then 3 fewer from
    month 4 at A's price: its 1 unit leaves, then 2 of the 5, so 3 units bill on (not 5, with A at -2)."""
    initial = bundle(1, [(PROD_A, 1)])
    more = repriced(amend(2, 2, [(PROD_A, 5, A1)]), "109")
    fewer = amend(3, 4, [(PROD_A, -3, A1)])
    result = translate_contract(Contract(CONTRACT, initial, [more, fewer]), ctx)
    assert result.failures == {}
    added = result.line_prices[item_id(2, 0)]
    assert added != A and result.line_prices[item_id(3, 0)] == A
    assert phase_view(result) == [
        (START, M(START, 2), {A: 1}),
        (M(START, 2), M(START, 4), {A: 1, added: 5}),
        (M(START, 4), END, {added: 3}),
    ]


def test_termination_on_the_first_day_cancels(ctx: TranslateContext) -> None:
    initial = bundle(1, [(PROD_A, 10)])
    result = translate_contract(Contract(CONTRACT, initial, [amend(2, 0, [(PROD_A, -10, A1)])]), ctx)
    assert result.main is not None and result.main.children["cancel"] is True
    assert result.main.params["phases"]  # a schedule created in the same run is created, then cancelled


def test_no_amendment_keeps_the_new_order_translation(ctx: TranslateContext) -> None:
    initial = bundle(1, [(PROD_A, 10)])
    result = translate_contract(Contract(CONTRACT, initial, []), ctx)
    assert result.main is not None
    assert result.main.content_hash == translate_order(initial, ctx).main.content_hash


def line_ending_late() -> OrderBundle:
    """An amendment with no order end date whose line ends after the contract."""
    b = amend(2, 1, [(PROD_A, 1, A1)])
    late = b.items[0].model_copy(update={"end_date": dt.date(2027, 6, 30)})
    return OrderBundle(b.order.model_copy(update={"end_date": None}), [late], b.account, b.products,
                       b.pricebook_entries)  # fmt: skip


def terminating_with_a_fee() -> OrderBundle:
    """A termination (every line to 0) that also sells a one-time line (a termination fee)."""
    b = amend(2, 3, [(PROD_A, -10, A1)])
    fee = b.items[0].model_copy(
        update={"id": item_id(2, 1), "charge_type": "One-Time", "billing_frequency": None, "quantity": Decimal(1),
                "revised_order_product": None}
    )  # fmt: skip
    return OrderBundle(b.order, [*b.items, fee], b.account, b.products, b.pricebook_entries)


ERRORS: list[tuple[str, list[OrderBundle], str, str]] = [
    ("decrease beyond the aggregate", [amend(2, 1, [(PROD_A, -11, A1)])], item_id(2, 0), "only 10"),
    (
        "termination with a later amendment queued",
        [amend(2, 1, [(PROD_A, -10, A1)]), amend(3, 2, [(PROD_B, 1)])],
        order_id(2),
        "more amendments",
    ),
    (
        "amendment that does not co-terminate",
        [amend(2, 1, [(PROD_A, 1, A1)], end=dt.date(2027, 3, 31))],
        order_id(2),
        "co-terminate",
    ),
    ("a line that does not co-terminate", [line_ending_late()], item_id(2, 0), "co-terminate"),
    ("termination selling a one-time line", [terminating_with_a_fee()], order_id(2), "one-time lines"),
    ("revising an unknown line", [amend(2, 1, [(PROD_A, 1, "802999999999999AAA")])], item_id(2, 0), "revises"),
    ("starting before the contract", [amend(2, -1, [(PROD_A, 1, A1)])], order_id(2), "outside the contract"),
]


@pytest.mark.parametrize(("name", "amendments", "record", "text"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(ctx: TranslateContext, name: str, amendments: list[OrderBundle], record: str, text: str) -> None:
    initial = bundle(1, [(PROD_A, 10)])
    result = translate_contract(Contract(CONTRACT, initial, amendments), ctx)
    first = amendments[0].order.id
    error = result.failures[first]
    assert error.record_id == record and text in error.message
    assert result.applied == []
    assert result.main is not None and result.main.content_hash == translate_order(initial, ctx).main.content_hash


def test_a_failed_amendment_fails_the_later_ones_and_keeps_the_earlier(ctx: TranslateContext) -> None:
    initial = bundle(1, [(PROD_A, 10)])
    good, bad, later = amend(2, 1, [(PROD_A, 1, A1)]), amend(3, 2, [(PROD_A, -50, A1)]), amend(4, 3, [(PROD_B, 1)])
    result = translate_contract(Contract(CONTRACT, initial, [good, bad, later]), ctx)
    assert result.applied == [good.order.id]
    assert set(result.failures) == {bad.order.id, later.order.id}
    assert bad.order.id in result.failures[later.order.id].message


def test_off_boundary_amendment_bills_the_prorated_months_once(ctx: TranslateContext) -> None:
    # Quarterly at 30 USD a unit; one unit added from month 1 (11 months left, UnitPrice 110): the 2 months to
    # the next quarter bill once (110 x 2 / 11 = 20 USD), the unit recurs from the quarter on.
    initial = bundle(1, [(PROD_A, 10)], frequency="Quarterly")
    amendment = amend(2, 1, [(PROD_A, 1, A1)], frequency="Quarterly")
    result = translate_contract(Contract(CONTRACT, initial, [amendment]), ctx)
    assert result.failures == {}
    assert phase_view(result) == [(START, M(START, 1), {A: 10}), (M(START, 1), END, {A: 11})]
    assert result.main is not None
    (stub,) = result.main.params["phases"][1]["add_invoice_items"]
    assert stub["price_data"]["unit_amount_decimal"] == "2000" and stub["quantity"] == 1
    assert stub["metadata"]["salesforce_prorated_months"] == "2"
    # A decrease off the boundary: no prorated item; the 2 months' unused time is credited once (20 USD).
    decrease = translate_contract(
        Contract(CONTRACT, initial, [amend(3, 1, [(PROD_A, -1, A1)], frequency="Quarterly")]), ctx
    )
    assert decrease.failures == {} and decrease.main is not None
    assert "add_invoice_items" not in decrease.main.params["phases"][1]
    assert [a["amount"] for a in decrease.main.children["adjustments"]] == [-2000]
    # A mid-month start (2026-02-15, 14 days to the next monthly boundary): by month, the unit starts billing
    # at the boundary (CPQ's term is the whole months); by month and day, the 14 days bill once as well.
    import dataclasses

    mid = bundle(4, [(PROD_A, 1, A1)], start=dt.date(2026, 2, 15), amendment=True)
    by_month = translate_contract(Contract(CONTRACT, bundle(1, [(PROD_A, 10)]), [mid]), ctx)
    assert by_month.failures == {} and by_month.main is not None
    assert phase_view(by_month)[1] == (dt.date(2026, 2, 15), END, {A: 11})
    assert "add_invoice_items" not in by_month.main.params["phases"][1]
    daily = dataclasses.replace(ctx, proration_precision="month+day")
    by_day = translate_contract(Contract(CONTRACT, bundle(1, [(PROD_A, 10)]), [mid]), daily)
    assert by_day.main is not None
    (stub,) = by_day.main.params["phases"][1]["add_invoice_items"]
    # 10 USD a month over 365/12 days, 14 days: 4.60 USD.
    assert round(Decimal(stub["price_data"]["unit_amount_decimal"])) == 460
    assert stub["metadata"]["salesforce_prorated_days"] == "14"


def usage(b: OrderBundle, *products: str) -> OrderBundle:
    """The bundle with its lines of `products` as usage lines (metered: they bill what is used)."""
    items = [i.model_copy(update={"charge_type": "Usage"}) if i.product2_id in products else i for i in b.items]
    return OrderBundle(b.order, items, b.account, b.products, b.pricebook_entries)


# Usage (metered) lines bill what is used, never a prorated share: on a quarterly contract of 10 x A and 3 of a
# usage line B, amendments in month 1 (off the quarterly boundary). (amendment lines) -> the amendment phase's
# one-time items (prorated months, units) and the credits.
USAGE_NOT_PRORATED: list[tuple[str, list[Any], list[tuple[str, int]], list[int]]] = [
    ("a usage line added off its boundary: no prorated charge", [(PROD_B, 2)], [], []),
    ("usage units added to the usage line: no prorated charge", [(PROD_B, 2, B1)], [], []),
    ("usage units removed off the boundary: no credit", [(PROD_B, -1, B1)], [], []),
    ("a licensed line next to them still bills its 2 months to the boundary once", [(PROD_A, 1, A1), (PROD_B, 2)],
     [("2", 1)], []),
]  # fmt: skip


@pytest.mark.parametrize(("name", "changes", "stubs", "credits"), USAGE_NOT_PRORATED,
                         ids=[c[0] for c in USAGE_NOT_PRORATED])  # fmt: skip
def test_usage_lines_are_never_prorated_by_an_amendment(
    ctx: TranslateContext, name: str, changes: list[Any], stubs: list[tuple[str, int]], credits: list[int]
) -> None:
    initial = usage(bundle(1, [(PROD_A, 10), (PROD_B, 3)], frequency="Quarterly"), PROD_B)
    amendment = usage(amend(2, 1, changes, frequency="Quarterly"), PROD_B)
    result = translate_contract(Contract(CONTRACT, initial, [amendment]), ctx)
    assert result.failures == {} and result.main is not None
    phase = result.main.params["phases"][1]
    got = [(a["metadata"]["salesforce_prorated_months"], a["quantity"]) for a in phase.get("add_invoice_items", [])]
    assert got == stubs
    assert [a["amount"] for a in result.main.children.get("adjustments", [])] == credits
    metered = [i for i in phase["items"] if i["price"].key != A]  # a usage line's price is its own
    assert metered and all("quantity" not in i for i in metered)  # usage decides what they bill


Y = f"price:{PBE_Y}"
Y1 = item_id(1, 1)  # the initial order's annual line, when it has one
# Contracts whose lines bill at different frequencies (flexible billing mode): (frequency of the A lines, initial
# lines, amendment month, amendment lines) -> (the amendment's phase, {product: (prorated months, cents a unit,
# units)}). Each line is prorated to the next boundary of its own billing period (anchored on the contract's
# start), at the amendment line's UnitPrice over its term (10 USD a month of term for A and Y).
MIXED: list[tuple[str, str, list[Any], int, list[Any], dict[str, int], dict[str, tuple[int, int, int]]]] = [
    (
        "annual line grows in month 3 of a monthly contract: 9 months prorated",
        "Monthly", [(PROD_A, 10), (PROD_Y, 2)], 3, [(PROD_Y, 1, Y1)],
        {A: 10, Y: 3}, {PROD_Y: (9, 9000, 1)},
    ),
    (
        "monthly line grows in month 3 of the same contract: on its own boundary, nothing prorated",
        "Monthly", [(PROD_A, 10), (PROD_Y, 2)], 3, [(PROD_A, 2, A1)],
        {A: 12, Y: 2}, {},
    ),
    (
        "annual line added in month 4 of a quarterly contract",
        "Quarterly", [(PROD_A, 10)], 4, [(PROD_Y, 1)],
        {A: 10, Y: 1}, {PROD_Y: (8, 8000, 1)},
    ),
    (
        "quarterly and annual lines grow in month 4: each to its own next boundary",
        "Quarterly", [(PROD_A, 10), (PROD_Y, 2)], 4, [(PROD_A, 1, A1), (PROD_Y, 3, Y1)],
        {A: 11, Y: 5}, {PROD_A: (2, 2000, 1), PROD_Y: (8, 8000, 3)},
    ),
    (
        "month 6: the monthly line shrinks on its boundary, the annual line grows for 6 prorated months",
        "Monthly", [(PROD_A, 10), (PROD_Y, 2)], 6, [(PROD_A, -4, A1), (PROD_Y, 1, Y1)],
        {A: 6, Y: 3}, {PROD_Y: (6, 6000, 1)},
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "frequency", "lines", "month", "changes", "phase", "stubs"), MIXED, ids=[c[0] for c in MIXED]
)
def test_amendments_of_contracts_mixing_billing_frequencies(
    ctx: TranslateContext,
    name: str,
    frequency: str,
    lines: list[Any],
    month: int,
    changes: list[Any],
    phase: dict[str, int],
    stubs: dict[str, tuple[int, int, int]],
) -> None:
    initial = bundle(1, lines, frequency=frequency)
    amendment = amend(2, month, changes, frequency=frequency)
    result = translate_contract(Contract(CONTRACT, initial, [amendment]), ctx)
    assert result.failures == {} and result.main is not None
    before = {f"price:{PRICES[spec[0]][0]}": spec[1] for spec in lines}
    assert phase_view(result) == [(START, M(START, month), before), (M(START, month), END, phase)]
    assert result.main.params["billing_mode"] == {"type": "flexible"}
    product_of = {item.id: item.product2_id for item in amendment.items}
    got = {}
    for stub in result.main.params["phases"][1].get("add_invoice_items", []):
        meta = stub["metadata"]
        cents = int(Decimal(stub["price_data"]["unit_amount_decimal"]))
        got[product_of[meta["salesforce_order_item_id"]]] = (int(meta["salesforce_prorated_months"]), cents,
                                                             stub["quantity"])  # fmt: skip
    assert got == stubs
    assert result.main.params["phases"][1]["proration_behavior"] == "none"


def test_a_line_of_another_frequency_must_still_co_terminate(ctx: TranslateContext) -> None:
    initial = bundle(1, [(PROD_A, 10), (PROD_Y, 2)])
    late = amend(2, 3, [(PROD_Y, 1, Y1)], end=dt.date(2027, 3, 31))
    result = translate_contract(Contract(CONTRACT, initial, [late]), ctx)
    assert "co-terminate" in result.failures[late.order.id].message and result.applied == []


def test_initial_order_missing_or_not_synced(ctx: TranslateContext) -> None:
    amendment = amend(2, 1, [(PROD_A, 1, A1)])
    missing = translate_contract(Contract(CONTRACT, None, [amendment]), ctx)
    assert CONTRACT in missing.failures[amendment.order.id].message
    initial = bundle(1, [(PROD_A, 10)])
    unsynced = translate_contract(Contract(CONTRACT, initial, [amendment], initial_in_run=False), ctx)
    message = unsynced.failures[amendment.order.id].message
    assert initial.order.id in message and "not synced" in message
    synced = bundle(1, [(PROD_A, 10)], stripe_id="sub_sched_123")
    ok = translate_contract(Contract(CONTRACT, synced, [amendment], initial_in_run=False), ctx)
    assert ok.failures == {} and ok.main is not None and ok.main.known_id == "sub_sched_123"


def test_grouping_finds_the_initial_order_among_the_contract_orders() -> None:
    initial = bundle(1, [(PROD_A, 10)], stripe_id="sub_sched_1")
    amendment = amend(2, 1, [(PROD_A, 1, A1)])
    other = bundle(5, [(PROD_B, 1)])
    other = OrderBundle(other.order.model_copy(update={"contract_id": None}), other.items, other.account)
    alone, contracts = group_contracts([amendment, other], [initial])
    assert [b.order.id for b in alone] == [other.order.id]
    (contract,) = contracts
    assert contract.initial is initial and contract.amendments == [amendment] and not contract.initial_in_run
    # A contract with no amendment syncs its orders on their own.
    alone, contracts = group_contracts([initial], [])
    assert alone == [initial] and contracts == []


def test_phase_boundaries_are_utc_midnights(ctx: TranslateContext) -> None:
    result = translate_contract(Contract(CONTRACT, bundle(1, [(PROD_A, 10)]), [amend(2, 1, [(PROD_B, 1)])]), ctx)
    assert result.main is not None
    phases = result.main.params["phases"]
    assert phases[0]["end_date"] == phases[1]["start_date"] == utc_midnight(M(START, 1))
    assert phases[1]["items"][1]["price"] == Ref(B)


def evergreen(b: OrderBundle) -> OrderBundle:
    items = [i.model_copy(update={"subscription_type": "Evergreen"}) for i in b.items]
    return OrderBundle(b.order, items, b.account, b.products, b.pricebook_entries)


def test_evergreen_order_is_a_subscription_and_mixing_is_an_error(ctx: TranslateContext) -> None:
    initial = evergreen(bundle(1, [(PROD_A, 2)]))
    main = translate_order(initial, ctx).main
    assert main.kind.value == "subscription" and main.params["collection_method"] == "send_invoice"
    assert main.children["start_date"] == utc_midnight(START) and "cancel_at" not in main.children
    mixed = bundle(1, [(PROD_A, 2), (PROD_B, 1)])
    mixed = OrderBundle(mixed.order, [evergreen(mixed).items[0], mixed.items[1]], mixed.account, mixed.products,
                        mixed.pricebook_entries)  # fmt: skip
    with pytest.raises(Exception, match="mixes evergreen lines") as err:
        translate_order(mixed, ctx)
    assert getattr(err.value, "record_id", None) == B1


def test_evergreen_cancellation_and_other_amendments(ctx: TranslateContext) -> None:
    initial = evergreen(bundle(1, [(PROD_A, 2)]))
    cancel = evergreen(amend(2, 3, [(PROD_A, -2, A1)]))
    result = translate_contract(Contract(CONTRACT, initial, [cancel]), ctx)
    assert result.failures == {} and result.main is not None
    assert result.main.children["cancel_at"] == utc_midnight(M(START, 3))
    assert result.main.children["amendments"] == [cancel.order.id]
    upsell = evergreen(amend(2, 3, [(PROD_A, 1, A1)]))
    refused = translate_contract(Contract(CONTRACT, initial, [upsell]), ctx)
    assert "only cancellations" in refused.failures[upsell.order.id].message


def mdq_line(order: int, n: int, index: int, qty: int, months: tuple[int, int], revised: str | None = None) -> Any:
    begin, end = M(START, months[0]), M(START, months[1])
    return OrderItemRecord.from_flat(
        {
            "id": item_id(order, n), "orderid": order_id(order), "product2id": PROD_A, "pricebookentryid": PBE_A,
            "quantity": qty, "unitprice": 10 * (months[1] - months[0]), "currencyisocode": "USD",
            "sbqq__chargetype__c": "Recurring", "sbqq__billingfrequency__c": "Monthly",
            "sbqq__subscriptionpricing__c": "Fixed Price", "sbqq__subscriptionterm__c": months[1] - months[0],
            "sbqq__defaultsubscriptionterm__c": 1, "servicedate": begin.isoformat(),
            "enddate": (end - dt.timedelta(days=1)).isoformat(), "sbqq__segmentindex__c": index,
            "sbqq__segmentlabel__c": f"Year {index}", "sbqq__segmentkey__c": "K1",
            "sbqq__revisedorderproduct__c": revised,
        }
    )  # fmt: skip


def test_mdq_amendment_changes_the_current_and_later_segments_matched_by_dates(ctx: TranslateContext) -> None:
    base = bundle(1, [(PROD_A, 1)])
    end = M(START, 36)
    order = base.order.model_copy(update={"quote_term": Decimal(36), "end_date": end - dt.timedelta(days=1)})
    segments = [mdq_line(1, k, k + 1, 10 + 5 * k, (12 * k, 12 * (k + 1))) for k in range(3)]
    initial = OrderBundle(order, segments, base.account, base.products, base.pricebook_entries)
    am = amend(2, 18, [(PROD_A, 1)])
    deltas = [mdq_line(2, 0, 2, 5, (18, 24), segments[1].id), mdq_line(2, 1, 3, 5, (24, 36), segments[2].id)]
    amendment = OrderBundle(am.order.model_copy(update={"end_date": end - dt.timedelta(days=1)}), deltas,
                            am.account, am.products, am.pricebook_entries)  # fmt: skip
    result = translate_contract(Contract(CONTRACT, initial, [amendment]), ctx)
    assert result.failures == {}
    view = [(s, e, sorted(q.values())) for s, e, q in phase_view(result)]
    assert view == [
        (START, M(START, 12), [10]),
        (M(START, 12), M(START, 18), [15]),
        (M(START, 18), M(START, 24), [20]),
        (M(START, 24), end, [25]),
    ]
    assert result.main is not None
    labels = [p["metadata"].get("salesforce_segment_label") for p in result.main.params["phases"]]
    assert labels == ["Year 1", "Year 2", "Year 2", "Year 3"]


END18 = M(START, 18)
SEATS = item_id(1, 0)  # the 18-month contract's annual seats


def months_from_start(day: dt.date) -> int:
    return (day.year - START.year) * 12 + day.month - START.month


def money_view(
    result: ContractTranslation,
) -> tuple[list[tuple[dt.date, dict[str, int], list[tuple[int, int]]]], list[int]]:
    """Each phase's start, its items' quantities and its one-time prorated items (cents a unit, units); then the
    credits."""
    assert result.main is not None
    phases = []
    for (start, _, items), phase in zip(phase_view(result), result.main.params["phases"], strict=True):
        stubs = [(int(Decimal(a["price_data"]["unit_amount_decimal"])), a["quantity"])
                 for a in phase.get("add_invoice_items", []) if "price_data" in a]  # fmt: skip
        phases.append((start, items, stubs))
    return phases, [a["amount"] for a in result.main.children.get("adjustments", [])]


# An 18-month contract of 3 annual seats (10 USD a month: 120 a year, UnitPrice 180): the first year bills whole,
# the 6 months left over bill once at month 12 (60 a seat), the seats idle at quantity 0. Each amendment below is
# priced by CPQ for the rest of the term (10 USD a month of it) and bills exactly that, period by period.
PRORATED_TERM: list[tuple[str, int, list[Any], list[Any], list[int]]] = [
    (
        "2 seats added in month 4: 8 months to the year's end once, then the leftover 6 with the others",
        4, [(PROD_Y, 2, SEATS)],
        [(START, {Y: 3}, []), (M(START, 4), {Y: 5}, [(8000, 2)]), (M(START, 12), {Y: 0}, [(6000, 5)])],
        [],
    ),
    (
        "1 seat removed in month 4: credited the 8 unused months; the leftover bills for 2",
        4, [(PROD_Y, -1, SEATS)],
        [(START, {Y: 3}, []), (M(START, 4), {Y: 2}, []), (M(START, 12), {Y: 0}, [(6000, 2)])],
        [-8000],
    ),
    (
        "a monthly product added in month 4 bills monthly to the end, through the leftover months",
        4, [(PROD_B, 2)],
        [(START, {Y: 3}, []), (M(START, 4), {Y: 3, B: 2}, []), (M(START, 12), {Y: 0, B: 2}, [(6000, 3)])],
        [],
    ),
    (
        "2 seats added in month 14, in the leftover months: their 4 months once",
        14, [(PROD_Y, 2, SEATS)],
        [(START, {Y: 3}, []), (M(START, 12), {Y: 0}, [(6000, 3)]), (M(START, 14), {Y: 0}, [(4000, 2)])],
        [],
    ),
    (
        "1 seat removed in month 14: its 4 unused months credited",
        14, [(PROD_Y, -1, SEATS)],
        [(START, {Y: 3}, []), (M(START, 12), {Y: 0}, [(6000, 3)]), (M(START, 14), {Y: 0}, [])],
        [-4000],
    ),
    (
        "terminated in month 4: idle to the year's end, the 8 unused months credited, no leftover billed",
        4, [(PROD_Y, -3, SEATS)],
        [(START, {Y: 3}, []), (M(START, 4), {Y: 0}, [])],
        [-3 * 8000],
    ),
    (
        "2 seats added on the leftover's first day: the leftover bills them with the others",
        12, [(PROD_Y, 2, SEATS)],
        [(START, {Y: 3}, []), (M(START, 12), {Y: 0}, [(6000, 5)])],
        [],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "month", "changes", "phases", "credits"), PRORATED_TERM,
                         ids=[c[0] for c in PRORATED_TERM])  # fmt: skip
def test_amendments_of_a_prorated_term(
    ctx: TranslateContext, name: str, month: int, changes: list[Any], phases: list[Any], credits: list[int]
) -> None:
    initial = bundle(1, [(PROD_Y, 3)], to=END18)
    amendment = bundle(2, changes, start=M(START, month), amendment=True, to=END18)
    result = translate_contract(Contract(CONTRACT, initial, [amendment]), ctx)
    assert result.failures == {} and result.applied == [amendment.order.id]
    assert money_view(result) == (phases, credits)
    assert result.main is not None
    alone = translate_order(initial, ctx).main.params["phases"]
    before = [p for p in result.main.params["phases"] if p["end_date"] <= utc_midnight(M(START, month))]
    assert [{k: v for k, v in p.items() if k not in ("start_date", "end_date")} for p in before] == [
        {k: v for k, v in p.items() if k != "duration"} for p in alone[: len(before)]
    ]  # the phases before the amendment are the initial order's, unchanged
    # In money: the contract bills what CPQ sold, the initial order's 3 x 180 and the amendment's TotalPrice.
    view, adjustments = money_view(result)
    months = [(s, M(START, 18) if i + 1 == len(view) else view[i + 1][0]) for i, (s, _, _) in enumerate(view)]
    billed = sum(adjustments)
    for (start, items, stubs), (_, end) in zip(view, months, strict=True):
        billed += sum(cents * units for cents, units in stubs)
        for key, quantity in items.items():  # a period bills at each of its boundaries within the phase
            every = 12 if key == Y else 1
            offsets = range(months_from_start(start), months_from_start(end))
            billed += quantity * sum(1 for m in offsets if m % every == 0) * (12000 if key == Y else 2000)
    sold = 3 * 18000 + sum(int(i.quantity * i.unit_price * 100) for i in amendment.items)
    assert billed == sold


# Stripe bills at most 20 one-time items per phase: an amendment of the 18-month contract of 1 annual seat adds
# `new` lines of annual seats in month 4 (each bills its 8 months to the year's end once, then its leftover 6
# months with the others at month 12) and `one_time` one-time lines. (new, one_time) -> the error, or None.
ONE_TIME_LIMIT: list[tuple[str, int, int, str | None]] = [
    ("19 seats added: 19 prorated charges in month 4, 20 leftovers at month 12", 19, 0, None),
    ("20 seats added: 20 in month 4, but 21 leftovers at month 12", 20, 0,
     "21 one-time items in one phase (0 one-time lines, 21 prorated charges); Stripe allows 20 per phase."),
    ("15 seats and 6 one-time lines: 21 in month 4", 15, 6,
     "21 one-time items in one phase (6 one-time lines, 15 prorated charges); Stripe allows 20 per phase."),
]  # fmt: skip


@pytest.mark.parametrize(("name", "new", "one_time", "error"), ONE_TIME_LIMIT, ids=[c[0] for c in ONE_TIME_LIMIT])
def test_every_phase_of_an_amended_contract_keeps_to_stripes_20_one_time_items(
    ctx: TranslateContext, name: str, new: int, one_time: int, error: str | None
) -> None:
    initial = bundle(1, [(PROD_Y, 1)], to=END18)
    amendment = bundle(2, [(PROD_Y, 1)] * new, start=M(START, 4), amendment=True, to=END18)
    extra = [i.model_copy(update={"id": item_id(2, 100 + k), "charge_type": "One-Time", "billing_frequency": None})
             for k, i in enumerate([amendment.items[0]] * one_time)]  # fmt: skip
    amendment = OrderBundle(amendment.order, [*amendment.items, *extra], amendment.account, amendment.products,
                            amendment.pricebook_entries)  # fmt: skip
    result = translate_contract(Contract(CONTRACT, initial, [amendment]), ctx)
    if error is None:
        assert result.failures == {} and result.main is not None
        counts = [len(p.get("add_invoice_items", [])) for p in result.main.params["phases"]]
        assert counts == [0, new + one_time, new + 1]
        return
    failure = result.failures[amendment.order.id]
    assert (failure.object_type, failure.record_id, failure.field) == ("Order", amendment.order.id, "OrderItems")
    assert failure.problem == error
    assert result.applied == []


def migrated(b: OrderBundle, activated: str) -> OrderBundle:
    order = b.order.model_copy(update={"activated_date": dt.datetime.fromisoformat(activated)})
    return OrderBundle(order, b.items, b.account, b.products, b.pricebook_entries)


# A 12-month contract of 10 x A (10 USD a month) activated before the sync start date (2026-03-15) and migrated:
# its first 3 months were billed by the system the sync replaces. (amendment month, lines, activated before the
# sync start) -> phases (start, quantities, prorated (cents a unit, units)) and credits.
MIGRATED_AMENDMENTS: list[tuple[str, int, list[Any], bool, list[Any], list[int]]] = [
    (
        "an amendment after the paid months bills as usual",
        5, [(PROD_A, 2, A1)], False,
        [(START, {A: 0}, []), (M(START, 3), {A: 10}, []), (M(START, 5), {A: 12}, [])], [],
    ),
    (
        "an amendment activated after the sync start, inside the paid months: its units' months to their end once",
        1, [(PROD_A, 2, A1)], False,
        [(START, {A: 0}, []), (M(START, 1), {A: 0}, [(2000, 2)]), (M(START, 3), {A: 12}, [])], [],
    ),
    (
        "a migrated amendment inside the paid months: billed by the replaced system too",
        1, [(PROD_A, 2, A1)], True,
        [(START, {A: 0}, []), (M(START, 1), {A: 0}, []), (M(START, 3), {A: 12}, [])], [],
    ),
    (
        "units removed inside the paid months by a later amendment: their paid months credited",
        1, [(PROD_A, -2, A1)], False,
        [(START, {A: 0}, []), (M(START, 1), {A: 0}, []), (M(START, 3), {A: 8}, [])], [-4000],
    ),
    (
        "a product added inside the paid months by a migrated amendment: billed by the replaced system too",
        1, [(PROD_B, 2)], True,
        [(START, {A: 0}, []), (M(START, 1), {A: 0, B: 0}, []), (M(START, 3), {A: 10, B: 2}, [])], [],
    ),
    (
        "a product added inside the paid months by a later amendment: billed from its start",
        1, [(PROD_B, 2)], False,
        [(START, {A: 0}, []), (M(START, 1), {A: 0, B: 2}, []), (M(START, 3), {A: 10, B: 2}, [])], [],
    ),
    (
        "an annual product added by a migrated amendment: its months to the year's end billed by the replaced system",
        1, [(PROD_Y, 1)], True,
        [(START, {A: 0}, []), (M(START, 1), {A: 0, Y: 0}, []), (M(START, 3), {A: 10, Y: 0}, [])], [],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "month", "changes", "old", "phases", "credits"), MIGRATED_AMENDMENTS,
                         ids=[c[0] for c in MIGRATED_AMENDMENTS])  # fmt: skip
def test_amendments_of_a_migrated_order(
    ctx: TranslateContext, name: str, month: int, changes: list[Any], old: bool, phases: Any, credits: list[int]
) -> None:
    import dataclasses

    migrating = dataclasses.replace(ctx, migrated_before=dt.date(2026, 3, 15))
    initial = migrated(bundle(1, [(PROD_A, 10)]), "2025-12-20T10:00:00+00:00")
    amendment = migrated(amend(2, month, changes), "2026-03-01T10:00:00+00:00" if old else "2026-03-20T10:00:00+00:00")
    result = translate_contract(Contract(CONTRACT, initial, [amendment]), migrating)
    assert result.failures == {} and result.applied == [amendment.order.id]
    assert money_view(result) == (phases, credits)
    assert result.main is not None
    alone = translate_order(initial, migrating).main.params["phases"]
    assert {k: v for k, v in alone[0].items() if k != "duration"} == {
        k: v for k, v in result.main.params["phases"][0].items() if k not in ("start_date", "end_date")
    }


def test_a_new_line_of_a_migrated_amendment_bills_from_its_first_period_after_the_sync_start(
    ctx: TranslateContext,
) -> None:
    """A 12-month contract of 10 x A (monthly) migrated with the sync start date 2026-04-15; a migrated amendment
    adds 2 of a quarterly B from month 1 (February). The replaced system billed B's 2 months to the quarter and
    the quarter from April (it started before the sync start date), so B bills from July, in a phase of its own;
    A bills from May, its first month after the sync start date."""
    import dataclasses

    migrating = dataclasses.replace(ctx, migrated_before=dt.date(2026, 4, 15))
    initial = migrated(bundle(1, [(PROD_A, 10)]), "2025-12-20T10:00:00+00:00")
    amendment = migrated(amend(2, 1, [(PROD_B, 2)], frequency="Quarterly"), "2026-04-01T10:00:00+00:00")
    result = translate_contract(Contract(CONTRACT, initial, [amendment]), migrating)
    assert result.failures == {} and result.applied == [amendment.order.id]
    assert money_view(result) == (
        [(START, {A: 0}, []), (M(START, 1), {A: 0, B: 0}, []), (M(START, 4), {A: 10, B: 0}, []),
         (M(START, 6), {A: 10, B: 2}, [])],
        [],
    )  # fmt: skip
