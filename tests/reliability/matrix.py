"""The fault matrix, shared by `test_fault_matrix.py` and `bench/soak.py`: a seeded org, one faulty sync run under a
named fault (or all of them mixed), then clean reruns until the sync converges, the invariants checked after every
run through the real clients (`cpq_sync.ops.invariants`).

Each fault is a row of :data:`FAULTS`: a function from the trial's seed (and the org's API calls so far, for the
quota) to the faults the two sandboxes inject. A :class:`Trial` holds one trial's figures; :func:`table` prints
them per fault (or per crash point: `bench/soak.py` runs other kinds of trials through the same figures).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import stripe

from cpq_sync.config import load_settings
from cpq_sync.ops.invariants import InvariantReport, check_invariants
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from cpq_sync.sandbox.salesforce.adapter import SandboxAdapter
from cpq_sync.sync import Mode, SyncReport, run_direct

MAX_CONVERGENCE_RUNS = 4


@dataclass(frozen=True)
class Faults:
    stripe: sandbox_stripe.StripeFaults | None = None
    salesforce: sandbox_sf.SalesforceFaults | None = None


FaultFactory = Callable[[int, int], Faults]  # (seed, Salesforce API calls so far) -> faults


def _mixed(seed: int, calls: int) -> Faults:
    return Faults(
        sandbox_stripe.StripeFaults(
            seed=seed,
            rate_limit_per_second=60,
            server_error_rate=0.05,
            connection_error_rate=0.05,
            timeout_after_apply_rate=0.05,
            latency_spike_rate=0.02,
            latency_spike_ms=20,
        ),
        sandbox_sf.SalesforceFaults(
            seed=seed,
            expire_session_after_calls=9,
            api_quota_max=calls + 60,
            lock_row_rate=0.05,
            query_timeout_rate=0.15,
            server_error_rate=0.05,
        ),
    )


FAULTS: dict[str, FaultFactory] = {
    "stripe 429 bursts": lambda seed, _: Faults(sandbox_stripe.StripeFaults(seed=seed, rate_limit_per_second=40)),
    "stripe 500/503": lambda seed, _: Faults(sandbox_stripe.StripeFaults(seed=seed, server_error_rate=0.15)),
    "stripe connection error": lambda seed, _: Faults(
        sandbox_stripe.StripeFaults(seed=seed, connection_error_rate=0.15)
    ),
    "stripe timeout after apply": lambda seed, _: Faults(
        sandbox_stripe.StripeFaults(seed=seed, timeout_after_apply_rate=0.15)
    ),
    "stripe latency spikes": lambda seed, _: Faults(
        sandbox_stripe.StripeFaults(seed=seed, latency_ms=1, latency_spike_rate=0.05, latency_spike_ms=40)
    ),
    "salesforce expired session": lambda seed, _: Faults(
        salesforce=sandbox_sf.SalesforceFaults(seed=seed, expire_session_after_calls=5)
    ),
    "salesforce REQUEST_LIMIT_EXCEEDED": lambda seed, calls: Faults(
        salesforce=sandbox_sf.SalesforceFaults(seed=seed, api_quota_max=calls + 12 + seed % 20)
    ),
    "salesforce UNABLE_TO_LOCK_ROW": lambda seed, _: Faults(
        salesforce=sandbox_sf.SalesforceFaults(seed=seed, lock_row_rate=0.1)
    ),
    "salesforce QUERY_TIMEOUT": lambda seed, _: Faults(
        salesforce=sandbox_sf.SalesforceFaults(seed=seed, query_timeout_rate=0.3)
    ),
    "salesforce 5xx": lambda seed, _: Faults(salesforce=sandbox_sf.SalesforceFaults(seed=seed, server_error_rate=0.1)),
    "all mixed": _mixed,
}


@dataclass
class Trial:
    """One fault on one seeded org: what was injected, what the runs did, and what the invariants said."""

    fault: str
    seed: int
    runs: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    stopped_early: list[str] = field(default_factory=list)
    run_errors: list[str] = field(default_factory=list)  # a run that failed outright (the next one continues)
    after_fault: InvariantReport | None = None
    final: InvariantReport | None = None

    @property
    def duplicates(self) -> int:
        return sum(len(r.duplicates) for r in (self.after_fault, self.final) if r is not None)

    @property
    def lost(self) -> int:
        return sum(len(r.lost) for r in (self.after_fault, self.final) if r is not None)

    @property
    def orders_synced(self) -> int:
        return self.final.orders_synced if self.final else 0

    @property
    def absorbed(self) -> bool:
        """The faulty run itself synced everything, as if nothing had happened (retries, re-logins, narrowed
        windows): no run error, no early stop, nothing left in error, pending or unreferenced."""
        after = self.after_fault
        return (
            after is not None
            and not self.run_errors
            and not self.stopped_early
            and after.ok
            and not after.orders_errored
            and not after.orders_pending
        )

    @property
    def converged(self) -> bool:
        final = self.final
        return final is not None and final.ok and not final.orders_errored and not final.orders_pending

    def problems(self) -> list[str]:
        """Everything that breaks the sync's promises (empty: the trial passed)."""
        out = []
        for label, report in (("after the faulty run", self.after_fault), ("after the reruns", self.final)):
            if report is not None and (report.duplicates or report.lost or report.false_success):
                out.append(f"{label}: {report.problems()}")
        if not self.converged:
            final = self.final
            detail = "no check" if final is None else final.problems()
            if final is not None and (final.orders_errored or final.orders_pending):
                detail += f"; still errored {final.error_messages}, pending {final.orders_pending}"
            out.append(f"did not converge in {MAX_CONVERGENCE_RUNS} clean runs: {detail}")
        return out


