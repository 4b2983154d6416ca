"""Benchmark: the sandbox Stripe account's own cost per BILLING request with a large account (target < 2 ms).

Seeds 100,000 core objects (customers, products, prices, as ``sandbox_stripe_bench``) plus ``--schedules``
subscription schedules with their subscriptions and items (cloned from one created through the API), then
times real SDK calls through ``stripe.StripeClient``: schedule create/retrieve/update/list by customer,
subscription create/retrieve, invoice item create, pending invoice items list. Every request also runs the
billing clock hook (one indexed ``min()`` lookup per object type).

Run: ``uv run python bench/sandbox_stripe_billing_bench.py [--objects N] [--schedules N] [--requests N]``
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import stripe

sys.path.insert(0, str(Path(__file__).parent))
from sandbox_stripe_bench import TimedClient, print_results, seed

from cpq_sync.sandbox.stripe import ids, set_clock
from cpq_sync.sandbox.stripe.store import Store

NOW = datetime(2025, 3, 10, tzinfo=UTC)


def measure(
    name: str, timed: TimedClient, call: Callable[[int], object], n: int
) -> tuple[str, float, float, float, float]:
    """(name, sandbox mean, p50, p95, round trip) in milliseconds over ``n`` calls."""
    timed.samples.clear()
    start = time.perf_counter()
    for i in range(n):
        call(i)
    wall = (time.perf_counter() - start) / n
    ordered = sorted(timed.samples)
    mean = statistics.mean(ordered)
    return (
        name,
        mean * 1000,
        ordered[len(ordered) // 2] * 1000,
        ordered[int(len(ordered) * 0.95) - 1] * 1000,
        wall * 1000,
    )


def clone_schedules(directory: Path, template_id: str, customers: list[str], count: int) -> list[str]:
    store = Store(directory)
    template = store.get("subscription_schedule", template_id)
    assert template is not None
    subscription = store.get("subscription", str(template["subscription"]))
    assert subscription is not None
    objects: list[dict[str, Any]] = []
    schedule_ids = []
    for i in range(count):
        sched = copy.deepcopy(template)
        sub = copy.deepcopy(subscription)
        sched["id"], sub["id"] = ids.new_id("sub_sched"), ids.new_id("sub")
        customer = customers[i % len(customers)]
        sched["customer"] = sub["customer"] = customer
        sched["subscription"], sub["schedule"] = sub["id"], sched["id"]
        for item in sub["items"]["data"]:
            item["id"] = ids.new_id("si")
            item["subscription"] = sub["id"]
            objects.append(item)
        objects.extend([sched, sub])
        schedule_ids.append(sched["id"])
    store.insert_many(objects)
    store.db.execute("ANALYZE")
    return schedule_ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    n = args.requests
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        start = time.perf_counter()
        customers, _ = seed(directory, args.objects)
        set_clock(directory, NOW)
        timed = TimedClient(directory)
        client = stripe.StripeClient(api_key="sk_test_sandbox", http_client=timed, max_network_retries=0)
        product = client.v1.products.create(params={"name": "Seat"}).id
        monthly = [
            client.v1.prices.create(
                params={
                    "product": product,
                    "currency": "usd",
                    "unit_amount": 1000 + k,
                    "recurring": {"interval": "month"},
                }
            ).id
            for k in range(3)
        ]
        fee = client.v1.prices.create(params={"product": product, "currency": "usd", "unit_amount": 5000}).id
        start_ts = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
        end_ts = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
        phase = {
            "items": [{"price": monthly[0], "quantity": 10}, {"price": monthly[1], "quantity": 2}],
            "add_invoice_items": [{"price": fee}],
            "end_date": end_ts,
            "metadata": {"salesforce_order_id": "801"},
        }

        def create_schedule(i: int) -> str:
            return client.v1.subscription_schedules.create(
                params={
                    "customer": customers[i % len(customers)],
                    "start_date": start_ts,
                    "end_behavior": "cancel",
                    "phases": [phase],  # type: ignore[list-item]
                }
            ).id

        template = create_schedule(0)
        schedule_ids = clone_schedules(directory, template, customers, args.schedules)
        print(
            f"seeded {Store(directory).count():,} objects ({args.schedules:,} schedules with subscriptions) "
            f"in {time.perf_counter() - start:.1f}s"
        )
        amend_ts = int(datetime(2025, 4, 1, tzinfo=UTC).timestamp())

        def amend(i: int) -> object:
            return client.v1.subscription_schedules.update(
                schedule_ids[i],
                params={
                    "phases": [
                        {"start_date": start_ts, "items": phase["items"], "end_date": amend_ts},  # type: ignore[typeddict-item]
                        {
                            "items": [
                                {"price": monthly[0], "quantity": 6},
                                {"price": monthly[2], "quantity": 5},
                            ],
                            "end_date": end_ts,
                            "proration_behavior": "none",
                        },
                    ]
                },
            )

        subs: list[str] = []
        operations: list[tuple[str, Callable[[int], object]]] = [
            ("retrieve customer (clock hook only)", lambda i: client.v1.customers.retrieve(customers[i])),
            ("create schedule (backdated, 2 items)", create_schedule),
            ("retrieve schedule", lambda i: client.v1.subscription_schedules.retrieve(schedule_ids[i])),
            ("update schedule (amendment phase)", amend),
            (
                "list schedules by customer",
                lambda i: client.v1.subscription_schedules.list(params={"customer": customers[i]}),
            ),
            (
                "create subscription",
                lambda i: subs.append(
                    client.v1.subscriptions.create(
                        params={"customer": customers[i], "items": [{"price": monthly[0], "quantity": 3}]}
                    ).id
                ),
            ),
            ("retrieve subscription", lambda i: client.v1.subscriptions.retrieve(subs[i % len(subs)])),
            (
                "create invoice item",
                lambda i: client.v1.invoice_items.create(
                    params={"customer": customers[i], "pricing": {"price": fee}, "quantity": 2}
                ),
            ),
            (
                "list pending invoice items",
                lambda i: client.v1.invoice_items.list(params={"customer": customers[i], "pending": True}),
            ),
        ]
        for _, call in operations:  # warm up
            call(n)
        results = [measure(name, timed, call, n) for name, call in operations]
        print_results(results, n, directory, "sandbox own cost per billing request")


if __name__ == "__main__":
    main()
