"""`cpq-sync reconcile` end to end: the demo company synced, then edited in Stripe as people do in the dashboard
(through the real StripeClient), and the drift reported with both values, repaired by --fix, and published by the
`reconcile` flow as artifacts."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.flows import load_flow_from_entrypoint
from typer.testing import CliRunner

from cpq_sync import cli
from cpq_sync.cli import app
from cpq_sync.config import REPO_ROOT
from cpq_sync.sandbox import salesforce as sandbox_sf
from flows.reconcile import ReconcileParameters, reconcile_flow
from tests.e2e.conftest import CREDENTIAL_VARS
from tests.e2e.support import connect_both, run_sync, stripe_posts, sync_records

pytestmark = pytest.mark.xdist_group("prefect")


@pytest.fixture
def mapped_email(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default mappings plus the customer's email from the account owner (as custom.yaml.example shows)."""
    mappings = tmp_path / "mappings"
    shutil.copytree(REPO_ROOT / "mappings", mappings)
    (mappings / "custom.yaml").write_text(yaml.safe_dump({"field_mappings": {"customer": {"email": "Owner.Email"}}}))
    monkeypatch.setenv("CPQ_SYNC_MAPPINGS_DIR", str(mappings))


def reconcile(*args: str, json_path: Path) -> tuple[int, str, list[dict[str, Any]]]:
    result = CliRunner().invoke(app, ["reconcile", "--json", str(json_path), *args], terminal_width=250)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, result.output, json.loads(json_path.read_text())["drifts"]


def find(drifts: list[dict[str, Any]], stripe_id: str, field: str) -> dict[str, Any]:
    found = [d for d in drifts if d["stripe_id"] == stripe_id and d["field"] == field]
    assert len(found) == 1, (stripe_id, field, [(d["stripe_id"], d["field"]) for d in drifts])
    return found[0]


def test_dashboard_edits_are_reported_with_both_values_and_fix_repairs_them(
    sandbox: Path, mapped_email: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.console, "width", 250)  # the table on one line per difference
    sandbox_sf.seed_org(sandbox, orders=12, seed=5)
    sf, stripe = connect_both(sandbox)
    lone_account = sf.Account.create({"Name": "Lone Customer Ltd", "BillingCity": "Oslo"})["id"]
    run_sync(full=True)
    run_sync(account_ids=[lone_account])
    out = tmp_path / "drift.json"
    code, output, drifts = reconcile(json_path=out)
    assert code == 0, output
    assert drifts == [] and "No drift" in output

    schedules = [s for s in stripe.v1.subscription_schedules.list({"limit": 100}).data if s.status == "active"]
    requantified = next(
        s
        for s in schedules
        if len(s.phases) == 1
        and not s.phases[0].add_invoice_items
        and any(i.quantity is not None for i in s.phases[0]["items"])
    )
    cancelled = next(s for s in schedules if s.id != requantified.id)
    customer = stripe.v1.customers.retrieve(str(requantified.customer))
    assert customer.email  # mapped from the account owner
    lone = stripe.v1.customers.retrieve(sf.Account.get(lone_account)["Stripe_ID__c"])
    price = str(requantified.phases[0]["items"][0].price)
    product = stripe.v1.products.retrieve(str(stripe.v1.prices.retrieve(price).product))
    phase = requantified.phases[0]
    line = next(i for i in phase["items"] if i.quantity is not None)

    # What people do in the dashboard:
    stripe.v1.customers.update(customer.id, {"email": "someone@else.example.com"})
    stripe.v1.customers.delete(lone.id)
    stripe.v1.subscription_schedules.cancel(cancelled.id)
    stripe.v1.prices.update(price, {"active": False})
    stripe.v1.products.update(product.id, {"metadata": {"salesforce_product_link": "edited by hand"}})
    items = [{"price": i.price, "quantity": i.quantity, "metadata": i.metadata.to_dict()} for i in phase["items"]]
    items[phase["items"].index(line)]["quantity"] = line.quantity + 3
    items = [{k: v for k, v in i.items() if v is not None} for i in items]
    update = {
        "start_date": phase.start_date,
        "end_date": phase.end_date,
        "items": items,
        "metadata": phase.metadata.to_dict(),
    }
    stripe.v1.subscription_schedules.update(requantified.id, {"phases": [update]})
    orphan = stripe.v1.customers.create({"name": "Copied by hand", "metadata": {"salesforce_account_id": "001FAKE"}})
    writes_before = len(stripe_posts(sandbox))

    code, output, drifts = reconcile(json_path=out)
    assert code == 1
    assert len(stripe_posts(sandbox)) == writes_before  # reporting changes nothing
    email = find(drifts, customer.id, "email")
    assert (email["salesforce"], email["stripe"], email["problem"]) == (
        customer.email,
        "someone@else.example.com",
        "changed",
    )
    assert (
        email["record_id"]
        == sf.query(f"SELECT Id FROM Account WHERE Stripe_ID__c = '{customer.id}'")["records"][0]["Id"]
    )
    deleted = find(drifts, lone.id, "(object)")
    assert (deleted["salesforce"], deleted["stripe"], deleted["record_id"]) == ("exists", "deleted", lone_account)
    ended = find(drifts, cancelled.id, "status")
    assert (ended["salesforce"], ended["stripe"], ended["problem"]) == ("active", "canceled", "ended")
    assert "billing engineer" in ended["fix"]
    archived = find(drifts, price, "active")
    assert (archived["salesforce"], archived["stripe"], archived["problem"]) == ("true", "false", "archived")
    link = find(drifts, product.id, "metadata.salesforce_product_link")
    assert link["salesforce"].endswith(product.metadata["salesforce_product_id"]) and link["stripe"] == "edited by hand"
    quantity = find(drifts, requantified.id, f"phases[0].items[{line.metadata['salesforce_order_item_id']}].quantity")
    assert (quantity["salesforce"], quantity["stripe"]) == (str(line.quantity), str(line.quantity + 3))
    stray = find(drifts, orphan.id, "metadata.salesforce_account_id")
    assert (stray["problem"], stray["stripe"], stray["record_id"]) == ("orphan", "001FAKE", "")
    assert len(drifts) == 7, [(d["stripe_id"], d["field"], d["salesforce"], d["stripe"]) for d in drifts]
    assert "someone@else.example.com" in output and "deleted" in output  # the table shows both values

    code, output, drifts = reconcile("--fix", json_path=out)
    assert code == 1  # the cancelled schedule and the orphan are left to a person
    assert {(d["stripe_id"], d["fixed"]) for d in drifts if not d["fixed"]} == {(cancelled.id, None), (orphan.id, None)}
    assert stripe.v1.customers.retrieve(customer.id).email == customer.email
    assert stripe.v1.prices.retrieve(price).active is True
    assert stripe.v1.products.retrieve(product.id).metadata["salesforce_product_link"] == link["salesforce"]
    fixed_items = stripe.v1.subscription_schedules.retrieve(requantified.id).phases[0]["items"]
    assert [i.quantity for i in fixed_items] == [i.quantity for i in phase["items"]]
    new_customer = sf.Account.get(lone_account)["Stripe_ID__c"]
    assert new_customer != lone.id and stripe.v1.customers.retrieve(new_customer).name == "Lone Customer Ltd"
    same_account = stripe.v1.customers.search({"query": f"metadata['salesforce_account_id']:'{lone_account}'"})
    assert [c.id for c in same_account.data] == [new_customer]  # recreated once, never duplicated
    repaired = [r for r in sync_records(sf, lone_account) if "Reconcile repaired" in (r["Resolution_Message__c"] or "")]
    assert [(r["Resolution_Status__c"], r["Stripe_Object_ID__c"]) for r in repaired] == [("Success", new_customer)]

    code, _, drifts = reconcile(json_path=out)
    assert code == 1
    assert {d["stripe_id"] for d in drifts} == {cancelled.id, orphan.id}

    # A billing engineer decides: the cancelled schedule is recreated, the orphan deleted by hand.
    code, _, drifts = reconcile("--fix", "--recreate-ended", json_path=out)
    recreated = find(drifts, cancelled.id, "status")
    assert recreated["fixed"] is True and "recreated as sub_sched_" in recreated["fix_result"]
    order_id = recreated["record_id"]
    new_schedule = stripe.v1.subscription_schedules.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])
    assert new_schedule.id != cancelled.id and new_schedule.status in ("active", "not_started")
    stripe.v1.customers.delete(orphan.id)
    code, output, drifts = reconcile(json_path=out)
    assert (code, drifts) == (0, []), output


