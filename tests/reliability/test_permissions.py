"""Least privilege on both sides.

Stripe: the demo company syncs with a restricted key granting exactly the README's permissions (each one used),
and one permission less fails the records that need it with Stripe's 403 message.
Salesforce: the permission set in `salesforce/` grants exactly the objects and fields the sync reads and writes,
derived from the requests the real client sends over every kind of run (full, incremental, by ids, rerun of the
failed records, pruning of Sync Records): nothing missing, nothing extra."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpq_sync.ops.sync_records import prune_sync_records
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from cpq_sync.sandbox.salesforce.store import OrgStore
from cpq_sync.sandbox.stripe.keys import required_permission
from flows.operations import RerunFailedParameters, rerun_failed_flow
from flows.sync import SyncParameters, sync_flow
from tests.reliability.permission_needs import PERMISSION_SET, Deriver, Needs, body_of, granted, render
from tests.reliability.stripe_permissions import readme_permissions

pytestmark = [pytest.mark.xdist_group("prefect"), pytest.mark.usefixtures("prefect_server")]

KEY = "rk_test_51PermissionsReadmeExactlyKey0001"
SHORT_KEY = "rk_test_51PermissionsOneLessKey00000002"
DESCRIPTION = (
    "Integration user of cpq-stripe-sync: reads the CPQ objects and fields it extracts, writes the Stripe ids and "
    "sync hashes back, and keeps its sync records and sync state. Generated from what the sync uses: "
    "tests/reliability/test_permissions.py (CPQ_SYNC_WRITE_PERMISSION_SET=1 rewrites it)."
)


def test_the_demo_syncs_with_a_key_granting_exactly_the_readme_permissions(
    sandbox: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox_sf.seed_org(sandbox, orders=40, seed=3)
    permissions = readme_permissions()
    sandbox_stripe.add_api_key(sandbox, KEY, permissions)
    sandbox_stripe.add_api_key(sandbox, SHORT_KEY, {**permissions, "plan": "read"})
    monkeypatch.setenv("CPQ_SYNC_TARGET", "sandbox")

    monkeypatch.setenv("STRIPE_API_KEY", SHORT_KEY)
    short = sync_flow(SyncParameters(full=True))
    refused = [r for r in short.rows if r.action == "failed" and r.stripe_kind == "price"]
    assert refused and all("Having the 'rak_plan_write' permission" in r.message for r in refused)
    assert "does not have the required permissions for this endpoint" in refused[0].message
    assert any("which failed" in r.message for r in short.failed)  # the orders billing those prices wait
    first = len(sandbox_stripe.request_log(sandbox))

    monkeypatch.setenv("STRIPE_API_KEY", KEY)
    report = sync_flow(SyncParameters(full=True))
    assert report.synced_orders
    assert not [r.message for r in report.failed if "Stripe Error" in r.message]
    log = sandbox_stripe.request_log(sandbox)
    assert [r for r in log[first:] if r.status in (401, 403)] == []
    used: dict[str, str] = {}  # resource -> the access the two runs' successful requests needed (write > read)
    for entry in log:
        permission = required_permission(entry.method, entry.path)
        if entry.status == 200 and permission is not None:
            resource, access = permission.removeprefix("rak_").rsplit("_", 1)
            used[resource] = "write" if "write" in (access, used.get(resource)) else "read"
    assert used == permissions  # every listed permission is needed, and nothing else is


class Recorder:
    """Every request the real simple-salesforce client sends to the sandbox org while `on`."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []
        self.on = False


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    from cpq_sync.sandbox.salesforce.adapter import SandboxAdapter

    rec = Recorder()
    send = SandboxAdapter.send

    def recording(self: SandboxAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        if rec.on:
            rec.sent.append((request.method or "GET", request.url or "", body_of(request.body)))
        return send(self, request, *args, **kwargs)

    monkeypatch.setattr(SandboxAdapter, "send", recording)
    yield rec


def _diff(needed: dict[str, set[str]], grants: dict[str, set[str]]) -> tuple[list[str], list[str]]:
    missing = [
        f"{k}: {sorted(v - grants.get(k, set()))}" for k, v in sorted(needed.items()) if v - grants.get(k, set())
    ]
    extra = [f"{k}: {sorted(v - needed.get(k, set()))}" for k, v in sorted(grants.items()) if v - needed.get(k, set())]
    return missing, extra


def needs_of_every_run(directory: Path, recorder: Recorder) -> Needs:
    """A full run, an incremental run after a change, a run by ids, a rerun of the failed records, a prune."""
    sandbox_sf.seed_org(directory, orders=40, seed=3)
    sf = sandbox_sf.connect(directory)
    account = sf.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"]
    entry = sf.query("SELECT Id, Product2Id FROM PricebookEntry WHERE IsActive = true LIMIT 1")["records"][0]
    recorder.on = True
    sync_flow(SyncParameters(full=True))
    recorder.on = False
    sf.Account.update(account, {"Phone": "+1 555 0100"})
    recorder.on = True
    sync_flow(SyncParameters())  # incremental
    by_ids = SyncParameters(account_ids=[account], product_ids=[entry["Product2Id"]], pricebook_entry_ids=[entry["Id"]])
    sync_flow(by_ids)
    rerun_failed_flow(RerunFailedParameters())
    assert prune_sync_records(OrgClient(lambda: sandbox_sf.connect(directory)), keep=1).deleted > 0
    recorder.on = False
    deriver = Deriver(OrgStore.open(directory).schema)
    for method, url, body in recorder.sent:
        deriver.request(method, url, body)
    return deriver.needs


def test_the_permission_set_grants_exactly_what_the_sync_uses(
    sandbox: Path,
    recorder: Recorder,
) -> None:
    needs = needs_of_every_run(sandbox, recorder)
    grants = granted()
    missing_objects, extra_objects = _diff(needs.objects, grants.objects)
    missing_fields, extra_fields = _diff(needs.fields, grants.fields)
    if os.environ.get("CPQ_SYNC_WRITE_PERMISSION_SET"):  # regenerate the file from what the sync uses
        PERMISSION_SET.write_text(render(needs, DESCRIPTION), encoding="utf-8")
    assert (missing_objects, missing_fields) == ([], []), "the permission set lacks what the sync uses"
    assert (extra_objects, extra_fields) == ([], []), "the permission set grants what the sync never uses"
    assert {"Order", "Sync_Record__c", "Stripe_Sync_State__c", "Quote_Stripe_Coupon__c"} <= set(needs.objects)
