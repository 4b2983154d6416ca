"""The `sync` flow: extract -> translate and plan -> apply (write-back while applying) -> Sync Records and watermark.

`run_sync` is the body, shared by the deployments' flows (`flows/operations.py`): in a deployment's run it takes the
writer slot and the server-wide Stripe rate limit (`cpq_sync.ops.prefect_limits`); it publishes the summary, table
and progress artifacts, and, when a step fails, fails the run with a state message naming the step and why.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Annotated, TypeVar

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext
from prefect.runtime import flow_run
from pydantic import BaseModel, Field, StringConstraints

from cpq_sync import redact
from cpq_sync.config import Settings, load_settings
from cpq_sync.errors import ConfigError, SyncError
from cpq_sync.ops.credentials import apply_secret_blocks
from cpq_sync.ops.prefect_limits import ensure_limits, server_is_shared, stripe_request_gate, writer_slot
from cpq_sync.report import summary_markdown, table_rows
from cpq_sync.salesforce.client import QuotaExceeded
from cpq_sync.sync import Mode, RunContext, SyncReport, report_rows, window_for
from tasks.sync_tasks import apply_task, extract_task, plan_task, prepare_task, write_back_task

SalesforceId = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")]
T = TypeVar("T")


class SyncParameters(BaseModel):
    """What to sync. The Prefect UI shows these as a form."""

    full: bool = Field(False, description="Full backfill from the sync start date instead of an incremental run.")
    order_ids: list[SalesforceId] = Field(
        default_factory=list,
        description="Salesforce Order ids (15 or 18 characters) to sync now, whatever their last change.",
    )
    account_ids: list[SalesforceId] = Field(
        default_factory=list, description="Salesforce Account ids to sync now (their Stripe customers)."
    )
    product_ids: list[SalesforceId] = Field(
        default_factory=list, description="Salesforce Product2 ids to sync now (their Stripe products)."
    )
    pricebook_entry_ids: list[SalesforceId] = Field(
        default_factory=list,
        description="Price book entry ids to sync now: their product and the activated orders whose lines bill them.",
    )
    dry_run: bool = Field(False, description="Print the plan and change nothing in Stripe or Salesforce.")

    @property
    def by_ids(self) -> bool:
        return bool(self.order_ids or self.account_ids or self.product_ids or self.pricebook_entry_ids)

    @property
    def mode(self) -> Mode:
        if self.by_ids:
            return Mode.ORDERS
        return Mode.FULL if self.full else Mode.INCREMENTAL


class StepFailed(SyncError):
    """A step of the run failed after its retries; the message (the run's state message) names it and says why."""


class _Steps:
    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets

    def run(self, name: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (QuotaExceeded, StepFailed):
            raise
        except ConfigError as exc:
            raise ConfigError(redact.redact(f"step '{name}' failed: {exc}", self.secrets)) from None
        except Exception as exc:
            why = redact.redact(f"{type(exc).__name__}: {exc}", self.secrets)
            raise StepFailed(f"step '{name}' failed: {why}") from exc


@contextmanager
def _writer(take: bool) -> Iterator[None]:
    with writer_slot() if take else nullcontext():
        yield


_BY_HAND: ContextVar[bool] = ContextVar("cpq_sync_by_hand", default=False)


@contextmanager
def by_hand() -> Iterator[None]:
    """Runs started inside are runs by hand (`cpq-sync sync`): they take the writer slot when the Prefect server is
    shared, so they wait for a scheduled run instead of racing it. Library and test callers of the flow don't."""
    token = _BY_HAND.set(True)
    try:
        yield
    finally:
        _BY_HAND.reset(token)


def _from_a_deployment() -> bool:
    """Runs of the deployments (schedules, the UI, several workers) share the writer slot and the Stripe rate
    limit; a direct run paces its own requests; a run by hand (`by_hand`) takes the writer slot when the Prefect server
    is shared (`server_is_shared`): it never races a scheduled one."""
    context = FlowRunContext.get()
    return context is not None and context.flow_run is not None and context.flow_run.deployment_id is not None


LIBRARY_LOG_LEVELS = {"cpq_sync": logging.INFO, "stripe": logging.INFO, "simple_salesforce": logging.INFO}


def route_library_logs() -> None:
    """The libraries' loggers reach the run's logs through PREFECT_LOGGING_EXTRA_LOGGERS (set in prefect.yaml);
    their own level decides what is sent: INFO (one line per Stripe request, the steps' counts), unless the
    logger was given a level already (e.g. DEBUG from the CLI's --verbose)."""
    for name, level in LIBRARY_LOG_LEVELS.items():
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)


def run_sync(params: SyncParameters) -> SyncReport:
    route_library_logs()
    logger = get_run_logger()
    started = time.perf_counter()
    steps = _Steps([])
    apply_secret_blocks()
    settings: Settings = steps.run("prepare", load_settings)
    steps.secrets = settings.secret_values()
    shared = _from_a_deployment()
    one_writer = not params.dry_run and (shared or (_BY_HAND.get() and server_is_shared()))
    if shared or one_writer:
        ensure_limits(settings.preferences.stripe_requests_per_second)
    mode = params.mode
    with _writer(one_writer):
        try:
            ctx: RunContext = steps.run("prepare", lambda: prepare_task(settings))
        except QuotaExceeded as exc:  # the quota ran out before anything was read: nothing to undo, say so
            logger.error("stopped early: %s", exc)
            stopped = SyncReport(mode=mode, dry_run=params.dry_run, started_at=dt.datetime.now(dt.UTC))
            stopped.stopped_early, stopped.run_url = str(exc), flow_run.ui_url
            create_markdown_artifact(summary_markdown(stopped), key="sync-summary", description="What this run did")
            return stopped
        ctx.request_gate = stripe_request_gate if shared else None
        report = SyncReport(mode=mode, dry_run=params.dry_run, started_at=ctx.started_at)
        try:
            window = steps.run(
                "extract",
                lambda: window_for(
                    ctx,
                    mode,
                    tuple(params.order_ids),
                    account_ids=tuple(params.account_ids),
                    product_ids=tuple(params.product_ids),
                    pricebook_entry_ids=tuple(params.pricebook_entry_ids),
                ),
            )
            extracted = steps.run("extract", lambda: extract_task(ctx, window))
            report.orders_seen = extracted.orders_seen
            plan = steps.run("translate-and-plan", lambda: plan_task(ctx, extracted))
            if params.dry_run:
                report.rows = report_rows(plan, {})
            else:
                outcomes = steps.run("apply", lambda: apply_task(ctx, plan))
                report.stripe_writes = sum(1 for o in outcomes.values() if o.action.value != "skip")
                report.rows = report_rows(plan, outcomes)
                report = steps.run("write-back", lambda: write_back_task(ctx, plan, outcomes, report, extracted, mode))
            report.plan = plan
        except QuotaExceeded as exc:
            report.stopped_early = str(exc)
            logger.error("stopped early: %s", exc)
    report.salesforce_calls = ctx.org.calls_used()
    report.stripe_requests = ctx.stripe_requests
    report.run_url = flow_run.ui_url
    report.timings = dict(ctx.timings)
    report.duration_seconds = time.perf_counter() - started
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


@flow(name="sync", log_prints=False)
def sync_flow(parameters: SyncParameters | None = None) -> SyncReport:
    """Incremental sync by default; a full backfill with `full`; given records with their ids."""
    return run_sync(parameters or SyncParameters())
