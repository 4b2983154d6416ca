"""Sync Records as an operator sees them: the records whose latest Sync Record is an Error (to rerun them), and
retention (keep the newest N Success/Resolved records; unresolved Errors are never deleted). No Prefect here."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.extract import soql_string
from cpq_sync.salesforce.write_back import COLLECTION_SIZE, Status

log = logging.getLogger(__name__)

RERUNNABLE_TYPES = ("Order", "Account", "Product2", "PricebookEntry")


@dataclass
class FailedRecords:
    """Primary records whose latest Sync Record is an Error, by object type."""

    by_type: dict[str, list[str]] = field(default_factory=dict)

    def ids(self, object_type: str) -> tuple[str, ...]:
        return tuple(self.by_type.get(object_type, ()))

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.by_type.values())


def _soql_datetime(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def failed_records(
    org: OrgClient, *, since: dt.datetime | None = None, object_type: str | None = None
) -> FailedRecords:
    """Records with an Error Sync Record (since `since`, of `object_type`) and no later Success for them.

    A record's Error Sync Records become Resolved when it later syncs, so an Error still standing means the record
    has not synced since; the latest-record check also covers a Success written by a run that failed to resolve.
    """
    conditions = [f"Resolution_Status__c = {soql_string(Status.ERROR.value)}"]
    if since is not None:
        conditions.append(f"LastModifiedDate >= {_soql_datetime(since)}")
    if object_type is not None:
        conditions.append(f"Primary_Object_Type__c = {soql_string(object_type)}")
    soql = (
        "SELECT Primary_Record_ID__c, Primary_Object_Type__c, LastModifiedDate FROM Sync_Record__c WHERE "
        + " AND ".join(conditions)
        + " ORDER BY LastModifiedDate DESC"
    )
    latest_error: dict[str, tuple[str, str]] = {}
    for row in org.query_all_iter(soql):
        primary = str(row["Primary_Record_ID__c"])
        latest_error.setdefault(primary, (str(row["Primary_Object_Type__c"]), str(row["LastModifiedDate"])))
    if not latest_error:
        return FailedRecords()
    later_success: set[str] = set()
    ids = sorted(latest_error)
    for n in range(0, len(ids), COLLECTION_SIZE):
        in_list = ", ".join(soql_string(i) for i in ids[n : n + COLLECTION_SIZE])
        soql = (
            "SELECT Primary_Record_ID__c, LastModifiedDate FROM Sync_Record__c WHERE Resolution_Status__c = "
            f"{soql_string(Status.SUCCESS.value)} AND Primary_Record_ID__c IN ({in_list})"
        )
        for row in org.query_all_iter(soql):
            primary = str(row["Primary_Record_ID__c"])
            if _parse(str(row["LastModifiedDate"])) > _parse(latest_error[primary][1]):
                later_success.add(primary)
    out = FailedRecords()
    for primary, (kind, _) in sorted(latest_error.items()):
        if primary not in later_success and kind in RERUNNABLE_TYPES:
            out.by_type.setdefault(kind, []).append(primary)
    return out


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))


@dataclass(frozen=True)
class PruneResult:
    kept: int
    deleted: int
    problems: tuple[str, ...] = ()


def prune_sync_records(org: OrgClient, keep: int) -> PruneResult:
    """Deletes the Success and Resolved Sync Records beyond the newest `keep` (by last modification), with
    sObject Collections DELETE (200 ids a call). Error records are never selected, so never deleted."""
    if keep < 0:
        raise ValueError("keep must be zero or more")
    soql = (
        "SELECT Id FROM Sync_Record__c WHERE Resolution_Status__c IN "
        f"({soql_string(Status.SUCCESS.value)}, {soql_string(Status.RESOLVED.value)}) "
        "ORDER BY LastModifiedDate DESC, Id DESC"
    )
    ids = [str(r["Id"]) for r in org.query_all_iter(soql)]
    doomed = ids[keep:]
    problems: list[str] = []
    deleted = 0
    for n in range(0, len(doomed), COLLECTION_SIZE):
        chunk = doomed[n : n + COLLECTION_SIZE]
        results = org.restful("composite/sobjects", "DELETE", params={"ids": ",".join(chunk), "allOrNone": "false"})
        for record_id, result in zip(chunk, results, strict=True):
            if result.get("success"):
                deleted += 1
            else:
                errors = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in result.get("errors", []))
                problems.append(f"Sync_Record__c {record_id}: {errors}")
    for problem in problems:
        log.error("prune failed: %s", problem)
    return PruneResult(kept=min(keep, len(ids)), deleted=deleted, problems=tuple(problems))
