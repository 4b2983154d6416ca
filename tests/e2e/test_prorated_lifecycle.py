"""Issue 5's last cases end to end on the two sandboxes: amendments of a prorated term, MDQ segments that are not a
whole number of their line's billing periods, and migrated orders (prorated, amended). Money is checked with the
sandbox Stripe's billing preview, period by period, against what CPQ sold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

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
)

pytestmark = pytest.mark.xdist_group("prefect")


def billed(directory: Path, schedule_id: str) -> list[tuple[dt.date, int]]:
    """The schedule's invoices that bill something: (period start, total in cents)."""
    return [
        (inv.period_start.date(), inv.total)
        for inv in sandbox_stripe.billing_preview(directory, schedule_id)
        if inv.total
    ]


def the_day_before(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)


@pytest.fixture
def org(sandbox: Path) -> Path:
    """The demo company's accounts and catalog (one seeded order: the tests build their own)."""
    sandbox_sf.seed_org(sandbox, orders=1, seed=7)
    return sandbox


def test_amendments_of_an_18_month_term_billed_annually_add_units_and_a_product(org: Path) -> None:
    """3 annual seats for 18 months (a year, then the 6 months left over billed once); from month 4, 2 seats more
    and a monthly product; from month 14 (the leftover months), 1 seat and 1 unit of the product more. Each
    amendment adds a phase from its start and bills CPQ's prorated amounts; the past phases are kept."""
    sf, stripe = connect_both(org)
    create_product(sf, "Annual Seats", Decimal(120), "Annual")
    create_product(sf, "Widget A", Decimal(10))
    start = sandbox_sf.now(org).date().replace(day=1)
    end = add_months(start, 18) - dt.timedelta(days=1)
    acct = account_id(sf, "Acme%")
    initial, (seats,) = create_order(sf, acct, [("Annual Seats", 3)], start=start, term=18, contract=True)
    contract = sf.Order.get(initial)["ContractId"]
    assert initial in run_sync(order_ids=[initial]).synced_orders
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    before = stripe.v1.subscription_schedules.retrieve(schedule_id).phases

    first, (_, widget) = create_order(
        sf, acct, [("Annual Seats", 2, seats), ("Widget A", 2)], start=add_months(start, 4), term=14,
        amends=contract, end=end,
    )  # fmt: skip
    second, _ = create_order(
        sf, acct, [("Annual Seats", 1, seats), ("Widget A", 1, widget)], start=add_months(start, 14), term=4,
        amends=contract, end=end,
    )  # fmt: skip
    report = run_sync(order_ids=[first, second])
    assert report.failed == [] and {first, second} <= set(report.synced_orders)
    assert sf.Order.get(first)["Stripe_ID__c"] == sf.Order.get(second)["Stripe_ID__c"] == schedule_id
    after = stripe.v1.subscription_schedules.retrieve(schedule_id).phases
    assert after[0].start_date == before[0].start_date and after[-1].end_date == before[-1].end_date
    starts = [add_months(start, m) for m in (0, 4, 12, 14)]
    assert [p.start_date for p in after] == [int(dt.datetime.combine(d, dt.time(), dt.UTC).timestamp()) for d in starts]

    expected = (
        [(start, 3 * 120_00)]
        + [(add_months(start, 4), 2 * 80_00 + 2 * 10_00)]  # the 2 seats' 8 months to the year's end, once
        + [(add_months(start, m), 2 * 10_00) for m in range(5, 12)]
        + [(add_months(start, 12), 5 * 60_00 + 2 * 10_00)]  # the 6 months left over, for the 5 seats
        + [(add_months(start, 13), 2 * 10_00)]
        + [(add_months(start, 14), 1 * 40_00 + 3 * 10_00)]  # the seat added in the leftover months: its 4 months
        + [(add_months(start, m), 3 * 10_00) for m in range(15, 18)]
    )
    assert billed(org, schedule_id) == expected
    assert sum(t for _, t in expected) == cents_sold(sf, initial, first, second) == 1180_00

    posts = len(stripe_posts(org))
    rerun = run_sync(order_ids=[initial, first, second])
    assert rerun.failed == [] and not set(rerun.synced_orders) & {initial, first, second}
    assert len(stripe_posts(org)) == posts  # a rerun writes nothing


