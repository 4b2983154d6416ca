"""Orders brought over from before the sync start date (preference `migrate_orders_before_start_date`).

Pure. Such an order was billed by the system the sync replaces up to the sync start date, so Stripe must not bill
it again: its schedule keeps the contract's dates, but every period that starts before the sync start date is
a phase with the items at quantity 0 and Stripe's proration off (the past is not re-billed and the period in
progress is not billed twice), and its one-time lines are left out (already invoiced). Billing resumes with the
first period that starts on or after the sync start date.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from cpq_sync.records import OrderRecord
from cpq_sync.translate.dates import add_months


def is_migrated(order: OrderRecord, sync_start: dt.date | None) -> bool:
    return (
        sync_start is not None
        and order.activated_date is not None
        and order.activated_date.astimezone(dt.UTC).date() < sync_start
    )


def paid_months(start: dt.date, sync_start: dt.date, interval: int, term: int) -> int:
    """Months of the term already billed: whole billing periods that start before the sync start date."""
    months = 0
    while months < term and add_months(start, months) < sync_start:
        months += interval
    return min(months, term)


def skip_paid_periods(
    phase: dict[str, Any], start: dt.date, sync_start: dt.date, interval: int
) -> list[dict[str, Any]]:
    """A single-phase schedule (`duration` in months) split into the paid part (quantity 0) and the rest."""
    term = int(phase["duration"]["interval_count"])
    paid = paid_months(start, sync_start, interval, term)
    if paid == 0:
        return [phase]
    idle = {
        "items": [{**copy.deepcopy(i), "quantity": 0} for i in phase["items"]],
        "duration": {"interval": "month", "interval_count": paid},
        "proration_behavior": "none",
        "metadata": {**phase.get("metadata", {}), "salesforce_migrated": "true"},
    }
    if paid >= term:
        return [idle]
    rest = {k: v for k, v in phase.items() if k != "add_invoice_items"}
    rest["duration"] = {"interval": "month", "interval_count": term - paid}
    return [idle, rest]
