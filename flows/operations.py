"""The flows behind the operator's deployments: sync given records, rerun the failed ones, prune Sync Records."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel, Field

from cpq_sync.config import load_settings
from cpq_sync.ops.credentials import apply_secret_blocks
from cpq_sync.ops.sync_records import failed_records, prune_sync_records
from cpq_sync.salesforce.client import OrgClient, login
from cpq_sync.sync import SyncReport
from flows.sync import SalesforceId, SyncParameters, route_library_logs, run_sync


class SyncOrdersParameters(BaseModel):
    """Records to sync now, whether live syncing is on or off."""

    order_ids: list[SalesforceId] = Field(
        default_factory=list, description="Salesforce Order ids (15 or 18 characters), e.g. 801..."
    )
    account_ids: list[SalesforceId] = Field(default_factory=list, description="Account ids (their Stripe customers).")
    product_ids: list[SalesforceId] = Field(default_factory=list, description="Product2 ids (their Stripe products).")
    pricebook_entry_ids: list[SalesforceId] = Field(
        default_factory=list,
        description="Price book entry ids: their product and the activated orders whose lines bill them.",
    )
    dry_run: bool = Field(False, description="Plan only: change nothing in Stripe or Salesforce.")


class RerunFailedParameters(BaseModel):
    """Which failed records to sync again (those whose latest Sync Record is an Error)."""

    since: dt.datetime | None = Field(None, description="Only errors recorded since this time (UTC if no zone).")
    object_type: Literal["Order", "Account", "Product2", "PricebookEntry"] | None = Field(
        None, description="Only failed records of this object type."
    )


class PruneParameters(BaseModel):
    keep: int | None = Field(
        None,
        ge=0,
        description="Success/Resolved Sync Records to keep (newest first); empty: the sync_record_retention preference",
    )


@flow(name="sync-orders", log_prints=False)
def sync_orders_flow(parameters: SyncOrdersParameters) -> SyncReport:
    """Syncs the given orders, accounts, products and price book entries now."""
    params = SyncParameters(**parameters.model_dump())
    if not params.by_ids:
        raise ValueError("give at least one order, account, product or price book entry id")
    return run_sync(params)


def _org() -> OrgClient:
    route_library_logs()
    apply_secret_blocks()
    settings = load_settings()
    org = OrgClient(lambda: login(settings), run_share_percent=settings.preferences.api_usage_ceiling_percent)
    if settings.target.value == "sandbox":
        from cpq_sync.sync import _ensure_sandbox

        _ensure_sandbox(settings, org)
    return org


@flow(name="rerun-failed", log_prints=False)
def rerun_failed_flow(parameters: RerunFailedParameters | None = None) -> SyncReport | None:
    """Syncs again the records whose latest Sync Record is an Error; their errors become Resolved on success."""
    params = parameters or RerunFailedParameters()
    logger = get_run_logger()
    since = params.since if params.since is None or params.since.tzinfo else params.since.replace(tzinfo=dt.UTC)
    failed = failed_records(_org(), since=since, object_type=params.object_type)
    if failed.total == 0:
        logger.info("no failed records to rerun")
        create_markdown_artifact("# rerun-failed\n\nNo failed records to rerun.", key="sync-summary")
        return None
    logger.info("rerunning %d failed records: %s", failed.total, {k: len(v) for k, v in failed.by_type.items()})
    return run_sync(
        SyncParameters(
            order_ids=list(failed.ids("Order")),
            account_ids=list(failed.ids("Account")),
            product_ids=list(failed.ids("Product2")),
            pricebook_entry_ids=list(failed.ids("PricebookEntry")),
        )
    )


@flow(name="prune-sync-records", log_prints=False)
def prune_sync_records_flow(parameters: PruneParameters | None = None) -> int:
    """Keeps the newest N Success/Resolved Sync Records; never deletes an unresolved Error."""
    params = parameters or PruneParameters()
    org = _org()
    keep = params.keep if params.keep is not None else load_settings().preferences.sync_record_retention
    result = prune_sync_records(org, keep)
    get_run_logger().info("Sync Records: kept %d Success/Resolved, deleted %d", result.kept, result.deleted)
    create_markdown_artifact(
        f"# prune-sync-records\n\nKept the newest {result.kept} Success/Resolved Sync Records (retention {keep}); "
        f"deleted {result.deleted}. Error records are never pruned."
        + (f"\n\nProblems: {'; '.join(result.problems)}" if result.problems else ""),
        key="prune-summary",
    )
    if result.problems:
        raise RuntimeError(f"step 'delete' failed for {len(result.problems)} Sync Records: {result.problems[0]}")
    return result.deleted
