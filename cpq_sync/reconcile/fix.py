"""`reconcile --fix`: each finding repaired by its action, through the sync's apply where the sync has a way of
doing it (create, update), else with the one Stripe call the repair needs (reactivate, metadata, phases). New ids
are written back to Salesforce, and each repaired or failed record gets a Sync Record saying what was done.
Nothing is ever deleted, and an ended schedule is recreated only with --recreate-ended."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import stripe

from cpq_sync.desired import Desired, ObjectKind
from cpq_sync.plan import Action, Operation
from cpq_sync.reconcile.diff import phase_bounds
from cpq_sync.reconcile.findings import FIX_TEXT, Finding, FixAction, stripe_ids
from cpq_sync.reconcile.live import LiveState, service
from cpq_sync.salesforce.write_back import (
    Status,
    StripeIdUpdate,
    SyncRecord,
    upsert_sync_records,
    write_stripe_ids,
)
from cpq_sync.stripe.apply import StripeApplier, describe_stripe_error
from cpq_sync.stripe.pacing import Pacer
from cpq_sync.sync import RunContext

log = logging.getLogger(__name__)


class NotRepairable(Exception):
    """The repair cannot be made safely; the message says why."""


def phases_update(finding: Finding, now: dt.datetime) -> dict[str, Any]:
    """The schedule's current and future phases, dates as Stripe has them, items as Salesforce says. A phase
    that started keeps its one-time items (they were invoiced when it started)."""
    at = int(now.timestamp())
    live = finding.live or {}
    bounds = phase_bounds(finding.resolved)
    desired = {end: phase for phase, (_, end) in zip(finding.resolved.get("phases") or [], bounds, strict=False)}
    phases = []
    for phase in live.get("phases") or []:
        start, end = int(phase["start_date"]), int(phase["end_date"])
        if end <= at:
            continue
        want = desired.get(end)
        if want is None:
            raise NotRepairable(f"the phase ending {dt.datetime.fromtimestamp(end, dt.UTC).date()} is not Salesforce's")
        params = {k: v for k, v in want.items() if k not in ("duration", "start_date", "end_date")}
        if start <= at:
            params.pop("add_invoice_items", None)
        phases.append({**params, "start_date": start, "end_date": end})
    if not phases:
        raise NotRepairable("the schedule has no current or future phase")
    return {"phases": phases, "proration_behavior": "none", "metadata": finding.resolved.get("metadata", {})}


class Fixer:
    def __init__(self, ctx: RunContext, objects: list[Desired], live: LiveState, pacer: Pacer) -> None:
        self.ctx = ctx
        self.pacer = pacer
        meters = {str(m.get("event_name")): str(m["id"]) for m in live.of(ObjectKind.METER)}
        self.ids = stripe_ids(objects, meters)
        suffix = f"-reconcile-{int(ctx.started_at.timestamp())}"
        self.applier = StripeApplier(
            ctx.stripe, pacer=pacer, concurrency=ctx.settings.preferences.stripe_concurrency, key_suffix=suffix
        )
        self.key_suffix = suffix

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        self.pacer.wait()
        return fn(*args)

    def _apply(self, desired: Desired, action: Action) -> str:
        outcome = self.applier.apply_one(Operation(desired, action, "repaired by reconcile"), self.ids)
        if not outcome.ok or not outcome.stripe_id:
            raise NotRepairable(outcome.error or "no object returned")
        return outcome.stripe_id

    def fix(self, finding: Finding) -> tuple[str, str | None]:
        """Repairs one finding; returns what was done and the new Stripe id (for a recreated object)."""
        desired = finding.desired
        assert desired is not None and desired.known_id is not None
        action = finding.action
        update = service(self.ctx.stripe, desired.kind).update
        key = {"idempotency_key": f"cpqsync-reconcile-{action.value}-{desired.known_id}{self.key_suffix}"}
        if action in (FixAction.RECREATE, FixAction.RECREATE_ENDED):
            new_id = self._apply(desired, Action.CREATE)
            self.ids[desired.key] = new_id
            return f"recreated as {new_id} (was {desired.known_id})", new_id
        if action is FixAction.UPDATE and desired.kind is ObjectKind.SUBSCRIPTION:
            fields = {"cancel_at": finding.resolved["cancel_at"], "proration_behavior": "none"}
            self._call(update, desired.known_id, {**fields, "metadata": finding.resolved.get("metadata", {})}, key)
            return "cancellation date and metadata set back", None
        if action is FixAction.UPDATE:
            if finding.live and finding.live.get("active") is False:
                self._call(update, desired.known_id, {"active": True}, key)
            self._apply(desired, Action.UPDATE)
            return "updated to the Salesforce values", None
        if action is FixAction.REACTIVATE:
            self._call(update, desired.known_id, {"active": True}, key)
            return "reactivated", None
        if action is FixAction.METADATA:
            self._call(update, desired.known_id, {"metadata": finding.resolved.get("metadata", {})}, key)
            return "metadata set back", None
        if action is FixAction.PHASES:
            self._call(update, desired.known_id, phases_update(finding, self.ctx.started_at), key)
            return "current and future phases set to Salesforce's", None
        raise NotRepairable(f"no repair for {action.value}")


def apply_fixes(
    ctx: RunContext, findings: list[Finding], objects: list[Desired], live: LiveState, pacer: Pacer
) -> None:
    """Repairs what can be repaired, layer by layer (a recreated customer before a schedule recreated for it)."""
    fixer = Fixer(ctx, objects, live, pacer)
    id_updates: list[StripeIdUpdate] = []
    records: list[SyncRecord] = []
    todo = [f for f in findings if f.desired is not None and f.action is not FixAction.NONE]
    for finding in sorted(todo, key=lambda f: f.desired.layer if f.desired else 0):
        desired = finding.desired
        assert desired is not None
        what = f"{desired.kind.value.replace('_', ' ')} {desired.known_id}"
        try:
            done, new_id = fixer.fix(finding)
        except (NotRepairable, stripe.StripeError) as exc:
            text = describe_stripe_error(exc) if isinstance(exc, stripe.StripeError) else str(exc)
            finding.fixed, finding.fix_result = False, f"not repaired: {text}"
            records.append(
                SyncRecord(desired.record, desired.record, Status.ERROR, f"Reconcile could not repair {what}: {text}")
            )
            log.warning("reconcile: %s not repaired: %s", what, text)
            continue
        finding.fixed, finding.fix_result = True, done
        if new_id is not None:
            id_updates += [
                StripeIdUpdate(record, new_id, desired.content_hash)
                for record in (desired.record, *desired.also_records)
            ]
        message = f"Reconcile repaired drift of Stripe {what}: {done} ({FIX_TEXT[finding.action]})"
        records.append(SyncRecord(desired.record, desired.record, Status.SUCCESS, message,
                                  stripe_object_id=new_id or desired.known_id))  # fmt: skip
    if id_updates:
        write_stripe_ids(ctx.org, id_updates)
    if records:
        upsert_sync_records(ctx.org, records, livemode=ctx.livemode)
