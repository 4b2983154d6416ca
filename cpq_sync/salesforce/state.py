"""Sync state (the incremental watermark) kept in the org, in Stripe_Sync_State__c, so every worker sees it."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.extract import soql_string

WATERMARK_KEY = "watermark:Order"


def read_state(org: OrgClient, key: str) -> str | None:
    soql = f"SELECT Value__c FROM Stripe_Sync_State__c WHERE Key__c = {soql_string(key)} LIMIT 1"
    for record in org.query_all_iter(soql):
        value = record.get("Value__c")
        return str(value) if value is not None else None
    return None


def write_state(org: OrgClient, key: str, value: str) -> None:
    org.restful(
        f"sobjects/Stripe_Sync_State__c/Key__c/{quote(key, safe='')}",
        "PATCH",
        json={"Name": key[:80], "Value__c": value},
    )


def read_watermark(org: OrgClient) -> dt.datetime | None:
    value = read_state(org, WATERMARK_KEY)
    return dt.datetime.fromisoformat(value) if value else None


def write_watermark(org: OrgClient, when: dt.datetime) -> None:
    write_state(org, WATERMARK_KEY, when.astimezone(dt.UTC).isoformat())
