"""Reliability soak: the fault matrix (tests/reliability/test_fault_matrix.py) over thousands of seeded trials,
printing per fault the same figures as the tests: trials, faulty runs that absorbed the fault, runs made, faults
injected, orders synced, duplicates and orders lost (both must be 0), trials that did not converge (must be 0).

Each trial seeds a fresh org from its own seed (``--seed`` + trial number), injects one fault (the matrix's rows in
turn, "all mixed" included), runs the sync, checks the invariants through the real clients, then reruns without
faults until it converges. A failing trial prints its seed and fault, and `run_trial(directory, fault, seed,
orders=...)` replays it exactly.

Modes are rows of :data:`MODES`: name -> (variants, trial function(directory, variant, seed, orders) -> Trial);
``--mode`` picks one (``--crash`` is ``--mode crash`` once the crash soak registers its row).

Run: ``uv run python bench/soak.py [--runs 1000] [--seed 1] [--orders 40] [--jobs 2]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability.kill_points import Phase, crash_trial
from tests.reliability.matrix import FAULTS, Trial, run_trial, table

TrialFunction = Callable[[Path, str, int, int], Trial]  # (directory, variant, seed, orders) -> one trial


def fault_trial(directory: Path, fault: str, seed: int, orders: int) -> Trial:
    return run_trial(directory, fault, seed, orders=orders)


MODES: dict[str, tuple[list[str], TrialFunction]] = {
    "faults": (list(FAULTS), fault_trial),
    "crash": ([f"crash: {p.value}" for p in Phase], crash_trial),
}

ENVIRONMENT = {
    "CPQ_SYNC_STRIPE_REQUESTS_PER_SECOND": "1000",  # the sandbox's 429s are the fault, not the sync's own pace
    "CPQ_SYNC_API_USAGE_CEILING_PERCENT": "100",  # the org's REQUEST_LIMIT_EXCEEDED is the fault
}


def _one(mode: str, number: int, seed: int, orders: int, root: str) -> Trial:
    variants, function = MODES[mode]
    variant = variants[number % len(variants)]
    directory = Path(root) / f"trial-{number}"
    os.environ.update(ENVIRONMENT, CPQ_SYNC_SANDBOX=str(directory))
    try:
        return function(directory, variant, seed, orders)
    except Exception as exc:  # a trial that breaks is a finding: keep going, report it
        trial = Trial(fault=variant, seed=seed)
        trial.run_errors.append(f"trial crashed: {type(exc).__name__}: {exc}"[:300])
        return trial
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="trials (each: a faulty run, then clean reruns)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first trial (the others follow)")
    parser.add_argument("--orders", type=int, default=40, help="orders of each seeded org")
    parser.add_argument("--jobs", type=int, default=1, help="trials at once (processes)")
    parser.add_argument("--mode", choices=sorted(MODES), default="faults")
    parser.add_argument("--crash", action="store_const", const="crash", dest="mode", help="the crash soak")
    args = parser.parse_args()
    if args.mode not in MODES:
        parser.error(f"no {args.mode!r} mode here (modes: {', '.join(sorted(MODES))})")
    import logging

    logging.basicConfig(level=logging.CRITICAL)  # the faults make the sync log errors by design
    started = time.perf_counter()
    trials: list[Trial] = []
    failing: list[Trial] = []
    with tempfile.TemporaryDirectory(prefix="cpq-soak-") as root, ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(_one, args.mode, n, args.seed + n, args.orders, root) for n in range(args.runs)]
        for n, future in enumerate(futures, start=1):
            trial = future.result()
            trials.append(trial)
            if trial.problems() or any(e.startswith("trial crashed") for e in trial.run_errors):
                failing.append(trial)
                print(f"FAILED seed {trial.seed} ({trial.fault}): {trial.problems() or trial.run_errors}", flush=True)
            if n % 50 == 0 or n == args.runs:
                print(f"{n}/{args.runs} trials, {time.perf_counter() - started:.0f} s", flush=True)
    elapsed = time.perf_counter() - started
    print()
    print(
        f"reliability soak ({args.mode}): {args.runs} trials from seed {args.seed}, {args.orders} orders each, "
        f"{args.jobs} job(s), {elapsed:.0f} s"
    )
    print(table(trials))
    total_runs = sum(t.runs for t in trials)
    print(
        f"total: {total_runs} sync runs, {sum(sum(t.faults_injected.values()) for t in trials)} faults injected, "
        f"{sum(t.duplicates for t in trials)} duplicates, {sum(t.lost for t in trials)} orders lost, "
        f"{sum(not t.converged for t in trials)} not converged, {len(failing)} failing trials"
    )
    if failing:
        sys.exit(1)


if __name__ == "__main__":
    main()