@contextlib.contextmanager
def salesforce_fault_counter(counter: Counter[str]) -> Iterator[None]:
    """Counts the faults the sandbox org answers this process with (errors by code, locked records by record)."""
    original = SandboxAdapter.send

    def send(self: SandboxAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        response = original(self, request, *args, **kwargs)
        with contextlib.suppress(ValueError):
            body = json.loads(response.content or b"null")
            entries = body if isinstance(body, list) else []
            for entry in entries:
                if isinstance(entry, dict) and "errorCode" in entry and response.status_code >= 400:
                    counter[f"salesforce {entry['errorCode']}"] += 1
                for error in entry.get("errors", []) if isinstance(entry, dict) else []:
                    if isinstance(error, dict) and error.get("statusCode") == "UNABLE_TO_LOCK_ROW":
                        counter["salesforce UNABLE_TO_LOCK_ROW"] += 1
        return response

    SandboxAdapter.send = send  # type: ignore[method-assign]
    try:
        yield
    finally:
        SandboxAdapter.send = original  # type: ignore[method-assign]


@contextlib.contextmanager
def fast_backoff() -> Iterator[None]:
    """Retries wait milliseconds instead of seconds (the sandboxes answer at once): the same paths, faster."""
    from tenacity import wait_exponential_jitter

    saved = (OrgClient.retry_wait, stripe.HTTPClient.INITIAL_DELAY, stripe.HTTPClient.MAX_DELAY)
    OrgClient.retry_wait = wait_exponential_jitter(multiplier=0.005, max=0.05)
    stripe.HTTPClient.INITIAL_DELAY, stripe.HTTPClient.MAX_DELAY = 0.1, 1.0  # 429s: a 1 s window
    try:
        yield
    finally:
        OrgClient.retry_wait, stripe.HTTPClient.INITIAL_DELAY, stripe.HTTPClient.MAX_DELAY = saved


def set_faults(directory: Path, faults: Faults) -> None:
    sandbox_stripe.set_faults(directory, faults.stripe)
    sandbox_sf.set_faults(directory, faults.salesforce)


def _run(trial: Trial, mode: Mode = Mode.INCREMENTAL, order_ids: tuple[str, ...] = ()) -> SyncReport | None:
    trial.runs += 1
    try:
        report = run_direct(load_settings(), mode, order_ids)
    except Exception as exc:  # a run may fail under faults; what matters is what it left behind
        trial.run_errors.append(f"{type(exc).__name__}: {exc}"[:300])
        return None
    if report.stopped_early:
        trial.stopped_early.append(report.stopped_early)
    return report


def run_trial(directory: Path, fault: str, seed: int, *, orders: int) -> Trial:
    """Seeds the org, runs the sync once under `fault`, checks, then reruns without faults until it converges
    (an incremental run, then the orders still in error by id), checking after each run. Needs CPQ_SYNC_SANDBOX
    set to `directory` (the sync's own settings)."""
    assert os.environ.get("CPQ_SYNC_SANDBOX") == str(directory), "CPQ_SYNC_SANDBOX must name the trial's sandbox"
    trial = Trial(fault=fault, seed=seed)
    sandbox_sf.seed_org(directory, orders=orders, seed=seed)
    sandbox_stripe.clear_request_log(directory)
    set_faults(directory, FAULTS[fault](seed, sandbox_sf.api_calls(directory)))
    with fast_backoff(), salesforce_fault_counter(trial.faults_injected):
        _run(trial)
    set_faults(directory, Faults())
    trial.faults_injected.update(
        f"stripe {r.fault}" for r in sandbox_stripe.request_log(directory) if r.fault is not None
    )
    trial.after_fault = check_invariants(directory)
    with fast_backoff():
        for _ in range(MAX_CONVERGENCE_RUNS):
            report = trial.final or trial.after_fault
            if report.orders_errored and not report.orders_pending:
                _run(trial, Mode.ORDERS, tuple(report.orders_errored))
            else:
                _run(trial)
            trial.final = check_invariants(directory)
            if trial.converged:
                break
    return trial


def table(trials: list[Trial]) -> str:
    """Per fault: trials, faulty runs that absorbed the fault, runs made, faults injected, orders synced,
    duplicates and orders lost (both must be 0), trials that did not converge (must be 0)."""
    header = (
        f"{'fault':<36} {'trials':>6} {'absorbed':>8} {'runs':>6} {'faults injected':>16} {'synced':>8} "
        f"{'dup':>5} {'lost':>5} {'not converged':>13}"
    )
    lines = [header, "-" * len(header)]
    by_fault: dict[str, list[Trial]] = {}
    for trial in trials:
        by_fault.setdefault(trial.fault, []).append(trial)
    for fault, group in by_fault.items():
        lines.append(
            f"{fault:<36} {len(group):>6} {sum(t.absorbed for t in group):>8} {sum(t.runs for t in group):>6} "
            f"{sum(sum(t.faults_injected.values()) for t in group):>16} {sum(t.orders_synced for t in group):>8} "
            f"{sum(t.duplicates for t in group):>5} {sum(t.lost for t in group):>5} "
            f"{sum(not t.converged for t in group):>13}"
        )
    return "\n".join(lines)
