"""The sync's API-call economy on a small seeded org, through the real clients and the product's steps (not timed):
a full sync makes exactly the Stripe writes the Salesforce data needs (computed from the org's records by
`bench.minimum`, never from the plan) and almost no reads; an unchanged rerun makes no Stripe request and no
Salesforce write; Salesforce calls grow by fewer than 30 per 1,000 orders. A read-before-write, a per-record
Salesforce call or a query repeated per object type fails here."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

import cpq_sync.sync as sync_steps
from bench.minimum import minimum_writes, write_kind
from cpq_sync.config import DEFAULT_MAPPINGS_DIR, Settings, load_settings
from cpq_sync.mapping.compile import compile_mappings
from cpq_sync.mapping.loader import load_mappings
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.state import DESCRIBE_KEY, DESCRIBE_MAX_AGE, OrgDescribe, forget_describes, read_states
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from cpq_sync.sync import Mode, SyncReport

ORDERS = 200
CALLS_PER_1000_ORDERS = 30
# Calls an unchanged rerun makes beyond one per object type, when it reads orders again (see the test).
ALLOWED = {"Order": 3, "ConsumptionSchedule": 2, "Stripe_Sync_State__c": 2}
SUBQUERY = re.compile(r"\([^()]*\)")
SEEDED_CHECK = "?q=SELECT+COUNT%28%29+FROM+Order"


def sobject_of(request: requests.PreparedRequest) -> str:
    """The object type a Salesforce API call reads or writes (a query's outer FROM; a collection's records')."""
    url = urlsplit(request.url or "")
    if url.path.endswith("/query/") or url.path.endswith("/query"):
        soql = parse_qs(url.query)["q"][0]
        while SUBQUERY.search(soql):
            soql = SUBQUERY.sub("", soql)
        return re.search(r"\bFROM\s+(\w+)", soql, re.IGNORECASE).group(1)  # type: ignore[union-attr]
    parts = url.path.split("/")
    if "sobjects" in parts and parts[parts.index("sobjects") - 1] == "composite":
        rest = parts[parts.index("sobjects") + 1 :]
        return rest[0] if rest and rest[0] else "composite:" + request.method.lower()  # type: ignore[union-attr]
    return parts[parts.index("sobjects") + 1] if "sobjects" in parts else url.path


class CallLog:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []  # (method, object type)

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.request.url and response.request.url.endswith(SEEDED_CHECK):
            return  # the sandbox target's check that the org is seeded (prepare), not a call a real org sees
        self.calls.append((str(response.request.method), sobject_of(response.request)))

    def by_type(self) -> Counter[str]:
        return Counter(sobject for _, sobject in self.calls)

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] != "GET"]


@pytest.fixture
def call_log(monkeypatch: pytest.MonkeyPatch) -> CallLog:
    log = CallLog()
    login = sync_steps.login

    def logged_in(settings: Settings) -> Salesforce:
        sf = login(settings)
        sf.session.hooks["response"].append(log.hook)
        return sf

    monkeypatch.setattr(sync_steps, "login", logged_in)
    return log


def sync(mode: Mode, log: CallLog) -> tuple[SyncReport, list[sandbox_stripe.LoggedRequest]]:
    """One run through the product's steps, as the sync flow chains them."""
    directory = Path(load_settings().runtime.sandbox)
    sandbox_stripe.clear_request_log(directory)
    log.calls.clear()
    ctx = sync_steps.prepare(load_settings())
    report = SyncReport(mode=mode, dry_run=False, started_at=ctx.started_at)
    extracted = sync_steps.extract(ctx, sync_steps.window_for(ctx, mode))
    plan = sync_steps.make_plan(ctx, extracted)
    outcomes = sync_steps.apply_plan(ctx, plan)
    sync_steps.finish(ctx, plan, outcomes, report, extracted)
    report.orders_seen = extracted.orders_seen
    report.watermark = sync_steps.advance_watermark(ctx, mode, extracted)
    return report, sandbox_stripe.request_log(directory)


def full_sync_calls(directory: Path, orders: int, log: CallLog) -> tuple[int, SyncReport, list[Any]]:
    sandbox_sf.seed_org(directory, orders=orders, seed=7)
    sandbox_stripe.reset(directory)
    report, stripe_log = sync(Mode.FULL, log)
    return len(log.calls), report, stripe_log


