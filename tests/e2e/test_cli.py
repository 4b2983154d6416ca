"""`cpq-sync` as a user runs it: the dry run changes nothing, exit codes say what happened, no secret is printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpq_sync.cli import app
from cpq_sync.sandbox import salesforce as sandbox_sf
from tests.e2e.support import account_id, connect_both, create_order, stripe_posts

pytestmark = pytest.mark.xdist_group("prefect")


def test_dry_run_prints_the_plan_and_writes_nothing(sandbox: Path) -> None:
    sandbox_sf.seed_org(sandbox, orders=40, seed=3)
    sf, _ = connect_both(sandbox)
    create_order(sf, account_id(sf, "Acme%"), [("Platform Subscription", 4)], start=sandbox_sf.now(sandbox).date())
    result = CliRunner().invoke(app, ["sync", "--full", "--dry-run"])
    assert "Plan (dry run: nothing is written)" in result.output
    assert "subscription_schedule" in result.output and "create" in result.output
    assert stripe_posts(sandbox) == []
    assert sf.query("SELECT COUNT() FROM Sync_Record__c")["totalSize"] == 0
    assert sf.query("SELECT COUNT() FROM Order WHERE Stripe_ID__c != null")["totalSize"] == 0


def test_exit_codes(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox_sf.seed_org(sandbox, orders=40, seed=3)
    sf, _ = connect_both(sandbox)
    bad, _ = create_order(
        sf, account_id(sf, "Acme%"), [("Platform Subscription", 1)], start=sandbox_sf.now(sandbox).date()
    )
    sf.Order.update(bad, {"SBQQ__PaymentTerm__c": "Net thirty"})  # a payment term the sync cannot map
    runner = CliRunner()
    some_failed = runner.invoke(app, ["sync", "--full"])
    assert some_failed.exit_code == 1, some_failed.output
    assert "Failed records" in some_failed.output and bad in some_failed.output

    good, _ = create_order(
        sf, account_id(sf, "Acme%"), [("Platform Subscription", 1)], start=sandbox_sf.now(sandbox).date()
    )
    all_synced = runner.invoke(app, ["sync", "--order", good])
    assert all_synced.exit_code == 0, all_synced.output

    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_DO_NOT_PRINT_ME_123456")
    half = runner.invoke(app, ["sync"])
    assert half.exit_code == 2
    assert "Only one target is configured" in half.output
    assert "DO_NOT_PRINT_ME" not in half.output
