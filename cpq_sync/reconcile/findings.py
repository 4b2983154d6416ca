"""From the desired objects and the live Stripe state to findings: the drift of each synced object, what --fix
would do about it, and the orphans (Stripe objects with salesforce metadata that no Salesforce record references).
Pure: no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cpq_sync.desired import Desired, ObjectKind, resolve_refs
from cpq_sync.reconcile.diff import ENDED_STATUSES, UNKNOWN, FieldDiff, Problem, diff_object
from cpq_sync.reconcile.live import LiveState


class FixAction(StrEnum):
    RECREATE = "recreate"  # through the sync's apply (a create), the new id written back to Salesforce
    UPDATE = "update"  # through the sync's apply (an update with every field the sync sets)
    REACTIVATE = "reactivate"  # active=true on an archived price or product
    METADATA = "metadata"  # our metadata keys set back
    PHASES = "phases"  # the schedule's current and future phases given Salesforce's items again
    RECREATE_ENDED = "recreate-ended"  # a new schedule or subscription, only with --recreate-ended
    NONE = "none"


ENDED_ADVICE = (
    "none: a billing engineer decides (a new schedule bills from the order's start again, invoicing periods the "
    "ended one may have invoiced); --fix --recreate-ended creates it"
)
FIX_TEXT = {
    FixAction.RECREATE: "recreate it (new id written back to Salesforce)",
    FixAction.UPDATE: "update Stripe to the Salesforce value",
    FixAction.REACTIVATE: "reactivate it (active=true)",
    FixAction.METADATA: "set the metadata back",
    FixAction.PHASES: "update the current and future phases to Salesforce's",
    FixAction.RECREATE_ENDED: "create a new one (--recreate-ended), billing from the order's start",
}
MUTABLE = {ObjectKind.CUSTOMER, ObjectKind.PRODUCT}
ENDABLE = {ObjectKind.SUBSCRIPTION_SCHEDULE, ObjectKind.SUBSCRIPTION}
METADATA_LABELS = ("salesforce_account_id", "salesforce_product_id", "salesforce_order_id", "salesforce_coupon_id",
                   "salesforce_pricebook_entry_id", "salesforce_order_item_id")  # fmt: skip
ORPHAN_KINDS = (
    ObjectKind.CUSTOMER,
    ObjectKind.PRODUCT,
    ObjectKind.PRICE,
    ObjectKind.SUBSCRIPTION_SCHEDULE,
    ObjectKind.SUBSCRIPTION,
)


class _Ids(dict[str, str]):
    """Stripe ids by desired key; a reference the run could not resolve reads as UNKNOWN (never compared)."""

    def __missing__(self, key: str) -> str:
        return UNKNOWN  # type: ignore[return-value]


@dataclass
class Finding:
    """The drift of one Stripe object: its desired object (None for an orphan), and the action --fix takes."""

    stripe_kind: ObjectKind
    stripe_id: str
    diffs: list[FieldDiff]
    desired: Desired | None = None
    live: dict[str, Any] | None = None
    action: FixAction = FixAction.NONE
    resolved: dict[str, Any] = field(default_factory=dict)  # the desired params, references resolved
    fixed: bool | None = None  # with --fix: repaired or not (None: nothing was tried)
    fix_result: str = ""

    def fix_text(self, diff: FieldDiff) -> str:
        if self.desired is None:
            return "none: no Salesforce record references it; check it, then archive or delete it by hand"
        ended = diff.problem in (Problem.ENDED, Problem.MISSING) and self.stripe_kind in ENDABLE
        if self.action is FixAction.NONE and ended:
            return ENDED_ADVICE
        if self.action is FixAction.NONE and diff.field == "customer" and self.stripe_kind in ENDABLE:
            return "none: a schedule's customer cannot change; a billing engineer moves it to the new customer"
        if self.action is FixAction.NONE:
            return "none: change it by hand in Stripe (or in Salesforce, then sync)"
        return FIX_TEXT[self.action]


def stripe_ids(objects: list[Desired], meters: dict[str, str]) -> _Ids:
    """Every desired object's Stripe id as Salesforce knows it; meters (no Salesforce record) by event name."""
    ids = _Ids({d.key: d.known_id for d in objects if d.known_id})
    for d in objects:
        if d.kind is ObjectKind.METER and d.key not in ids:
            found = meters.get(str(d.params.get("event_name")))
            if found:
                ids[d.key] = found
    return ids


