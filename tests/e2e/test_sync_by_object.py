"""`sync-orders` by object: given accounts (their customers), products, and price book entries (their product and
the activated orders whose lines bill them), on the two sandboxes through the real clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpq_sync.sandbox import salesforce as sandbox_sf
from tests.e2e.support import account_id, connect_both, create_order, pricebook_entry, run_sync

pytestmark = pytest.mark.xdist_group("prefect")


def test_accounts_products_and_price_book_entries_sync_by_id(sandbox: Path) -> None:
    sandbox_sf.seed_org(sandbox, orders=12, seed=7)
    sf, stripe = connect_both(sandbox)
    acct = account_id(sf, "Acme%")
    product_id = pricebook_entry(sf, "Training Workshop")["Product2Id"]

    report = run_sync(account_ids=[acct], product_ids=[product_id])
    assert report.ok and report.synced_orders == []
    customer = stripe.v1.customers.retrieve(sf.Account.get(acct)["Stripe_ID__c"])
    assert customer.metadata["salesforce_account_id"] == acct
    product = stripe.v1.products.retrieve(sf.Product2.get(product_id)["Stripe_ID__c"])
    assert product.name == sf.Product2.get(product_id)["Name"]
    assert sf.query("SELECT COUNT() FROM Order WHERE Stripe_ID__c != null")["totalSize"] == 0

    start = sandbox_sf.now(sandbox).date().replace(day=1)
    order_id, (line_id,) = create_order(sf, acct, [("Platform Subscription", 4)], start=start)
    pbe_id = sf.OrderItem.get(line_id)["PricebookEntryId"]
    report = run_sync(pricebook_entry_ids=[pbe_id])
    assert order_id in report.synced_orders
    schedule = stripe.v1.subscription_schedules.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])
    assert schedule.phases[0]["items"][0].price == sf.PricebookEntry.get(pbe_id)["Stripe_ID__c"]
