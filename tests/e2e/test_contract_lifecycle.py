"""The contract lifecycle end to end on the two sandboxes (issue 5): amendments, terminations, several
amendments in one run, reruns. Money is checked with the sandbox Stripe's billing preview against what CPQ sold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cpq_sync.ops.invariants import cents_sold
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from tests.e2e.support import (
    account_id,
    add_months,
    add_segment_line,
    connect_both,
    create_mdq_order,
    create_order,
    create_product,
    run_sync,
    stripe_posts,
    sync_records,
)

pytestmark = pytest.mark.xdist_group("prefect")


def midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def invoiced(directory: Path, schedule_id: str) -> list[tuple[dt.date, int]]:
    return [(inv.period_start.date(), inv.total) for inv in sandbox_stripe.billing_preview(directory, schedule_id)]


@pytest.fixture
def org(sandbox: Path) -> Path:
    """The demo company's accounts and catalog (one seeded order: the tests build their own)."""
    sandbox_sf.seed_org(sandbox, orders=1, seed=7)
    return sandbox


@pytest.fixture
def products(org: Path) -> tuple[str, str]:
    sf = sandbox_sf.connect(org)
    create_product(sf, "Widget A", Decimal(10))
    create_product(sf, "Widget B", Decimal(20))
    return "Widget A", "Widget B"


def phases(stripe: Any, schedule_id: str) -> list[tuple[int, int, dict[str, int]]]:
    schedule = stripe.v1.subscription_schedules.retrieve(schedule_id)
    return [(p.start_date, p.end_date, {i.price: i.quantity for i in p["items"]}) for p in schedule.phases]


def test_worked_example_amendment_in_month_two(org: Path, products: tuple[str, str]) -> None:
    """The connector's example: 10 x A at 10 USD monthly for 12 months, amended from month 2 to A x 6 and
    B x 5 at 20 USD: exactly two phases, the first price reused, billed month by month as sold."""
    sf, stripe = connect_both(org)
    a, b = products
    start = sandbox_sf.now(org).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    initial, (line_a,) = create_order(sf, acct, [(a, 10)], start=start, term=12, contract=True)
    assert initial in run_sync(order_ids=[initial]).synced_orders
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    contract = sf.Order.get(initial)["ContractId"]

    amendment, (minus_a, plus_b) = create_order(
        sf, acct, [(a, -4, line_a), (b, 5)], start=add_months(start, 1), term=11, amends=contract,
        end=add_months(start, 12) - dt.timedelta(days=1),
    )  # fmt: skip
    report = run_sync(order_ids=[amendment])
    assert report.failed == [] and amendment in report.synced_orders

    price_a = sf.OrderItem.get(line_a)["Stripe_ID__c"]
    price_b = sf.OrderItem.get(plus_b)["Stripe_ID__c"]
    assert sf.OrderItem.get(minus_a)["Stripe_ID__c"] == price_a  # unchanged price reused
    assert phases(stripe, schedule_id) == [
        (midnight(start), midnight(add_months(start, 1)), {price_a: 10}),
        (midnight(add_months(start, 1)), midnight(add_months(start, 12)), {price_a: 6, price_b: 5}),
    ]
    assert sf.Order.get(amendment)["Stripe_ID__c"] == schedule_id
    expected = [(start, 100_00)] + [(add_months(start, m), 160_00) for m in range(1, 12)]
    assert invoiced(org, schedule_id) == expected
    assert sum(total for _, total in expected) == cents_sold(sf, initial, amendment)
    (record,) = [r for r in sync_records(sf, amendment) if r["Resolution_Status__c"] == "Success"]
    assert schedule_id in record["Resolution_Message__c"]

    before = len(stripe_posts(org))
    rerun = run_sync(order_ids=[initial, amendment])
    assert rerun.failed == [] and amendment not in rerun.synced_orders and initial not in rerun.synced_orders
    assert len(stripe_posts(org)) == before  # a rerun writes nothing


