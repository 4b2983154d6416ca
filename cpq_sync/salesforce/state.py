"""Sync state (the incremental watermark) kept in the org, in Stripe_Sync_State__c, so every worker sees it."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from cpq_sync.salesforce.client import OrgClient

WATERMARK_KEY = "watermark:Order"
APPLY_MARKER_KEY = "apply:in_progress"  # set while a run applies to Stripe; still set at start = it crashed


def read_states(org: OrgClient) -> dict[str, str]:
    """Every sync state value, in one query."""
    soql = "SELECT Key__c, Value__c FROM Stripe_Sync_State__c"
    return {str(r["Key__c"]): str(r["Value__c"]) for r in org.query_all_iter(soql) if r.get("Value__c")}


def write_state(org: OrgClient, key: str, value: str | None) -> None:
    """Upserts one state value on its key (None clears it)."""
    org.restful(
        f"sobjects/Stripe_Sync_State__c/Key__c/{quote(key, safe='')}",
        "PATCH",
        json={"Name": key[:80], "Value__c": value},
    )


def parse_watermark(states: dict[str, str]) -> dt.datetime | None:
    value = states.get(WATERMARK_KEY)
    return dt.datetime.fromisoformat(value) if value else None


def write_watermark(org: OrgClient, when: dt.datetime) -> None:
    write_state(org, WATERMARK_KEY, when.astimezone(dt.UTC).isoformat())
