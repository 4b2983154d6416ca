"""`cpq-sync reconcile`: the synced records extracted (full window) and translated into the desired Stripe objects
with the sync's own steps, the live objects read back, the drift reported; with `fix`, repaired through the sync's
apply and written back to Salesforce with Sync Records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time

from cpq_sync.config import Settings
from cpq_sync.desired import Desired, ObjectKind, SfRef
from cpq_sync.plan import Plan
from cpq_sync.reconcile.diff import Problem, display
from cpq_sync.reconcile.findings import Finding, find_drift, find_orphans
from cpq_sync.reconcile.fix import apply_fixes
from cpq_sync.reconcile.live import read_live
from cpq_sync.reconcile.models import Drift, ReconcileReport
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.stripe.pacing import Pacer
from cpq_sync.sync import Mode, RunContext, extract, make_plan, prepare, window_for

log = logging.getLogger(__name__)
EPOCH = dt.datetime(1970, 1, 2, tzinfo=dt.UTC)
# Objects whose Stripe_ID__c holds a Stripe id (the order line: the price it bills with).
ID_HOLDERS = ("Account", "Product2", "PricebookEntry", "Order", "OrderItem", "Quote_Stripe_Coupon__c")
LISTED = (
    ObjectKind.CUSTOMER,
    ObjectKind.PRODUCT,
    ObjectKind.PRICE,
    ObjectKind.COUPON,
    ObjectKind.METER,
    ObjectKind.SUBSCRIPTION_SCHEDULE,
    ObjectKind.SUBSCRIPTION,
)


def desired_state(ctx: RunContext) -> Plan:
    """Every synced record's desired objects, as a full sync would plan them: the orders of the full window, and
    (through a window from the epoch) every account, product and price book entry with a Stripe id."""
    window = dataclasses.replace(window_for(ctx, Mode.FULL), since=EPOCH)
    return make_plan(ctx, extract(ctx, window))


def kept_line_prices(plan: Plan) -> list[Desired]:
    """The order lines' own prices of synced orders, which the plan leaves out (they are kept as the schedule was
    built, `kept_order_synced_prices`): known by their id only, so their state (archived, missing) is checked and
    the schedules referring to them resolve."""
    known = {op.desired.known_id for op in plan.operations.values()}
    kept: dict[str, Desired] = {}
    for item_id, (stripe_id, _) in sorted(plan.line_known.items()):
        key = f"price:{item_id}"  # the key translate_line_price gives a line's own price
        if stripe_id and key not in plan.operations and stripe_id not in known:
            kept[key] = Desired(key, ObjectKind.PRICE, SfRef("OrderItem", item_id), {}, known_id=stripe_id)
    return list(kept.values())


def referenced_ids(org: OrgClient) -> set[str]:
    """Every Stripe id a Salesforce record holds."""
    found: set[str] = set()
    for sobject in ID_HOLDERS:
        for row in org.query_all_iter(f"SELECT Stripe_ID__c FROM {sobject} WHERE Stripe_ID__c != null"):
            found.add(str(row["Stripe_ID__c"]))
    return found


def reconcile(ctx: RunContext, *, fix: bool = False, recreate_ended: bool = False) -> ReconcileReport:
    started = time.perf_counter()
    report = ReconcileReport(started_at=ctx.started_at, fix=fix)
    plan = desired_state(ctx)
    objects = [op.desired for op in plan.operations.values()] + kept_line_prices(plan)
    synced = [d for d in objects if d.known_id]
    wanted: dict[ObjectKind, set[str]] = {}
    for desired in synced:
        wanted.setdefault(desired.kind, set()).add(str(desired.known_id))
    prefs = ctx.settings.preferences
    batch = max(1, int(prefs.stripe_requests_per_second // 4))  # as the sync: a quarter second of requests a call
    pacer = Pacer(prefs.stripe_requests_per_second, shared=ctx.request_gate, shared_batch=batch)
    live = read_live(ctx.stripe, pacer, LISTED, wanted)
    findings = find_drift(objects, live, ctx.started_at, recreate_ended=recreate_ended)
    findings += find_orphans(live, referenced_ids(ctx.org))
    if fix:
        apply_fixes(ctx, findings, objects, live, pacer)
    report.drifts = [row for finding in findings for row in rows(finding)]
    report.failed_records = sorted({f"{f.primary.object_type} {f.primary.id}" for f in plan.failures})
    report.records_checked = len({d.record for d in synced})
    report.stripe_objects_checked = len(synced)
    report.stripe_requests = pacer.requests
    report.salesforce_calls = ctx.org.calls_used()
    report.duration_seconds = time.perf_counter() - started
    log.info("reconcile: %d objects checked, %d differences", len(synced), len(report.drifts))
    return report


def rows(finding: Finding) -> list[Drift]:
    desired: Desired | None = finding.desired
    out = []
    for diff in finding.diffs:
        out.append(
            Drift(
                object_type=desired.record.object_type if desired else "",
                record_id=desired.record.id if desired else "",
                stripe_kind=finding.stripe_kind.value,
                stripe_id=finding.stripe_id,
                field=diff.field,
                salesforce="(no record references it)" if diff.problem is Problem.ORPHAN else display(diff.salesforce),
                stripe=display(diff.stripe),
                problem=diff.problem,
                fix=finding.fix_text(diff),
                fixed=finding.fixed,
                fix_result=finding.fix_result,
            )
        )
    return out


def run_reconcile(
    settings: Settings, *, fix: bool = False, recreate_ended: bool = False, now: dt.datetime | None = None
) -> tuple[ReconcileReport, RunContext]:
    ctx = prepare(settings, now=now)
    return reconcile(ctx, fix=fix, recreate_ended=recreate_ended), ctx