def test_several_amendments_in_one_run_then_partial_termination(org: Path, products: tuple[str, str]) -> None:
    sf, stripe = connect_both(org)
    a, b = products
    start = sandbox_sf.now(org).date().replace(day=1)
    end = add_months(start, 12) - dt.timedelta(days=1)
    acct = account_id(sf, "Acme%")
    initial, (line_a,) = create_order(sf, acct, [(a, 10)], start=start, term=12, contract=True)
    contract = sf.Order.get(initial)["ContractId"]
    first, (_, line_b) = create_order(
        sf, acct, [(a, 5, line_a), (b, 2)], start=add_months(start, 2), term=10, amends=contract, end=end
    )
    second, _ = create_order(sf, acct, [(b, 3, line_b)], start=add_months(start, 5), term=7, amends=contract, end=end)
    report = run_sync(order_ids=[initial, first, second])  # the initial order and both amendments, in one run
    assert report.failed == [] and {initial, first, second} <= set(report.synced_orders)
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    assert sf.Order.get(first)["Stripe_ID__c"] == sf.Order.get(second)["Stripe_ID__c"] == schedule_id
    expected = (
        [(add_months(start, m), 100_00) for m in range(2)]
        + [(add_months(start, m), 15 * 10_00 + 2 * 20_00) for m in range(2, 5)]
        + [(add_months(start, m), 15 * 10_00 + 5 * 20_00) for m in range(5, 12)]
    )
    assert invoiced(org, schedule_id) == expected
    assert sum(t for _, t in expected) == cents_sold(sf, initial, first, second)

    # Partial termination from month 8, synced in month 6 (two phases have ended and are passed back
    # unchanged): every unit of A removed, B stays.
    sandbox_stripe.set_clock(org, dt.datetime.combine(add_months(start, 6), dt.time(12), tzinfo=dt.UTC))
    third, _ = create_order(sf, acct, [(a, -15, line_a)], start=add_months(start, 8), term=4, amends=contract, end=end)
    report = run_sync(order_ids=[third])
    assert report.failed == [] and third in report.synced_orders
    price_b = sf.OrderItem.get(line_b)["Stripe_ID__c"]
    assert phases(stripe, schedule_id)[-1] == (midnight(add_months(start, 8)), midnight(add_months(start, 12)),
                                               {price_b: 5})  # fmt: skip
    assert sum(t for _, t in invoiced(org, schedule_id)) == cents_sold(sf, initial, first, second, third)


def test_termination_ends_the_schedule_at_the_amendment_start(org: Path, products: tuple[str, str]) -> None:
    sf, stripe = connect_both(org)
    a, b = products
    start = sandbox_sf.now(org).date().replace(day=1)
    end = add_months(start, 12) - dt.timedelta(days=1)
    acct = account_id(sf, "Acme%")
    initial, (line_a, line_b) = create_order(sf, acct, [(a, 3), (b, 1)], start=start, term=12, contract=True)
    contract = sf.Order.get(initial)["ContractId"]
    assert initial in run_sync(order_ids=[initial]).synced_orders
    termination, _ = create_order(
        sf, acct, [(a, -3, line_a), (b, -1, line_b)], start=add_months(start, 4), term=8, amends=contract, end=end
    )
    assert termination in run_sync(order_ids=[termination]).synced_orders
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    schedule = stripe.v1.subscription_schedules.retrieve(schedule_id)
    assert schedule.phases[-1].end_date == midnight(add_months(start, 4))
    assert invoiced(org, schedule_id) == [(add_months(start, m), 50_00) for m in range(4)]
    assert sum(t for _, t in invoiced(org, schedule_id)) == cents_sold(sf, initial, termination)


