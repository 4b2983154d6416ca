"""What a run reports to a person: the table of objects (with links), the summary, and the plan for --dry-run."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from cpq_sync.plan import Plan
from cpq_sync.sync import RowResult, SyncReport

DASHBOARD_PATHS = {
    "customer": "customers",
    "product": "products",
    "price": "prices",
    "coupon": "coupons",
    "subscription_schedule": "subscription_schedules",
    "subscription": "subscriptions",
    "invoice": "invoices",
}


def stripe_link(kind: str, stripe_id: str | None, livemode: bool) -> str:
    if not stripe_id or kind not in DASHBOARD_PATHS:
        return ""
    return f"https://dashboard.stripe.com/{'' if livemode else 'test/'}{DASHBOARD_PATHS[kind]}/{stripe_id}"


def table_rows(report: SyncReport, instance_url: str, livemode: bool) -> list[dict[str, Any]]:
    """Rows for the Prefect table artifact: one per Stripe object touched or record failed."""
    rows = []
    for row in sorted(report.rows, key=_order):
        if row.action == "skip":
            continue
        rows.append(
            {
                "action": row.action,
                "salesforce": f"{row.object_type} {row.record_id}",
                "salesforce_link": f"{instance_url.rstrip('/')}/{row.record_id}",
                "stripe": f"{row.stripe_kind} {row.stripe_id or ''}".strip(),
                "stripe_link": stripe_link(row.stripe_kind, row.stripe_id, livemode),
                "request_log": (
                    f"https://dashboard.stripe.com/{'' if livemode else 'test/'}logs/{row.request_id}"
                    if row.request_id
                    else ""
                ),
                "message": row.message,
            }
        )
    return rows


def _order(row: RowResult) -> tuple[int, str, str]:
    rank = {"failed": 0, "create": 1, "replace": 2, "update": 3, "skip": 4}
    return rank.get(row.action, 5), row.object_type, row.record_id


def summary_markdown(report: SyncReport) -> str:
    counts = report.counts()
    lines = [
        f"# cpq-stripe-sync: {report.mode.value} sync{' (dry run)' if report.dry_run else ''}",
        "",
        f"Started {report.started_at.isoformat(timespec='seconds')}; {report.orders_seen} orders read.",
        "",
        "| created | updated | replaced | unchanged | failed | orders synced | Stripe writes | Stripe requests "
        "| Salesforce API calls | Duration |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {counts.get('create', 0)} | {counts.get('update', 0)} | {counts.get('replace', 0)} | "
        f"{counts.get('skip', 0)} | {len(report.failed)} | {len(report.synced_orders)} | {report.stripe_writes} | "
        f"{report.stripe_requests} | {report.salesforce_calls} | {report.duration_seconds:.1f}s |",
        "",
        "Time per step: " + ", ".join(f"{k} {v:.2f}s" for k, v in report.timings.items()),
        "",
        "The table artifact `sync-objects` links each object to the Stripe dashboard, its request log and the "
        "Salesforce record; each record's Sync Record (`Sync_Record__c`) says the same in the org.",
    ]
    if report.run_url:
        lines += ["", f"This run: {report.run_url}"]
    if report.stopped_early:
        lines += ["", f"**Stopped early:** {report.stopped_early}"]
    if report.failed:
        lines += ["", "## Failed records", ""]
        lines += [f"- {r.primary.object_type} {r.primary.id}: {r.message}" for r in report.failed[:50]]
        if len(report.failed) > 50:
            lines.append(f"- ... and {len(report.failed) - 50} more (see the Sync Records)")
    return "\n".join(lines)


def print_summary(report: SyncReport, console: Console) -> None:
    counts = report.counts()
    table = Table(title=f"{report.mode.value} sync{' (dry run: nothing written)' if report.dry_run else ''}")
    for name in (
        "orders read",
        "created",
        "updated",
        "replaced",
        "unchanged",
        "failed",
        "orders synced",
        "Stripe writes",
        "Salesforce calls",
    ):
        table.add_column(name, justify="right")
    table.add_row(
        str(report.orders_seen),
        str(counts.get("create", 0)),
        str(counts.get("update", 0)),
        str(counts.get("replace", 0)),
        str(counts.get("skip", 0)),
        str(len(report.failed)),
        str(len(report.synced_orders)),
        str(report.stripe_writes),
        str(report.salesforce_calls),
    )
    console.print(table)
    if report.failed:
        failed = Table(title="Failed records (their Sync Records say the same)")
        failed.add_column("record")
        failed.add_column("error", overflow="fold")
        for record in report.failed[:30]:
            failed.add_row(f"{record.primary.object_type} {record.primary.id}", record.message)
        if len(report.failed) > 30:
            failed.add_row("...", f"{len(report.failed) - 30} more")
        console.print(failed)
    if report.stopped_early:
        console.print(f"[bold red]Stopped early:[/] {report.stopped_early}")


def print_plan(plan: Plan, console: Console, limit: int = 60) -> None:
    kinds = Table(title="Plan (dry run: nothing is written): Stripe objects by kind")
    kinds.add_column("Stripe object")
    for action in ("create", "update", "replace", "skip"):
        kinds.add_column(action, justify="right")
    counts: dict[str, dict[str, int]] = {}
    for op in plan.operations.values():
        row = counts.setdefault(op.desired.kind.value, {})
        row[op.action.value] = row.get(op.action.value, 0) + 1
    for kind, row in sorted(counts.items()):
        kinds.add_row(kind, *(str(row.get(a, 0)) for a in ("create", "update", "replace", "skip")))
    console.print(kinds)
    table = Table(title="Operations")
    for name in ("action", "Stripe object", "Salesforce record", "why"):
        table.add_column(name)
    ops = sorted(plan.operations.values(), key=lambda op: (op.desired.layer, op.action.value, op.key))
    shown = [op for op in ops if op.action.value != "skip"]
    for op in shown[:limit]:
        table.add_row(
            op.action.value,
            op.desired.kind.value,
            f"{op.desired.record.object_type} {op.desired.record.id}",
            op.reason,
        )
    if len(shown) > limit:
        table.add_row("...", f"{len(shown) - limit} more", "", "")
    console.print(table)
    totals = plan.counts()
    console.print(
        f"{totals['create']} to create, {totals['update']} to update, {totals['replace']} to replace, "
        f"{totals['skip']} unchanged, {totals['failed']} records failing"
    )
