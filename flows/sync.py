"""The `sync` flow: extract -> translate and plan -> apply (write-back per layer) -> Sync Records and watermark."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from pydantic import BaseModel, Field

from cpq_sync.config import load_settings
from cpq_sync.report import summary_markdown, table_rows
from cpq_sync.salesforce.client import QuotaExceeded
from cpq_sync.sync import Mode, SyncReport, report_rows, window_for
from tasks.sync_tasks import apply_task, extract_task, plan_task, prepare_task, write_back_task


class SyncParameters(BaseModel):
    """What to sync. The Prefect UI shows these as a form."""

    full: bool = Field(False, description="Full backfill from the sync start date instead of an incremental run.")
    order_ids: list[str] = Field(
        default_factory=list,
        description="Salesforce Order ids (18 characters) to sync now, whatever their last change.",
    )
    dry_run: bool = Field(False, description="Print the plan and change nothing in Stripe or Salesforce.")

    @property
    def mode(self) -> Mode:
        if self.order_ids:
            return Mode.ORDERS
        return Mode.FULL if self.full else Mode.INCREMENTAL


@flow(name="sync", log_prints=False)
def sync_flow(parameters: SyncParameters | None = None) -> SyncReport:
    params = parameters or SyncParameters()
    logger = get_run_logger()
    settings = load_settings()
    ctx = prepare_task(settings)
    mode = params.mode
    report = SyncReport(mode=mode, dry_run=params.dry_run, started_at=ctx.started_at)
    try:
        window = window_for(ctx, mode, tuple(params.order_ids))
        extracted = extract_task(ctx, window)
        report.orders_seen = extracted.orders_seen
        plan = plan_task(ctx, extracted)
        if params.dry_run:
            report.rows = report_rows(plan, {})
        else:
            outcomes = apply_task(ctx, plan)
            report.stripe_writes = sum(1 for o in outcomes.values() if o.action.value != "skip")
            report.rows = report_rows(plan, outcomes)
            report = write_back_task(ctx, plan, outcomes, report, extracted, mode)
        report.plan = plan
    except QuotaExceeded as exc:
        report.stopped_early = str(exc)
        logger.error("stopped early: %s", exc)
    report.salesforce_calls = ctx.org.calls_used()
    report.run_url = flow_run.ui_url
    report.timings = dict(ctx.timings)
    create_markdown_artifact(summary_markdown(report), key="sync-summary", description="What this run did")
    rows = table_rows(report, ctx.org.instance_url, ctx.livemode)
    if rows:
        create_table_artifact(rows, key="sync-objects", description="Stripe objects created, updated and failed")
    logger.info(
        "sync done: %d orders read, %d synced, %d failed, %d Stripe writes",
        report.orders_seen,
        len(report.synced_orders),
        len(report.failed),
        report.stripe_writes,
    )
    return report
