"""The invariant checker sees each way a sync can go wrong: a duplicate Stripe object for an order, an order the
watermark passed that is not in Stripe, a Stripe object Salesforce does not point at, a Success Sync Record for an
object that is gone, and a billing preview that bills other than what CPQ sold."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cpq_sync.config import load_settings
from cpq_sync.ops.invariants import check_invariants
from cpq_sync.salesforce.state import WATERMARK_KEY
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sync import Mode, run_direct
from tests.e2e.support import account_id, connect_both, create_order


@pytest.fixture
def synced(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CPQ_SYNC_STRIPE_REQUESTS_PER_SECOND", "1000")
    sandbox_sf.seed_org(sandbox, orders=40, seed=21)
    report = run_direct(load_settings(), Mode.INCREMENTAL)
    assert report.synced_orders
    return sandbox


def test_a_clean_sync_keeps_every_invariant(synced: Path) -> None:
    report = check_invariants(synced)
    assert report.ok, report.problems()
    assert report.orders_eligible == report.orders_synced > 20
    assert report.money_checked > 5
    assert not report.lost and not report.orders_pending and not report.orders_errored


def test_a_second_schedule_for_an_order_is_a_duplicate(synced: Path) -> None:
    _, stripe = connect_both(synced)
    schedule = next(iter(stripe.v1.subscription_schedules.list({"limit": 1})))
    order_id = schedule.metadata["salesforce_order_id"]
    phase = schedule.phases[0]
    copy = stripe.v1.subscription_schedules.create(
        {
            "customer": schedule.customer,
            "start_date": phase.start_date,
            "metadata": {"salesforce_order_id": order_id},
            "phases": [
                {
                    "items": [{"price": i.price, "quantity": i.quantity} for i in phase["items"]],
                    "end_date": phase.end_date,
                }
            ],
        }
    )
    report = check_invariants(synced)
    assert report.duplicates == {order_id: sorted([schedule.id, copy.id])}
    assert copy.id in report.unreferenced  # the copy is nobody's Stripe_ID__c
    assert not report.ok


def test_an_activated_order_the_watermark_passed_without_syncing_it_is_lost(synced: Path) -> None:
    sf, _ = connect_both(synced)
    start = sandbox_sf.now(synced).date().replace(day=1)
    order_id, _ = create_order(sf, account_id(sf, "%"), [("Platform Subscription", 2)], start=start)
    assert order_id in check_invariants(synced, money=False).orders_pending  # the next run takes it
    # A run that moved the watermark past it without syncing it, and without an Error Sync Record.
    later = sandbox_sf.now(synced) + dt.timedelta(hours=1)
    sf.Stripe_Sync_State__c.upsert(f"Key__c/{WATERMARK_KEY}", {"Value__c": later.isoformat()})
    report = check_invariants(synced, money=False)
    assert report.lost == [order_id]
    assert not report.ok


def test_a_success_sync_record_for_a_missing_object_is_a_false_success(synced: Path) -> None:
    sf, _ = connect_both(synced)
    record = sf.query("SELECT Id FROM Sync_Record__c WHERE Resolution_Status__c = 'Success' LIMIT 1")["records"][0]
    sf.Sync_Record__c.update(record["Id"], {"Stripe_Object_ID__c": "sub_sched_1NoSuchSchedule0000000"})
    report = check_invariants(synced, money=False)
    assert report.false_success == [record["Id"]]
    assert not report.ok


def test_a_schedule_billing_other_than_cpq_sold_is_a_money_mismatch(synced: Path) -> None:
    _, stripe = connect_both(synced)
    before = check_invariants(synced)
    schedules = list(stripe.v1.subscription_schedules.list({"limit": 100}).auto_paging_iter())
    future = next(
        s
        for s in schedules
        if s.status == "not_started"
        and len(s.phases) == 1
        and not s.phases[0].discounts
        and all(i.quantity for i in s.phases[0]["items"])
    )
    phase = future.phases[0]
    items = [{"price": i.price, "quantity": i.quantity + 1} for i in phase["items"]]
    stripe.v1.subscription_schedules.update(
        future.id,
        {"phases": [{"items": items, "start_date": phase.start_date, "end_date": phase.end_date}]},
    )
    report = check_invariants(synced)
    assert [m.stripe_id for m in report.money_mismatches] == [future.id]
    assert before.money_checked == report.money_checked
