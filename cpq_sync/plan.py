"""Plan: desired objects compared with what Salesforce says is already in Stripe (id + content hash), into
operations with dependencies. Pure; `cpq-sync sync --dry-run` prints it and stops."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from cpq_sync.desired import Desired, ObjectKind, SfRef
from cpq_sync.errors import DataError

IMMUTABLE = {ObjectKind.PRICE, ObjectKind.COUPON}  # a change is a new object, the old one archived
MUTABLE = {ObjectKind.CUSTOMER, ObjectKind.PRODUCT}
SCHEDULED = {ObjectKind.SUBSCRIPTION_SCHEDULE, ObjectKind.SUBSCRIPTION}  # updated by amendments


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    SKIP = "skip"


@dataclass(slots=True)
class Operation:
    desired: Desired
    action: Action
    reason: str = ""

    @property
    def key(self) -> str:
        return self.desired.key

    @property
    def content_hash(self) -> str:
        return self.desired.content_hash


@dataclass(slots=True)
class Failure:
    """A primary record that cannot be synced, with the error that names the record and field at fault."""

    primary: SfRef
    error: DataError


@dataclass
class Plan:
    operations: dict[str, Operation] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    # OrderItem id -> price key: lines write back the id of the price they bill with
    line_prices: dict[str, str] = field(default_factory=dict)
    primaries: dict[SfRef, set[str]] = field(default_factory=dict)  # primary -> the keys it needs
    # OrderItem id -> (Stripe_ID__c, Stripe_Sync_Hash__c) as read, so unchanged lines are not written again
    line_known: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {a.value: 0 for a in Action}
        for op in self.operations.values():
            out[op.action.value] += 1
        out["failed"] = len(self.failures)
        return out

    @property
    def writes(self) -> list[Operation]:
        return [op for op in self.operations.values() if op.action is not Action.SKIP]


def decide(desired: Desired) -> Operation:
    if desired.known_id is None:  # nothing to compare: the content hash is worked out when it is written
        return Operation(desired, Action.CREATE, "not in Stripe yet")
    if desired.known_hash == desired.content_hash:
        return Operation(desired, Action.SKIP, "unchanged since the last sync")
    if desired.kind in MUTABLE:
        return Operation(desired, Action.UPDATE, "changed in Salesforce")
    if desired.kind in IMMUTABLE:
        return Operation(desired, Action.REPLACE, "changed in Salesforce: a new object replaces the old one")
    if desired.kind in SCHEDULED and desired.children.get("amendments"):
        return Operation(desired, Action.UPDATE, "amended in Salesforce: the contract's phases are rebuilt")
    return Operation(
        desired,
        Action.SKIP,
        "already synced; later changes to an order reach Stripe through amendment orders",
    )


def build_plan(
    groups: Iterable[tuple[SfRef, list[Desired]]],
    failures: Iterable[Failure] = (),
    line_prices: dict[str, str] | None = None,
) -> Plan:
    """`groups`: for each primary record, the desired objects it needs. Shared objects are planned once."""
    plan = Plan(failures=list(failures), line_prices=dict(line_prices or {}))
    for primary, objects in groups:
        keys = plan.primaries.setdefault(primary, set())
        for desired in objects:
            keys.add(desired.key)
            existing = plan.operations.get(desired.key)
            if existing is None:  # planned as it is: it holds its own primaries already
                plan.operations[desired.key] = decide(desired)
                desired.primaries.add(primary)
                continue
            planned = existing.desired.primaries
            if desired is not existing.desired and desired.primaries:  # the ones its translation gave it, if any
                planned.update(desired.primaries)
            planned.add(primary)
    return plan
