"""Sync state kept in the org, in Stripe_Sync_State__c, so every worker sees it: the incremental watermark, the
apply marker, and the org's describe results the mappings were validated against (so a run does not describe the
org again until the mappings change or a day has passed). All of it is read in one query at the start of a run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from cpq_sync.mapping.compile import described_names, trimmed_describe
from cpq_sync.mapping.loader import MappingSet
from cpq_sync.salesforce.client import OrgClient

WATERMARK_KEY = "watermark:Order"
APPLY_MARKER_KEY = "apply:in_progress"  # set while a run applies to Stripe; still set at start = it crashed
DESCRIBE_KEY = "schema:describe"
DESCRIBE_MAX_AGE = dt.timedelta(hours=24)  # the org's schema is checked again at least once a day


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


class CachedDescribes(BaseModel):
    """What DESCRIBE_KEY holds: the describe entries the mappings were checked against, for one set of mappings."""

    mappings: str  # hash of the mappings' Salesforce paths
    checked_at: dt.datetime
    describes: dict[str, dict[str, Any]]  # sobject -> trimmed describe result


class OrgDescribe:
    """The `describe` the mapping checks call: served from the state's cache when it was made for these mappings
    less than DESCRIBE_MAX_AGE ago, otherwise from the org (one call per object), trimmed to the entries the
    mappings can reach. `save` stores what was described (one call, only when something was)."""

    def __init__(
        self,
        org: OrgClient,
        mappings: MappingSet,
        states: dict[str, str],
        now: dt.datetime,
        also: frozenset[str] = frozenset(),
    ) -> None:
        """`also`: more field names to keep (those the sync filters name), part of the cache's key."""
        self.org = org
        self.names = described_names(mappings) | also
        self.key = hashlib.sha256(json.dumps(sorted(self.names)).encode()).hexdigest()[:32]
        self.now = now
        cached = _cached(states.get(DESCRIBE_KEY), self.key, now)
        self.results: dict[str, dict[str, Any]] = dict(cached.describes) if cached else {}
        self.checked_at = cached.checked_at if cached else now
        self.described = False

    def __call__(self, sobject: str) -> dict[str, Any]:
        if sobject not in self.results:
            self.results[sobject] = trimmed_describe(self.org.restful(f"sobjects/{sobject}/describe"), self.names)
            self.described = True
        return self.results[sobject]

    def save(self) -> None:
        if not self.described:
            return
        cache = CachedDescribes(mappings=self.key, checked_at=self.checked_at, describes=self.results)
        write_state(self.org, DESCRIBE_KEY, cache.model_dump_json())


def _cached(raw: str | None, key: str, now: dt.datetime) -> CachedDescribes | None:
    if not raw:
        return None
    try:
        cached = CachedDescribes.model_validate_json(raw)
    except ValidationError:
        return None
    if cached.mappings != key or now - cached.checked_at > DESCRIBE_MAX_AGE:
        return None
    return cached


def forget_describes(org: OrgClient) -> None:
    """After a query names a field the org no longer has (INVALID_FIELD): the next run describes the org again."""
    write_state(org, DESCRIBE_KEY, None)