def test_reductions_of_an_18_month_term_in_its_first_year_and_its_leftover_months(org: Path) -> None:
    """3 annual seats for 18 months next to a monthly product; 1 seat removed from month 4 (its 8 unused months
    credited, the leftover billed for 2 seats), then 1 from month 14 (its 4 unused leftover months credited).
    Each amendment is synced the day before it starts; its credit is on the next invoice."""
    sf, _ = connect_both(org)
    create_product(sf, "Annual Seats", Decimal(120), "Annual")
    create_product(sf, "Widget B", Decimal(20))
    start = sandbox_sf.now(org).date().replace(day=1)
    end = add_months(start, 18) - dt.timedelta(days=1)
    acct = account_id(sf, "Acme%")
    initial, (seats, _) = create_order(
        sf, acct, [("Annual Seats", 3), ("Widget B", 5)], start=start, term=18, contract=True
    )
    contract = sf.Order.get(initial)["ContractId"]
    assert initial in run_sync(order_ids=[initial]).synced_orders
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    orders = [initial]
    for month in (4, 14):
        sandbox_stripe.set_clock(org, the_day_before(add_months(start, month)))
        amendment, _ = create_order(
            sf, acct, [("Annual Seats", -1, seats)], start=add_months(start, month), term=18 - month,
            amends=contract, end=end,
        )  # fmt: skip
        report = run_sync(order_ids=[amendment])
        assert report.failed == [] and amendment in report.synced_orders
        orders.append(amendment)
    expected = (
        [(start, 3 * 120_00 + 100_00)]
        + [(add_months(start, m), 100_00) for m in range(1, 4)]
        + [(add_months(start, 4), 100_00 - 80_00)]  # 1 seat's 8 unused months credited
        + [(add_months(start, m), 100_00) for m in range(5, 12)]
        + [(add_months(start, 12), 100_00 + 2 * 60_00)]  # the leftover months for the 2 seats left
        + [(add_months(start, 13), 100_00)]
        + [(add_months(start, 14), 100_00 - 40_00)]  # 1 seat's 4 unused leftover months credited
        + [(add_months(start, m), 100_00) for m in range(15, 18)]
    )
    assert billed(org, schedule_id) == expected
    assert sum(t for _, t in expected) == cents_sold(sf, *orders) == 2160_00


def test_quarterly_segments_of_an_annual_line_and_their_amendment(org: Path) -> None:
    """An MDQ ramp of annual seats in quarterly segments (10, 15, 20, 25 seats) next to a monthly fee: each
    segment bills CPQ's prorated amount (a quarter of the year's price) once, at its start. An amendment from the
    second quarter adds 5 seats to every later segment."""
    sf, stripe = connect_both(org)
    create_product(sf, "Ramp Seats", Decimal(100), "Annual")
    create_product(sf, "Monthly Fee", Decimal(49))
    start = sandbox_sf.now(org).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    segments = [(10, Decimal(0)), (15, Decimal(0)), (20, Decimal(0)), (25, Decimal(0))]
    initial, lines = create_mdq_order(
        sf, acct, "Ramp Seats", segments, start=start, segment_months=3, plain=(("Monthly Fee", 2),), contract=True
    )
    report = run_sync(order_ids=[initial])
    assert report.failed == [] and initial in report.synced_orders
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    schedule = stripe.v1.subscription_schedules.retrieve(schedule_id)
    assert [p.metadata["salesforce_segment_label"] for p in schedule.phases] == [f"Year {k}" for k in (1, 2, 3, 4)]
    quarters = {0: 10, 3: 15, 6: 20, 9: 25}
    assert billed(org, schedule_id) == [(add_months(start, m), 98_00 + quarters.get(m, 0) * 25_00) for m in range(12)]
    assert sum(t for _, t in billed(org, schedule_id)) == cents_sold(sf, initial)

    amendment, _ = create_order(
        sf, acct, [], start=add_months(start, 3), term=9, amends=sf.Order.get(initial)["ContractId"],
        end=add_months(start, 12) - dt.timedelta(days=1), activate=False,
    )  # fmt: skip
    for index in (2, 3, 4):
        seg_start = add_months(start, 3 * (index - 1))
        add_segment_line(sf, amendment, "Ramp Seats", index, 5, seg_start, 3, revised=lines[index - 1])
    sf.Order.update(amendment, {"Status": "Activated"})
    report = run_sync(order_ids=[amendment])
    assert report.failed == [] and amendment in report.synced_orders
    quarters = {0: 10, 3: 20, 6: 25, 9: 30}
    assert billed(org, schedule_id) == [(add_months(start, m), 98_00 + quarters.get(m, 0) * 25_00) for m in range(12)]
    assert sum(t for _, t in billed(org, schedule_id)) == cents_sold(sf, initial, amendment)


