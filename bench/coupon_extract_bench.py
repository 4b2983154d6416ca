"""Benchmark of the coupon extraction: what attaching the coupons costs on top of the order extraction.

    uv run python bench/coupon_extract_bench.py [--orders 5000] [--seed 7]

Seeds the sandbox org, extracts every order (as a full sync does), then attaches the coupons (one query per
association object and 200 ids). Prints the orders and coupons found, the API calls and the wall time of each.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cpq_sync.config import DEFAULT_MAPPINGS_DIR
from cpq_sync.mapping.loader import load_mappings
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.coupons import attach_coupons
from cpq_sync.salesforce.extract import FieldLists, Window, extract_orders
from cpq_sync.salesforce.filters import SyncFilters
from cpq_sync.sandbox import salesforce as sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coupon-bench-") as tmp:
        directory = Path(tmp)
        sandbox.seed_org(directory, orders=args.orders, seed=args.seed)
        org = OrgClient(lambda: sandbox.connect(directory))
        fields = FieldLists.build(load_mappings(DEFAULT_MAPPINGS_DIR))
        window = Window(since=None, until=sandbox.now(directory))

        calls = sandbox.api_calls(directory)
        start = time.perf_counter()
        extracted = extract_orders(org, fields, window, SyncFilters())
        orders_seconds = time.perf_counter() - start
        orders_calls = sandbox.api_calls(directory) - calls

        calls = sandbox.api_calls(directory)
        start = time.perf_counter()
        attach_coupons(org, fields.coupon, extracted)
        coupon_seconds = time.perf_counter() - start
        coupon_calls = sandbox.api_calls(directory) - calls

        with_coupons = sum(1 for b in extracted.bundles if b.quote_coupons or b.line_coupons)
        quotes = len({b.order.quote_id for b in extracted.bundles if b.order.quote_id})
        lines = sum(1 for b in extracted.bundles for i in b.items if i.quote_line_id)
        print(f"orders extracted: {len(extracted.bundles):,} in {orders_seconds:.2f} s, {orders_calls} API calls")
        print(
            f"coupons attached: {with_coupons:,} orders with coupons ({quotes:,} quotes, {lines:,} quote lines "
            f"looked up) in {coupon_seconds:.2f} s, {coupon_calls} API calls"
        )


if __name__ == "__main__":
    main()