def is_cancelled(desired: Desired, now: dt.datetime) -> bool:
    """Salesforce says the schedule or subscription has ended (a cancelling amendment)."""
    if desired.children.get("cancel"):
        return True
    cancel_at = desired.children.get("cancel_at")
    return cancel_at is not None and int(cancel_at) <= int(now.timestamp())


def choose_action(kind: ObjectKind, diffs: list[FieldDiff], *, recreate_ended: bool) -> FixAction:
    problems = {d.problem for d in diffs}
    if kind in ENDABLE and problems & {Problem.ENDED, Problem.MISSING}:
        return FixAction.RECREATE_ENDED if recreate_ended else FixAction.NONE
    if Problem.MISSING in problems:
        return FixAction.RECREATE if kind in MUTABLE else FixAction.NONE
    changed = [d for d in diffs if d.problem is Problem.CHANGED]
    if kind in MUTABLE and changed:
        return FixAction.UPDATE
    if (
        kind is ObjectKind.SUBSCRIPTION
        and changed
        and all(d.field in ("cancel_at",) or d.field.startswith("metadata") for d in changed)
    ):
        return FixAction.UPDATE if any(d.field == "cancel_at" for d in changed) else FixAction.METADATA
    if Problem.ARCHIVED in problems and not changed:
        return FixAction.REACTIVATE
    if (
        kind is ObjectKind.SUBSCRIPTION_SCHEDULE
        and changed
        and all(d.field.startswith(("phases", "metadata")) for d in changed)
    ):
        return FixAction.PHASES if any(d.field.startswith("phases") for d in changed) else FixAction.METADATA
    if changed and all(d.field.startswith("metadata") for d in changed) and Problem.ARCHIVED not in problems:
        return FixAction.METADATA
    return FixAction.NONE


def find_drift(
    objects: list[Desired], live: LiveState, now: dt.datetime, *, recreate_ended: bool = False
) -> list[Finding]:
    """The drift of every synced object (one with a Stripe id in Salesforce)."""
    meters = {str(m.get("event_name")): str(m["id"]) for m in live.of(ObjectKind.METER)}
    ids = stripe_ids(objects, meters)
    findings: list[Finding] = []
    for desired in objects:
        if not desired.known_id or desired.kind is ObjectKind.METER:
            continue
        resolved = resolve_refs(desired.params, ids)
        cancel_at = desired.children.get("cancel_at")
        if desired.kind is ObjectKind.SUBSCRIPTION and cancel_at is not None and int(cancel_at) > now.timestamp():
            resolved["cancel_at"] = int(cancel_at)  # an evergreen order's cancellation to come (set by apply)
        current = live.get(desired.kind, desired.known_id)
        diffs = diff_object(desired.kind, resolved, current, now=now, cancelled=is_cancelled(desired, now))
        if diffs:
            action = choose_action(desired.kind, diffs, recreate_ended=recreate_ended)
            findings.append(Finding(desired.kind, desired.known_id, diffs, desired, current, action, resolved))
    return findings


def _live_object(kind: ObjectKind, obj: dict[str, Any], live: LiveState) -> bool:
    if kind in (ObjectKind.PRICE, ObjectKind.PRODUCT):
        return obj.get("active") is not False
    if obj.get("status") in (*ENDED_STATUSES.get(kind, ()), "completed"):
        return False
    if kind is ObjectKind.SUBSCRIPTION:  # a schedule's subscription is the schedule's (and so is a released one's)
        if obj.get("schedule"):
            return False
        released = {s.get("released_subscription") for s in live.of(ObjectKind.SUBSCRIPTION_SCHEDULE)}
        return obj.get("id") not in released
    return True


def find_orphans(live: LiveState, referenced: set[str]) -> list[Finding]:
    """Live objects (not archived, ended or deleted) with salesforce metadata that no Salesforce record's
    Stripe_ID__c holds: left by a record deleted in Salesforce, or created by hand with copied metadata."""
    findings = []
    for kind in ORPHAN_KINDS:
        for obj in live.of(kind):
            metadata = obj.get("metadata") or {}
            label = next((k for k in METADATA_LABELS if metadata.get(k)), None)
            if label is None or obj["id"] in referenced or not _live_object(kind, obj, live):
                continue
            diff = FieldDiff(f"metadata.{label}", None, metadata[label], Problem.ORPHAN)
            findings.append(Finding(kind, str(obj["id"]), [diff], None, obj))
    return findings
