"""The sandbox clock's effect on billing objects, applied at the start of every request.

Like a Stripe test clock, moving the clock forward moves schedules and subscriptions:

* a schedule is ``not_started`` before its first phase, then ``active``: its subscription is created (with the
  schedule's start as ``start_date`` and billing cycle anchor, so a backdated schedule gets a backdated
  subscription) and kept in step with the current phase (items, quantities, discounts, collection settings,
  phase metadata merged into the subscription's);
* at the end of the last phase, ``end_behavior=cancel`` completes the schedule (``completed``) and cancels the
  subscription; ``end_behavior=release`` releases it (``released``, ``released_subscription``): the
  subscription goes on with the last phase's items and no schedule;
* a subscription's items move to the period containing the clock; ``cancel_at`` ends it.

Each object carries an indexed ``next_due`` (when the clock must next touch it), so a request costs one
indexed ``min()`` lookup unless something is due. Moving the clock backwards does not undo transitions (nor
does Stripe's).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from cpq_sync.sandbox.stripe.billing import lifecycle
from cpq_sync.sandbox.stripe.billing.common import price_interval
from cpq_sync.sandbox.stripe.router import RequestContext, before_request
from cpq_sync.sandbox.stripe.store import Condition, JSONObject, Store, register_index

TERMINAL = ("canceled", "completed", "released")


def schedule_next_due(sched: JSONObject) -> str | None:
    status = sched.get("status")
    if status in TERMINAL or not sched.get("phases"):
        return None
    if status == "not_started":
        return f"{int(sched['phases'][0]['start_date']):012d}"
    current = sched.get("current_phase") or {}
    end = current.get("end_date") or sched["phases"][-1]["end_date"]
    return f"{int(end):012d}"


register_index("subscription_schedule", "customer")
register_index("subscription_schedule", "next_due", schedule_next_due)


def phase_at(phases: list[JSONObject], ts: int) -> JSONObject | None:
    for phase in phases:
        if int(phase["start_date"]) <= ts < int(phase["end_date"]):
            return phase
    return None


def _phase_interval(store: Store, phase: Mapping[str, Any]) -> tuple[str, int]:
    price = store.get("price", str(phase["items"][0]["price"])) if phase["items"] else None
    return price_interval(price) if price is not None else ("month", 1)


def mixed_intervals(store: Store, phases: list[JSONObject]) -> bool:
    """Whether some phase bills prices of different intervals (a flexible billing mode schedule)."""
    for phase in phases:
        prices = (store.get("price", str(i["price"])) for i in phase["items"])
        if len({price_interval(p) for p in prices if p is not None}) > 1:
            return True
    return False


def billing_anchor(store: Store, sched: JSONObject, until_start: int) -> int:
    """The billing cycle anchor in force for the phase starting at ``until_start``: the schedule's start,
    reset by every phase (up to that one) with ``billing_cycle_anchor=phase_start`` or another interval.
    When phases mix intervals, each item bills on its own interval from the anchor and only
    ``phase_start`` resets it."""
    default = sched["default_settings"].get("billing_cycle_anchor")
    phases = [p for p in sched["phases"] if int(p["start_date"]) <= until_start]
    anchor = int(phases[0]["start_date"]) if phases else until_start
    mixed = mixed_intervals(store, sched["phases"])
    for previous, phase in pairwise(phases):
        setting = phase.get("billing_cycle_anchor") or default
        new_interval = not mixed and _phase_interval(store, phase) != _phase_interval(store, previous)
        if setting == "phase_start" or new_interval:
            anchor = int(phase["start_date"])
    return anchor


def _apply_phase(store: Store, sched: JSONObject, sub: JSONObject, phase: Mapping[str, Any], now_ts: int) -> None:
    lifecycle.set_items(store, sub, phase["items"], max(now_ts, int(phase["start_date"])))
    start = int(phase["start_date"])
    sub["billing_cycle_anchor"] = billing_anchor(store, sched, start)
    sub["discounts"] = lifecycle.sync_discounts(
        store,
        sub.get("discounts") or [],
        phase.get("discounts") or [],
        customer=str(sub["customer"]),
        start=start,
        subscription=sub["id"],
        schedule=sched["id"],
    )
    defaults = sched["default_settings"]
    sub["collection_method"] = phase.get("collection_method") or defaults["collection_method"]
    days = (phase.get("invoice_settings") or {}).get("days_until_due")
    if days is None:
        days = defaults["invoice_settings"].get("days_until_due")
    sub["days_until_due"] = days if sub["collection_method"] == "send_invoice" else None
    sub["description"] = phase.get("description") or defaults.get("description")
    sub["metadata"] = {**sub.get("metadata", {}), **(phase.get("metadata") or {})}


def step_schedule(store: Store, sched: JSONObject, now_ts: int) -> None:
    """Bring a schedule (and its subscription) to the clock, and store both."""
    if sched.get("status") in TERMINAL:
        store.save(sched)
        return
    phases: list[JSONObject] = sched["phases"]
    start, end = int(phases[0]["start_date"]), int(phases[-1]["end_date"])
    if now_ts < start:
        sched["status"] = "not_started"
        sched["current_phase"] = None
        store.save(sched)
        return
    sub = store.get("subscription", str(sched["subscription"])) if sched.get("subscription") else None
    if sub is None:
        defaults = sched["default_settings"]
        sub = lifecycle.new_subscription(
            store,
            customer=str(sched["customer"]),
            start_date=start,
            anchor=start,
            # Created when the schedule starts (or with the schedule, when it starts at once or backdated).
            now_ts=max(start, int(sched["created"])),
            collection_method=defaults["collection_method"],
            days_until_due=defaults["invoice_settings"].get("days_until_due"),
            metadata={},
            schedule=sched["id"],
            billing_mode=sched.get("billing_mode"),
        )
        sched["subscription"] = sub["id"]
    if now_ts >= end:
        _apply_phase(store, sched, sub, phases[-1], now_ts)
        sched["current_phase"] = None
        if sched["end_behavior"] == "cancel":
            sched["status"] = "completed"
            sched["completed_at"] = end
            lifecycle.refresh_periods(store, sub, end - 1)
            lifecycle.end_subscription(store, sub, end)
        else:
            sched["status"] = "released"
            sched["released_at"] = end
            sched["released_subscription"] = sub["id"]
            sched["subscription"] = None
            sub["schedule"] = None
            lifecycle.refresh_periods(store, sub, now_ts)
            lifecycle.save(store, sub)
        store.save(sched)
        return
    phase = phase_at(phases, now_ts)
    assert phase is not None
    sched["status"] = "active"
    sched["current_phase"] = {"end_date": phase["end_date"], "start_date": phase["start_date"]}
    _apply_phase(store, sched, sub, phase, now_ts)
    lifecycle.refresh_periods(store, sub, now_ts)
    lifecycle.save(store, sub)
    store.save(sched)


def _due(store: Store, object_type: str, now_ts: int) -> list[JSONObject]:
    row = store.db.execute(
        "SELECT min(value) FROM attrs WHERE object = ? AND key = 'next_due'", (object_type,)
    ).fetchone()
    stamp = f"{now_ts:012d}"
    if row is None or row[0] is None or str(row[0]) > stamp:
        return []
    condition = Condition(
        "o.seq IN (SELECT seq FROM attrs WHERE object = ? AND key = 'next_due' AND value <= ?)",
        (object_type, stamp),
    )
    return store.all(object_type, condition)


def advance(store: Store, now_ts: int) -> None:
    """Apply every transition due at ``now_ts``: schedules first (they drive their subscriptions)."""
    for sched in _due(store, "subscription_schedule", now_ts):
        step_schedule(store, sched, now_ts)
    for sub in _due(store, "subscription", now_ts):
        lifecycle.step_subscription(store, sub, now_ts)


@before_request
def _advance_to_clock(ctx: RequestContext) -> None:
    advance(ctx.store, ctx.now_ts)
