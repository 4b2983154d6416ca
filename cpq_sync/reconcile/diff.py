"""The drift of one Stripe object: what the sync would send (its desired params, references resolved to Stripe ids)
against what Stripe holds now, field by field. Pure: no I/O; "now" is a parameter.

Only the fields the sync sets are compared (a field the mappings leave alone, e.g. an email set in the dashboard,
is the dashboard's to own). A field Stripe does not return (create-only parameters such as a schedule's
`start_date`) is not compared; our `metadata` keys are, and a removed key is drift.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from cpq_sync.desired import ObjectKind
from cpq_sync.translate.dates import add_months


class Problem(StrEnum):
    CHANGED = "changed"  # a field differs
    MISSING = "missing"  # deleted, or not found in Stripe
    ARCHIVED = "archived"  # a price or product made inactive
    ENDED = "ended"  # a schedule or subscription cancelled or released outside the sync
    ORPHAN = "orphan"  # carries salesforce metadata, but no Salesforce record references it


@dataclass(frozen=True)
class FieldDiff:
    field: str
    salesforce: Any
    stripe: Any
    problem: Problem = Problem.CHANGED


class Unknown:
    """A reference the run could not resolve (e.g. a meter not found): never compared."""

    def __repr__(self) -> str:
        return "(unknown)"


UNKNOWN = Unknown()

# Desired params Stripe returns in another shape (or not at all), compared by their own rules or not at all.
SKIPPED: dict[ObjectKind, frozenset[str]] = {
    ObjectKind.SUBSCRIPTION_SCHEDULE: frozenset({"phases", "start_date"}),
    ObjectKind.SUBSCRIPTION: frozenset({"items", "discounts", "proration_behavior"}),
    ObjectKind.INVOICE: frozenset({"discounts", "pending_invoice_items_behavior", "auto_advance"}),
}
ENDED_STATUSES = {
    ObjectKind.SUBSCRIPTION_SCHEDULE: frozenset({"canceled", "released"}),
    ObjectKind.SUBSCRIPTION: frozenset({"canceled", "incomplete_expired"}),
    ObjectKind.INVOICE: frozenset({"void", "uncollectible"}),
}


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def same_value(expected: Any, actual: Any) -> bool:
    """Equal as Stripe means it: "" and null alike, "12.50" and 12.5 alike, a tier's `up_to` "inf" and null alike."""
    if expected is UNKNOWN:
        return True
    if expected in ("", "inf") and actual is None:
        return True
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    left, right = _number(expected), _number(actual)
    if left is not None and right is not None:
        return left == right
    return bool(expected == actual)


def diff_values(expected: Any, actual: Any, path: str = "") -> list[FieldDiff]:
    """Every difference between what the sync sets (`expected`) and Stripe's object (`actual`), by field path."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [] if actual is None and not expected else [FieldDiff(path, expected, actual)]
        diffs: list[FieldDiff] = []
        is_metadata = path.endswith("metadata")
        for key, value in expected.items():
            if key not in actual and not is_metadata:
                continue  # not returned by Stripe: nothing to compare
            diffs += diff_values(value, actual.get(key), f"{path}.{key}" if path else key)
        return diffs
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [FieldDiff(path, expected, actual)]
        return [
            d for n, (e, a) in enumerate(zip(expected, actual, strict=True)) for d in diff_values(e, a, f"{path}[{n}]")
        ]
    return [] if same_value(expected, actual) else [FieldDiff(path, expected, actual)]


def _id(value: Any) -> Any:
    """A reference as Stripe returns it: an id, or the expanded object."""
    return value.get("id") if isinstance(value, dict) else value


def diff_object(
    kind: ObjectKind,
    params: dict[str, Any],
    live: dict[str, Any] | None,
    *,
    now: dt.datetime,
    cancelled: bool = False,
) -> list[FieldDiff]:
    """The drift of one object. `live` None: not in Stripe. `cancelled`: Salesforce says it is cancelled (an ended
    schedule or subscription is then what Salesforce wants)."""
    if live is None or live.get("deleted"):
        return [FieldDiff("(object)", "exists", "deleted" if live else "not found", Problem.MISSING)]
    diffs: list[FieldDiff] = []
    if kind in (ObjectKind.PRICE, ObjectKind.PRODUCT) and live.get("active") is False:
        diffs.append(FieldDiff("active", params.get("active", True), False, Problem.ARCHIVED))
    status = live.get("status")
    if not cancelled and status in ENDED_STATUSES.get(kind, ()):
        diffs.append(FieldDiff("status", "active", status, Problem.ENDED))
    skipped = SKIPPED.get(kind, frozenset())
    diffs += diff_values({k: v for k, v in params.items() if k not in skipped}, live)
    if kind is ObjectKind.SUBSCRIPTION_SCHEDULE and not cancelled and status not in ENDED_STATUSES[kind]:
        diffs += diff_phases(params, list(live.get("phases") or []), now)
    if kind is ObjectKind.SUBSCRIPTION and not cancelled:
        items = (live.get("items") or {}).get("data") or []
        diffs += diff_items(params.get("items") or [], items, "items")
    return diffs


def phase_bounds(params: dict[str, Any]) -> list[tuple[int, int]]:
    """(start, end) of each desired phase: given (`start_date`/`end_date`), or from the schedule's start and the
    phases' `duration` in months."""
    bounds: list[tuple[int, int]] = []
    start = params.get("start_date")
    for phase in params.get("phases") or []:
        begin = phase.get("start_date", start)
        if isinstance(begin, int) and "end_date" in phase and isinstance(phase["end_date"], int):
            end = int(phase["end_date"])
        elif isinstance(begin, int) and "duration" in phase:
            day = dt.datetime.fromtimestamp(begin, dt.UTC)
            months = int(phase["duration"]["interval_count"])
            end = int(dt.datetime.combine(add_months(day.date(), months), day.timetz()).timestamp())
        else:
            return []  # not comparable (the sync never builds such phases)
        bounds.append((int(begin), end))
        start = end
    return bounds


