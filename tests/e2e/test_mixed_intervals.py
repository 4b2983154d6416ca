"""Orders whose lines bill at different frequencies (an annual license, a quarterly add-on and a monthly platform
fee in one order), end to end on the two sandboxes: one schedule in flexible billing mode whose billing preview
bills each line on its own frequency and, over the term, exactly the order's CPQ total (issue 5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from cpq_sync.ops.invariants import cents
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from cpq_sync.translate.dates import utc_midnight
from tests.e2e.support import account_id, add_months, connect_both, create_order, run_sync, stripe_posts, sync_records

pytestmark = pytest.mark.xdist_group("prefect")

# (product, quantity, months between bills, list price per bill in USD), as the sandbox's price book has them.
LINES = [
    ("Enterprise License", 2, 12, Decimal(1200)),
    ("Analytics Add-on", 3, 3, Decimal(120)),
    ("Platform Subscription", 10, 1, Decimal(49)),
]


def expected_bills(start: dt.date, term: int) -> list[tuple[dt.date, int]]:
    """What each month's invoice must bill: every line whose own period starts that month."""
    out = []
    for k in range(term):
        due = sum(qty * price for _, qty, every, price in LINES if k % every == 0)
        out.append((add_months(start, k), cents(due)))
    return out


@pytest.mark.parametrize(
    ("offset", "term"),
    [(0, 12), (0, 24), (-5, 12), (2, 24)],
    ids=["this-month-12", "this-month-24", "backdated-12", "future-24"],
)
def test_an_order_of_annual_quarterly_and_monthly_lines_bills_each_on_its_own_frequency(
    sandbox: Path, offset: int, term: int
) -> None:
    sandbox_sf.seed_org(sandbox, orders=0, seed=3)
    sf, stripe = connect_both(sandbox)
    start = add_months(sandbox_sf.now(sandbox).date().replace(day=1), offset)
    acct = account_id(sf, "Acme%")
    order_id, line_ids = create_order(sf, acct, [(name, qty) for name, qty, _, _ in LINES], start=start, term=term)

    report = run_sync(order_ids=[order_id])
    assert report.synced_orders == [order_id], report.failed
    (record,) = sync_records(sf, order_id)
    assert record["Resolution_Status__c"] == "Success"

    schedule = stripe.v1.subscription_schedules.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])
    assert schedule.billing_mode.type == "flexible"
    (phase,) = schedule.phases
    intervals = {}
    for item in phase["items"]:
        price = stripe.v1.prices.retrieve(item.price)
        intervals[item.metadata["salesforce_order_item_id"]] = price.recurring.interval_count
    assert intervals == dict(zip(line_ids, [12, 3, 1], strict=True))

    invoices = sandbox_stripe.billing_preview(sandbox, schedule.id)
    billed = [(inv.period_start.date(), inv.total) for inv in invoices]
    assert billed == expected_bills(start, term)
    # Over the whole contract, Stripe bills exactly what CPQ sold, to the cent.
    total = sf.Order.get(order_id)["TotalAmount"]
    assert sum(inv.total for inv in invoices) == cents(total)
    # Aligned periods share one invoice: the first one bills the three lines, each for its own period.
    periods = {(line.period_start.date(), line.period_end.date()) for line in invoices[0].lines}
    assert periods == {(start, add_months(start, n)) for n in (12, 3, 1)}

    before = len(stripe_posts(sandbox))
    again = run_sync(full=True)
    assert again.stripe_writes == 0
    assert stripe_posts(sandbox)[before:] == []


