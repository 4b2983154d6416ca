"""MDQ ramps: an order with segmented lines (SBQQ__SegmentIndex__c / SegmentKey / SegmentLabel) becomes one
schedule phase per segment, each with the segment's own price and quantity; non-segmented lines are on every phase.

Pure. Segments are placed by their dates (ServiceDate to EndDate), so yearly, quarterly or monthly segments and
segments of several MDQ products line up; lines may bill at different frequencies (flexible billing mode), each
on the billing periods of its own line, anchored on the order's start; each phase carries
`salesforce_segment_index` and `salesforce_segment_label` metadata (its items too).

A segment that is not a whole number of its line's billing periods (quarterly segments of an annual line, a last
segment of 6 months) bills as an odd term does (`proration.Billing`): the time before its first period boundary
and the months after its last one bill once, CPQ's prorated amount (UnitPrice x months / the segment's term),
when they start; the line stays at quantity 0 through them and Stripe's own proration is off.

A migrated order (activated before the sync start date, `migration.py`) follows the migration rule line by line
(`migration.resumes_on`): a line stays at quantity 0, its prorated months not billed, through everything of it
that starts before the sync start date (the replaced system billed it), and bills from its first billing
boundary on or after that date; a segment that starts on or after it bills in full. Its one-time lines were
invoiced already and are left out.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from cpq_sync.desired import Ref
from cpq_sync.errors import DataError
from cpq_sync.mapping.kinds import Kind
from cpq_sync.records import OrderItemRecord, OrderRecord
from cpq_sync.translate.catalog import LineCharge
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.dates import add_months, months_between
from cpq_sync.translate.migration import is_migrated, resumes_on
from cpq_sync.translate.proration import Billing, billing, check_invoice_items, prorated_item
from cpq_sync.translate.terms import whole_number


def _months(start: dt.date, day: dt.date) -> int | None:
    """Whole months from `start` to `day`, or None when `day` is not a monthly anniversary of `start`."""
    months = months_between(start, day)
    return months if add_months(start, months) == day else None


def _segment(item: OrderItemRecord, charge: LineCharge, start: dt.date) -> tuple[dt.date, dt.date]:
    seg_start = item.service_date or start
    seg_end = item.end_date + dt.timedelta(days=1) if item.end_date else add_months(seg_start, charge.term_months)
    return seg_start, seg_end


def _items(
    lines: list[OrderItemRecord],
    line_prices: dict[str, str],
    ctx: TranslateContext,
    extra: dict[str, str],
    idle: set[str],
) -> list[dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    for item in lines:
        params = ctx.apply(Kind.PHASE_ITEM, {}, item)
        value = params.get("quantity", item.quantity)
        quantity = whole_number(value, object_type="OrderItem", record_id=item.id, field="Quantity", what="quantity")
        if quantity < 0:
            raise DataError("OrderItem", item.id, "Quantity", f"quantity {quantity} is negative on a new order.")
        if item.id in idle:  # its prorated months: billed once, not recurring
            quantity = 0
        key = line_prices[item.id]
        if key in items:  # Stripe forbids a price twice in one phase: the lines bill together
            items[key]["quantity"] += quantity
            ids = items[key]["metadata"]["salesforce_order_item_id"]
            items[key]["metadata"]["salesforce_order_item_id"] = f"{ids},{item.id}"[:500]
            continue
        meta = {**params.get("metadata", {}), "salesforce_order_item_id": item.id}
        if item.segment_key:
            meta.update(extra)
        params.update(price=Ref(key), quantity=quantity, metadata=meta)
        items[key] = params
    return list(items.values())


def mdq_phases(
    order: OrderRecord,
    recurring: list[OrderItemRecord],
    one_time: list[OrderItemRecord],
    charges: dict[str, LineCharge],
    line_prices: dict[str, str],
    start: dt.date,
    ctx: TranslateContext,
) -> list[dict[str, Any]]:
    """The phases of an MDQ order, one per segment (`duration` in months, as for a new order)."""
    segmented = [i for i in recurring if i.segment_key]
    plain = [i for i in recurring if not i.segment_key]
    spans = {i.id: _segment(i, charges[i.id], start) for i in segmented}
    if order.quote_term is not None:
        term = whole_number(order.quote_term, object_type="Order", record_id=order.id,
                            field="SBQQ__Quote__r.SBQQ__SubscriptionTerm__c", what="subscription term")  # fmt: skip
        end = add_months(start, term)
    else:
        end = max(e for _, e in spans.values())
    for item in plain:
        if add_months(start, charges[item.id].term_months) != end:
            raise DataError(
                "OrderItem",
                item.id,
                "SBQQ__SubscriptionTerm__c",
                f"the line's term of {charges[item.id].term_months} months does not end with the order ({end}).",
            )
    bounds = {start, end}
    for item in segmented:
        seg_start, seg_end = spans[item.id]
        if seg_start < start or seg_end > end or seg_start >= seg_end:
            raise DataError(
                "OrderItem",
                item.id,
                "ServiceDate",
                f"the segment ({seg_start} to {seg_end}) is not within the order ({start} to {end}).",
            )
        bounds |= {seg_start, seg_end}
    bills: dict[str, Billing] = {}
    for item in recurring:  # each line on its own billing periods (flexible billing mode mixes frequencies)
        seg_start, seg_end = spans.get(item.id, (start, end))
        if _months(start, seg_start) is None or _months(seg_start, seg_end) is None:
            raise DataError(
                "OrderItem",
                item.id,
                "ServiceDate",
                f"the line from {seg_start} to {seg_end} is not a whole number of months from the order's start "
                f"({start}), so CPQ's prorated amount for it cannot be placed.",
                "make each segment start and end on a monthly anniversary of the order's start.",
            )
        bills[item.id] = billing(start, seg_start, seg_end, charges[item.id].interval_months)
        bounds |= {bills[item.id].first, bills[item.id].last}
    prorated = any(b.first != b.start or b.last != b.end for b in bills.values())
    # Migrated (activated before the sync start date): each line idles through what the replaced system billed.
    resume: dict[str, dt.date] = {}
    sync_start = ctx.migrated_before
    if sync_start is not None and is_migrated(order, sync_start):
        for item in recurring:
            resume[item.id] = resumes_on(start, bills[item.id], charges[item.id].interval_months, sync_start)
        bounds |= {day for day in resume.values() if start < day < end}
    paid = any(day > bills[line_id].start for line_id, day in resume.items())
    currency = ctx.currency(order.currency)
    ordered = sorted(bounds)
    phases: list[dict[str, Any]] = []
    for index, (phase_start, phase_end) in enumerate(itertools.pairwise(ordered)):
        months = _months(phase_start, phase_end)
        if months is None:  # every bound is a billing boundary of some line, so a monthly anniversary
            problem = f"the segment from {phase_start} to {phase_end} is not a whole number of months."
            raise DataError("Order", order.id, "SBQQ__Quote__r.SBQQ__StartDate__c", problem)
        covering = [i for i in segmented if spans[i.id][0] <= phase_start < spans[i.id][1]]
        lines = [*covering, *plain]
        if not lines:
            raise DataError("Order", order.id, "OrderItems", f"no line covers {phase_start} to {phase_end}.")
        extra: dict[str, str] = {}
        if covering:
            first = min(covering, key=lambda i: (i.segment_index is None, i.segment_index or 0))
            if first.segment_index is not None:
                extra["salesforce_segment_index"] = str(int(first.segment_index))
            if first.segment_label:
                extra["salesforce_segment_label"] = first.segment_label[:500]
        billed_before = {i.id for i in lines if phase_start < resume.get(i.id, phase_start)}
        idle = {i.id for i in lines if not bills[i.id].bills(phase_start)} | billed_before
        stubs = []
        for item in lines:
            stub_months = bills[item.id].stub_months(phase_start)
            if stub_months and not charges[item.id].metered and item.id not in billed_before:
                quantity = whole_number(item.quantity, object_type="OrderItem", record_id=item.id, field="Quantity",
                                        what="quantity")  # fmt: skip
                stubs.append(prorated_item(item, charges[item.id], stub_months, charges[item.id].term_months,
                                           quantity, currency))  # fmt: skip
        phase: dict[str, Any] = {
            "items": _items(lines, line_prices, ctx, extra, idle),
            "duration": {"interval": "month", "interval_count": months},
            "metadata": {"salesforce_order_id": order.id, **extra},
        }
        if index == 0 and one_time and not paid:  # a migrated order's were invoiced by the replaced system
            phase["add_invoice_items"] = [
                {"price": Ref(line_prices[i.id]), "quantity": int(i.quantity),
                 "metadata": {"salesforce_order_item_id": i.id}}
                for i in one_time
            ]  # fmt: skip
        if stubs:
            phase["add_invoice_items"] = [*phase.get("add_invoice_items", []), *stubs]
        check_invoice_items(order.id, phase.get("add_invoice_items", []))
        # Off their boundaries, quantities change without Stripe's proration (CPQ's amounts bill once instead);
        # the first phase keeps it unless the past is not to be billed: there it decides whether a backdated
        # start bills its past periods.
        if order.skip_past_initial_invoices or billed_before or (prorated and index > 0):
            phase["proration_behavior"] = "none"
        if billed_before:
            phase["metadata"]["salesforce_migrated"] = "true"
        phases.append(ctx.apply(Kind.PHASE, phase, order))
    return phases
