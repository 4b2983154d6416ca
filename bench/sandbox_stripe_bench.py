"""Benchmark: the sandbox Stripe account's own cost per request at 100,000 stored objects (target < 2 ms).

Stores the objects directly through the store (fast), then times real SDK requests (create, retrieve, update,
search, list) through ``stripe.StripeClient``. Two figures per operation:
- "sandbox": time spent inside ``SandboxHTTPClient.request`` (decode, checks, SQLite, log, encode): the
  sandbox's own cost, with no latency fault;
- "round trip": the whole SDK call (adds the SDK's own encoding and response parsing).

p95 on a busy 2-core machine shows scheduler preemption (4 ms ticks landing anywhere in a request), not the
sandbox; the mean and p50 are the figures to compare with the target.

Run: ``uv run python bench/sandbox_stripe_bench.py [--objects 100000] [--requests 300]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import stripe

from cpq_sync.sandbox.stripe import connect
from cpq_sync.sandbox.stripe.http_client import SandboxHTTPClient, load_routes
from cpq_sync.sandbox.stripe.store import Store

load_routes()


def seed(directory: Path, count: int) -> tuple[list[str], list[str]]:
    """``count`` objects: 50% customers, 20% products, 30% prices (with metadata), in one transaction."""
    store = Store(directory)
    now = int(time.time()) - count
    customers = int(count * 0.5)
    products = int(count * 0.2)
    prices = count - customers - products
    customer_ids = [f"cus_bench{i:08d}" for i in range(customers)]
    product_ids = [f"prod_bench{i:08d}" for i in range(products)]
    objects: list[dict[str, Any]] = []
    for i, cid in enumerate(customer_ids):
        objects.append(
            {
                "id": cid,
                "object": "customer",
                "created": now + i,
                "email": f"c{i}@example.com",
                "name": f"Customer {i}",
                "metadata": {"salesforce_account_id": f"001{i:015d}"},
                "livemode": False,
            }
        )
    for i, pid in enumerate(product_ids):
        objects.append(
            {
                "id": pid,
                "object": "product",
                "created": now + i,
                "name": f"Product {i}",
                "active": True,
                "metadata": {"salesforce_product_id": f"01t{i:015d}"},
                "livemode": False,
            }
        )
    for i in range(prices):
        objects.append(
            {
                "id": f"price_bench{i:08d}",
                "object": "price",
                "created": now + i,
                "product": product_ids[i % products],
                "currency": "usd",
                "unit_amount": 100 + i,
                "active": True,
                "type": "one_time",
                "metadata": {"salesforce_pricebook_entry_id": f"01u{i:015d}"},
                "livemode": False,
            }
        )
    store.insert_many(objects)
    store.db.execute("ANALYZE")
    return customer_ids, product_ids


class TimedClient(SandboxHTTPClient):
    """Records the time spent inside the sandbox for each request."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.samples: list[float] = []

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        start = time.perf_counter()
        try:
            return super().request(method, url, headers, post_data)
        finally:
            self.samples.append(time.perf_counter() - start)


def measure(
    name: str, timed: TimedClient, call: Callable[[int], object], n: int
) -> tuple[str, float, float, float, float]:
    timed.samples.clear()
    start = time.perf_counter()
    for i in range(n):
        call(i)
    wall = (time.perf_counter() - start) / n
    own = statistics.mean(timed.samples)
    ordered = sorted(timed.samples)
    p50 = ordered[len(ordered) // 2]
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return name, own * 1000, p50 * 1000, p95 * 1000, wall * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    n = args.requests
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        start = time.perf_counter()
        customer_ids, product_ids = seed(directory, args.objects)
        print(f"seeded {args.objects:,} objects in {time.perf_counter() - start:.1f}s")
        timed = TimedClient(directory)
        client = stripe.StripeClient(api_key="sk_test_sandbox", http_client=timed, max_network_retries=0)
        assert connect  # the public entry point builds the same client; the bench needs its timed subclass
        step = max(1, len(customer_ids) // n)
        created: list[str] = []

        def create(i: int) -> None:
            created.append(
                client.v1.customers.create(
                    params={
                        "email": f"new{i}@example.com",
                        "metadata": {"salesforce_account_id": f"001NEW{i:012d}"},
                    }
                ).id
            )

        operations: list[tuple[str, Callable[[int], object]]] = [
            ("create customer", create),
            ("retrieve customer", lambda i: client.v1.customers.retrieve(customer_ids[i * step])),
            (
                "update customer metadata",
                lambda i: client.v1.customers.update(customer_ids[i * step], params={"metadata": {"k": str(i)}}),
            ),
            (
                "search customers by metadata",
                lambda i: client.v1.customers.search(
                    params={"query": f"metadata['salesforce_account_id']:'001{i * step:015d}'"}
                ),
            ),
            ("list customers (limit 10)", lambda i: client.v1.customers.list()),
            (
                "list customers (limit 100, page 2)",
                lambda i: client.v1.customers.list(params={"limit": 100, "starting_after": customer_ids[-2 - i]}),
            ),
            (
                "list prices of a product",
                lambda i: client.v1.prices.list(params={"product": product_ids[i % len(product_ids)]}),
            ),
            (
                "search prices by product",
                lambda i: client.v1.prices.search(
                    params={"query": f"product:'{product_ids[i % len(product_ids)]}' AND active:'true'"}
                ),
            ),
        ]
        for _, call in operations:  # warm up: route table, SQLite caches
            call(n)
        results = [measure(name, timed, call, n) for name, call in operations]
        print_results(results, n, directory, "sandbox own cost per request")


def print_results(results: list[Any], n: int, directory: Path, what: str) -> None:
    """The table both sandbox Stripe benchmarks print: each operation's own cost, then the mean against the target."""
    print(f"{n} requests per operation; stored objects: {Store(directory).count():,}")
    print(f"{'operation':40} {'sandbox mean':>13} {'p50':>9} {'p95':>9} {'round trip':>11}")
    for name, own, p50, p95, wall in results:
        print(f"{name:40} {own:10.3f} ms {p50:6.3f} ms {p95:6.3f} ms {wall:8.3f} ms")
    overall = statistics.mean(r[1] for r in results)
    print(f"{what}, mean over operations: {overall:.3f} ms (target < 2 ms)")


if __name__ == "__main__":
    main()