def test_the_reconcile_deployment_publishes_the_drift_as_artifacts(sandbox: Path) -> None:
    deployments = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())["deployments"]
    entrypoint = next(d["entrypoint"] for d in deployments if d["name"] == "reconcile")
    assert load_flow_from_entrypoint(str(REPO_ROOT / entrypoint)).name == "reconcile"

    sandbox_sf.seed_org(sandbox, orders=12, seed=7)
    run_sync(full=True)
    _, stripe = connect_both(sandbox)
    customer = stripe.v1.customers.list({"limit": 1}).data[0]
    stripe.v1.customers.update(customer.id, {"name": "Renamed in the dashboard"})

    state = reconcile_flow(ReconcileParameters(), return_state=True)
    report = state.result()
    assert [(d.stripe_id, d.field, d.stripe) for d in report.drifts] == [
        (customer.id, "name", "Renamed in the dashboard")
    ]
    artifacts = asyncio.run(_artifacts(state.state_details.flow_run_id))
    table = json.loads(artifacts["reconcile-drift"])
    assert table[0]["stripe_value"] == "Renamed in the dashboard" and table[0]["salesforce_value"] == customer.name
    assert table[0]["stripe_link"].endswith(f"/customers/{customer.id}")
    assert (
        "Renamed in the dashboard" in artifacts["reconcile-summary"]
        and "1 differences" in artifacts["reconcile-summary"]
    )


async def _artifacts(flow_run_id: Any) -> dict[str, str]:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {str(a.key): str(a.data) for a in found}


def test_a_configuration_error_exits_2_without_printing_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CPQ_SYNC_SANDBOX", str(tmp_path / "sandbox"))
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_recognisable_0123456789")  # Stripe without Salesforce
    result = CliRunner().invoke(app, ["reconcile"])
    assert result.exit_code == 2, result.output
    assert "Configuration error" in result.output and "sk_test_recognisable" not in result.output
    assert not (tmp_path / "sandbox").exists()  # nothing was seeded or read
