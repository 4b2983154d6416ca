"""Orders brought over from before the sync start date (preference `migrate_orders_before_start_date`).

Pure. Such an order was billed by the system the sync replaces up to the sync start date, so Stripe must not bill
it again: its schedule keeps the contract's dates, but every period (of each line's own frequency) that starts
before the sync start date is in a phase with the line's item at quantity 0 and Stripe's proration off (the past
is not re-billed and the period in progress is not billed twice), and its one-time lines are left out (already
invoiced). Billing resumes with the first period that starts on or after the sync start date. A prorated term's
months left over (`proration.py`) bill once, as for any order, unless they started before the sync start date.
One rule (`resumes_on`) says where each line bills again: for a plain order (`skip_paid_periods`), an MDQ ramp's
segments (`mdq.py`) and the contract builder's amendments (`contract.py`).
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from typing import Any

from cpq_sync.records import OrderRecord
from cpq_sync.translate.dates import add_months, months_between
from cpq_sync.translate.proration import Billing, billing


def is_migrated(order: OrderRecord, sync_start: dt.date | None) -> bool:
    return (
        sync_start is not None
        and order.activated_date is not None
        and order.activated_date.astimezone(dt.UTC).date() < sync_start
    )


def resumes_on(anchor: dt.date, span: Billing, interval: int, sync_start: dt.date) -> dt.date:
    """The rule of what the replaced system billed, for one line over its span (the term, or its MDQ segment) on
    its `interval`-month billing periods anchored on the contract's start (`anchor`): everything it bills that
    starts before the sync start date (a whole period, or prorated months billed once) was billed, in full. So
    the line bills again from the first of its billing boundaries (its span's start, its period boundaries, its
    span's end) on or after the sync start date; from its span's start when that is not before it."""
    if sync_start <= span.start:
        return span.start
    boundaries = {span.start, span.first, span.last, span.end}
    k = 0
    while (day := add_months(anchor, k * interval)) <= span.last:
        if day >= span.first:
            boundaries.add(day)
        k += 1
    return min((day for day in boundaries if day >= sync_start), default=span.end)


def paid_months(start: dt.date, sync_start: dt.date, interval: int, term: int) -> int:
    """Months of the term already billed: whole billing periods that start before the sync start date (and the
    leftover months of a prorated term when they do too); `resumes_on` for a whole term."""
    end = add_months(start, term)
    return months_between(start, resumes_on(start, billing(start, start, end, interval), interval, sync_start))


def skip_paid_periods(
    phases: list[dict[str, Any]], start: dt.date, sync_start: dt.date, intervals: list[int]
) -> list[dict[str, Any]]:
    """A schedule's phases (`duration` in months; one, or a prorated term's) split into the paid part (quantity 0)
    and the rest. `intervals` are the billing periods of the phases' items, in order (every phase lists the same
    items): lines of different frequencies (flexible billing mode) each resume with their own first period that
    starts on or after the sync start date. A prorated term's months left over bill once unless they started
    before the sync start date too; one-time lines are left out (already invoiced)."""
    term = sum(int(p["duration"]["interval_count"]) for p in phases)
    paid = [paid_months(start, sync_start, every, term) for every in intervals]
    if not any(paid):
        return phases
    line_paid: dict[str, int] = {}
    for item, months in zip(phases[0]["items"], paid, strict=True):
        for line_id in str(item.get("metadata", {}).get("salesforce_order_item_id", "")).split(","):
            line_paid[line_id] = months
    out = []
    offset = 0
    for phase in phases:
        length = int(phase["duration"]["interval_count"])
        cuts = sorted({offset, offset + length, *(m for m in paid if offset < m < offset + length)})
        for begin, end in itertools.pairwise(cuts):
            items = [{**copy.deepcopy(i), "quantity": 0} if months > begin else i
                     for i, months in zip(phase["items"], paid, strict=True)]  # fmt: skip
            if any(months > begin for months in paid):
                current = {
                    "items": items,
                    "duration": {"interval": "month", "interval_count": end - begin},
                    "proration_behavior": "none",
                    "metadata": {**phase.get("metadata", {}), "salesforce_migrated": "true"},
                }
            else:
                current = {k: v for k, v in phase.items() if k != "add_invoice_items"}
                current["duration"] = {"interval": "month", "interval_count": end - begin}
            prorated = [
                i for i in phase.get("add_invoice_items", [])
                if begin == offset and i.get("metadata", {}).get("salesforce_proration") == "true"
                and line_paid.get(str(i["metadata"].get("salesforce_order_item_id")), 0) <= begin
            ]  # fmt: skip
            if prorated:
                current["add_invoice_items"] = prorated
            out.append(current)
        offset += length
    return out
