"""Benchmark: what prices beyond flat cost a sync of the seeded demo company (usage lines on meters, tiered prices,
changed price book entries, the currency check), on the two sandboxes, without Prefect.

Prints, for a full run then a second run with nothing changed: Salesforce API calls (and how many were the pricing
queries: consumption schedules, synced currencies, changed entries), Stripe requests by method (and the billing
meter lists), the time of the extract and plan steps, and what the plan held.

Run: ``uv run python bench/prices_bench.py [--orders N]``
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
import time

PRICING_QUERIES = ("FROM ConsumptionSchedule", "FROM ConsumptionRate", "FROM ProductConsumptionSchedule", "LIKE 'sub%'")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=400)
    args = parser.parse_args()
    directory = tempfile.mkdtemp()
    os.environ["CPQ_SYNC_SANDBOX"] = directory

    from cpq_sync import sync
    from cpq_sync.config import load_settings
    from cpq_sync.salesforce.client import OrgClient
    from cpq_sync.sandbox import salesforce as sandbox_sf
    from cpq_sync.sandbox import stripe as sandbox_stripe

    sandbox_sf.seed_org(directory, orders=args.orders, seed=7)
    soql: list[str] = []
    original = OrgClient.query_all_iter

    def counting(self: OrgClient, query: str) -> object:
        soql.append(query)
        return original(self, query)

    OrgClient.query_all_iter = counting  # type: ignore[method-assign]
    for label, mode in (("full run", sync.Mode.FULL), ("second run", sync.Mode.INCREMENTAL)):
        soql.clear()
        sandbox_stripe.clear_request_log(directory)
        ctx = sync.prepare(load_settings())
        window = sync.window_for(ctx, mode)
        started = time.perf_counter()
        extracted = sync.extract(ctx, window)
        extract_s = time.perf_counter() - started
        started = time.perf_counter()
        plan = sync.make_plan(ctx, extracted)
        plan_s = time.perf_counter() - started
        sync.apply_plan(ctx, plan)
        sync.advance_watermark(ctx, mode, extracted)
        requests = sandbox_stripe.request_log(directory)
        by_method = collections.Counter(r.method.upper() for r in requests)
        meter_lists = sum(1 for r in requests if r.method.upper() == "GET" and r.path == "/v1/billing/meters")
        kinds = collections.Counter(op.desired.kind.value for op in plan.writes)
        pricing = sum(1 for q in soql if any(p in q for p in PRICING_QUERIES))
        print(
            f"{label}: {extracted.orders_seen} orders, {len(plan.failures)} failed | Salesforce calls "
            f"{ctx.org.calls_used()} (queries {len(soql)}, pricing queries {pricing}) | Stripe {dict(by_method)} "
            f"(meter lists {meter_lists}) | extract {extract_s:.2f}s, plan {plan_s:.2f}s | writes {dict(kinds)}"
        )


if __name__ == "__main__":
    main()
