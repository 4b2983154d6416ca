"""`make_plan` takes the extracted order bundles over, letting each go once planned (a large run's records are as
large as its plan): the extracted lists end empty, and every extracted order is still planned or failed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cpq_sync.config import load_settings
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from cpq_sync.sync import Mode, extract, make_plan, prepare, window_for


def test_make_plan_takes_the_bundles_over_and_plans_every_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith(("SALESFORCE_", "STRIPE_"))]:
        monkeypatch.delenv(name)
    directory = tmp_path / "sandbox"
    monkeypatch.setenv("CPQ_SYNC_SANDBOX", str(directory))
    sandbox_sf.seed_org(directory, orders=60, seed=5)
    sandbox_stripe.reset(directory)
    ctx = prepare(load_settings())
    extracted = extract(ctx, window_for(ctx, Mode.FULL))
    orders = {b.order.id for b in extracted.bundles}
    lines = sum(len(b.items) for b in extracted.bundles)
    assert extracted.contract_orders or any(b.order.contract_id for b in extracted.bundles)  # contracts are covered

    plan = make_plan(ctx, extracted)

    assert extracted.bundles == [] and extracted.contract_orders == []
    assert ctx.planned_lines == lines > 0
    planned = {p.id for p in plan.primaries if p.object_type == "Order"} | {f.primary.id for f in plan.failures}
    assert orders <= planned
    assert extracted.orders_seen >= len(orders)  # what the later steps read is kept