def test_a_term_that_is_not_whole_periods_of_a_line_prorates_that_line_alone(sandbox: Path) -> None:
    """10 months of a quarterly add-on (120 USD a quarter) and a monthly platform fee (49 USD): the add-on bills
    three whole quarters, then its tenth month once as CPQ prorated it (UnitPrice 400 x 1/10); the fee bills every
    month. Month by month and in all, exactly what CPQ sold."""
    sandbox_sf.seed_org(sandbox, orders=0, seed=3)
    sf, stripe = connect_both(sandbox)
    start = sandbox_sf.now(sandbox).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    lines = [("Analytics Add-on", 1), ("Platform Subscription", 1)]
    order_id, (addon, _) = create_order(sf, acct, lines, start=start, term=10)

    report = run_sync(order_ids=[order_id])
    assert report.synced_orders == [order_id], report.failed
    schedule = stripe.v1.subscription_schedules.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])
    assert schedule.billing_mode.type == "flexible"
    assert [p.end_date for p in schedule.phases][-1] == utc_midnight(add_months(start, 10))
    invoices = sandbox_stripe.billing_preview(sandbox, schedule.id)
    billed = [(inv.period_start.date(), inv.total) for inv in invoices if inv.total]
    quarter, month, tenth = cents(120), cents(49), cents(Decimal(sf.OrderItem.get(addon)["UnitPrice"]) / 10)
    assert tenth == cents(40)
    expected = [(add_months(start, k), month + (quarter if k % 3 == 0 and k < 9 else 0)) for k in range(10)]
    expected[9] = (add_months(start, 9), month + tenth)
    assert billed == expected
    assert sum(total for _, total in billed) == cents(sf.Order.get(order_id)["TotalAmount"])


def test_the_seeded_companys_new_orders_with_mixed_frequencies_bill_what_cpq_sold(sandbox: Path) -> None:
    sandbox_sf.seed_org(sandbox, orders=40, seed=7)
    sf, stripe = connect_both(sandbox)
    orders = sf.query_all("SELECT Id, Description, TotalAmount FROM Order WHERE Status = 'Activated'")["records"]
    new = {o["Id"]: o for o in orders if o["Description"] == "kind: new"}
    frequencies: dict[str, set[str]] = {order_id: set() for order_id in new}
    # What CPQ sold that Stripe bills up front: usage lines are billed on metered usage, not on CPQ's estimate.
    sold: dict[str, float] = {order_id: 0.0 for order_id in new}
    lines = sf.query_all("SELECT OrderId, SBQQ__BillingFrequency__c, SBQQ__ChargeType__c, TotalPrice FROM OrderItem")
    for line in lines["records"]:
        if line["OrderId"] in new and line["SBQQ__BillingFrequency__c"]:
            frequencies[line["OrderId"]].add(line["SBQQ__BillingFrequency__c"])
        if line["OrderId"] in new and line["SBQQ__ChargeType__c"] != "Usage":
            sold[line["OrderId"]] += line["TotalPrice"]
    mixed = [order_id for order_id, found in frequencies.items() if len(found) > 1]
    assert mixed, "the seeded company has new orders whose lines bill at different frequencies"

    report = run_sync(order_ids=mixed)
    # Those that fail, fail for another reason than their frequencies (usage lines, for instance).
    assert not any("frequenc" in record.message for record in report.failed)
    assert report.synced_orders
    for order_id in report.synced_orders:
        schedule = stripe.v1.subscription_schedules.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])
        assert schedule.billing_mode.type == "flexible"
        invoices = sandbox_stripe.billing_preview(sandbox, schedule.id)
        assert sum(inv.total for inv in invoices) == cents(round(sold[order_id], 2)), order_id
    before = len(stripe_posts(sandbox))
    assert run_sync(order_ids=mixed).stripe_writes == 0
    assert stripe_posts(sandbox)[before:] == []


