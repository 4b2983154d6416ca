"""Write-back: Stripe ids and content hashes onto the Salesforce records, and one Sync Record per primary record,
with sObject Collections (200 records a call)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cpq_sync.desired import SfRef
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.extract import ID_CHUNK, soql_datetime, soql_string

log = logging.getLogger(__name__)
COLLECTION_SIZE = 200
MESSAGE_MAX = 131_072


class Status(StrEnum):
    SUCCESS = "Success"
    ERROR = "Error"
    RESOLVED = "Resolved"
    SKIPPED = "Skipped"


@dataclass(frozen=True)
class StripeIdUpdate:
    record: SfRef
    stripe_id: str
    sync_hash: str


@dataclass(frozen=True)
class SyncRecord:
    primary: SfRef
    secondary: SfRef
    status: Status
    message: str
    request_id: str | None = None
    stripe_object_id: str | None = None

    @property
    def compound_id(self) -> str:
        return f"{self.primary.id}-{self.secondary.id}"


def dashboard_log_link(request_id: str | None, livemode: bool) -> str | None:
    if not request_id:
        return None
    return f"https://dashboard.stripe.com/{'' if livemode else 'test/'}logs/{request_id}"


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for n in range(0, len(items), size):
        yield items[n : n + size]


def _failures(results: list[dict[str, Any]], records: list[dict[str, Any]]) -> list[str]:
    problems = []
    for result, record in zip(results, records, strict=True):
        if not result.get("success"):
            errors = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in result.get("errors", []))
            name = record.get("id") or record.get("Compound_ID__c")
            problems.append(f"{record['attributes']['type']} {name}: {errors}")
    return problems


def write_stripe_ids(org: OrgClient, updates: list[StripeIdUpdate]) -> list[str]:
    """Sets Stripe_ID__c and Stripe_Sync_Hash__c; returns per-record problems (the others are written)."""
    by_id: dict[str, StripeIdUpdate] = {u.record.id: u for u in updates}  # last one wins
    ordered = sorted(by_id.values(), key=lambda u: (u.record.object_type, u.record.id))
    problems: list[str] = []
    for chunk in _chunks(ordered, COLLECTION_SIZE):
        records = [
            {
                "attributes": {"type": u.record.object_type},
                "id": u.record.id,
                "Stripe_ID__c": u.stripe_id,
                "Stripe_Sync_Hash__c": u.sync_hash,
            }
            for u in chunk
        ]
        results = org.write_collection("composite/sobjects", records)
        problems += _failures(results, records)
    for problem in problems:
        log.error("write-back failed: %s", problem)
    return problems


def upsert_sync_records(org: OrgClient, records: list[SyncRecord], *, livemode: bool) -> list[str]:
    by_compound = {r.compound_id: r for r in records}
    problems: list[str] = []
    for chunk in _chunks(list(by_compound.values()), COLLECTION_SIZE):
        body = [
            {
                "attributes": {"type": "Sync_Record__c"},
                "Compound_ID__c": r.compound_id,
                "Primary_Record_ID__c": r.primary.id,
                "Primary_Object_Type__c": r.primary.object_type,
                "Secondary_Record_ID__c": r.secondary.id,
                "Secondary_Object_Type__c": r.secondary.object_type,
                "Resolution_Status__c": r.status.value,
                "Resolution_Message__c": r.message[:MESSAGE_MAX],
                "Stripe_Request_ID__c": r.request_id,
                "Stripe_Request_Dashboard_Link__c": dashboard_log_link(r.request_id, livemode),
                "Stripe_Object_ID__c": r.stripe_object_id,
            }
            for r in chunk
        ]
        results = org.write_collection("composite/sobjects/Sync_Record__c/Compound_ID__c", body)
        problems += _failures(results, body)
    for problem in problems:
        log.error("sync record write failed: %s", problem)
    return problems


def resolve_earlier_errors(org: OrgClient, primary_ids: list[str]) -> int:
    """Marks the Error Sync Records of records that now synced as Resolved; returns how many."""
    ids: list[str] = []
    for chunk in _chunks(sorted(set(primary_ids)), ID_CHUNK):
        soql = (
            "SELECT Id FROM Sync_Record__c WHERE Resolution_Status__c = 'Error' AND Primary_Record_ID__c IN "
            f"({', '.join(soql_string(i) for i in chunk)})"
        )
        ids += [r["Id"] for r in org.query_all_iter(soql)]
    mark_resolved(org, ids)
    return len(ids)


def open_errors(org: OrgClient, before: dt.datetime | None = None) -> dict[str, list[str]]:
    """Primary record id -> the ids of its Error Sync Records, in one query (pages of 2,000): the errors a run may
    resolve are few, the records it syncs many. `before`: only records written before then (not this run's)."""
    soql = "SELECT Id, Primary_Record_ID__c FROM Sync_Record__c WHERE Resolution_Status__c = 'Error'"
    if before is not None:
        soql += f" AND SystemModstamp < {soql_datetime(before)}"
    found: dict[str, list[str]] = {}
    for row in org.query_all_iter(soql):
        found.setdefault(str(row["Primary_Record_ID__c"]), []).append(str(row["Id"]))
    return found


def mark_resolved(org: OrgClient, record_ids: list[str]) -> None:
    """Sets these Sync Records to Resolved (Collections of 200)."""
    for chunk in _chunks(record_ids, COLLECTION_SIZE):
        records = [
            {"attributes": {"type": "Sync_Record__c"}, "id": i, "Resolution_Status__c": Status.RESOLVED.value}
            for i in chunk
        ]
        org.write_collection("composite/sobjects", records)
