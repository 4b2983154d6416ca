"""Coupons end to end (issue 5, item 6): CPQ coupons on quotes and quote lines, synced to the sandbox Stripe and
checked in money with its billing preview, period by period."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.api import Salesforce

from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from tests.e2e.support import account_id, connect_both, create_order, run_sync, stripe_posts, sync_records

pytestmark = pytest.mark.xdist_group("prefect")

FREQUENCY_MONTHS = {"Monthly": 1, "Quarterly": 3, "Semiannual": 6, "Annual": 12}


@pytest.fixture
def org(sandbox: Path) -> Path:
    sandbox_sf.seed_org(sandbox, orders=40, seed=7)
    return sandbox


# --- building coupons in Salesforce, through the real client ---------------------------------------------------


def new_coupon(sf: Salesforce, name: str, **fields: Any) -> str:
    return str(
        sf.Quote_Stripe_Coupon__c.create({"Name": name, "Name__c": name, "CurrencyIsoCode": "USD", **fields})["id"]
    )


def on_order(sf: Salesforce, order_id: str, coupon_id: str) -> None:
    quote = sf.Order.get(order_id)["SBQQ__Quote__c"]
    sf.Quote_Stripe_Coupon_Association__c.create(
        {"Name": f"{quote}-{coupon_id}", "Quote__c": quote, "Quote_Stripe_Coupon__c": coupon_id}
    )


def on_line(sf: Salesforce, item_id: str, coupon_id: str) -> None:
    """A quote line for the order line (as CPQ makes them), carrying the coupon."""
    item = sf.OrderItem.get(item_id)
    quote_line = item.get("SBQQ__QuoteLine__c")
    if not quote_line:
        quote = sf.Order.get(item["OrderId"])["SBQQ__Quote__c"]
        quote_line = sf.SBQQ__QuoteLine__c.create(
            {"SBQQ__Quote__c": quote, "SBQQ__Product__c": item["Product2Id"], "SBQQ__Quantity__c": item["Quantity"]}
        )["id"]
        sf.OrderItem.update(item_id, {"SBQQ__QuoteLine__c": quote_line})
    sf.Quote_Line_Stripe_Coupon_Association__c.create(
        {"Name": f"{quote_line}-{coupon_id}", "Quote_Line__c": quote_line, "Quote_Stripe_Coupon__c": coupon_id}
    )


# --- what CPQ sold, after the coupons, invoice by invoice --------------------------------------------------------


def cents(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def take(coupons: list[dict[str, Any]], base: int, month: int) -> int:
    """What the coupons in force on an invoice issued `month` months into the contract take off `base`:
    percentages first, then amounts, never below zero."""
    live = [
        c
        for c in coupons
        if c["Duration__c"] == "forever"
        or (c["Duration__c"] == "once" and month == 0)
        or (c["Duration__c"] == "repeating" and month < int(c["Duration_In_Months__c"]))
    ]
    remaining = base
    for c in sorted(live, key=lambda c: c["Percent_Off__c"] is None):
        if c["Percent_Off__c"] is not None:
            remaining -= cents(Decimal(str(c["Percent_Off__c"])) * remaining / 100)
        else:
            remaining -= min(remaining, cents(Decimal(str(c["Amount_Off__c"])) * 100))
    return base - remaining


def sold_after_coupons(
    sf: Salesforce, order_id: str, order_coupons: list[str], line_coupons: dict[str, list[str]]
) -> list[int]:
    """Each invoice of an order billed at one frequency: its lines' amounts for the period (CPQ's UnitPrice covers
    the term), less the line coupons on each line, then the order coupons on the rest. Skipped lines left out."""
    coupon_fields = "Id, Percent_Off__c, Amount_Off__c, Duration__c, Duration_In_Months__c"
    coupons = {c["Id"]: c for c in sf.query_all(f"SELECT {coupon_fields} FROM Quote_Stripe_Coupon__c")["records"]}
    items = [
        i
        for i in sf.query_all(
            "SELECT Id, Quantity, UnitPrice, SBQQ__ChargeType__c, SBQQ__BillingFrequency__c, "
            f"SBQQ__SubscriptionTerm__c, Skip_Line_Item__c FROM OrderItem WHERE OrderId = '{order_id}'"
        )["records"]
        if not i["Skip_Line_Item__c"]
    ]
    recurring = [i for i in items if i["SBQQ__ChargeType__c"] == "Recurring"]
    (term,) = {int(i["SBQQ__SubscriptionTerm__c"]) for i in recurring}
    (interval,) = {FREQUENCY_MONTHS[i["SBQQ__BillingFrequency__c"]] for i in recurring}
    totals = []
    for n in range(term // interval):
        lines = []
        for item in items:
            if item not in recurring and n > 0:
                continue
            whole = Decimal(str(item["UnitPrice"])) * Decimal(str(item["Quantity"])) * 100
            amount = cents(whole * interval / term if item in recurring else whole)
            taken = take([coupons[c] for c in line_coupons.get(item["Id"], [])], amount, n * interval)
            lines.append(amount - taken)
        base = sum(lines)
        totals.append(base - take([coupons[c] for c in order_coupons], base, n * interval))
    return totals


def coupons_of(sf: Salesforce, order_id: str) -> tuple[list[str], dict[str, list[str]]]:
    """The order's coupons as Salesforce holds them: through its quote, and through each line's quote line."""
    quote = sf.Order.get(order_id)["SBQQ__Quote__c"]
    soql = "SELECT Quote_Stripe_Coupon__c FROM Quote_Stripe_Coupon_Association__c WHERE Quote__c = '{}' ORDER BY Id"
    order_coupons = [a["Quote_Stripe_Coupon__c"] for a in sf.query_all(soql.format(quote))["records"]]
    line_coupons: dict[str, list[str]] = {}
    items = sf.query_all(f"SELECT Id, SBQQ__QuoteLine__c FROM OrderItem WHERE OrderId = '{order_id}'")["records"]
    for item in items:
        if item["SBQQ__QuoteLine__c"]:
            soql = (
                "SELECT Quote_Stripe_Coupon__c FROM Quote_Line_Stripe_Coupon_Association__c "
                f"WHERE Quote_Line__c = '{item['SBQQ__QuoteLine__c']}' ORDER BY Id"
            )
            line_coupons[item["Id"]] = [a["Quote_Stripe_Coupon__c"] for a in sf.query_all(soql)["records"]]
    return order_coupons, line_coupons


def preview_totals(directory: Path, schedule_id: str) -> list[int]:
    return [invoice.total for invoice in sandbox_stripe.billing_preview(directory, schedule_id)]


def schedule_of(sf: Salesforce, stripe: Any, order_id: str) -> Any:
    return stripe.v1.subscription_schedules.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])


# --- the scenarios ------------------------------------------------------------------------------------------------


def test_order_line_once_and_stacked_coupons_bill_what_cpq_sold_after_discounts(org: Path) -> None:
    sf, stripe = connect_both(org)
    acct = account_id(sf, "Acme%")
    start = sandbox_sf.now(org).date().replace(day=1)

    # 1. An order-level 10% forever coupon (the one-time fee is discounted too: it is on the same invoice).
    ten = new_coupon(sf, "TEN-FOREVER", Percent_Off__c=10, Duration__c="forever")
    order_ten, _ = create_order(
        sf, acct, [("Platform Subscription", 10), ("Implementation Services", 1)], start=start, term=12
    )
    on_order(sf, order_ten, ten)
    # 2. A line-level 50 USD coupon for 3 months on the seats, a line-level once coupon on the one-time fee.
    fifty = new_coupon(sf, "FIFTY-3M", Amount_Off__c=50, Duration__c="repeating", Duration_In_Months__c=3)
    once = new_coupon(sf, "WELCOME-ONCE", Percent_Off__c=25, Duration__c="once", Max_Redemptions__c=10)
    order_lines, (seats, setup) = create_order(
        sf, acct, [("Platform Subscription", 4), ("Implementation Services", 1)], start=start, term=12
    )
    on_line(sf, seats, fifty)
    on_line(sf, setup, once)
    # 3. Two stacked order-level coupons: 10% forever then 20 USD forever.
    twenty = new_coupon(sf, "TWENTY-FOREVER", Amount_Off__c=20, Duration__c="forever")
    order_stacked, (stacked_line,) = create_order(sf, acct, [("Platform Subscription", 3)], start=start, term=6)
    on_order(sf, order_stacked, ten)
    on_order(sf, order_stacked, twenty)
    # ... and both kinds on one item: line-level 10% + 50 USD for 3 months.
    on_line(sf, stacked_line, ten)
    on_line(sf, stacked_line, fifty)

    report = run_sync(full=True)
    assert {order_ten, order_lines, order_stacked} <= set(report.synced_orders)

    # Stripe coupons, created once each and written back.
    by_sf = {c: sf.Quote_Stripe_Coupon__c.get(c) for c in (ten, fifty, once, twenty)}
    for record in by_sf.values():
        assert record["Stripe_ID__c"] and record["Stripe_Sync_Hash__c"]
    stripe_ten = stripe.v1.coupons.retrieve(by_sf[ten]["Stripe_ID__c"])
    assert (stripe_ten.percent_off, stripe_ten.duration, stripe_ten.name) == (10, "forever", "TEN-FOREVER")
    assert stripe_ten.metadata["salesforce_coupon_id"] == ten
    stripe_fifty = stripe.v1.coupons.retrieve(by_sf[fifty]["Stripe_ID__c"])
    assert (stripe_fifty.amount_off, stripe_fifty.currency) == (5000, "usd")
    assert (stripe_fifty.duration, stripe_fifty.duration_in_months) == ("repeating", 3)
    assert stripe.v1.coupons.retrieve(by_sf[once]["Stripe_ID__c"]).max_redemptions == 10
    ours = [
        c
        for c in stripe.v1.coupons.list({"limit": 100}).data
        if c.metadata.to_dict().get("salesforce_coupon_id") in by_sf
    ]
    assert len(ours) == 4  # the reused ones are one Stripe coupon each

    # Where they apply: phase discounts (order level), item discounts (line level), stacked in order.
    phase = schedule_of(sf, stripe, order_stacked).phases[0]
    assert [d.coupon for d in phase.discounts] == [by_sf[ten]["Stripe_ID__c"], by_sf[twenty]["Stripe_ID__c"]]
    assert [d.coupon for d in phase["items"][0].discounts] == [
        by_sf[ten]["Stripe_ID__c"],
        by_sf[fifty]["Stripe_ID__c"],
    ]

    # In money, invoice by invoice.
    expected_ten = sold_after_coupons(sf, order_ten, [ten], {})
    assert expected_ten[1:] == [44100] * 11  # 10 x 49 USD, less 10%
    assert preview_totals(org, sf.Order.get(order_ten)["Stripe_ID__c"]) == expected_ten
    expected_lines = sold_after_coupons(sf, order_lines, [], {seats: [fifty], setup: [once]})
    assert expected_lines[1] - expected_lines[0] < 0 < expected_lines[3] - expected_lines[2]  # once, then 3 months
    assert preview_totals(org, sf.Order.get(order_lines)["Stripe_ID__c"]) == expected_lines
    expected_stacked = sold_after_coupons(sf, order_stacked, [ten, twenty], {stacked_line: [ten, fifty]})
    assert len(expected_stacked) == 6
    assert preview_totals(org, sf.Order.get(order_stacked)["Stripe_ID__c"]) == expected_stacked

    # A rerun writes nothing, full or incremental.
    before = len(stripe_posts(org))
    again = run_sync(full=True)
    assert stripe_posts(org)[before:] == [] and again.stripe_writes == 0
    run_sync()
    assert stripe_posts(org)[before:] == []


def test_one_time_orders_take_their_coupons_on_the_invoice(org: Path) -> None:
    sf, stripe = connect_both(org)
    acct = account_id(sf, "Acme%")
    start = sandbox_sf.now(org).date()
    ten = new_coupon(sf, "TEN-ONCE", Percent_Off__c=10, Duration__c="once")
    hundred = new_coupon(sf, "HUNDRED", Amount_Off__c=100, Duration__c="once")
    order_id, (setup, training) = create_order(
        sf, acct, [("Implementation Services", 1), ("Training Workshop", 2)], start=start
    )
    on_order(sf, order_id, ten)
    on_line(sf, training, hundred)

    report = run_sync(full=True)

    assert order_id in report.synced_orders
    invoice = stripe.v1.invoices.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])
    items = {
        i["Id"]: i
        for i in sf.query_all(f"SELECT Id, Quantity, UnitPrice FROM OrderItem WHERE OrderId = '{order_id}'")["records"]
    }
    setup_cents = cents(Decimal(str(items[setup]["UnitPrice"])) * 100)
    training_cents = cents(Decimal(str(items[training]["UnitPrice"])) * 2 * 100) - 10000
    expected = setup_cents + training_cents
    expected -= cents(Decimal(expected) / 10)
    assert (invoice.subtotal, invoice.total) == (setup_cents + training_cents + 10000, expected)
    (preview,) = sandbox_stripe.billing_preview(org, invoice.id)
    assert preview.total == expected


def test_a_changed_coupon_is_replaced_and_later_orders_use_the_new_one(org: Path) -> None:
    sf, stripe = connect_both(org)
    acct = account_id(sf, "Acme%")
    start = sandbox_sf.now(org).date().replace(day=1)
    coupon = new_coupon(sf, "SPRING", Percent_Off__c=10, Duration__c="forever")
    first, _ = create_order(sf, acct, [("Platform Subscription", 2)], start=start)
    on_order(sf, first, coupon)
    run_sync(full=True)
    old_id = sf.Quote_Stripe_Coupon__c.get(coupon)["Stripe_ID__c"]
    first_schedule = sf.Order.get(first)["Stripe_ID__c"]
    before_change = preview_totals(org, first_schedule)

    sf.Quote_Stripe_Coupon__c.update(coupon, {"Percent_Off__c": 15})
    second, _ = create_order(sf, acct, [("Platform Subscription", 2)], start=start)
    on_order(sf, second, coupon)
    report = run_sync(full=True)
    assert second in report.synced_orders

    record = sf.Quote_Stripe_Coupon__c.get(coupon)
    new_id = record["Stripe_ID__c"]
    assert new_id != old_id
    assert stripe.v1.coupons.retrieve(new_id).percent_off == 15
    assert stripe.v1.coupons.retrieve(old_id).percent_off == 10  # coupons are immutable: the old one stays
    assert [d.coupon for d in schedule_of(sf, stripe, second).phases[0].discounts] == [new_id]
    assert preview_totals(org, sf.Order.get(second)["Stripe_ID__c"]) == sold_after_coupons(sf, second, [coupon], {})
    # The first order's schedule is in Stripe already and is not rewritten (changes come through amendments).
    assert [d.coupon for d in schedule_of(sf, stripe, first).phases[0].discounts] == [old_id]
    assert preview_totals(org, first_schedule) == before_change

    before = len(stripe_posts(org))
    run_sync(full=True)
    assert stripe_posts(org)[before:] == []


def test_invalid_coupons_fail_their_order_with_a_message_naming_the_coupon(org: Path) -> None:
    sf, stripe = connect_both(org)
    acct = account_id(sf, "Acme%")
    start = sandbox_sf.now(org).date().replace(day=1)
    cases = {
        "both": ({"Percent_Off__c": 10, "Amount_Off__c": 5, "Duration__c": "once"}, "Amount_Off__c"),
        "neither": ({"Duration__c": "once"}, "Percent_Off__c"),
        "over": ({"Percent_Off__c": 150, "Duration__c": "once"}, "Percent_Off__c"),
        "months": ({"Percent_Off__c": 10, "Duration__c": "repeating"}, "Duration_In_Months__c"),
        "currency": ({"Amount_Off__c": 5, "Duration__c": "once", "CurrencyIsoCode": "EUR"}, "CurrencyIsoCode"),
    }
    orders = {}
    for name, (fields, _) in cases.items():
        coupon = new_coupon(sf, name.upper(), **fields)
        order_id, (line,) = create_order(sf, acct, [("Platform Subscription", 1)], start=start)
        if name == "months":
            on_line(sf, line, coupon)
        else:
            on_order(sf, order_id, coupon)
        orders[name] = (order_id, coupon)
    good, _ = create_order(sf, acct, [("Platform Subscription", 1)], start=start)

    report = run_sync(full=True)

    assert good in report.synced_orders
    for name, (order_id, coupon) in orders.items():
        (record,) = sync_records(sf, order_id)
        assert record["Resolution_Status__c"] == "Error"
        assert record["Secondary_Record_ID__c"] == coupon
        field = cases[name][1]
        assert record["Resolution_Message__c"].startswith(
            f"Data Error: Quote_Stripe_Coupon__c {coupon}, field {field}: "
        )
        assert sf.Order.get(order_id)["Stripe_ID__c"] is None
        assert sf.Quote_Stripe_Coupon__c.get(coupon)["Stripe_ID__c"] is None
    invalid = {coupon for _, coupon in orders.values()}
    made = [
        c
        for c in stripe.v1.coupons.list({"limit": 100}).data
        if c.metadata.to_dict().get("salesforce_coupon_id") in invalid
    ]
    assert made == []  # nothing half-applied
    (over,) = sync_records(sf, orders["over"][0])
    assert "percent off 150" in over["Resolution_Message__c"]


def test_the_seeded_coupon_orders_sync_with_their_coupons(org: Path) -> None:
    """The demo company's coupon orders also hold usage lines and mixed billing frequencies (other parts of
    issue 5): with those lines skipped, every one syncs with its coupons and bills what CPQ sold after them."""
    sf, stripe = connect_both(org)
    orders = [
        o["Id"]
        for o in sf.query_all("SELECT Id, Description FROM Order")["records"]
        if o["Description"] == "kind: coupon"
    ]
    assert len(orders) == 3
    for order_id in orders:
        order_coupons, line_coupons = coupons_of(sf, order_id)
        assert order_coupons or any(line_coupons.values())
        items = sf.query_all(
            "SELECT Id, SBQQ__ChargeType__c, SBQQ__BillingFrequency__c "
            f"FROM OrderItem WHERE OrderId = '{order_id}' ORDER BY Id"
        )["records"]
        recurring = [i for i in items if i["SBQQ__ChargeType__c"] == "Recurring"]
        keep = next((i for i in recurring if line_coupons.get(i["Id"])), recurring[0])["SBQQ__BillingFrequency__c"]
        for item in items:
            if item["SBQQ__ChargeType__c"] == "Usage" or item["SBQQ__BillingFrequency__c"] not in (None, keep):
                sf.OrderItem.update(item["Id"], {"Skip_Line_Item__c": True})

    report = run_sync(full=True)

    for order_id in orders:
        assert order_id in report.synced_orders, sync_records(sf, order_id)
        order_coupons, line_coupons = coupons_of(sf, order_id)
        schedule = sf.Order.get(order_id)["Stripe_ID__c"]
        stripe_ids = {c: sf.Quote_Stripe_Coupon__c.get(c)["Stripe_ID__c"] for c in order_coupons}
        phase = stripe.v1.subscription_schedules.retrieve(schedule).phases[0]
        assert [d.coupon for d in phase.discounts] == [stripe_ids[c] for c in order_coupons]
        assert preview_totals(org, schedule) == sold_after_coupons(sf, order_id, order_coupons, line_coupons)