def test_a_full_sync_writes_the_minimum_and_an_unchanged_rerun_nothing(sandbox: Path, call_log: CallLog) -> None:
    empty_calls, _, _ = full_sync_calls(sandbox, 0, call_log)
    calls, report, stripe_log = full_sync_calls(sandbox, ORDERS, call_log)

    # Stripe: every write is one the data needs, once; reads only where no write could do (the meters' list).
    minimum = minimum_writes(sandbox)
    writes = [r for r in stripe_log if r.method in ("POST", "DELETE")]
    assert len(report.synced_orders) > ORDERS // 2
    assert Counter(write_kind(r) for r in writes) == minimum.by_kind
    assert all(r.status == 200 for r in stripe_log)
    assert len(stripe_log) <= 1.05 * minimum.total

    # Salesforce: what the orders add to a run's fixed calls stays under 30 per 1,000 orders (pages of 2,000,
    # Collections of 200): a call per record, or per handful of records, cannot hide here.
    assert (calls - empty_calls) * 1000 / ORDERS < CALLS_PER_1000_ORDERS, call_log.by_type()

    # An unchanged rerun: no Stripe request at all, no write-back, every object type queried once. The orders
    # modified within the look-back (all of them here: seeded and written back minutes ago) are read again, so
    # Order is also queried for their contracts' other orders and for the currencies of the accounts whose orders
    # failed (not in Stripe), their products' consumption schedules a second time, and the failed orders record
    # their error again (one Collection call).
    report, stripe_log = sync(Mode.INCREMENTAL, call_log)
    assert stripe_log == [] and report.stripe_writes == 0 and report.synced_orders == []
    assert {w for w in call_log.writes()} <= {("PATCH", "Stripe_Sync_State__c"), ("PATCH", "Sync_Record__c")}
    assert {t: n for t, n in call_log.by_type().items() if n > ALLOWED.get(t, 1)} == {}

    # Run again: it reads the same records again (they are within the look-back of the last run's start).
    _, stripe_log = sync(Mode.INCREMENTAL, call_log)
    assert stripe_log == []
    assert {t: n for t, n in call_log.by_type().items() if n > ALLOWED.get(t, 1)} == {}


def test_in_a_quiet_org_the_watermark_moves_past_every_change_and_the_next_run_reads_nothing(
    sandbox: Path, call_log: CallLog
) -> None:
    """The watermark is the run's start by the org's clock (its `Date` header), not the last change seen: once a run
    starts more than the look-back after the last change, the runs after it read nothing again, make one call per
    object type and write nothing (the watermark stays)."""
    full_sync_calls(sandbox, ORDERS, call_log)
    lookback = dt.timedelta(seconds=load_settings().preferences.lookback_seconds)
    later = sandbox_sf.now(sandbox) + lookback + dt.timedelta(minutes=1)
    sandbox_sf.set_clock(sandbox, later)  # the org is quiet for longer than the look-back

    report, stripe_log = sync(Mode.INCREMENTAL, call_log)  # reads the look-back before the full sync's start
    assert stripe_log == [] and report.orders_seen > 0
    assert report.watermark == later.replace(microsecond=0)  # the org's clock, in whole seconds

    for _ in range(2):
        report, stripe_log = sync(Mode.INCREMENTAL, call_log)
        assert stripe_log == [] and report.orders_seen == 0 and report.synced_orders == []
        assert call_log.writes() == [], call_log.writes()
        assert max(call_log.by_type().values()) == 1, call_log.by_type()


def test_the_orgs_describes_are_cached_in_its_sync_state_until_a_day_passes_or_a_field_goes(tmp_path: Path) -> None:
    directory = tmp_path / "org"
    sandbox_sf.seed_org(directory, orders=0)
    org = OrgClient(lambda: sandbox_sf.connect(directory))
    org.on_invalid_field = lambda: forget_describes(org)
    mappings = load_mappings(DEFAULT_MAPPINGS_DIR)
    now = dt.datetime.now(dt.UTC)

    first = OrgDescribe(org, mappings, read_states(org), now)
    compiled = compile_mappings(mappings, describe=first)
    first.save()
    assert first.described
    calls = org.calls_used()
    cached = OrgDescribe(org, mappings, read_states(org), now + dt.timedelta(hours=1))
    again = compile_mappings(mappings, describe=cached)
    assert org.calls_used() == calls + 1 and not cached.described  # the state's read only
    assert again.broken.keys() == compiled.broken.keys()
    assert {k: len(v) for k, v in again.by_kind.items()} == {k: len(v) for k, v in compiled.by_kind.items()}

    a_day_later = OrgDescribe(org, mappings, read_states(org), now + DESCRIBE_MAX_AGE + dt.timedelta(seconds=1))
    compile_mappings(mappings, describe=a_day_later)
    assert a_day_later.described

    with pytest.raises(SalesforceMalformedRequest):
        org.first_page("SELECT Id, No_Such_Field__c FROM Order")
    assert DESCRIBE_KEY not in read_states(org)  # the next run describes the org again
