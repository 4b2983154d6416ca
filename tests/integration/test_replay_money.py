"""An org's history replayed as it happens in production, through the product's steps and the real clients (not
timed): orders activated week by week with both sandboxes' clocks moved, an incremental sync each week, so
amendments update schedules that have started (some with ended phases, some whose price was replaced since). Every
schedule then bills what its orders sold, to the cent, and a last full run writes nothing. `bench/money_check.py
--replay` runs the same on larger orgs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.money_check import compare, replay
from cpq_sync.sandbox import salesforce as sandbox_sf

ORDERS = 300


@pytest.fixture
def seeded(sandbox: Path) -> Path:
    sandbox_sf.seed_org(sandbox, orders=ORDERS, seed=11)
    return sandbox


def test_an_org_replayed_week_by_week_bills_what_its_orders_sold(seeded: Path) -> None:
    failed, last_writes = replay(seeded)
    assert failed == {}
    assert last_writes == 0
    counts, different = compare(seeded)
    assert [str(d) for d in different] == []
    amended = sum(n for kind, n in counts.items() if kind.startswith("amended contract") and kind.endswith("exact"))
    assert amended >= 25 and sum(n for kind, n in counts.items() if kind.endswith("exact")) >= 150
