"""The sync flow end to end, on the two sandboxes, checked through the real clients (issue 4)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.translate.dates import utc_midnight
from tests.e2e.support import (
    account_id,
    add_months,
    connect_both,
    create_order,
    run_sync,
    stripe_posts,
    sync_records,
)

pytestmark = pytest.mark.xdist_group("prefect")

SUPPORTED_SEEDED_KINDS = {"one_time"}


@pytest.fixture
def seeded(sandbox: Path) -> Path:
    sandbox_sf.seed_org(sandbox, orders=40, seed=7)
    return sandbox


def test_full_sync_creates_what_was_contracted(seeded: Path) -> None:
    sf, stripe = connect_both(seeded)
    today = sandbox_sf.now(seeded).date()
    start = today.replace(day=1)
    acct = account_id(sf, "Acme%")
    order_id, (seat_line, _setup_line) = create_order(
        sf, acct, [("Platform Subscription", 10), ("Implementation Services", 1)], start=start, term=12
    )
    annual_id, (_annual_line,) = create_order(sf, acct, [("Enterprise License", 3)], start=start, term=24)

    report = run_sync(full=True)
    assert order_id in report.synced_orders and annual_id in report.synced_orders

    # Salesforce got the Stripe ids back on all five objects.
    account = sf.Account.get(acct)
    order = sf.Order.get(order_id)
    line = sf.OrderItem.get(seat_line)
    pbe = sf.PricebookEntry.get(line["PricebookEntryId"])
    product = sf.Product2.get(line["Product2Id"])
    assert account["Stripe_ID__c"].startswith("cus_")
    assert order["Stripe_ID__c"].startswith("sub_sched_")
    assert pbe["Stripe_ID__c"].startswith("price_")
    assert line["Stripe_ID__c"] == pbe["Stripe_ID__c"]
    assert product["Stripe_ID__c"].startswith("prod_")

    # The customer carries the account's name, phone and addresses.
    customer = stripe.v1.customers.retrieve(account["Stripe_ID__c"])
    assert customer.name == account["Name"]
    assert customer.phone == account["Phone"]
    assert customer.address.line1 == account["BillingStreet"]
    assert customer.address.city == account["BillingCity"]
    assert customer.shipping.address.line1 == account["ShippingStreet"]
    assert customer.metadata["salesforce_account_id"] == acct

    # The schedule: right customer, start, end, items, quantities, one-time fee.
    schedule = stripe.v1.subscription_schedules.retrieve(order["Stripe_ID__c"])
    assert schedule.customer == customer.id
    assert schedule.end_behavior == "cancel"
    (phase,) = schedule.phases
    assert phase.start_date == utc_midnight(start)
    assert phase.end_date == utc_midnight(add_months(start, 12))
    (item,) = phase["items"]
    assert item.price == pbe["Stripe_ID__c"] and item.quantity == 10
    (fee,) = phase.add_invoice_items
    assert fee.quantity == 1
    assert schedule.metadata["salesforce_order_id"] == order_id

    # The price: 49 USD a month, as the price book says.
    price = stripe.v1.prices.retrieve(pbe["Stripe_ID__c"])
    assert Decimal(price.unit_amount_decimal) == 4900
    assert price.recurring.interval == "month" and price.recurring.interval_count == 1
    assert price.product == product["Stripe_ID__c"]
    assert stripe.v1.products.retrieve(product["Stripe_ID__c"]).name == product["Name"]

    # 24 months of an annual license: 1200 a year, 2 years.
    annual = stripe.v1.subscription_schedules.retrieve(sf.Order.get(annual_id)["Stripe_ID__c"])
    assert annual.phases[0].end_date == utc_midnight(add_months(start, 24))
    annual_price = stripe.v1.prices.retrieve(annual.phases[0]["items"][0].price)
    assert annual_price.recurring.interval_count == 12 and Decimal(annual_price.unit_amount_decimal) == 120000
    assert annual.phases[0]["items"][0].quantity == 3

    # A Success Sync Record per synced order, naming the Stripe object.
    (record,) = sync_records(sf, order_id)
    assert record["Resolution_Status__c"] == "Success"
    assert record["Stripe_Object_ID__c"] == order["Stripe_ID__c"]
    assert order["Stripe_ID__c"] in record["Resolution_Message__c"]


def test_one_time_orders_become_finalized_invoices(seeded: Path) -> None:
    sf, stripe = connect_both(seeded)
    run_sync(full=True)
    orders = [
        o
        for o in sf.query_all(
            "SELECT Id, Description, Stripe_ID__c, (SELECT Quantity, UnitPrice FROM OrderItems) FROM Order"
        )["records"]
        if o["Description"] == "kind: one_time"
    ]
    assert len(orders) == 2
    for order in orders:
        invoice = stripe.v1.invoices.retrieve(order["Stripe_ID__c"])
        assert invoice.status == "open"
        assert invoice.collection_method == "send_invoice"
        expected = sum(
            Decimal(str(i["Quantity"])) * Decimal(str(i["UnitPrice"])) for i in order["OrderItems"]["records"]
        )
        assert invoice.total == int(expected * 100)
        assert sync_records(sf, order["Id"])[0]["Resolution_Status__c"] == "Success"


def test_drafts_and_deleted_orders_are_left_alone(seeded: Path) -> None:
    sf, _ = connect_both(seeded)
    run_sync(full=True)
    every = sf.query_all("SELECT Id, Description, Stripe_ID__c FROM Order", include_deleted=True)["records"]
    for kind in ("draft", "deleted"):
        orders = [o for o in every if o["Description"] == f"kind: {kind}"]
        assert len(orders) == 2
        for order in orders:
            assert order["Stripe_ID__c"] is None
            assert sync_records(sf, order["Id"]) == []


def test_a_second_run_writes_nothing_and_a_phone_change_updates_only_that_customer(seeded: Path) -> None:
    sf, stripe = connect_both(seeded)
    acct = account_id(sf, "Acme%")
    create_order(sf, acct, [("Platform Subscription", 2)], start=sandbox_sf.now(seeded).date().replace(day=1))
    run_sync(full=True)
    before = len(stripe_posts(seeded))

    report = run_sync()  # incremental: sees our own write-back, changes nothing
    assert stripe_posts(seeded)[before:] == []
    assert report.stripe_writes == 0

    sf.Account.update(acct, {"Phone": "+1 555 0199"})
    run_sync()
    writes = stripe_posts(seeded)[before:]
    customer_id = sf.Account.get(acct)["Stripe_ID__c"]
    assert [(w.method.upper(), w.path) for w in writes] == [("POST", f"/v1/customers/{customer_id}")]
    assert stripe.v1.customers.retrieve(customer_id).phone == "+1 555 0199"


def test_bad_orders_fail_alone_with_a_clear_sync_record(seeded: Path) -> None:
    sf, stripe = connect_both(seeded)
    acct = account_id(sf, "Acme%")
    start = sandbox_sf.now(seeded).date().replace(day=1)
    weekly, (weekly_line,) = create_order(sf, acct, [("Platform Subscription", 5)], start=start)
    # "Weekly" is not in the sandbox org's (restricted) CPQ value set; "Invoice Plan" is, and Stripe has no such
    # recurrence either. The translation tables test "Weekly" itself.
    sf.OrderItem.update(weekly_line, {"SBQQ__BillingFrequency__c": "Invoice Plan"})
    decimal, (decimal_line,) = create_order(sf, acct, [("Platform Subscription", 5)], start=start)
    sf.OrderItem.update(decimal_line, {"Quantity": 2.5})
    good, _ = create_order(sf, acct, [("Platform Subscription", 5)], start=start)

    report = run_sync(full=True)

    (weekly_record,) = sync_records(sf, weekly)
    assert weekly_record["Resolution_Status__c"] == "Error"
    assert weekly_record["Secondary_Record_ID__c"] == weekly_line
    assert weekly_record["Resolution_Message__c"] == (
        f"Data Error: OrderItem {weekly_line}, field SBQQ__BillingFrequency__c: billing frequency 'Invoice Plan' is "
        "not supported. Fix: use Monthly, Quarterly, Semiannual or Annual."
    )
    (decimal_record,) = sync_records(sf, decimal)
    assert decimal_record["Resolution_Status__c"] == "Error"
    assert f"OrderItem {decimal_line}, field Quantity" in decimal_record["Resolution_Message__c"]
    assert "whole number" in decimal_record["Resolution_Message__c"]
    assert sf.Order.get(weekly)["Stripe_ID__c"] is None
    assert good in report.synced_orders
    schedules = stripe.v1.subscription_schedules.list({"limit": 100}).data
    assert not any((s.metadata or {}).to_dict().get("salesforce_order_id") in (weekly, decimal) for s in schedules)

    # Fixed in Salesforce, synced again: the error becomes Resolved and the order is in Stripe.
    sf.OrderItem.update(weekly_line, {"SBQQ__BillingFrequency__c": "Monthly"})
    again = run_sync(order_ids=[weekly])
    assert again.synced_orders == [weekly]
    statuses = {r["Resolution_Status__c"] for r in sync_records(sf, weekly)}
    assert statuses == {"Success", "Resolved"}


def test_a_mapping_to_a_field_the_org_lacks_fails_only_the_records_that_need_it(
    seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cpq_sync.config import DEFAULT_MAPPINGS_DIR

    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for name in ("default.yaml", "preferences.yaml"):
        (mappings / name).write_text((DEFAULT_MAPPINGS_DIR / name).read_text())
    (mappings / "custom.yaml").write_text("field_mappings:\n  invoice:\n    metadata.po: Purchase_Order__c\n")
    monkeypatch.setenv("CPQ_SYNC_MAPPINGS_DIR", str(mappings))
    sf, _ = connect_both(seeded)
    acct = account_id(sf, "Acme%")
    recurring, _ = create_order(sf, acct, [("Platform Subscription", 1)], start=sandbox_sf.now(seeded).date())

    report = run_sync(full=True)

    assert recurring in report.synced_orders  # schedules do not use the broken invoice mapping
    one_time = next(
        o["Id"]
        for o in sf.query_all("SELECT Id, Description FROM Order")["records"]
        if o["Description"] == "kind: one_time"
    )
    (record,) = sync_records(sf, one_time)
    assert record["Resolution_Status__c"] == "Error"
    message = record["Resolution_Message__c"]
    assert "custom.yaml, line 3" in message and "Purchase_Order__c" in message and "Order has no field" in message


def test_an_order_whose_price_book_entry_fails_its_filter_fails_alone(
    seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPQ_SYNC_FILTERS", "{Order: \"Status = 'Activated'\", PricebookEntry: 'IsActive = true'}")
    sf, _ = connect_both(seeded)
    acct = account_id(sf, "Acme%")
    start = sandbox_sf.now(seeded).date().replace(day=1)
    retired, (line,) = create_order(sf, acct, [("Legacy Reporting", 2)], start=start)
    pbe = sf.OrderItem.get(line)["PricebookEntryId"]
    sf.PricebookEntry.update(pbe, {"IsActive": False})
    kept, _ = create_order(sf, acct, [("Platform Subscription", 2)], start=start)

    report = run_sync(full=True)

    assert kept in report.synced_orders and retired not in report.synced_orders
    (record,) = sync_records(sf, retired)
    assert record["Resolution_Status__c"] == "Error"
    assert record["Resolution_Message__c"] == (
        f"Data Error: OrderItem {line}, field PricebookEntryId: PricebookEntry {pbe} does not pass the PricebookEntry "
        "sync filter (IsActive = true). Fix: change the PricebookEntry record or the sync filter, or skip the line "
        "with Skip_Line_Item__c."
    )


def test_a_contract_with_an_order_its_filters_leave_out_does_not_sync(
    seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Order filter leaves out one amendment of a contract: a later amendment of that contract does not sync
    (its schedule would be built from all the contract's activated orders); its Sync Record names the order left
    out. Once that order passes the filter, both amendments sync."""
    monkeypatch.setenv("CPQ_SYNC_FILTERS", "{Order: \"Status = 'Activated' AND PoNumber != 'HOLD'\"}")
    sf, stripe = connect_both(seeded)
    acct = account_id(sf, "Acme%")
    start = sandbox_sf.now(seeded).date().replace(day=1)
    end = add_months(start, 12)
    initial, (line,) = create_order(sf, acct, [("Platform Subscription", 10)], start=start, contract=True)
    assert initial in run_sync(order_ids=[initial]).synced_orders
    contract = sf.Order.get(initial)["ContractId"]
    held, _ = create_order(sf, acct, [("Platform Subscription", 2, line)], start=add_months(start, 1), term=11,
                           amends=contract, end=end - dt.timedelta(days=1))  # fmt: skip
    sf.Order.update(held, {"PoNumber": "HOLD"})
    later, _ = create_order(sf, acct, [("Platform Subscription", 3, line)], start=add_months(start, 2), term=10,
                            amends=contract, end=end - dt.timedelta(days=1))  # fmt: skip
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    phases_before = stripe.v1.subscription_schedules.retrieve(schedule_id).phases

    report = run_sync(full=True)
    assert later not in report.synced_orders and held not in report.synced_orders
    (record,) = sync_records(sf, later)
    assert record["Resolution_Status__c"] == "Error"
    assert record["Resolution_Message__c"] == (
        f"Data Error: Order {held}: this activated order of contract {contract} does not pass the sync filters "
        "(Order: (Status = 'Activated') AND (PoNumber != 'HOLD')); a contract's schedule is built from all its "
        "activated orders, so none of them syncs while one is left out. Fix: change the order or the sync filters "
        "so that every activated order of the contract passes them."
    )
    assert stripe.v1.subscription_schedules.retrieve(schedule_id).phases == phases_before  # untouched

    sf.Order.update(held, {"PoNumber": None})
    report = run_sync(full=True)
    assert {held, later} <= set(report.synced_orders)
    quantities = [
        sum(i.quantity for i in p["items"]) for p in stripe.v1.subscription_schedules.retrieve(schedule_id).phases
    ]
    assert quantities == [10, 12, 15]
