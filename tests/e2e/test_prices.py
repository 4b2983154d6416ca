"""Prices beyond flat and currencies, end to end on the two sandboxes (issue 5, items 7 and 8): metered usage on
billing meters, tiers from consumption schedules, block pricing, a changed price book entry replaced in an
incremental run, a JPY order, and one currency per customer. Checked in money with the billing preview."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.api import Salesforce

from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from tests.e2e.support import (
    FREQUENCY_MONTHS,
    account_id,
    add_months,
    connect_both,
    run_sync,
    stripe_posts,
    sync_records,
)

pytestmark = pytest.mark.xdist_group("prefect")


@pytest.fixture
def org(sandbox: Path) -> Path:
    sandbox_sf.seed_org(sandbox, orders=0, seed=11)  # the demo catalogue and accounts, no orders
    return sandbox


def entry(sf: Salesforce, product: str, currency: str) -> dict[str, Any]:
    soql = (
        "SELECT Id, UnitPrice, Product2Id, Pricebook2Id, Product2.SBQQ__ChargeType__c, "
        "Product2.SBQQ__BillingFrequency__c, Product2.SBQQ__BillingType__c, Product2.SBQQ__PricingMethod__c "
        f"FROM PricebookEntry WHERE Product2.Name = '{product}' AND CurrencyIsoCode = '{currency}' "
        "AND Pricebook2.IsStandard = true"
    )
    (record,) = sf.query(soql)["records"]
    return dict(record)


def order(
    sf: Salesforce,
    account: str,
    lines: list[tuple[str, int]],
    *,
    start: dt.date,
    term: int = 12,
    currency: str = "USD",
    unit_prices: dict[str, Decimal] | None = None,
) -> tuple[str, list[str]]:
    """An activated CPQ order in `currency`, priced the way CPQ prices each kind of line: recurring lines for the
    whole term (the prorate multiplier), usage lines per unit, block lines for the block."""
    quote = sf.SBQQ__Quote__c.create(
        {
            "SBQQ__Account__c": account,
            "SBQQ__Primary__c": True,
            "SBQQ__StartDate__c": start.isoformat(),
            "SBQQ__SubscriptionTerm__c": term,
            "CurrencyIsoCode": currency,
        }
    )["id"]
    first = entry(sf, lines[0][0], currency)
    order_id = sf.Order.create(
        {
            "AccountId": account,
            "Status": "Draft",
            "EffectiveDate": start.isoformat(),
            "Pricebook2Id": first["Pricebook2Id"],
            "SBQQ__Quote__c": quote,
            "CurrencyIsoCode": currency,
            "Type": "New",
            "Description": "kind: test",
        }
    )["id"]
    items = []
    for name, quantity in lines:
        pbe = entry(sf, name, currency)
        product = pbe["Product2"]
        charge = product["SBQQ__ChargeType__c"]
        list_price = Decimal(str(pbe["UnitPrice"]))
        unit = (unit_prices or {}).get(name, list_price)
        fields: dict[str, Any] = {
            "OrderId": order_id,
            "PricebookEntryId": pbe["Id"],
            "Product2Id": pbe["Product2Id"],
            "Quantity": quantity,
            "SBQQ__ChargeType__c": charge,
            "UnitPrice": float(unit),
        }
        if charge == "One-Time":
            items.append(sf.OrderItem.create(fields)["id"])
            continue
        months = FREQUENCY_MONTHS[product["SBQQ__BillingFrequency__c"]]
        fields |= {
            "SBQQ__BillingType__c": product["SBQQ__BillingType__c"],
            "SBQQ__BillingFrequency__c": product["SBQQ__BillingFrequency__c"],
            "SBQQ__PricingMethod__c": product["SBQQ__PricingMethod__c"],
            "SBQQ__SubscriptionType__c": "Renewable",
            "SBQQ__SubscriptionTerm__c": term,
            "SBQQ__DefaultSubscriptionTerm__c": months,
            "ServiceDate": start.isoformat(),
            "EndDate": (add_months(start, term) - dt.timedelta(days=1)).isoformat(),
        }
        if charge == "Recurring":
            multiplier = Decimal(term) / months
            fields.update(
                UnitPrice=float((unit * multiplier).quantize(Decimal("0.01"))),
                SBQQ__SubscriptionPricing__c="Fixed Price",
                SBQQ__ProrateMultiplier__c=float(multiplier),
            )
        items.append(sf.OrderItem.create(fields)["id"])
    sf.Order.update(order_id, {"Status": "Activated"})
    return order_id, items


def first_of_month(directory: Path) -> dt.date:
    return sandbox_sf.now(directory).date().replace(day=1)


def meters(stripe: Any) -> dict[str, Any]:
    return {m.event_name: m for m in stripe.v1.billing.meters.list({"limit": 100}).data}


def preview_totals(directory: Path, schedule_id: str) -> list[int]:
    return [invoice.total for invoice in sandbox_stripe.billing_preview(directory, schedule_id)]


def test_usage_lines_bill_on_one_meter_per_product_with_tiers_from_consumption_schedules(org: Path) -> None:
    sf, stripe = connect_both(org)
    acct = account_id(sf, "Acme%")
    start = first_of_month(org)
    order_id, (seats, api, storage, messages) = order(
        sf,
        acct,
        [("Platform Subscription", 10), ("API Calls (per 1,000)", 1), ("Data Storage", 1), ("Messaging", 1)],
        start=start,
    )
    report = run_sync(order_ids=[order_id])
    assert report.synced_orders == [order_id]

    schedule = stripe.v1.subscription_schedules.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])
    (phase,) = schedule.phases
    by_line = {i.metadata["salesforce_order_item_id"]: i for i in phase["items"]}
    assert by_line[seats].quantity == 10
    for line in (api, storage, messages):
        assert by_line[line].to_dict().get("quantity") is None  # metered items carry no quantity

    # One meter per usage product, its event name derived from the Salesforce product id.
    found = meters(stripe)
    products = {line: sf.OrderItem.get(line)["Product2Id"] for line in (api, storage, messages)}
    assert set(found) == {f"salesforce_usage_{p}" for p in products.values()}
    for meter in found.values():
        assert meter.default_aggregation.formula == "sum" and meter.status == "active"

    api_price = stripe.v1.prices.retrieve(by_line[api].price)
    assert api_price.recurring.usage_type == "metered"
    assert api_price.recurring.meter == found[f"salesforce_usage_{products[api]}"].id
    assert Decimal(api_price.unit_amount_decimal) == 50  # 0.50 USD per 1,000 calls

    slab = stripe.v1.prices.retrieve(by_line[storage].price, {"expand": ["tiers"]})
    assert slab.billing_scheme == "tiered" and slab.tiers_mode == "graduated"
    assert [(t.up_to, Decimal(t.unit_amount_decimal)) for t in slab.tiers] == [
        (1000, Decimal(10)),
        (10000, Decimal(8)),
        (None, Decimal(5)),
    ]
    assert slab.recurring.meter == found[f"salesforce_usage_{products[storage]}"].id
    volume = stripe.v1.prices.retrieve(by_line[messages].price, {"expand": ["tiers"]})
    assert volume.tiers_mode == "volume"
    assert Decimal(volume.tiers[0].flat_amount_decimal) == 2500 and volume.tiers[-1].up_to is None

    # In money: 12 monthly invoices of 10 seats at 49 USD; no usage was reported, so usage adds 0.
    assert preview_totals(org, schedule.id) == [49000] * 12

    # A second run writes nothing (and creates no second meter).
    before = len(stripe_posts(org))
    again = run_sync(order_ids=[order_id])
    assert again.stripe_writes == 0 and stripe_posts(org)[before:] == []

    # A later order with its own usage price finds the meter again instead of creating one.
    later, (later_api,) = order(
        sf, acct, [("API Calls (per 1,000)", 1)], start=start, unit_prices={"API Calls (per 1,000)": Decimal("0.4")}
    )
    run_sync(order_ids=[later])
    assert len(meters(stripe)) == 3
    later_price = stripe.v1.prices.retrieve(sf.OrderItem.get(later_api)["Stripe_ID__c"])
    assert later_price.recurring.meter == found[f"salesforce_usage_{products[api]}"].id
    assert Decimal(later_price.unit_amount_decimal) == 40
    assert not [p for p in stripe_posts(org)[before:] if p.path == "/v1/billing/meters"]


def test_block_priced_line_bills_the_block_once(org: Path) -> None:
    sf, stripe = connect_both(org)
    start = first_of_month(org)
    order_id, (block,) = order(sf, account_id(sf, "Acme%"), [("Storage Block 1 TB", 5)], start=start, term=24)
    run_sync(order_ids=[order_id])
    schedule = stripe.v1.subscription_schedules.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])
    (item,) = schedule.phases[0]["items"]
    assert item.quantity == 1  # five TB picked the block; the block is billed once
    assert Decimal(stripe.v1.prices.retrieve(item.price).unit_amount_decimal) == 250000
    # Two yearly invoices of the block price: what CPQ sold (UnitPrice 5,000 for 24 months).
    assert Decimal(str(sf.OrderItem.get(block)["UnitPrice"])) == 5000
    assert preview_totals(org, schedule.id) == [250000, 250000]


def test_a_changed_price_book_entry_becomes_a_new_price_and_the_old_schedule_keeps_the_old_one(org: Path) -> None:
    sf, stripe = connect_both(org)
    acct = account_id(sf, "Acme%")
    start = first_of_month(org)
    first, (line,) = order(sf, acct, [("Platform Subscription", 10)], start=start)
    run_sync()  # incremental, first run: everything so far
    pbe_id = sf.OrderItem.get(line)["PricebookEntryId"]
    old_price = sf.PricebookEntry.get(pbe_id)["Stripe_ID__c"]
    old_schedule = sf.Order.get(first)["Stripe_ID__c"]
    assert old_price.startswith("price_")

    sf.PricebookEntry.update(pbe_id, {"UnitPrice": 55})
    report = run_sync()  # incremental: the changed entry is extracted on its own

    new_price = sf.PricebookEntry.get(pbe_id)["Stripe_ID__c"]
    assert new_price != old_price
    assert Decimal(stripe.v1.prices.retrieve(new_price).unit_amount_decimal) == 5500
    assert stripe.v1.prices.retrieve(old_price).active is False
    (record,) = sync_records(sf, pbe_id)
    assert record["Resolution_Status__c"] == "Success" and new_price in record["Resolution_Message__c"]
    assert not report.failed
    # The schedule sold at 49 still bills 49, period after period, with the archived price.
    schedule = stripe.v1.subscription_schedules.retrieve(old_schedule)
    assert schedule.phases[0]["items"][0].price == old_price
    assert preview_totals(org, old_schedule) == [49000] * 12
    assert sf.OrderItem.get(line)["Stripe_ID__c"] == old_price

    # A new order at the new list price bills with the new price; then a run with no change writes nothing.
    second, _ = order(sf, acct, [("Platform Subscription", 2)], start=start)
    run_sync()
    item = stripe.v1.subscription_schedules.retrieve(sf.Order.get(second)["Stripe_ID__c"]).phases[0]["items"][0]
    assert item.price == new_price
    before = len(stripe_posts(org))
    assert run_sync().stripe_writes == 0 and stripe_posts(org)[before:] == []


def test_a_jpy_order_bills_whole_yen(org: Path) -> None:
    sf, stripe = connect_both(org)
    usd = entry(sf, "Platform Subscription", "USD")
    sf.PricebookEntry.create(
        {
            "Pricebook2Id": usd["Pricebook2Id"],
            "Product2Id": usd["Product2Id"],
            "UnitPrice": 7000,
            "IsActive": True,
            "UseStandardPrice": False,
            "CurrencyIsoCode": "JPY",
        }
    )
    order_id, _ = order(
        sf, account_id(sf, "Apex%"), [("Platform Subscription", 3)], start=first_of_month(org), currency="JPY"
    )
    run_sync(order_ids=[order_id])
    schedule_id = sf.Order.get(order_id)["Stripe_ID__c"]
    price = stripe.v1.prices.retrieve(
        stripe.v1.subscription_schedules.retrieve(schedule_id).phases[0]["items"][0].price
    )
    assert price.currency == "jpy" and Decimal(price.unit_amount_decimal) == 7000  # yen, not 700,000
    invoices = sandbox_stripe.billing_preview(org, schedule_id)
    assert [(i.currency, i.total) for i in invoices] == [("jpy", 21000)] * 12


def test_a_customer_bills_in_one_currency(org: Path) -> None:
    sf, _ = connect_both(org)
    start = first_of_month(org)
    acct = account_id(sf, "Acme%")
    usd_order, _ = order(sf, acct, [("Platform Subscription", 1)], start=start)
    run_sync(order_ids=[usd_order])

    # Against what is already in Stripe: the account's customer bills in USD.
    eur_order, _ = order(sf, acct, [("Platform Subscription", 1)], start=start, currency="EUR")
    # Within one run: the first order of a new customer sets its currency; the next one in EUR fails.
    other = account_id(sf, "Apex%")
    first_usd, _ = order(sf, other, [("Platform Subscription", 1)], start=start)
    then_eur, _ = order(sf, other, [("Platform Subscription", 1)], start=start, currency="EUR")
    # A one-time order is an invoice, which may be in another currency than the customer's subscriptions.
    one_time_eur, _ = order(sf, acct, [("Implementation Services", 1)], start=start, currency="EUR")
    report = run_sync(order_ids=[eur_order, first_usd, then_eur, one_time_eur])

    assert sorted(report.synced_orders) == sorted([first_usd, one_time_eur])
    for failed, where in ((eur_order, "already in Stripe"), (then_eur, "earlier in this run")):
        (record,) = sync_records(sf, failed)
        assert record["Resolution_Status__c"] == "Error"
        message = record["Resolution_Message__c"]
        assert f"Order {failed}, field CurrencyIsoCode" in message and "EUR" in message and where in message
        assert sf.Order.get(failed)["Stripe_ID__c"] is None


def test_a_changed_consumption_rate_replaces_the_tiered_price(org: Path) -> None:
    sf, stripe = connect_both(org)
    # The order was synced an hour ago and has left the incremental window since.
    sandbox_sf.set_clock(org, sandbox_sf.now(org) - dt.timedelta(hours=1))
    order_id, (storage,) = order(sf, account_id(sf, "Acme%"), [("Data Storage", 1)], start=first_of_month(org))
    run_sync()
    sandbox_sf.set_clock(org, None)
    order(sf, account_id(sf, "Apex%"), [("Platform Subscription", 1)], start=first_of_month(org))
    run_sync()
    pbe_id = sf.OrderItem.get(storage)["PricebookEntryId"]
    old_price = sf.PricebookEntry.get(pbe_id)["Stripe_ID__c"]
    (middle,) = sf.query(
        "SELECT Id FROM ConsumptionRate WHERE LowerBound = 1000 AND ConsumptionSchedule.Type = 'Slab' "
        "AND ConsumptionSchedule.CurrencyIsoCode = 'USD'"
    )["records"]

    sf.ConsumptionRate.update(middle["Id"], {"Price": 0.07})
    before = len(stripe_posts(org))
    report = run_sync()  # the order is not read again: the rate change finds the entry through its product

    assert order_id not in report.synced_orders
    new_price = sf.PricebookEntry.get(pbe_id)["Stripe_ID__c"]
    assert new_price != old_price
    tiers = stripe.v1.prices.retrieve(new_price, {"expand": ["tiers"]}).tiers
    assert [Decimal(t.unit_amount_decimal) for t in tiers] == [10, 7, 5]
    assert stripe.v1.prices.retrieve(old_price).active is False
    schedule = stripe.v1.subscription_schedules.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])
    assert schedule.phases[0]["items"][0].price == old_price
    writes = [(p.method.upper(), p.path) for p in stripe_posts(org)[before:]]
    assert writes == [("POST", "/v1/prices"), ("POST", f"/v1/prices/{old_price}")]