def test_an_annual_reduction_off_its_boundary_is_credited_as_cpq_prorated_it(sandbox: Path) -> None:
    """10 platform seats monthly (49 USD) and 5 annual licenses (1200 USD); an amendment from month 3 adds 2
    seats (on their monthly boundary) and removes 2 licenses 9 months before their boundary. The licenses were
    billed for the year: CPQ's credit (2 x 900 USD) goes on the amendment's first invoice, so the contract bills
    exactly what CPQ sold, month by month."""
    sandbox_sf.seed_org(sandbox, orders=0, seed=3)
    sf, stripe = connect_both(sandbox)
    start = sandbox_sf.now(sandbox).date().replace(day=1)
    end = add_months(start, 12) - dt.timedelta(days=1)
    acct = account_id(sf, "Acme%")
    initial, (seats, licenses) = create_order(
        sf, acct, [("Platform Subscription", 10), ("Enterprise License", 5)], start=start, term=12, contract=True
    )
    assert initial in run_sync(order_ids=[initial]).synced_orders
    # Synced before it starts, as an activated amendment is.
    sandbox_stripe.set_clock(sandbox, dt.datetime.combine(add_months(start, 2) + dt.timedelta(days=19), dt.time(12),
                                                          tzinfo=dt.UTC))  # fmt: skip
    amendment, (_, minus) = create_order(
        sf, acct, [("Platform Subscription", 2, seats), ("Enterprise License", -2, licenses)],
        start=add_months(start, 3), term=9, amends=sf.Order.get(initial)["ContractId"], end=end,
    )  # fmt: skip
    report = run_sync(order_ids=[amendment])
    assert report.failed == [] and amendment in report.synced_orders
    assert sf.OrderItem.get(minus)["TotalPrice"] == -1800
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    billed = [(inv.period_start.date(), inv.total) for inv in sandbox_stripe.billing_preview(sandbox, schedule_id)]
    expected = [(start, cents(10 * 49 + 5 * 1200))] + [(add_months(start, k), cents(490)) for k in (1, 2)]
    expected += [(add_months(start, 3), cents(12 * 49 - 1800))]
    expected += [(add_months(start, k), cents(12 * 49)) for k in range(4, 12)]
    assert billed == expected
    assert sum(t for _, t in billed) == cents(
        sf.Order.get(initial)["TotalAmount"] + sf.Order.get(amendment)["TotalAmount"]
    )
    (credit,) = [i for i in stripe.v1.invoice_items.list({"limit": 10}).data if i.amount < 0]
    assert credit.amount == -180000 and credit.metadata["salesforce_order_item_id"] == minus
    before = len(stripe_posts(sandbox))
    assert run_sync(order_ids=[initial, amendment]).stripe_writes == 0
    assert stripe_posts(sandbox)[before:] == []
    # A later amendment rewrites the schedule; the credit is not given twice.
    later, _ = create_order(sf, acct, [("Platform Subscription", 1, seats)], start=add_months(start, 6), term=6,
                            amends=sf.Order.get(initial)["ContractId"], end=end)  # fmt: skip
    assert later in run_sync(order_ids=[later]).synced_orders
    assert [i.amount for i in stripe.v1.invoice_items.list({"limit": 10}).data if i.amount < 0] == [-180000]
    billed = sum(inv.total for inv in sandbox_stripe.billing_preview(sandbox, schedule_id))
    assert billed == sum(cents(sf.Order.get(o)["TotalAmount"]) for o in (initial, amendment, later))


def test_an_annual_line_added_off_its_boundary_bills_cpqs_prorated_amount_then_nothing_more(sandbox: Path) -> None:
    """A monthly contract (10 seats at 49 USD) amended from month 3 with 2 annual licenses (1200 USD a year):
    CPQ prices them for the 9 months left (900 USD each), billed once on the amendment's first invoice; their
    next annual boundary is the contract's end, so nothing recurs."""
    sandbox_sf.seed_org(sandbox, orders=0, seed=3)
    sf, _ = connect_both(sandbox)
    start = sandbox_sf.now(sandbox).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    initial, _ = create_order(sf, acct, [("Platform Subscription", 10)], start=start, term=12, contract=True)
    amendment, _ = create_order(
        sf, acct, [("Enterprise License", 2)], start=add_months(start, 3), term=9,
        amends=sf.Order.get(initial)["ContractId"], end=add_months(start, 12) - dt.timedelta(days=1),
    )  # fmt: skip
    report = run_sync(order_ids=[initial, amendment])
    assert report.failed == [] and {initial, amendment} <= set(report.synced_orders)
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    billed = [(inv.period_start.date(), inv.total) for inv in sandbox_stripe.billing_preview(sandbox, schedule_id)]
    expected = [(add_months(start, k), cents(490 + (1800 if k == 3 else 0))) for k in range(12)]
    assert billed == expected
    sold = sf.Order.get(initial)["TotalAmount"] + sf.Order.get(amendment)["TotalAmount"]
    assert sum(t for _, t in billed) == cents(sold)
