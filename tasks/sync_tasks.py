"""Prefect tasks: thin wrappers over the steps in `cpq_sync.sync`, with the retry policy on the I/O steps."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from prefect import task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from cpq_sync.config import Settings
from cpq_sync.plan import Plan
from cpq_sync.salesforce.extract import Extracted, Window
from cpq_sync.stripe.apply import Outcome
from cpq_sync.sync import (
    Mode,
    RunContext,
    SyncReport,
    advance_watermark,
    apply_plan,
    extract,
    finish,
    make_plan,
    prepare,
)
from tasks.retry import RETRY_OPTIONS


@task(name="prepare", cache_policy=NO_CACHE, **RETRY_OPTIONS)
def prepare_task(settings: Settings) -> RunContext:
    return prepare(settings)


@task(name="extract", cache_policy=NO_CACHE, **RETRY_OPTIONS)
def extract_task(ctx: RunContext, window: Window) -> Extracted:
    return extract(ctx, window)


@task(name="translate-and-plan", cache_policy=NO_CACHE)
def plan_task(ctx: RunContext, extracted: Extracted) -> Plan:
    return make_plan(ctx, extracted)


@task(name="apply", cache_policy=NO_CACHE, **RETRY_OPTIONS)
def apply_task(ctx: RunContext, plan: Plan) -> dict[str, Outcome]:
    artifact = cast(UUID, create_progress_artifact(0.0, key="sync-apply-progress", description="Stripe writes applied"))

    def progress(done: int, total: int) -> None:
        update_progress_artifact(artifact, 100.0 * done / total if total else 100.0)

    return apply_plan(ctx, plan, on_progress=progress)


@task(name="write-back", cache_policy=NO_CACHE, **RETRY_OPTIONS)
def write_back_task(
    ctx: RunContext,
    plan: Plan,
    outcomes: dict[str, Outcome],
    report: SyncReport,
    extracted: Extracted,
    mode: Mode,
) -> SyncReport:
    finish(ctx, plan, outcomes, report, extracted)
    report.watermark = advance_watermark(ctx, mode, extracted)
    return report