def test_amendment_errors_name_the_record(org: Path, products: tuple[str, str]) -> None:
    sf, stripe = connect_both(org)
    a, _ = products
    start = sandbox_sf.now(org).date().replace(day=1)
    end = add_months(start, 12) - dt.timedelta(days=1)
    acct = account_id(sf, "Acme%")
    initial, (line_a,) = create_order(sf, acct, [(a, 2)], start=start, term=12, contract=True)
    contract = sf.Order.get(initial)["ContractId"]
    # Amending a contract whose initial order was never synced: an error naming that order.
    early, _ = create_order(sf, acct, [(a, 1, line_a)], start=add_months(start, 1), term=11, amends=contract, end=end)
    report = run_sync(order_ids=[early])
    assert early not in report.synced_orders
    (failure,) = [r for r in sync_records(sf, early) if r["Resolution_Status__c"] == "Error"]
    assert initial in failure["Resolution_Message__c"] and "not synced" in failure["Resolution_Message__c"]

    assert {initial, early} <= set(run_sync(order_ids=[initial, early]).synced_orders)
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    posts = len(stripe_posts(org))
    # Removing more than the contract holds; ending after the contract: clear errors, nothing written.
    too_many, (bad_line,) = create_order(
        sf, acct, [(a, -5, line_a)], start=add_months(start, 3), term=9, amends=contract, end=end
    )
    report = run_sync(order_ids=[too_many])
    (failure,) = [r for r in sync_records(sf, too_many) if r["Resolution_Status__c"] == "Error"]
    assert bad_line in failure["Resolution_Message__c"] and "only 3" in failure["Resolution_Message__c"]
    assert len(stripe_posts(org)) == posts
    assert sf.Order.get(too_many)["Stripe_ID__c"] is None
    assert len(stripe.v1.subscription_schedules.retrieve(schedule_id).phases) == 2


def test_mdq_ramp_bills_each_segment_at_its_own_price_and_quantity(org: Path) -> None:
    sf, stripe = connect_both(org)
    create_product(sf, "Ramp Seats", Decimal(100), "Annual")
    create_product(sf, "Annual Support", Decimal(50), "Annual")
    start = sandbox_sf.now(org).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    segments = [(10, Decimal("0.2")), (15, Decimal("0.1")), (20, Decimal(0))]
    order_id, _ = create_mdq_order(sf, acct, "Ramp Seats", segments, start=start, plain=(("Annual Support", 2),))
    report = run_sync(order_ids=[order_id])
    assert report.failed == [] and order_id in report.synced_orders
    schedule = stripe.v1.subscription_schedules.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])
    assert [(p.start_date, p.end_date) for p in schedule.phases] == [
        (midnight(add_months(start, 12 * y)), midnight(add_months(start, 12 * (y + 1)))) for y in range(3)
    ]
    assert [p.metadata["salesforce_segment_label"] for p in schedule.phases] == ["Year 1", "Year 2", "Year 3"]
    assert [p.metadata["salesforce_segment_index"] for p in schedule.phases] == ["1", "2", "3"]
    assert [sorted(i.quantity for i in p["items"]) for p in schedule.phases] == [[2, 10], [2, 15], [2, 20]]
    expected = [(start, 10 * 80_00 + 100_00), (add_months(start, 12), 15 * 90_00 + 100_00),
                (add_months(start, 24), 20 * 100_00 + 100_00)]  # fmt: skip
    assert invoiced(org, schedule.id) == expected
    assert sum(t for _, t in expected) == cents_sold(sf, order_id)


