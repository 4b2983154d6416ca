"""Scale benchmark: a full sync plan (dry run) of a large sandbox org, wall time, peak memory and lines a second.

    uv run python bench/plan_scale_bench.py [--orders 100000] [--runs 3] [--dir PATH] [--json PATH]

Seeds the sandbox org in ``--dir`` once (kept: a later call with the same directory and order count reuses it),
then runs the dry run's steps (prepare, full window, extract, translate and plan: what ``cpq-sync sync --full
--dry-run`` does before printing) ``--runs`` times, each in a fresh process so its peak resident memory is its
own, and prints each run and the medians. Targets (issue 7) at 100,000 orders: wall < 60 s, peak RSS < 1.5 GB,
translate and plan >= 20,000 order lines a second.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def one_run(directory: Path) -> dict[str, Any]:
    """The dry run's steps in this process (called in a child process by `main`)."""
    os.environ["CPQ_SYNC_SANDBOX"] = str(directory)
    from cpq_sync.config import load_settings
    from cpq_sync.sync import Mode, make_plan, prepare, window_for
    from cpq_sync.sync import extract as extract_step

    started = time.perf_counter()
    ctx = prepare(load_settings())
    window = window_for(ctx, Mode.FULL)
    cpu = time.process_time()
    extracted = extract_step(ctx, window)
    extract_cpu = time.process_time() - cpu
    cpu = time.process_time()
    plan = make_plan(ctx, extracted)
    plan_cpu = time.process_time() - cpu
    wall = time.perf_counter() - started
    return {
        "wall_seconds": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "extract_seconds": ctx.timings.get("extract", 0.0),
        "plan_seconds": ctx.timings.get("plan", 0.0),
        "orders": extracted.orders_seen,
        "order_lines": ctx.planned_lines,
        "lines_per_second": ctx.planned_lines / max(ctx.timings.get("plan", 0.0), 1e-9),
        # CPU seconds (this process's own, whatever else the machine runs): a loaded machine's wall times are not
        "extract_cpu_seconds": extract_cpu,
        "plan_cpu_seconds": plan_cpu,
        "lines_per_cpu_second": ctx.planned_lines / max(plan_cpu, 1e-9),
        "operations": len(plan.operations),
        "failures": len(plan.failures),
        "salesforce_calls": ctx.org.calls_used(),
    }


def seeded(directory: Path, orders: int) -> None:
    marker = directory / "plan_scale_bench.json"
    if marker.exists() and json.loads(marker.read_text()).get("orders") == orders:
        print(f"reusing the org seeded with {orders:,} orders in {directory}")
        return
    from cpq_sync.sandbox.salesforce import seed_org

    began = time.perf_counter()
    summary = seed_org(directory, orders=orders)
    print(f"seeded {orders:,} orders ({summary.order_lines:,} order lines) in {time.perf_counter() - began:.0f} s")
    marker.write_text(json.dumps({"orders": orders}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="sandbox directory to seed once and keep")
    parser.add_argument("--json", type=Path, default=None, help="write the runs and medians here")
    parser.add_argument("--one-run", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run is not None:
        print(json.dumps(one_run(args.one_run)))
        return
    if args.dir is None:
        with tempfile.TemporaryDirectory(prefix="plan-scale-") as tmp:  # a throwaway org, removed afterwards
            measure(Path(tmp), args)
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    measure(args.dir, args)


def measure(directory: Path, args: argparse.Namespace) -> None:
    seeded(directory, args.orders)
    runs: list[dict[str, Any]] = []
    for number in range(1, args.runs + 1):
        out = subprocess.run(
            [sys.executable, __file__, "--one-run", str(directory)], check=True, capture_output=True, text=True
        )
        run = json.loads(out.stdout.strip().splitlines()[-1])
        runs.append(run)
        print(
            f"run {number}: {run['wall_seconds']:.1f} s wall (extract {run['extract_seconds']:.1f} s, translate and "
            f"plan {run['plan_seconds']:.1f} s), peak RSS {run['peak_rss_mb']:.0f} MB, {run['orders']:,} orders, "
            f"{run['order_lines']:,} lines, {run['lines_per_second']:,.0f} lines/s, {run['operations']:,} operations, "
            f"{run['failures']:,} failed orders, {run['salesforce_calls']} Salesforce calls; CPU: extract "
            f"{run['extract_cpu_seconds']:.1f} s, translate and plan {run['plan_cpu_seconds']:.1f} s "
            f"({run['lines_per_cpu_second']:,.0f} lines a CPU second)"
        )
    medians = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    print(
        f"median of {len(runs)}: {medians['wall_seconds']:.1f} s wall (target < 60), peak RSS "
        f"{medians['peak_rss_mb']:.0f} MB (target < 1536), {medians['lines_per_second']:,.0f} lines/s "
        f"(target >= 20,000); extract {medians['extract_seconds']:.1f} s, translate and plan "
        f"{medians['plan_seconds']:.1f} s; {medians['lines_per_cpu_second']:,.0f} lines a CPU second"
    )
    if args.json is not None:
        args.json.write_text(json.dumps({"orders": args.orders, "runs": runs, "medians": medians}, indent=2))


if __name__ == "__main__":
    main()
