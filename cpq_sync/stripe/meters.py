"""Billing meters have no Salesforce record to hold their id: a run finds the ones it needs in Stripe by event name,
with one paged list of the active meters, and only when a price to create or replace needs a meter."""

from __future__ import annotations

import logging

import stripe

from cpq_sync.desired import ObjectKind, Ref
from cpq_sync.plan import Action, Operation, Plan

log = logging.getLogger(__name__)
LIST_PAGE = 100


def resolve_meters(client: stripe.StripeClient, plan: Plan) -> int:
    """Turns the plan's meter creates into skips (with their Stripe id) when the meter already exists, and skips
    the meters nothing written in this run needs. Returns the number of Stripe list calls made."""
    # Only a price bills with a meter (its `recurring.meter`): the other writes (schedules, invoices, customers)
    # are not walked, a large plan's schedules being most of its values. One pass over the plan finds both.
    meters: list[Operation] = []
    needed: set[str] = set()
    for op in plan.operations.values():
        kind = op.desired.kind
        if kind is ObjectKind.PRICE:
            if op.action is not Action.SKIP:
                for ref in _meter_refs(op):
                    needed.add(ref.key)
        elif kind is ObjectKind.METER:
            meters.append(op)
    if not meters:
        return 0
    wanted: dict[str, Operation] = {}
    for op in meters:
        if op.key in needed:
            wanted[str(op.desired.params["event_name"])] = op
        else:
            op.action, op.reason = Action.SKIP, "nothing written in this run bills with it"
    if not wanted:
        return 0
    calls = 0
    page = client.v1.billing.meters.list({"status": "active", "limit": LIST_PAGE})
    calls += 1
    while True:
        for meter in page.data:
            found = wanted.get(meter.event_name)
            if found is not None:
                found.desired.known_id = meter.id
                found.desired.known_hash = found.desired.content_hash
                found.action, found.reason = Action.SKIP, f"found in Stripe by its event name {meter.event_name}"
        if not page.has_more or not page.data:
            break
        page = client.v1.billing.meters.list(
            {"status": "active", "limit": LIST_PAGE, "starting_after": page.data[-1].id}
        )
        calls += 1
    log.info(
        "billing meters: %d needed, %d found in Stripe",
        len(wanted),
        sum(op.action is Action.SKIP for op in wanted.values()),
    )
    return calls


def _meter_refs(op: Operation) -> list[Ref]:
    """The meter a price bills with (`recurring.meter`, the one place a price names one), read directly rather
    than by walking all the price's references."""
    recurring = op.desired.params.get("recurring")
    meter = recurring.get("meter") if isinstance(recurring, dict) else None
    return [meter] if isinstance(meter, Ref) else []