def test_evergreen_order_is_a_subscription_with_no_end_and_its_cancellation(org: Path) -> None:
    sf, stripe = connect_both(org)
    create_product(sf, "Hosting Plan", Decimal(99))
    start = add_months(sandbox_sf.now(org).date().replace(day=1), 1)  # starts next month
    acct = account_id(sf, "Acme%")
    order_id, (line,) = create_order(
        sf, acct, [("Hosting Plan", 2)], start=start, term=1, contract=True, evergreen=True, payment_term="Net 15"
    )
    report = run_sync(order_ids=[order_id])
    assert report.failed == [] and order_id in report.synced_orders
    sub_id = sf.Order.get(order_id)["Stripe_ID__c"]
    assert sub_id.startswith("sub_") and not sub_id.startswith("sub_sched_")
    subscription = stripe.v1.subscriptions.retrieve(sub_id)
    assert subscription.collection_method == "send_invoice" and subscription.days_until_due == 15
    assert subscription.cancel_at is None
    until = dt.datetime.combine(add_months(start, 4), dt.time(), tzinfo=dt.UTC)
    billed = [(i.period_start.date(), i.total) for i in sandbox_stripe.billing_preview(org, sub_id, until=until)]
    # Nothing before the start, then 2 x 99 USD every month with no end.
    assert [b for b in billed if b[1]] == [(add_months(start, m), 198_00) for m in range(4)]

    cancel, _ = create_order(
        sf, acct, [("Hosting Plan", -2, line)], start=add_months(start, 2), term=1,
        amends=sf.Order.get(order_id)["ContractId"], evergreen=True,
    )  # fmt: skip
    report = run_sync(order_ids=[cancel])
    assert report.failed == [] and cancel in report.synced_orders
    assert stripe.v1.subscriptions.retrieve(sub_id).cancel_at == midnight(add_months(start, 2))
    billed = [(i.period_start.date(), i.total) for i in sandbox_stripe.billing_preview(org, sub_id, until=until)]
    assert [b for b in billed if b[1]] == [(add_months(start, m), 198_00) for m in range(2)]
    posts = len(stripe_posts(org))
    assert run_sync(order_ids=[order_id, cancel]).failed == []
    assert len(stripe_posts(org)) == posts


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        (18, [(0, 3 * 120_00), (12, 3 * 60_00)]),  # a year, then the 6 months left over, prorated
        (9, [(0, 3 * 90_00)]),  # no whole year: the 9 months prorated, at the start
    ],
)
def test_odd_term_billed_annually_is_prorated_as_cpq_computed(
    org: Path, term: int, expected: list[tuple[int, int]]
) -> None:
    sf, stripe = connect_both(org)
    create_product(sf, "Annual Seats", Decimal(120), "Annual")
    start = sandbox_sf.now(org).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    order_id, _ = create_order(sf, acct, [("Annual Seats", 3)], start=start, term=term)
    report = run_sync(order_ids=[order_id])
    assert report.failed == [] and order_id in report.synced_orders
    schedule_id = sf.Order.get(order_id)["Stripe_ID__c"]
    schedule = stripe.v1.subscription_schedules.retrieve(schedule_id)
    assert schedule.phases[-1].end_date == midnight(add_months(start, term))
    billed = [(d, t) for d, t in invoiced(org, schedule_id) if t]
    assert billed == [(add_months(start, m), amount) for m, amount in expected]
    assert sum(t for _, t in billed) == cents_sold(sf, order_id)


def test_amendment_off_a_billing_boundary_bills_cpqs_prorated_amount(org: Path) -> None:
    """Annual seats, 2 added from month 3: CPQ charges 9/12 of a year for them (UnitPrice 90), billed once as
    a prorated item with Stripe's proration off; the contract costs exactly what CPQ sold."""
    sf, stripe = connect_both(org)
    create_product(sf, "Annual Seats", Decimal(120), "Annual")
    start = sandbox_sf.now(org).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    initial, (seats,) = create_order(sf, acct, [("Annual Seats", 3)], start=start, term=12, contract=True)
    amendment, _ = create_order(
        sf, acct, [("Annual Seats", 2, seats)], start=add_months(start, 3), term=9,
        amends=sf.Order.get(initial)["ContractId"], end=add_months(start, 12) - dt.timedelta(days=1),
    )  # fmt: skip
    report = run_sync(order_ids=[initial, amendment])
    assert report.failed == [] and {initial, amendment} <= set(report.synced_orders)
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    last = stripe.v1.subscription_schedules.retrieve(schedule_id).phases[-1]
    assert last.start_date == midnight(add_months(start, 3)) and [i.quantity for i in last["items"]] == [5]
    assert last.proration_behavior == "none"
    lines = [line for inv in sandbox_stripe.billing_preview(org, schedule_id) for line in inv.lines]
    assert [(line.kind, line.quantity, line.amount) for line in lines] == [
        ("subscription", 3, 360_00),
        ("invoice_item", 2, 180_00),
    ]
    assert sum(line.amount for line in lines) == cents_sold(sf, initial, amendment)


