"""Desired Stripe objects: what Salesforce says Stripe should hold, before anything is compared or applied.

A desired object refers to the others it needs through `Ref`s (resolved to Stripe ids at apply time), so its
content hash is known before anything exists in Stripe and stays the same from run to run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from cpq_sync.records import SfModel


class ObjectKind(StrEnum):
    CUSTOMER = "customer"
    PRODUCT = "product"
    PRICE = "price"
    COUPON = "coupon"
    METER = "billing_meter"
    SUBSCRIPTION_SCHEDULE = "subscription_schedule"
    SUBSCRIPTION = "subscription"
    INVOICE = "invoice"


# Apply order: a layer only references objects of earlier layers.
LAYER = {
    ObjectKind.CUSTOMER: 0,
    ObjectKind.PRODUCT: 0,
    ObjectKind.COUPON: 0,
    ObjectKind.METER: 0,
    ObjectKind.PRICE: 1,
    ObjectKind.SUBSCRIPTION_SCHEDULE: 2,
    ObjectKind.SUBSCRIPTION: 2,
    ObjectKind.INVOICE: 2,
}

# Kinds with no Salesforce record of their own to hold the Stripe id: found again in Stripe each run instead.
NO_WRITE_BACK = frozenset({ObjectKind.METER})


@dataclass(frozen=True, slots=True)
class Ref:
    """The Stripe id of another desired object, by key."""

    key: str


class SfRef(NamedTuple):
    """A Salesforce record. A named tuple (immutable; hashed and compared in C, with the same hash as the tuple
    of its fields): a plan puts each primary record in the sets of every object it needs."""

    object_type: str
    id: str


@dataclass(slots=True)
class Desired:
    key: str
    kind: ObjectKind
    record: SfRef  # the record whose Stripe_ID__c / Stripe_Sync_Hash__c hold this object's id and hash
    params: dict[str, Any]
    known_id: str | None = None
    known_hash: str | None = None
    primaries: set[SfRef] = field(default_factory=set)  # the records whose Sync Records depend on this object
    children: dict[str, Any] = field(default_factory=dict)  # extra per-kind detail (e.g. invoice lines)
    # other records that also hold this object's id and hash (the amendments of a contract's schedule)
    also_records: list[SfRef] = field(default_factory=list)

    @classmethod
    def of(cls, key: str, kind: ObjectKind, record: SfModel, params: dict[str, Any]) -> Desired:
        """The desired object a Salesforce record stands for; what is known comes from the record's own
        Stripe_ID__c and Stripe_Sync_Hash__c."""
        return cls(key, kind, SfRef(record.OBJECT_TYPE, record.id), params, record.stripe_id, record.sync_hash)

    @property
    def layer(self) -> int:
        return LAYER[self.kind]

    @property
    def depends_on(self) -> set[str]:
        found: set[str] = set()
        _collect_refs(self.params, found)
        _collect_refs(self.children, found)
        return found

    @property
    def content_hash(self) -> str:
        payload = _HASH_ENCODER.encode({"p": self.params, "c": self.children})
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _encode(value: Any) -> Any:
    if isinstance(value, Ref):
        return f"ref:{value.key}"
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot hash {type(value).__name__}")


# What `json.dumps(value, sort_keys=True, default=_encode)` makes (the same text, so the same hashes as ever), with
# one encoder for every hash rather than one each, and no check for reference cycles: parameters are trees (a cycle
# would fail with RecursionError instead of ValueError).
_HASH_ENCODER = json.JSONEncoder(sort_keys=True, default=_encode, check_circular=False)


def _collect_refs(value: Any, found: set[str]) -> None:
    pending = [value]  # a stack, not recursion: a large plan walks millions of values
    while pending:
        item = pending.pop()
        if isinstance(item, Ref):
            found.add(item.key)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)


def resolve_refs(value: Any, ids: dict[str, str]) -> Any:
    """A copy of `value` with every Ref replaced by the Stripe id it names."""
    if isinstance(value, Ref):
        return ids[value.key]
    if isinstance(value, dict):
        return {k: resolve_refs(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(v, ids) for v in value]
    return value