def diff_phases(params: dict[str, Any], live_phases: list[dict[str, Any]], now: dt.datetime) -> list[FieldDiff]:
    """Phases are matched by their end date (an amendment processed in current time moves a phase's start to
    `now`, never a kept phase's end). Ended phases are history: only phases ending after `now` are compared."""
    desired = params.get("phases") or []
    bounds = phase_bounds(params)
    if len(bounds) != len(desired):
        return []
    by_end = {int(p["end_date"]): p for p in live_phases if p.get("end_date") is not None}
    at = int(now.timestamp())
    diffs: list[FieldDiff] = []
    for n, (phase, (_, end)) in enumerate(zip(desired, bounds, strict=True)):
        if end <= at:
            continue
        live = by_end.get(end)
        path = f"phases[{n}]"
        if live is None:
            when = dt.datetime.fromtimestamp(end, dt.UTC).date().isoformat()
            found = [dt.datetime.fromtimestamp(int(e), dt.UTC).date().isoformat() for e in by_end]
            diffs.append(FieldDiff(f"{path}.end_date", when, ", ".join(sorted(found)) or None))
            continue
        rest = {k: v for k, v in phase.items() if k not in ("items", "add_invoice_items", "duration", "start_date")}
        diffs += diff_values(rest, live, path)
        diffs += diff_items(phase.get("items") or [], live.get("items") or [], f"{path}.items")
        diffs += diff_items(phase.get("add_invoice_items") or [], live.get("add_invoice_items") or [],
                            f"{path}.add_invoice_items")  # fmt: skip
    return diffs


def _line_id(item: dict[str, Any]) -> str | None:
    metadata = item.get("metadata") or {}
    value = metadata.get("salesforce_order_item_id")
    return str(value) if value else None


def diff_items(desired: list[dict[str, Any]], live: list[dict[str, Any]], path: str) -> list[FieldDiff]:
    """Items matched by the order line they bill (`metadata.salesforce_order_item_id`), else by price: a line now
    billing another price, another quantity, or gone, is reported on the line."""
    by_line = {line: item for item in live if (line := _line_id(item))}
    by_price = {_id(item.get("price")): item for item in live}
    matched: set[int] = set()
    diffs: list[FieldDiff] = []
    for want in desired:
        line = _line_id(want)
        label = f"{path}[{line or _id(want.get('price'))}]"
        have = by_line.get(line) if line else None
        if have is None:
            have = by_price.get(_id(want.get("price")))
        if have is None:
            diffs.append(FieldDiff(label, _summary(want), None, Problem.MISSING))
            continue
        matched.add(id(have))
        actual = {**have, "price": _id(have.get("price"))}
        diffs += diff_values(want, actual, label)
    for have in live:
        if id(have) not in matched:
            label = f"{path}[{_line_id(have) or _id(have.get('price'))}]"
            diffs.append(FieldDiff(label, None, _summary({**have, "price": _id(have.get("price"))})))
    return diffs


def _summary(item: dict[str, Any]) -> str:
    quantity = item.get("quantity")
    return f"price {_id(item.get('price'))}" + (f" x {quantity}" if quantity is not None else "")


def display(value: Any) -> str:
    """A value as a person reads it in the table."""
    if value is None:
        return "(not set)"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, sort_keys=True)
