"""Killing the sync (SIGKILL) in the middle of applying to Stripe, then running it again, leaves no duplicate
Stripe object and no order unsynced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
from prefect.settings import PREFECT_API_URL

from cpq_sync.ops.prefect_limits import WRITER_LIMIT
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from tests.e2e.support import account_id, connect_both, create_order, run_sync

pytestmark = pytest.mark.xdist_group("prefect")
REPO = Path(__file__).resolve().parents[2]


def _kill_after_writes(directory: Path, writes: int, timeout: float = 120) -> bool:
    """Starts `cpq-sync sync --full` and SIGKILLs it once the Stripe account has received `writes` writes.
    Returns whether it was killed (False: it finished first)."""
    env = {**os.environ, "CPQ_SYNC_SANDBOX": str(directory), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cpq_sync.cli", "sync", "--full"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            posts = [r for r in sandbox_stripe.request_log(directory) if r.method.upper() == "POST"]
            if len(posts) >= writes:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                _writer_lease_expires()
                return True
            time.sleep(0.02)
        return False
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            _writer_lease_expires()


def _writer_lease_expires() -> None:
    """The killed run (a run by hand on the shared server) held the writer slot: a real server frees it when the
    run's lease expires (60 s); the test server runs no lease reaper, so the slot is freed here at once."""
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(WRITER_LIMIT, GlobalConcurrencyLimitUpdate(active_slots=0))


def test_killed_mid_apply_then_rerun_converges_without_duplicates(sandbox: Path) -> None:
    sandbox_sf.seed_org(sandbox, orders=40, seed=11)
    sf, stripe = connect_both(sandbox)
    start = sandbox_sf.now(sandbox).date().replace(day=1)
    created = [
        create_order(sf, account_id(sf, name), lines, start=start)[0]
        for name, lines in [
            ("Acme%", [("Platform Subscription", 3), ("Training Workshop", 1)]),
            ("Iron%", [("Enterprise License", 2)]),
            ("Cobalt%", [("Platform Subscription", 7)]),
        ]
    ]
    # Slow Stripe down so each kill lands in the middle of the apply step, at a different layer each time.
    sandbox_stripe.set_faults(sandbox, sandbox_stripe.StripeFaults(latency_ms=60))
    killed = [_kill_after_writes(sandbox, n) for n in (2, 7, 12)]
    assert any(killed), "the sync finished before any kill point: the test proves nothing"
    sandbox_stripe.set_faults(sandbox, None)

    report = run_sync(full=True)

    for order_id in created:
        order = sf.Order.get(order_id)
        assert order["Stripe_ID__c"], f"order {order_id} was left unsynced"
    assert set(created) <= {o for o in report.synced_orders} | {
        o["Id"] for o in sf.query_all("SELECT Id FROM Order WHERE Stripe_ID__c != null")["records"]
    }
    schedules = [s for s in stripe.v1.subscription_schedules.list({"limit": 100}).auto_paging_iter()]
    per_order = Counter(s.metadata["salesforce_order_id"] for s in schedules)
    assert per_order and max(per_order.values()) == 1, per_order
    customers = [c for c in stripe.v1.customers.list({"limit": 100}).auto_paging_iter()]
    per_account = Counter(c.metadata["salesforce_account_id"] for c in customers)
    assert max(per_account.values()) == 1, per_account
    products = [p for p in stripe.v1.products.list({"limit": 100}).auto_paging_iter()]
    assert max(Counter(p.metadata["salesforce_product_id"] for p in products).values()) == 1
    invoices = [i for i in stripe.v1.invoices.list({"limit": 100}).auto_paging_iter()]
    assert max(Counter(i.metadata["salesforce_order_id"] for i in invoices).values()) == 1
    # Every Stripe id written back points at the one object of its record.
    for order_id, count in per_order.items():
        assert sf.Order.get(order_id)["Stripe_ID__c"] == next(
            s.id for s in schedules if s.metadata["salesforce_order_id"] == order_id
        ), count


def test_after_a_crash_older_than_idempotency_keys_the_rerun_finds_what_was_created(sandbox: Path) -> None:
    sandbox_sf.seed_org(sandbox, orders=40, seed=12)
    sf, stripe = connect_both(sandbox)
    start = sandbox_sf.now(sandbox).date().replace(day=1)
    order_id, _ = create_order(sf, account_id(sf, "Acme%"), [("Platform Subscription", 3)], start=start)
    sandbox_stripe.set_faults(sandbox, sandbox_stripe.StripeFaults(latency_ms=60))
    assert _kill_after_writes(sandbox, 9), "the sync finished before the kill point"
    sandbox_stripe.set_faults(sandbox, None)
    created_before = {r.object_id for r in sandbox_stripe.request_log(sandbox) if r.method.upper() == "POST"}
    sandbox_stripe.expire_idempotency_keys(sandbox)  # as if the rerun came more than 24 hours later

    run_sync(full=True)

    customers = list(stripe.v1.customers.list({"limit": 100}).auto_paging_iter())
    assert max(Counter(c.metadata["salesforce_account_id"] for c in customers).values()) == 1
    products = list(stripe.v1.products.list({"limit": 100}).auto_paging_iter())
    assert max(Counter(p.metadata["salesforce_product_id"] for p in products).values()) == 1
    schedules = list(stripe.v1.subscription_schedules.list({"limit": 100}).auto_paging_iter())
    assert max(Counter(s.metadata["salesforce_order_id"] for s in schedules).values()) == 1
    invoices = list(stripe.v1.invoices.list({"limit": 100}).auto_paging_iter())
    assert max(Counter(i.metadata["salesforce_order_id"] for i in invoices).values()) == 1
    assert sf.Order.get(order_id)["Stripe_ID__c"]
    # The objects the killed run made are the ones in use, not orphans beside new copies.
    in_use = {c.id for c in customers} | {p.id for p in products} | {s.id for s in schedules}
    assert created_before & in_use