def test_orders_before_the_sync_start_date_skipped_or_migrated_without_rebilling(
    org: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sf = sandbox_sf.connect(org)
    create_product(sf, "Widget A", Decimal(10))
    today = sandbox_sf.now(org).date()
    start = add_months(today.replace(day=1), -2)  # started two months ago, activated today
    sync_start = add_months(today.replace(day=1), 1)  # the old system billed until next month
    acct = account_id(sf, "Acme%")
    order_id, _ = create_order(sf, acct, [("Widget A", 4)], start=start, term=12)
    # Activation stamped ActivatedDate with the org clock; the order is dated back to yesterday (an updateable field).
    activated = dt.datetime.combine(today, dt.time(9), tzinfo=dt.UTC) - dt.timedelta(days=1)
    sf.Order.update(order_id, {"ActivatedDate": activated.strftime("%Y-%m-%dT%H:%M:%SZ")})
    monkeypatch.setenv("CPQ_SYNC_SYNC_START_DATE", sync_start.isoformat())
    assert order_id not in run_sync(full=True).synced_orders  # activated before the sync start date: skipped
    assert sf.Order.get(order_id)["Stripe_ID__c"] is None

    monkeypatch.setenv("CPQ_SYNC_MIGRATE_ORDERS_BEFORE_START_DATE", "true")
    assert order_id in run_sync(full=True).synced_orders
    schedule_id = sf.Order.get(order_id)["Stripe_ID__c"]
    billed = [(d, t) for d, t in invoiced(org, schedule_id) if t]
    # The three months the old system billed are not billed again; the nine others are, 4 x 10 USD each.
    assert billed == [(add_months(start, m), 40_00) for m in range(3, 12)]


def ten_synced(org: Path, product: str) -> tuple[Any, Any, str, dt.date, str, str]:
    """(sf, stripe, account, start, initial order, its line): a contract of 10 x `product` monthly from the 1st of
    this month for 12 months, synced."""
    sf, stripe = connect_both(org)
    start = sandbox_sf.now(org).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    initial, (line,) = create_order(sf, acct, [(product, 10)], start=start, term=12, contract=True)
    assert initial in run_sync(order_ids=[initial]).synced_orders
    return sf, stripe, acct, start, initial, line


def ten_days_late(org: Path, start: dt.date, month: int) -> dt.datetime:
    """The Stripe clock at noon ten days into month `month` of the contract (a change of that month synced late)."""
    now = dt.datetime.combine(add_months(start, month) + dt.timedelta(days=10), dt.time(12), tzinfo=dt.UTC)
    sandbox_stripe.set_clock(org, now)
    return now


def test_backdated_amendment_is_processed_in_current_time(org: Path, products: tuple[str, str]) -> None:
    """As the connector documents: an amendment whose start has passed takes effect now (the change applies
    from the sync, Stripe refusing to rewrite the past); nothing is billed twice."""
    a, _ = products
    sf, stripe, acct, start, initial, line_a = ten_synced(org, a)
    now = ten_days_late(org, start, 2)
    amendment, _ = create_order(
        sf, acct, [(a, 2, line_a)], start=add_months(start, 2), term=10,
        amends=sf.Order.get(initial)["ContractId"], end=add_months(start, 12) - dt.timedelta(days=1),
    )  # fmt: skip
    report = run_sync(order_ids=[amendment])
    assert report.failed == [] and amendment in report.synced_orders
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    assert [(p[0], p[1], sorted(p[2].values())) for p in phases(stripe, schedule_id)] == [
        (midnight(start), int(now.timestamp()), [10]),
        (int(now.timestamp()), midnight(add_months(start, 12)), [12]),
    ]
    billed = invoiced(org, schedule_id)
    assert billed == [(add_months(start, m), 100_00) for m in range(3)] + [
        (add_months(start, m), 120_00) for m in range(3, 12)
    ]


def test_amendments_after_one_processed_in_current_time(org: Path, products: tuple[str, str]) -> None:
    """A backdated amendment put a phase boundary at the moment it synced; a later amendment, backdated too, then
    one on time, still apply (the phases Stripe holds from then on are rebuilt from the current one's start)."""
    a, _ = products
    sf, stripe, acct, start, initial, line_a = ten_synced(org, a)
    end = add_months(start, 12) - dt.timedelta(days=1)
    contract = sf.Order.get(initial)["ContractId"]
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    synced, orders = [], [initial]
    for month, units in ((2, 2), (4, 1)):  # each synced ten days after its start: processed in current time
        now = ten_days_late(org, start, month)
        amendment, _ = create_order(sf, acct, [(a, units, line_a)], start=add_months(start, month),
                                    term=12 - month, amends=contract, end=end)  # fmt: skip
        report = run_sync(order_ids=[amendment])
        assert report.failed == [] and amendment in report.synced_orders
        synced.append(int(now.timestamp()))
        orders.append(amendment)
    on_time, _ = create_order(sf, acct, [(a, 2, line_a)], start=add_months(start, 6), term=6, amends=contract, end=end)
    report = run_sync(order_ids=[on_time])
    assert report.failed == [] and on_time in report.synced_orders
    assert [(p[0], p[1], sorted(p[2].values())) for p in phases(stripe, schedule_id)] == [
        (midnight(start), synced[0], [10]),
        (synced[0], synced[1], [12]),
        (synced[1], midnight(add_months(start, 6)), [13]),
        (midnight(add_months(start, 6)), midnight(add_months(start, 12)), [15]),
    ]
    posts = len(stripe_posts(org))
    assert run_sync(order_ids=[*orders, on_time]).failed == []
    assert len(stripe_posts(org)) == posts  # a rerun writes nothing


def test_termination_processed_after_its_date_cancels_now(org: Path, products: tuple[str, str]) -> None:
    """A termination synced ten days after its date cancels the schedule then, without proration or invoice, as
    the connector did: the month that started before the sync stays billed (a late change takes effect from the
    sync on)."""
    a, _ = products
    sf, stripe, acct, start, initial, line_a = ten_synced(org, a)
    now = ten_days_late(org, start, 3)
    termination, _ = create_order(
        sf, acct, [(a, -10, line_a)], start=add_months(start, 3), term=9,
        amends=sf.Order.get(initial)["ContractId"], end=add_months(start, 12) - dt.timedelta(days=1),
    )  # fmt: skip
    report = run_sync(order_ids=[termination])
    assert report.failed == [] and termination in report.synced_orders
    schedule = stripe.v1.subscription_schedules.retrieve(sf.Order.get(initial)["Stripe_ID__c"])
    assert schedule.status == "canceled" and schedule.canceled_at == int(now.timestamp())
    assert invoiced(org, schedule.id) == [(add_months(start, m), 100_00) for m in range(4)]


def test_amendment_after_a_phase_ended_and_its_price_was_replaced(org: Path, products: tuple[str, str]) -> None:
    """A contract's price replaced in Stripe after a phase ended (its price book entry's price changed, so its lines
    bill at a price of their own now), then an amendment: the update leaves the ended phase as Stripe holds it (a
    past phase cannot change) and rebuilds the phases from the current one on; every month bills what CPQ sold."""
    a, _ = products
    sf, stripe, acct, start, initial, line_a = ten_synced(org, a)
    end = add_months(start, 12) - dt.timedelta(days=1)
    contract = sf.Order.get(initial)["ContractId"]
    first, _ = create_order(sf, acct, [(a, 2, line_a)], start=add_months(start, 1), term=11, amends=contract, end=end)
    assert first in run_sync(order_ids=[first]).synced_orders
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    ended = phases(stripe, schedule_id)[0]

    sandbox_stripe.set_clock(org, dt.datetime.combine(add_months(start, 2), dt.time(12), tzinfo=dt.UTC))
    entry = sf.query(f"SELECT Id FROM PricebookEntry WHERE Product2.Name = '{a}'")["records"][0]["Id"]
    sf.PricebookEntry.update(entry, {"UnitPrice": 11.0})  # the list price goes up; what was sold stays
    # One unit more from month 3, which CPQ prices at the new list price: a price of its own.
    second, _ = create_order(sf, acct, [(a, 1, line_a)], start=add_months(start, 3), term=9, amends=contract, end=end)
    report = run_sync(order_ids=[second])
    assert report.failed == [] and second in report.synced_orders

    now = phases(stripe, schedule_id)
    assert now[0] == ended  # the ended phase, as Stripe held it (the price it billed with)
    assert [(p[0], p[1], sorted(p[2].values())) for p in now[1:]] == [
        (midnight(add_months(start, 1)), midnight(add_months(start, 3)), [12]),
        (midnight(add_months(start, 3)), midnight(add_months(start, 12)), [1, 12]),
    ]
    assert invoiced(org, schedule_id) == [(start, 100_00)] + [(add_months(start, m), 120_00) for m in (1, 2)] + [
        (add_months(start, m), 131_00) for m in range(3, 12)
    ]
    assert cents_sold(sf, initial, first, second) == 100_00 + 2 * 120_00 + 9 * 131_00
    posts = len(stripe_posts(org))
    assert run_sync(order_ids=[initial, first, second]).failed == []
    assert len(stripe_posts(org)) == posts  # a rerun writes nothing


def test_skip_past_initial_invoices_and_renewal_as_a_new_contract(org: Path, products: tuple[str, str]) -> None:
    sf, _ = connect_both(org)
    a, _ = products
    today = sandbox_sf.now(org).date()
    start = add_months(today.replace(day=1), -2)  # two whole months have passed
    acct = account_id(sf, "Acme%")
    billed, skipped = (
        create_order(sf, acct, [(a, 1)], start=start, term=12, skip_past=skip, contract=True)[0]
        for skip in (False, True)
    )
    assert {billed, skipped} <= set(run_sync(order_ids=[billed, skipped]).synced_orders)
    every_month = [(add_months(start, m), 10_00) for m in range(12)]
    assert invoiced(org, sf.Order.get(billed)["Stripe_ID__c"]) == every_month
    assert invoiced(org, sf.Order.get(skipped)["Stripe_ID__c"]) == every_month[2:]  # the past is not billed

    # A renewal starts a new contract: its own schedule, the renewed one untouched.
    renewal, _ = create_order(sf, acct, [(a, 3)], start=add_months(start, 12), term=12, contract=True)
    sf.Order.update(renewal, {"Type": "Renewal"})
    assert renewal in run_sync(order_ids=[renewal]).synced_orders
    schedule = sf.Order.get(renewal)["Stripe_ID__c"]
    assert schedule not in (sf.Order.get(billed)["Stripe_ID__c"], sf.Order.get(skipped)["Stripe_ID__c"])
    assert invoiced(org, schedule) == [(add_months(start, m), 30_00) for m in range(12, 24)]


def test_mdq_amendment_changes_the_later_segments(org: Path) -> None:
    sf = sandbox_sf.connect(org)
    create_product(sf, "Ramp Seats", Decimal(100), "Annual")
    start = sandbox_sf.now(org).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    segments = [(10, Decimal(0)), (15, Decimal(0)), (20, Decimal(0))]
    initial, (_, year2, year3) = create_mdq_order(sf, acct, "Ramp Seats", segments, start=start, contract=True)
    amendment, _ = create_order(
        sf, acct, [], start=add_months(start, 12), term=24, amends=sf.Order.get(initial)["ContractId"],
        end=add_months(start, 36) - dt.timedelta(days=1), activate=False,
    )  # fmt: skip
    add_segment_line(sf, amendment, "Ramp Seats", 2, 5, add_months(start, 12), 12, revised=year2)
    add_segment_line(sf, amendment, "Ramp Seats", 3, 5, add_months(start, 24), 12, revised=year3)
    sf.Order.update(amendment, {"Status": "Activated"})
    report = run_sync(order_ids=[initial, amendment])
    assert report.failed == [] and {initial, amendment} <= set(report.synced_orders)
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    expected = [(start, 10 * 100_00), (add_months(start, 12), 20 * 100_00), (add_months(start, 24), 25 * 100_00)]
    assert invoiced(org, schedule_id) == expected
    assert sum(t for _, t in expected) == cents_sold(sf, initial, amendment)


def test_a_fractional_cent_per_period_bills_exactly_total_price_over_the_term(org: Path) -> None:
    """TotalPrice 1000.00 over 24 months is 41.666... a month: Stripe bills 41.67 a month (1000.08 in all), so
    the 8 cents are settled once on the first invoice after the sync, and the term bills exactly 1000.00."""
    sf, stripe = connect_both(org)
    create_product(sf, "Odd Fee", Decimal("41.67"))
    start = sandbox_sf.now(org).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    order_id, (fee,) = create_order(sf, acct, [("Odd Fee", 1)], start=start, term=24, activate=False)
    sf.OrderItem.update(fee, {"UnitPrice": 1000.0})  # the rep's price for the term, over the list price
    sf.Order.update(order_id, {"Status": "Activated"})
    report = run_sync(order_ids=[order_id])
    assert report.failed == [] and order_id in report.synced_orders
    schedule_id = sf.Order.get(order_id)["Stripe_ID__c"]
    billed = invoiced(org, schedule_id)
    assert [t for _, t in billed] == [41_67, 41_67 - 8] + [41_67] * 22
    assert sum(t for _, t in billed) == cents_sold(sf, order_id) == 1000_00
    (adjustment,) = stripe.v1.invoice_items.list({"limit": 10}).data
    assert adjustment.amount == -8 and adjustment.metadata["salesforce_adjustment"] == f"rounding:{fee}"
    posts = len(stripe_posts(org))
    assert run_sync(order_ids=[order_id]).stripe_writes == 0
    assert len(stripe_posts(org)) == posts


def test_mdq_ramp_of_annual_segments_next_to_a_monthly_line(org: Path) -> None:
    """A ramp of annual seats (10, then 15) next to a monthly fee: one flexible-mode schedule, each segment on
    its year's invoice and the fee every month, month by month what CPQ sold."""
    sf, stripe = connect_both(org)
    create_product(sf, "Ramp Seats", Decimal(100), "Annual")
    create_product(sf, "Monthly Fee", Decimal(49))
    start = sandbox_sf.now(org).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    segments = [(10, Decimal(0)), (15, Decimal(0))]
    order_id, _ = create_mdq_order(sf, acct, "Ramp Seats", segments, start=start, plain=(("Monthly Fee", 2),))
    report = run_sync(order_ids=[order_id])
    assert report.failed == [] and order_id in report.synced_orders
    schedule = stripe.v1.subscription_schedules.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])
    assert schedule.billing_mode.type == "flexible"
    assert [p.metadata["salesforce_segment_label"] for p in schedule.phases] == ["Year 1", "Year 2"]
    expected = [(add_months(start, m), 98_00 + {0: 10 * 100_00, 12: 15 * 100_00}.get(m, 0)) for m in range(24)]
    assert invoiced(org, schedule.id) == expected
    assert sum(t for _, t in expected) == cents_sold(sf, order_id)
