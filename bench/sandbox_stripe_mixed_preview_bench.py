"""Benchmark: ``billing_preview`` of a mixed-interval schedule (an annual, a quarterly and a monthly item), the
call every money assertion of the mixed-frequency tests makes.

Run: ``uv run python bench/sandbox_stripe_mixed_preview_bench.py [--months N] [--runs N]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cpq_sync.sandbox import stripe as sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp()) / "stripe"
    sandbox.set_clock(directory, datetime(2024, 7, 15, tzinfo=UTC))
    client = sandbox.connect(directory)
    customer = client.v1.customers.create(params={"name": "Acme"}).id

    def price(amount: int, months: int) -> str:
        product = client.v1.products.create(params={"name": f"every {months} months"}).id
        params: dict[str, Any] = {
            "product": product,
            "currency": "usd",
            "unit_amount": amount,
            "recurring": {"interval": "month", "interval_count": months},
        }
        return client.v1.prices.create(params=params).id  # type: ignore[arg-type]

    items = [{"price": price(120000, 12)}, {"price": price(30000, 3)}, {"price": price(5000, 1)}]
    schedule = client.v1.subscription_schedules.create(
        params={  # type: ignore[arg-type]
            "customer": customer,
            "start_date": int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()),
            "end_behavior": "cancel",
            "phases": [{"items": items, "duration": {"interval": "month", "interval_count": args.months}}],
        }
    )
    samples = []
    invoices = []
    for _ in range(args.runs):
        began = time.perf_counter()
        invoices = sandbox.billing_preview(directory, schedule.id)
        samples.append((time.perf_counter() - began) * 1000)
    print(
        f"billing_preview of a {args.months}-month mixed-interval schedule ({len(invoices)} invoices), "
        f"{args.runs} runs: p50 {statistics.median(samples):.2f} ms, mean {statistics.mean(samples):.2f} ms"
    )


if __name__ == "__main__":
    main()
