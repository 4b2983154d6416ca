"""Issue 5's done-when on the seeded demo company (every kind of order): a full sync with no error, a second run
that writes nothing, and Stripe billing exactly what CPQ sold, contract by contract, to the cent."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.api import Salesforce

from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from tests.e2e.support import add_months, run_sync, stripe_posts

pytestmark = pytest.mark.xdist_group("prefect")

# Kinds whose Stripe bill cannot be compared with the order's total: an evergreen subscription has no end (CPQ's
# total is one term's estimate), and a coupon is a Stripe discount CPQ's TotalPrice does not carry.
NOT_VALUED = {"evergreen", "evergreen_cancellation", "coupon"}


MONTHS = {"Monthly": 1, "Quarterly": 3, "Semiannual": 6, "Annual": 12}


def _unbilled_past(line: dict[str, Any], start: dt.date, synced: dt.date) -> Fraction:
    """The share of a line's term in periods that ended before the sync: an order that skips its past initial
    invoices (Skip_Past_Initial_Invoices__c) is not billed for them, by design."""
    every = MONTHS.get(line["SBQQ__BillingFrequency__c"] or "", 0)
    term = int(line["SBQQ__SubscriptionTerm__c"] or 0)
    if not every or not term:
        return Fraction(0)
    ended = sum(1 for k in range(term // every) if add_months(start, (k + 1) * every) <= synced)
    return Fraction(ended * every, term)


def bills_and_sales(directory: Path, sf: Salesforce, stripe: Any) -> dict[str, tuple[set[str], int, int]]:
    """Per Stripe object (a schedule holds a contract's initial order and amendments): the kinds of its orders,
    what Stripe bills over its whole life (the billing preview, plus the adjustments made before its
    subscription existed, which its first invoice sweeps in) and what CPQ sold on its orders (the lines'
    TotalPrice; usage lines bill metered use, not CPQ's estimate, and skipped lines are not synced), in minor
    units."""
    synced = sandbox_sf.now(directory).date()
    orders = sf.query_all(
        "SELECT Id, Description, Stripe_ID__c, EffectiveDate, Skip_Past_Initial_Invoices__c FROM Order "
        "WHERE Status = 'Activated'"
    )["records"]
    lines = sf.query_all(
        "SELECT Id, OrderId, TotalPrice, SBQQ__ChargeType__c, Skip_Line_Item__c, CurrencyIsoCode, "
        "SBQQ__BillingFrequency__c, SBQQ__SubscriptionTerm__c FROM OrderItem"
    )["records"]
    by_id = {o["Id"]: o for o in orders}
    sold: dict[str, Fraction] = defaultdict(Fraction)
    line_order: dict[str, str] = {}
    for line in lines:
        order = by_id.get(line["OrderId"])
        if order is None or line["SBQQ__ChargeType__c"] == "Usage" or line["Skip_Line_Item__c"]:
            continue
        line_order[line["Id"]] = order["Id"]
        total = Fraction(Decimal(str(line["TotalPrice"]))) * (1 if line["CurrencyIsoCode"] == "JPY" else 100)
        if order["Skip_Past_Initial_Invoices__c"]:
            total *= 1 - _unbilled_past(line, dt.date.fromisoformat(order["EffectiveDate"]), synced)
        sold[order["Id"]] += total
    loose: dict[str, int] = defaultdict(int)  # order id -> adjustments on no subscription yet
    for item in stripe.v1.invoice_items.list({"limit": 100}).auto_paging_iter():
        line_id = (item.metadata.to_dict() if item.metadata else {}).get("salesforce_order_item_id")
        if item.parent is None and item.invoice is None and line_id in line_order:
            loose[line_order[line_id]] += item.amount
    out: dict[str, tuple[set[str], int, int]] = {}
    for order in orders:
        kinds, billed, cents = out.get(order["Stripe_ID__c"], (set(), 0, 0))
        kinds.add(order["Description"].removeprefix("kind: "))
        out[order["Stripe_ID__c"]] = (kinds, billed + loose[order["Id"]], cents + round(sold[order["Id"]]))
    for stripe_id, (kinds, billed, cents) in out.items():
        if not kinds & NOT_VALUED:
            billed += sum(inv.total for inv in sandbox_stripe.billing_preview(directory, stripe_id))
            out[stripe_id] = (kinds, billed, cents)
    return out


def test_the_demo_company_syncs_with_no_error_bills_what_cpq_sold_and_a_rerun_writes_nothing(sandbox: Path) -> None:
    summary = sandbox_sf.seed_org(sandbox)
    sf, stripe = sandbox_sf.connect(sandbox), sandbox_stripe.connect(sandbox)
    report = run_sync(full=True)
    assert [r.message for r in report.failed] == []
    activated = sf.query_all("SELECT Id FROM Order WHERE Status = 'Activated'")["records"]
    assert sorted(report.synced_orders) == sorted(o["Id"] for o in activated)

    money = bills_and_sales(sandbox, sf, stripe)
    valued = {k for kinds, _, _ in money.values() if not kinds & NOT_VALUED for k in kinds}
    assert valued >= {k for k in summary.order_kinds if k not in NOT_VALUED | {"draft", "deleted"}}
    mismatches = {i: (kinds, billed, sold) for i, (kinds, billed, sold) in money.items()
                  if not kinds & NOT_VALUED and billed != sold}  # fmt: skip
    assert mismatches == {}

    posts = len(stripe_posts(sandbox))
    rerun = run_sync(full=True)
    assert rerun.failed == [] and rerun.synced_orders == [] and rerun.stripe_writes == 0
    assert len(stripe_posts(sandbox)) == posts
