"""Benchmark of the sandbox Salesforce org: seeding, and streaming an incremental extraction query.

    uv run python bench/sandbox_salesforce_bench.py [--orders 100000] [--seed 7] [--dir PATH]

Prints the time to seed the org, the time for ``query_all_iter`` of every activated order changed since a
datetime (with ``Account.Name`` and an ``OrderItems`` subquery) to yield its first page, and the throughput
of the whole stream. Targets: seed < 2 minutes and first page < 1 second at 100,000 orders.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from cpq_sync.sandbox import salesforce as sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None, help="sandbox directory (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
        directory = args.dir or Path(tmp)
        start, cpu = time.perf_counter(), time.process_time()
        summary = sandbox.seed_org(directory, orders=args.orders, seed=args.seed)
        seed_seconds, seed_cpu = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"seed_org(orders={args.orders:,}, seed={args.seed}): {seed_seconds:.1f} s "
            f"({seed_cpu:.1f} s of CPU; target < 120 s)"
        )
        print(f"  {summary}")

        sf = sandbox.connect(directory)
        since = (sandbox.now(directory) - timedelta(days=3 * 365)).strftime("%Y-%m-%dT%H:%M:%SZ")
        soql = (
            "SELECT Id, OrderNumber, EffectiveDate, EndDate, Type, CurrencyIsoCode, SystemModstamp, "
            "Account.Name, "
            "(SELECT Id, Product2Id, Quantity, UnitPrice, ServiceDate, EndDate FROM OrderItems) "
            f"FROM Order WHERE StatusCode = 'Activated' AND SystemModstamp >= {since} "
            "ORDER BY SystemModstamp, Id"
        )
        calls_before = sandbox.api_calls(directory)
        start, cpu = time.perf_counter(), time.process_time()
        stream = sf.query_all_iter(soql, include_deleted=True)
        first = next(stream, None)
        first_page, first_cpu = time.perf_counter() - start, time.process_time() - cpu
        orders = 0 if first is None else 1
        lines = 0 if first is None or first["OrderItems"] is None else first["OrderItems"]["totalSize"]
        for record in stream:
            orders += 1
            if record["OrderItems"] is not None:
                lines += record["OrderItems"]["totalSize"]
        total = time.perf_counter() - start
        calls = sandbox.api_calls(directory) - calls_before
        print(
            f"query_all_iter first page (2,000 orders with parent field and OrderItems): {first_page:.3f} s "
            f"({first_cpu:.3f} s of CPU; target < 1 s)"
        )
        print(
            f"full stream: {orders:,} activated orders changed since {since} with {lines:,} lines "
            f"in {total:.1f} s = {orders / total:,.0f} orders/s ({(orders + lines) / total:,.0f} records/s), "
            f"{calls} API calls"
        )


if __name__ == "__main__":
    main()
