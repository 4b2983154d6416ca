"""Benchmark of a whole sync against the two sandboxes: API-call economy, throughput under Stripe's rate limit,
memory and time per step (issue 7).

Seeds the sandbox org with ``--orders N`` orders (the demo company's mix) in a temporary directory, gives the sandbox
Stripe account a latency and a rate limit (429 above it) and the sandbox org a latency, then runs, through the
product's own steps (``cpq_sync.sync``, as the ``sync`` flow runs them): a full sync, an incremental run with no
change, the same after the org stayed quiet for longer than the look-back (its clock moved on), once more (it reads
nothing), and an incremental run after 1% of the orders were changed (see ``change_orders``). Each run prints:
orders synced, Stripe requests by method and path, Stripe writes against the minimum the Salesforce data needs
(``bench/minimum.py``, computed from the org's records, never from the sync's plan), 429s, Salesforce API calls
(``Sforce-Limit-Info``) and calls per 1,000 orders, wall time against the lower bound (Stripe requests / rate),
peak resident memory, and the time spent in extract, translate and plan, apply and write-back.

Run: ``uv run python bench/sync_bench.py --orders 5000 [--runs 3] [--json out.json]``;
``uv run python bench/sync_bench.py --orders 100000 --dry-run`` plans a full sync only (the product's ``--dry-run``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script from a fresh clone

from bench.minimum import Minimum, change_orders, minimum_after_change, minimum_writes, write_kind
from cpq_sync.config import load_settings
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from cpq_sync.sync import (
    Mode,
    SyncReport,
    advance_watermark,
    apply_plan,
    extract,
    finish,
    make_plan,
    prepare,
    window_for,
)

STRIPE_ID = re.compile(r"/[a-z]+(?:_[a-z]+)*_[A-Za-z0-9]{10,}")
WRITE_METHODS = ("POST", "DELETE")


def sync_once(mode: Mode, *, dry_run: bool) -> tuple[SyncReport, float, int, dict[str, float]]:
    """One run through the product's steps, as `flows.sync.run_sync` chains them (without Prefect's server)."""
    started = time.perf_counter()
    ctx = prepare(load_settings())
    report = SyncReport(mode=mode, dry_run=dry_run, started_at=ctx.started_at)
    extracted = extract(ctx, window_for(ctx, mode))
    report.orders_seen = extracted.orders_seen
    plan = make_plan(ctx, extracted)
    report.plan = plan
    if not dry_run:
        outcomes = apply_plan(ctx, plan)
        finish(ctx, plan, outcomes, report, extracted)
        advance_watermark(ctx, mode, extracted)
    return report, time.perf_counter() - started, ctx.org.calls_used(), dict(ctx.timings)


def stripe_figures(directory: Path) -> dict[str, Any]:
    log = sandbox_stripe.request_log(directory)
    by_path = Counter(f"{r.method} {STRIPE_ID.sub('/{id}', r.path)}" for r in log)
    writes = [r for r in log if r.method in WRITE_METHODS and r.fault is None]
    return {
        "stripe_requests": len(log),
        "stripe_requests_by_path": dict(sorted(by_path.items())),
        "stripe_writes": len(writes),
        "stripe_writes_by_kind": dict(sorted(Counter(write_kind(r) for r in writes).items())),
        "stripe_429s": sum(1 for r in log if r.fault == "rate_limit"),
    }


def measure(
    name: str, mode: Mode, directory: Path, args: argparse.Namespace, minimum: Minimum | None
) -> dict[str, Any]:
    """One run and its figures; `minimum`: what the change since the last run needs (None: a full sync's)."""
    sandbox_stripe.clear_request_log(directory)
    cpu = time.process_time()
    report, wall, sf_calls, timings = sync_once(mode, dry_run=args.dry_run)
    cpu = time.process_time() - cpu  # the sandboxes' too: they run in this process
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the minimum's own reads
    figures = stripe_figures(directory)
    if minimum is None:
        minimum = minimum_writes(directory)  # after the run: its Error Sync Records name the orders it cannot sync
    orders = len(report.synced_orders) if not args.dry_run else report.orders_seen
    lower_bound = figures["stripe_requests"] / args.stripe_rate
    return {
        "run": name,
        "orders_seen": report.orders_seen,
        "orders_synced": orders,
        "planned_writes": len(report.plan.writes) if report.plan else 0,
        **figures,
        "minimum_writes": minimum.total,
        "minimum_by_kind": dict(sorted(minimum.by_kind.items())),
        "distinct_prices": minimum.distinct_prices,
        "failed": len(report.failed) + (len(report.plan.failures) if report.plan and args.dry_run else 0),
        "salesforce_calls": sf_calls,
        "salesforce_calls_per_1000_orders": round(1000 * sf_calls / max(args.orders, 1), 2),
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "lower_bound_seconds": round(lower_bound, 3),
        "efficiency": round(lower_bound / wall, 3) if wall else 0.0,
        "peak_rss_mb": round(peak_rss, 1),
        "step_seconds": {k: round(v, 3) for k, v in timings.items()},
    }


def seed_apart(directory: Path, orders: int) -> None:
    """Seeds the org in a child process (the sandbox org is a database many processes share), so the peak resident
    memory measured here is the sync's, not the seeding's."""
    code = "import sys; from cpq_sync.sandbox.salesforce import seed_org as s; s(sys.argv[1], orders=int(sys.argv[2]))"
    root = Path(__file__).resolve().parent.parent  # the child imports the project from the clone, as this script
    subprocess.run([sys.executable, "-c", code, str(directory), str(orders)], check=True, cwd=root)


def one_round(args: argparse.Namespace, directory: Path) -> list[dict[str, Any]]:
    sandbox_stripe.reset(directory)
    if directory.exists():
        sandbox_sf.set_clock(directory, None)  # real time (an earlier round froze it)
    began = time.perf_counter()
    seed_apart(directory, args.orders)
    print(f"seeded {args.orders} orders in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    sandbox_sf.set_faults(directory, sandbox_sf.SalesforceFaults(latency_ms=args.sf_latency_ms))
    sandbox_stripe.set_faults(
        directory,
        sandbox_stripe.StripeFaults(latency_ms=args.stripe_latency_ms, rate_limit_per_second=args.stripe_rate),
    )
    runs = [measure("full", Mode.FULL, directory, args, None)]
    if args.dry_run:
        return runs
    runs.append(measure("unchanged", Mode.INCREMENTAL, directory, args, minimum_after_change(0)))
    # The org stays quiet for longer than the look-back (its clock moved on and frozen there): the next run reads
    # the look-back before the last run's start once more, and the one after it reads nothing.
    lookback = dt.timedelta(seconds=load_settings().preferences.lookback_seconds)
    sandbox_sf.set_clock(directory, sandbox_sf.now(directory) + lookback + dt.timedelta(minutes=1))
    runs.append(measure("unchanged again", Mode.INCREMENTAL, directory, args, minimum_after_change(0)))
    runs.append(measure("quiet org", Mode.INCREMENTAL, directory, args, minimum_after_change(0)))
    changed = change_orders(directory, percent=1.0)
    runs.append(measure("1% changed", Mode.INCREMENTAL, directory, args, minimum_after_change(changed)))
    return runs


def medians(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Numbers: the median of the rounds; anything else (names, request tables): the first round's."""
    out = []
    for runs in zip(*rounds, strict=True):
        merged = dict(runs[0])
        for key, value in runs[0].items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                merged[key] = statistics.median(r[key] for r in runs)
            elif key == "step_seconds":
                merged[key] = {k: round(statistics.median(r[key].get(k, 0.0) for r in runs), 3) for k in value}
        out.append(merged)
    return out


def print_table(runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    rows = [
        ("orders seen / synced", lambda r: f"{r['orders_seen']} / {r['orders_synced']}"),
        ("Stripe requests", lambda r: r["stripe_requests"]),
        ("Stripe writes / minimum", lambda r: f"{r['stripe_writes']} / {r['minimum_writes']}"),
        ("429s", lambda r: r["stripe_429s"]),
        ("Salesforce calls", lambda r: r["salesforce_calls"]),
        ("SF calls per 1,000 orders", lambda r: r["salesforce_calls_per_1000_orders"]),
        ("wall s / lower bound s", lambda r: f"{r['wall_seconds']:.2f} / {r['lower_bound_seconds']:.2f}"),
        ("efficiency (bound / wall)", lambda r: f"{r['efficiency']:.2f}"),
        ("CPU s (process, sandboxes too)", lambda r: f"{r['cpu_seconds']:.2f}"),
        ("peak RSS MB", lambda r: r["peak_rss_mb"]),
        *(
            (f"{step} s", lambda r, s=step: f"{r['step_seconds'].get(s, 0.0):.2f}")
            for step in ("extract", "plan", "apply", "write_back")
        ),
    ]
    print(
        f"\nsync bench: {args.orders} orders, Stripe {args.stripe_rate:g} req/s at {args.stripe_latency_ms:g} ms, "
        f"Salesforce {args.sf_latency_ms:g} ms, {'dry run, ' if args.dry_run else ''}median of {args.runs}"
    )
    width = max(len(name) for name, _ in rows)
    print(f"{'':{width}}  " + "  ".join(f"{r['run']:>18}" for r in runs))
    for name, cell in rows:
        print(f"{name:{width}}  " + "  ".join(f"{cell(r)!s:>18}" for r in runs))
    for run in runs:
        requests = ", ".join(f"{k} {v}" for k, v in run["stripe_requests_by_path"].items()) or "none"
        print(f"\n{run['run']}:\n  Stripe requests: {requests}")
        if run["distinct_prices"]:
            print(f"  prices if lines billing the same amount shared one: {run['distinct_prices']}")
        kinds = sorted(set(run["minimum_by_kind"]) | set(run["stripe_writes_by_kind"]))
        print(
            "  writes / minimum: "
            + ", ".join(
                f"{k} {run['stripe_writes_by_kind'].get(k, 0)}/{run['minimum_by_kind'].get(k, 0)}" for k in kinds
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5_000)
    parser.add_argument("--stripe-latency-ms", type=float, default=50)
    parser.add_argument("--stripe-rate", type=float, default=100, help="requests per second (429 above)")
    parser.add_argument("--sf-latency-ms", type=float, default=100)
    parser.add_argument("--runs", type=int, default=1, help="rounds; the figures are their medians")
    parser.add_argument("--dry-run", action="store_true", help="plan the full sync only (changes nothing)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sync-bench-") as tmp:
        directory = Path(tmp) / "sandbox"
        os.environ["CPQ_SYNC_SANDBOX"] = str(directory)
        os.environ["CPQ_SYNC_STRIPE_REQUESTS_PER_SECOND"] = str(args.stripe_rate)
        for name in [n for n in os.environ if n.startswith(("SALESFORCE_", "STRIPE_"))]:
            del os.environ[name]  # the sandboxes, never a real org or account
        rounds = [one_round(args, directory) for _ in range(args.runs)]
    runs = medians(rounds)
    print_table(runs, args)
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
