"""Live-sync latency with the default settings: how long from an order's activation in the sandbox org to its
subscription schedule in the sandbox Stripe account, through a real Prefect server and process worker.

    uv run python bench/live_sync_latency_bench.py [--samples 3] [--interval 60]

Starts a local stack (cpq_sync.ops.stack) on a free port in a temporary PREFECT_HOME, turns live sync on with the
given interval (default: the preference live_sync_interval_seconds, 60 s), activates an order at a random point
of the interval, waits for its Stripe id, repeats; prints each latency, the median and the worst. Target: every
sample under 90 s (the connector we replace polls every 90 to 180 s). Stops every process it started.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import tempfile
import time
from pathlib import Path

from cpq_sync.config import DEFAULT_MAPPINGS_DIR, load_preferences
from cpq_sync.ops.runs import PrefectApi
from cpq_sync.ops.stack import Stack
from cpq_sync.sandbox import salesforce as sandbox_sf
from tests.e2e.support import account_id, create_order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument(
        "--interval", type=int, default=load_preferences(DEFAULT_MAPPINGS_DIR).live_sync_interval_seconds
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="latency-bench-") as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        sandbox = Path(tmp) / "sandbox"
        sandbox_sf.seed_org(sandbox, orders=12, seed=7)
        stack = Stack(home=Path(tmp) / "prefect", port=port, extra_env={"CPQ_SYNC_SANDBOX": str(sandbox)})
        try:
            started = time.monotonic()
            stack.start_server()
            stack.deploy()
            stack.start_worker()
            print(f"stack up in {time.monotonic() - started:.1f}s (server, deploy, worker)")
            api = PrefectApi(stack.api_url)
            # The first incremental run reads everything: let it happen before measuring.
            _live(stack, args.interval)
            sf = sandbox_sf.connect(sandbox)
            latencies = []
            for n in range(args.samples + 1):
                time.sleep(random.uniform(0, args.interval))
                day = sandbox_sf.now(sandbox).date().replace(day=1)
                activated = time.monotonic()
                order_id, _ = create_order(sf, account_id(sf, "Acme%"), [("Platform Subscription", 1 + n)], start=day)
                while not sf.Order.get(order_id)["Stripe_ID__c"]:
                    time.sleep(0.25)
                latency = time.monotonic() - activated
                if n == 0:
                    print(f"warm-up (first run, full read): {latency:.1f}s")
                    continue
                latencies.append(latency)
                print(f"sample {n}: activation-to-Stripe {latency:.1f}s")
            api.close()
            print(
                f"interval {args.interval}s: median {statistics.median(latencies):.1f}s, worst {max(latencies):.1f}s "
                f"(target < 90s: {'met' if max(latencies) < 90 else 'MISSED'})"
            )
        finally:
            print(f"stopped {stack.stop()}")


def _live(stack: Stack, interval: int) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from cpq_sync.ops.live import set_live_sync

    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        set_live_sync(True, interval_seconds=interval)


if __name__ == "__main__":
    main()
