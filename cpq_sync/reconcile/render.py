"""The drift report for a person: a table in the terminal, and the Prefect artifacts (table rows and markdown)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from cpq_sync.reconcile.models import Drift, ReconcileReport
from cpq_sync.report import stripe_link

COLUMNS = ("record", "Stripe id", "field", "Salesforce", "Stripe", "what --fix does")


def _cells(drift: Drift, fix: bool) -> tuple[str, ...]:
    action = drift.fix
    if fix and drift.fixed is not None:
        action = f"{'fixed' if drift.fixed else 'NOT fixed'}: {drift.fix_result}"
    return (drift.record or "(none)", drift.stripe_id, drift.field, drift.salesforce, drift.stripe, action)


def headline(report: ReconcileReport) -> str:
    fixed = sum(1 for d in report.drifts if d.fixed)
    text = (
        f"{len(report.drifts)} differences between Stripe and Salesforce in {report.stripe_objects_checked} synced "
        f"Stripe objects ({report.records_checked} records)"
    )
    if report.fix:
        text += f"; {fixed} repaired, {len(report.unfixed)} left"
    return text + "."


def print_report(report: ReconcileReport, console: Console, limit: int = 200) -> None:
    if not report.drifts:
        console.print(
            f"No drift: the {report.stripe_objects_checked} Stripe objects of {report.records_checked} synced records "
            "match Salesforce."
        )
    else:
        table = Table(title="Drift: Stripe compared with Salesforce" + (" (--fix applied)" if report.fix else ""))
        for name in COLUMNS:
            table.add_column(name, overflow="fold")
        for drift in report.drifts[:limit]:
            table.add_row(*_cells(drift, report.fix))
        if len(report.drifts) > limit:
            table.add_row("...", f"{len(report.drifts) - limit} more (see --json)", "", "", "", "")
        console.print(table)
        console.print(headline(report))
    if report.failed_records:
        console.print(
            f"{len(report.failed_records)} records could not be translated and were not compared (their Sync "
            f"Records say why): {', '.join(report.failed_records[:10])}"
            + (" ..." if len(report.failed_records) > 10 else "")
        )


def table_rows(report: ReconcileReport, instance_url: str, livemode: bool) -> list[dict[str, Any]]:
    """Rows of the `reconcile-drift` table artifact, linked to the Stripe dashboard and the Salesforce record."""
    return [
        {
            "record": drift.record,
            "salesforce_link": f"{instance_url.rstrip('/')}/{drift.record_id}" if drift.record_id else "",
            "stripe": f"{drift.stripe_kind} {drift.stripe_id}",
            "stripe_link": stripe_link(drift.stripe_kind, drift.stripe_id, livemode),
            "field": drift.field,
            "salesforce_value": drift.salesforce,
            "stripe_value": drift.stripe,
            "problem": drift.problem.value,
            "fix": _cells(drift, report.fix)[-1],
        }
        for drift in report.drifts
    ]


def summary_markdown(report: ReconcileReport, limit: int = 50) -> str:
    lines = [
        f"# cpq-stripe-sync: reconcile{' --fix' if report.fix else ''}",
        "",
        f"Started {report.started_at.isoformat(timespec='seconds')}. {headline(report)}",
        "",
        f"{report.stripe_requests} Stripe requests, {report.salesforce_calls} Salesforce API calls, "
        f"{report.duration_seconds:.1f}s.",
    ]
    if report.drifts:
        lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for drift in report.drifts[:limit]:
            cells = (c.replace("|", "\\|").replace("\n", " ") for c in _cells(drift, report.fix))
            lines.append("| " + " | ".join(cells) + " |")
        if len(report.drifts) > limit:
            lines.append(f"\n... and {len(report.drifts) - limit} more in the table artifact `reconcile-drift`.")
    if report.failed_records:
        lines += ["", f"Not compared (translation failed, see their Sync Records): {', '.join(report.failed_records)}"]
    return "\n".join(lines)
