"""`cpq-sync sync` run by hand against a shared Prefect server (the session's test server) takes the same writer
slot as the deployments' runs: while a scheduled run holds it, the hand run waits and writes nothing."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cpq_sync.cli import app
from cpq_sync.ops.prefect_limits import ensure_limits, writer_slot
from cpq_sync.sandbox import salesforce as sandbox_sf
from tests.e2e.support import account_id, connect_both, create_order, stripe_posts

pytestmark = pytest.mark.xdist_group("prefect")


def test_a_hand_run_waits_for_the_writer_slot_a_scheduled_run_holds(sandbox: Path) -> None:
    sandbox_sf.seed_org(sandbox, orders=4, seed=3)
    sf, _ = connect_both(sandbox)
    acme, today = account_id(sf, "Acme%"), sandbox_sf.now(sandbox).date()
    first, _ = create_order(sf, acme, [("Platform Subscription", 2)], start=today)
    second, _ = create_order(sf, acme, [("Platform Subscription", 3)], start=today)
    ensure_limits(stripe_requests_per_second=20)
    runner = CliRunner()
    began = time.monotonic()
    alone = runner.invoke(app, ["sync", "--order", first])  # nobody else writing: how long a hand run takes
    assert alone.exit_code == 0, alone.output
    hold = 1.5 * (time.monotonic() - began) + 2  # longer than the hand run needs when it does not wait
    before = len(stripe_posts(sandbox))
    held, released = threading.Event(), threading.Event()
    seen: dict[str, Any] = {"posts_while_held": 0}

    def scheduled_run() -> None:  # another run holding the slot, watching Stripe while it does
        with writer_slot(timeout_seconds=30):
            held.set()
            deadline = time.monotonic() + hold
            while time.monotonic() < deadline and not seen["posts_while_held"]:
                seen["posts_while_held"] = len(stripe_posts(sandbox)) - before
                time.sleep(0.2)
            seen["released_at"] = datetime.now(UTC)
        released.set()

    other = threading.Thread(target=scheduled_run)
    other.start()
    assert held.wait(30)
    result = runner.invoke(app, ["sync", "--order", second])
    other.join(60)
    assert released.is_set()
    assert result.exit_code == 0, result.output
    assert seen["posts_while_held"] == 0, "the hand run wrote to Stripe while another run held the writer slot"
    posts = stripe_posts(sandbox)[before:]
    assert posts, "the hand run wrote to Stripe once the slot was free"
    assert min(p.at for p in posts) >= seen["released_at"]
    assert sf.Order.get(second)["Stripe_ID__c"]
