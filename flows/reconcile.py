"""The `reconcile` flow (deployment `reconcile`): the drift report of `cpq-sync reconcile`, published as a table
artifact (`reconcile-drift`) and a markdown summary (`reconcile-summary`). With `fix`, a deployment's run takes the
writer slot (no sync writes meanwhile) and the shared Stripe rate limit, as the sync does."""

from __future__ import annotations

from contextlib import nullcontext

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from pydantic import BaseModel, Field

from cpq_sync.config import load_settings
from cpq_sync.ops.credentials import apply_secret_blocks
from cpq_sync.ops.prefect_limits import ensure_limits, stripe_request_gate, writer_slot
from cpq_sync.reconcile.models import ReconcileReport
from cpq_sync.reconcile.render import summary_markdown, table_rows
from cpq_sync.reconcile.run import reconcile
from cpq_sync.sync import prepare
from flows.sync import _from_a_deployment, route_library_logs


class ReconcileParameters(BaseModel):
    fix: bool = Field(False, description="Repair the drift found (Stripe set back to what Salesforce says).")
    recreate_ended: bool = Field(
        False,
        description="With fix: recreate schedules and subscriptions cancelled or released in Stripe (a new one bills "
        "from the order's start again: for a billing engineer to decide).",
    )


@flow(name="reconcile", log_prints=False)
def reconcile_flow(parameters: ReconcileParameters | None = None) -> ReconcileReport:
    """Compares Stripe with Salesforce for every synced record; changes nothing unless `fix`."""
    params = parameters or ReconcileParameters()
    route_library_logs()
    apply_secret_blocks()
    settings = load_settings()
    shared = _from_a_deployment()
    if shared:
        ensure_limits(settings.preferences.stripe_requests_per_second)
    with writer_slot() if shared and params.fix else nullcontext():
        ctx = prepare(settings)
        ctx.request_gate = stripe_request_gate if shared else None
        report = reconcile(ctx, fix=params.fix, recreate_ended=params.recreate_ended)
    create_markdown_artifact(summary_markdown(report), key="reconcile-summary", description="Drift report")
    rows = table_rows(report, ctx.org.instance_url, ctx.livemode)
    if rows:
        create_table_artifact(rows, key="reconcile-drift", description="Differences between Stripe and Salesforce")
    logger = get_run_logger()
    if report.unfixed:
        logger.warning("reconcile: %d differences left between Stripe and Salesforce", len(report.unfixed))
    else:
        logger.info("reconcile: no drift left (%d objects checked)", report.stripe_objects_checked)
    return report