def test_an_18_month_ramp_billed_annually_with_a_last_segment_of_6_months(org: Path) -> None:
    sf, stripe = connect_both(org)
    create_product(sf, "Ramp Seats", Decimal(100), "Annual")
    start = sandbox_sf.now(org).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    order_id, _ = create_order(sf, acct, [], start=start, term=18, activate=False)
    add_segment_line(sf, order_id, "Ramp Seats", 1, 10, start, 12)
    add_segment_line(sf, order_id, "Ramp Seats", 2, 15, add_months(start, 12), 6)
    sf.Order.update(order_id, {"Status": "Activated"})
    report = run_sync(order_ids=[order_id])
    assert report.failed == [] and order_id in report.synced_orders
    schedule_id = sf.Order.get(order_id)["Stripe_ID__c"]
    phases = stripe.v1.subscription_schedules.retrieve(schedule_id).phases
    assert [[i.quantity for i in p["items"]] for p in phases] == [[10], [0]]
    assert billed(org, schedule_id) == [(start, 10 * 100_00), (add_months(start, 12), 15 * 50_00)]
    assert sum(t for _, t in billed(org, schedule_id)) == cents_sold(sf, order_id)


def test_a_migrated_18_month_contract_and_its_amendments(org: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An 18-month contract (3 annual seats, 4 of a monthly widget) that started two months ago, migrated: the old
    system billed the first year of seats and the widget's months to the sync start date. An amendment activated
    before the sync start date (1 widget more from month 1) was billed by the old system up to then too; one
    activated after it (2 seats more from month 4) bills its 8 months to the year's end once, and the leftover
    6 months bill for the 5 seats. Stripe bills the rest of what CPQ sold, never a paid period again."""
    sf, _ = connect_both(org)
    create_product(sf, "Annual Seats", Decimal(120), "Annual")
    create_product(sf, "Widget A", Decimal(10))
    today = sandbox_sf.now(org).date()
    start = add_months(today.replace(day=1), -2)
    sync_start = add_months(today.replace(day=1), 1)
    end = add_months(start, 18) - dt.timedelta(days=1)
    acct = account_id(sf, "Acme%")

    def activated(order_id: str, when: dt.datetime) -> None:
        sf.Order.update(order_id, {"ActivatedDate": when.strftime("%Y-%m-%dT%H:%M:%SZ")})

    yesterday = dt.datetime.combine(today, dt.time(9), tzinfo=dt.UTC) - dt.timedelta(days=1)
    initial, (seats, widget) = create_order(
        sf, acct, [("Annual Seats", 3), ("Widget A", 4)], start=start, term=18, contract=True
    )
    activated(initial, yesterday)
    contract = sf.Order.get(initial)["ContractId"]
    old, _ = create_order(
        sf, acct, [("Widget A", 1, widget)], start=add_months(start, 1), term=17, amends=contract, end=end
    )
    activated(old, yesterday)
    new, _ = create_order(
        sf, acct, [("Annual Seats", 2, seats)], start=add_months(start, 4), term=14, amends=contract, end=end
    )
    activated(new, dt.datetime.combine(sync_start, dt.time(9), tzinfo=dt.UTC))
    monkeypatch.setenv("CPQ_SYNC_SYNC_START_DATE", sync_start.isoformat())
    monkeypatch.setenv("CPQ_SYNC_MIGRATE_ORDERS_BEFORE_START_DATE", "true")
    report = run_sync(order_ids=[initial, old, new])
    assert report.failed == [] and {initial, old, new} <= set(report.synced_orders)
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    assert sf.Order.get(old)["Stripe_ID__c"] == sf.Order.get(new)["Stripe_ID__c"] == schedule_id
    expected = (
        [(add_months(start, 3), 5 * 10_00)]
        + [(add_months(start, 4), 5 * 10_00 + 2 * 80_00)]
        + [(add_months(start, m), 5 * 10_00) for m in range(5, 12)]
        + [(add_months(start, 12), 5 * 10_00 + 5 * 60_00)]
        + [(add_months(start, m), 5 * 10_00) for m in range(13, 18)]
    )
    assert billed(org, schedule_id) == expected
    paid_before = 3 * 120_00 + 3 * 4 * 10_00 + 2 * 10_00  # the seats' first year, the widgets' months to the start
    assert sum(t for _, t in expected) == cents_sold(sf, initial, old, new) - paid_before
    posts = len(stripe_posts(org))
    assert run_sync(order_ids=[initial, old, new]).failed == []
    assert len(stripe_posts(org)) == posts


def test_a_migrated_mdq_ramp_and_its_amendment_bill_nothing_already_paid(
    org: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An MDQ ramp of annual seats in quarterly segments (10, 15, 20, 25 seats, each a quarter of the year's price
    billed once at its start) next to a monthly fee, started four months ago and migrated: the old system billed
    the first two quarters and the fee's months to the sync start date. An amendment activated before the sync
    start date adds 5 seats to the second, third and fourth quarters: the second was billed by the old system, the
    others bill the new quantity. Stripe bills the rest of what CPQ sold, never a paid period again."""
    sf, _ = connect_both(org)
    create_product(sf, "Ramp Seats", Decimal(100), "Annual")
    create_product(sf, "Monthly Fee", Decimal(49))
    today = sandbox_sf.now(org).date()
    start = add_months(today.replace(day=1), -4)
    sync_start = add_months(today.replace(day=1), 1)
    acct = account_id(sf, "Acme%")
    segments = [(10, Decimal(0)), (15, Decimal(0)), (20, Decimal(0)), (25, Decimal(0))]
    initial, lines = create_mdq_order(
        sf, acct, "Ramp Seats", segments, start=start, segment_months=3, plain=(("Monthly Fee", 2),), contract=True
    )
    yesterday = (dt.datetime.combine(today, dt.time(9), tzinfo=dt.UTC) - dt.timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    sf.Order.update(initial, {"ActivatedDate": yesterday})
    amendment, _ = create_order(
        sf, acct, [], start=add_months(start, 3), term=9, amends=sf.Order.get(initial)["ContractId"],
        end=add_months(start, 12) - dt.timedelta(days=1), activate=False,
    )  # fmt: skip
    for index in (2, 3, 4):
        add_segment_line(sf, amendment, "Ramp Seats", index, 5, add_months(start, 3 * (index - 1)), 3,
                         revised=lines[index - 1])  # fmt: skip
    sf.Order.update(amendment, {"Status": "Activated"})
    sf.Order.update(amendment, {"ActivatedDate": yesterday})
    monkeypatch.setenv("CPQ_SYNC_SYNC_START_DATE", sync_start.isoformat())
    monkeypatch.setenv("CPQ_SYNC_MIGRATE_ORDERS_BEFORE_START_DATE", "true")

    report = run_sync(order_ids=[initial, amendment])
    assert report.failed == [] and {initial, amendment} <= set(report.synced_orders)
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    assert sf.Order.get(amendment)["Stripe_ID__c"] == schedule_id
    # Nothing before the sync start date (month 5); the fee monthly from it, the third and fourth quarters once.
    quarters = {6: 25, 9: 30}
    expected = [(add_months(start, m), 2 * 49_00 + quarters.get(m, 0) * 25_00) for m in range(5, 12)]
    assert billed(org, schedule_id) == expected
    paid_before = (10 + 20) * 25_00 + 5 * 2 * 49_00  # the first two quarters (with the amendment's 5), 5 fee months
    assert sum(t for _, t in expected) == cents_sold(sf, initial, amendment) - paid_before
    posts = len(stripe_posts(org))
    assert run_sync(order_ids=[initial, amendment]).failed == []
    assert len(stripe_posts(org)) == posts


def test_backdated_prorated_orders_bill_their_past_periods(org: Path) -> None:
    """Orders that started five months before the sync (a backdated start, no Skip_Past_Initial_Invoices__c):
    a 9-month term billed annually next to a monthly widget, and a quarterly ramp of an annual line next to a
    monthly fee. Stripe bills every period of the term, the past ones included, and CPQ's prorated amounts once."""
    sf, _ = connect_both(org)
    create_product(sf, "Annual Seats", Decimal(120), "Annual")
    create_product(sf, "Widget A", Decimal(10))
    create_product(sf, "Ramp Seats", Decimal(100), "Annual")
    create_product(sf, "Monthly Fee", Decimal(49))
    start = add_months(sandbox_sf.now(org).date().replace(day=1), -5)
    acct = account_id(sf, "Acme%")
    odd, _ = create_order(sf, acct, [("Annual Seats", 3), ("Widget A", 2)], start=start, term=9)
    segments = [(10, Decimal(0)), (15, Decimal(0)), (20, Decimal(0)), (25, Decimal(0))]
    ramp, _ = create_mdq_order(
        sf, acct, "Ramp Seats", segments, start=start, segment_months=3, plain=(("Monthly Fee", 2),)
    )
    report = run_sync(order_ids=[odd, ramp])
    assert report.failed == [] and {odd, ramp} <= set(report.synced_orders)
    odd_schedule, ramp_schedule = sf.Order.get(odd)["Stripe_ID__c"], sf.Order.get(ramp)["Stripe_ID__c"]
    # 3 seats x 120.00 x 9/12 once, then 2 x 10.00 every month
    assert billed(org, odd_schedule) == [(add_months(start, m), 20_00 + (270_00 if m == 0 else 0)) for m in range(9)]
    assert sum(t for _, t in billed(org, odd_schedule)) == cents_sold(sf, odd)
    quarters = {0: 10, 3: 15, 6: 20, 9: 25}
    assert billed(org, ramp_schedule) == [(add_months(start, m), 98_00 + quarters.get(m, 0) * 25_00) for m in range(12)]
    assert sum(t for _, t in billed(org, ramp_schedule)) == cents_sold(sf, ramp)


def test_a_fraction_of_a_cent_a_month_on_several_phases_bills_exactly_what_cpq_sold(org: Path) -> None:
    """15 units at 949.62 for a 24-month term are 593.5125 a month: Stripe bills 593.51, 6 cents short over the
    term. On an MDQ ramp (the line on both yearly phases) the 6 cents are settled once; on a contract amended from
    month 12 to 20 units (791.35 a month, whole cents) the amendment settles the change (-3), so each bills to
    the cent what CPQ sold, and a rerun writes nothing."""
    sf, stripe = connect_both(org)
    create_product(sf, "Ramp Seats", Decimal(100), "Annual")
    create_product(sf, "Odd Fee", Decimal("39.57"))
    start = sandbox_sf.now(org).date().replace(day=1)
    acct = account_id(sf, "Acme%")
    ramp, (fee,) = create_order(sf, acct, [("Odd Fee", 15)], start=start, term=24, activate=False)
    add_segment_line(sf, ramp, "Ramp Seats", 1, 10, start, 12)
    add_segment_line(sf, ramp, "Ramp Seats", 2, 15, add_months(start, 12), 12)
    sf.OrderItem.update(fee, {"UnitPrice": 949.62})  # the rep's price for the term
    sf.Order.update(ramp, {"Status": "Activated"})
    initial, (contract_fee,) = create_order(
        sf, acct, [("Odd Fee", 15)], start=start, term=24, contract=True, activate=False
    )
    sf.OrderItem.update(contract_fee, {"UnitPrice": 949.62})
    sf.Order.update(initial, {"Status": "Activated"})
    report = run_sync(order_ids=[ramp, initial])
    assert report.failed == [] and {ramp, initial} <= set(report.synced_orders)
    ramp_schedule = sf.Order.get(ramp)["Stripe_ID__c"]
    seats = {0: 10 * 100_00, 12: 15 * 100_00}
    assert billed(org, ramp_schedule) == [
        (add_months(start, m), 593_51 + seats.get(m, 0) + (6 if m == 1 else 0)) for m in range(24)
    ]  # the remainder on the first invoice after the sync
    assert sum(t for _, t in billed(org, ramp_schedule)) == cents_sold(sf, ramp) == 16_744_30

    amendment, (added,) = create_order(
        sf, acct, [("Odd Fee", 5, contract_fee)], start=add_months(start, 12), term=12,
        amends=sf.Order.get(initial)["ContractId"], end=add_months(start, 24) - dt.timedelta(days=1), activate=False,
    )  # fmt: skip
    sf.OrderItem.update(added, {"UnitPrice": 474.81})  # CPQ's prorated price: 949.62 x 12 / 24
    sf.Order.update(amendment, {"Status": "Activated"})
    report = run_sync(order_ids=[amendment])
    assert report.failed == [] and amendment in report.synced_orders
    schedule = sf.Order.get(initial)["Stripe_ID__c"]
    assert billed(org, schedule) == [
        (add_months(start, m), (593_51 if m < 12 else 791_35) + (6 - 3 if m == 1 else 0)) for m in range(24)
    ]
    assert sum(t for _, t in billed(org, schedule)) == cents_sold(sf, initial, amendment) == 16_618_35
    items = [(i.metadata.to_dict() if i.metadata else {}, i.amount) for i in stripe.v1.invoice_items.list().data]
    remainders = {
        m["salesforce_adjustment"]: a for m, a in items if m.get("salesforce_adjustment", "")[:9] == "rounding:"
    }
    assert remainders == {f"rounding:{fee}": 6, f"rounding:{contract_fee}": 6, f"rounding:{amendment}": -3}
    posts = len(stripe_posts(org))
    assert run_sync(order_ids=[ramp, initial, amendment]).stripe_writes == 0
    assert len(stripe_posts(org)) == posts


def test_units_removed_at_one_price_leave_it_first_then_the_latest_units_added(org: Path) -> None:
    """A 24-month contract of 1 unit of support billed every 6 months (570.00); 5 more from month 6 at a rep's
    price (569.98: a second price next to the first); 3 fewer from month 12 at the first price. The first price's
    unit leaves, then 2 of the 5: 3 units bill on (it billed 5 before, the first price's -2 dropped)."""
    sf, stripe = connect_both(org)
    create_product(sf, "Support Plan", Decimal(570), "Semiannual")
    start = sandbox_sf.now(org).date().replace(day=1)
    end = add_months(start, 24) - dt.timedelta(days=1)
    acct = account_id(sf, "Acme%")
    initial, (support,) = create_order(sf, acct, [("Support Plan", 1)], start=start, term=24, contract=True)
    contract = sf.Order.get(initial)["ContractId"]
    more, (added,) = create_order(
        sf, acct, [("Support Plan", 5, support)], start=add_months(start, 6), term=18, amends=contract, end=end,
        activate=False,
    )  # fmt: skip
    sf.OrderItem.update(added, {"UnitPrice": 1709.94})  # 569.98 a half-year
    sf.Order.update(more, {"Status": "Activated"})
    fewer, _ = create_order(
        sf, acct, [("Support Plan", -3, support)], start=add_months(start, 12), term=12, amends=contract, end=end
    )
    report = run_sync(order_ids=[initial, more, fewer])
    assert report.failed == [] and {initial, more, fewer} <= set(report.synced_orders)
    schedule_id = sf.Order.get(initial)["Stripe_ID__c"]
    last = stripe.v1.subscription_schedules.retrieve(schedule_id).phases[-1]
    assert sorted(i.quantity for i in last["items"]) == [3]
    expected = [(start, 570_00), (add_months(start, 6), 570_00 + 5 * 569_98)]
    expected += [(add_months(start, m), 3 * 569_98) for m in (12, 18)]
    assert billed(org, schedule_id) == expected
    # CPQ credits the 3 units at 1,140.00 each (its first price) where two of them bill at 569.98 a half-year:
    # 8 cents more than the orders' totals, beyond rounding, so not settled as one.
    assert sum(t for _, t in expected) == cents_sold(sf, initial, more, fewer) + 8
