"""Kill points for the crash tests and the crash soak: a `cpq-sync sync` process that SIGKILLs itself at a chosen
request to the sandboxes, chosen from a seed, so a failing seed replays the very same crash.

Every durable effect of the sync is one request to Salesforce or Stripe, and each request either reached the
service or not: killing the process just before the K-th request (not applied) or just after it was served and
before its answer is read (applied, answer lost) reaches every state a kill at any instant can leave. The phases:

* ``extract``: the K-th Salesforce call before the first Stripe write (login, describes, queries, the apply marker);
* ``apply``: the K-th Stripe write (POST or DELETE), whichever thread of the apply pool sends it;
* ``write-back``: the K-th Salesforce write after the first Stripe write (the Stripe ids and Sync Records, in
  Collections of 200 written while applying, the resolved errors, the apply marker, the watermark). Writes while
  applying and Stripe writes interleave, so such a kill also stops the apply pool wherever it is.

``run_killed(directory, point)`` runs one whole sync (``run_direct``, a full backfill, no Prefect: the flow adds
no durable effect of its own) in a process forked from a clean forkserver, killed at ``point``; without a point it
runs to the end and can record how many calls each phase made (a clean run's counts bound the seeds' choice of K).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import random
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from cpq_sync.ops.invariants import InvariantReport
    from tests.reliability.matrix import Trial

WRITES = ("POST", "PATCH", "PUT", "DELETE")


class Phase(StrEnum):
    EXTRACT = "extract"
    APPLY = "apply"
    WRITE_BACK = "write-back"


class KillPoint(BaseModel):
    phase: Phase
    k: int
    applied: bool  # the K-th request was served before the kill (its answer lost), else never sent

    def __str__(self) -> str:
        return f"{self.phase.value}:{self.k}:{'applied' if self.applied else 'sent'}"

    @classmethod
    def parse(cls, text: str) -> KillPoint:
        phase, k, when = text.split(":")
        return cls(phase=Phase(phase), k=int(k), applied=when == "applied")

    @classmethod
    def choose(cls, rng: random.Random, counts: PhaseCounts, phase: Phase | None = None) -> KillPoint:
        """A point within what a clean run does (`counts`), uniformly in the phase, applied or not."""
        chosen = phase or rng.choice([p for p in Phase if counts.of(p)])
        return cls(phase=chosen, k=rng.randint(1, max(1, counts.of(chosen))), applied=rng.random() < 0.5)


class PhaseCounts(BaseModel):
    extract: int = 0
    apply: int = 0
    write_back: int = 0

    def of(self, phase: Phase) -> int:
        return {Phase.EXTRACT: self.extract, Phase.APPLY: self.apply, Phase.WRITE_BACK: self.write_back}[phase]


class _Counter:
    """Counts this process's requests by phase and kills it at the point (thread-safe: the apply pool)."""

    def __init__(self, point: KillPoint | None, record: Path | None) -> None:
        self.point = point
        self.record = record
        self.counts = PhaseCounts()
        self.lock = threading.Lock()

    def before(self, service: str, method: str) -> Phase | None:
        """Counts one request about to be sent; kills now if it is the point and must not be applied."""
        with self.lock:
            phase = self._phase(service, method.upper())
            if phase is None:
                return None
            n = self._bump(phase)
            if self._is_point(phase, n) and self.point is not None and not self.point.applied:
                self._die()
            return phase if self._is_point(phase, n) else None

    def after(self, hit: Phase | None) -> None:
        if hit is not None:
            with self.lock:
                self._die()

    def _phase(self, service: str, method: str) -> Phase | None:
        if service == "stripe":
            return Phase.APPLY if method in WRITES else None
        if self.counts.apply == 0:
            return Phase.EXTRACT
        return Phase.WRITE_BACK if method in WRITES else None

    def _bump(self, phase: Phase) -> int:
        name = phase.value.replace("-", "_")
        value = getattr(self.counts, name) + 1
        setattr(self.counts, name, value)
        return int(value)

    def _is_point(self, phase: Phase, n: int) -> bool:
        return self.point is not None and self.point.phase is phase and self.point.k == n

    def _die(self) -> None:
        self.save()
        os.kill(os.getpid(), signal.SIGKILL)

    def save(self) -> None:
        if self.record is not None:
            self.record.write_text(self.counts.model_dump_json())


def install(point: KillPoint | None, record: Path | None = None) -> _Counter:
    """Wraps the two sandbox transports of this process (class-wide, so every client the sync makes is counted)."""
    from cpq_sync.sandbox.salesforce.adapter import SandboxAdapter
    from cpq_sync.sandbox.stripe.http_client import SandboxHTTPClient

    counter = _Counter(point, record)
    stripe_serve: Callable[..., Any] = SandboxHTTPClient._serve
    sf_send: Callable[..., Any] = SandboxAdapter.send

    def serve(self: SandboxHTTPClient, method: str, *args: Any, **kwargs: Any) -> Any:
        hit = counter.before("stripe", method)
        result = stripe_serve(self, method, *args, **kwargs)
        counter.after(hit)
        return result

    def send(self: SandboxAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        hit = counter.before("salesforce", str(request.method))
        result = sf_send(self, request, *args, **kwargs)
        counter.after(hit)
        return result

    SandboxHTTPClient._serve = serve  # type: ignore[method-assign]
    SandboxAdapter.send = send  # type: ignore[method-assign]
    return counter


def _child(directory: str, point: str | None, record: str | None, env: dict[str, str]) -> None:
    """The forked sync: one whole run (`run_direct`, a full backfill) with the kill point installed."""
    os.environ.update(env)
    for name in [n for n in os.environ if n.startswith(("SALESFORCE_", "STRIPE_"))]:
        del os.environ[name]  # the sandboxes only
    os.environ["CPQ_SYNC_SANDBOX"] = directory
    logging.disable(logging.CRITICAL)  # the killed runs' warnings are expected; the parent checks the outcome
    counter = install(KillPoint.parse(point) if point else None, Path(record) if record else None)
    from cpq_sync.config import load_settings
    from cpq_sync.sync import Mode, run_direct

    report = run_direct(load_settings(), Mode.FULL)
    counter.save()
    sys.exit(0 if report.ok else 1)


_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["cpq_sync.sync", "cpq_sync.config", "cpq_sync.sandbox.salesforce", __name__])


def run_killed(
    directory: Path, point: KillPoint | None, *, counts_file: Path | None = None, env: dict[str, str] | None = None
) -> int:
    """A full sync of the sandboxes in `directory` in its own process (forked from a clean, pre-imported server,
    so a run costs no start-up), killed at `point`. Returns its exit code: -9 killed, 0 or 1 it finished (1: some
    records failed). `env`: variables for that run (e.g. preferences, CPQ_SYNC_<KEY>)."""
    proc = _CONTEXT.Process(
        target=_child,
        args=(str(directory), str(point) if point else None, str(counts_file) if counts_file else None, env or {}),
    )
    proc.start()
    proc.join(timeout=300)
    if proc.exitcode is None:
        proc.kill()
        proc.join()
        raise TimeoutError(f"the sync of {directory} did not end within 300 s")
    if proc.exitcode not in (0, 1, -signal.SIGKILL):
        raise RuntimeError(f"the sync of {directory} exited {proc.exitcode}")
    return proc.exitcode


def read_counts(path: Path) -> PhaseCounts:
    return PhaseCounts.model_validate(json.loads(path.read_text()))


SECOND_KILL = 0.5  # chance the recovering run is killed too
KEYS_EXPIRED = 0.35  # chance the rerun comes after Stripe forgot the idempotency keys (24 h)


@dataclass
class CrashTemplate:
    """A seeded org, and what one clean run of it does (calls per phase) and leaves (the invariant report)."""

    directory: Path
    counts: PhaseCounts
    clean: InvariantReport


def make_template(root: Path, *, orders: int, seed: int) -> CrashTemplate:
    from cpq_sync.ops.invariants import check_invariants
    from cpq_sync.sandbox import salesforce as sandbox_sf

    directory = root / f"template-{orders}-{seed}"
    sandbox_sf.seed_org(directory, orders=orders, seed=seed)
    clean = root / f"clean-{orders}-{seed}"
    shutil.copytree(directory, clean)
    counts_file = root / f"counts-{orders}-{seed}.json"
    if run_killed(clean, None, counts_file=counts_file) not in (0, 1):
        raise RuntimeError("the clean run of the template did not finish")
    report = check_invariants(clean)
    shutil.rmtree(clean, ignore_errors=True)
    if not report.ok:
        raise RuntimeError(f"the clean run of the template breaks the invariant: {report.problems()}")
    return CrashTemplate(directory, read_counts(counts_file), report)


@dataclass
class CrashCase:
    """Kills at seeded points (the first in `phase`), perhaps expired idempotency keys, one clean rerun, the check."""

    phase: Phase
    points: list[str] = field(default_factory=list)  # "<point>" or "<point>(finished)", "+expired" on the last
    runs: int = 0
    kills: int = 0
    report: InvariantReport | None = None

    def problems(self, template: CrashTemplate) -> list[str]:
        """What breaks the invariant or differs from a clean run (empty: the case passed)."""
        report = self.report
        if report is None:
            return ["no check"]
        out = [] if report.ok else [report.problems()]
        if report.orders_synced != template.clean.orders_synced:
            out.append(f"{report.orders_synced} orders synced, a clean run syncs {template.clean.orders_synced}")
        if report.orders_data_errors != template.clean.orders_data_errors:
            out.append(f"data errors {report.orders_data_errors}, a clean run's {template.clean.orders_data_errors}")
        if report.orders_errored or report.orders_pending:
            out.append(f"errored {report.orders_errored}, pending {report.orders_pending}")
        return out


def crash_case(template: CrashTemplate, directory: Path, phase: Phase, rng: random.Random) -> CrashCase:
    from cpq_sync.ops.invariants import check_invariants
    from cpq_sync.sandbox import stripe as sandbox_stripe

    shutil.copytree(template.directory, directory)
    case = CrashCase(phase)
    points = [KillPoint.choose(rng, template.counts, phase)]
    if rng.random() < SECOND_KILL:
        points.append(KillPoint.choose(rng, template.counts))
    for point in points:
        killed = run_killed(directory, point) == -signal.SIGKILL
        case.runs += 1
        case.kills += killed
        case.points.append(f"{point}{'' if killed else '(finished)'}")
    if rng.random() < KEYS_EXPIRED:
        sandbox_stripe.expire_idempotency_keys(directory)
        case.points[-1] += "+expired"
    if run_killed(directory, None) not in (0, 1):
        raise RuntimeError("the clean rerun did not finish")
    case.runs += 1
    case.report = check_invariants(directory)
    return case


_TEMPLATES: dict[tuple[int, int], CrashTemplate] = {}
ORG_VARIANTS = 5  # the soak's trials share a few seeded orgs (each built and run clean once per process)


def crash_trial(directory: Path, variant: str, seed: int, orders: int) -> Trial:
    """The crash soak's trial (bench/soak.py --crash): one crash case on the org of `seed`, as the matrix's Trial."""
    from tests.reliability.matrix import Trial

    key = (orders, seed % ORG_VARIANTS)
    if key not in _TEMPLATES:
        root = directory.parent / f"templates-{os.getpid()}"
        root.mkdir(parents=True, exist_ok=True)
        _TEMPLATES[key] = make_template(root, orders=orders, seed=key[1] + 1)
    template = _TEMPLATES[key]
    case = crash_case(template, directory, Phase(variant.removeprefix("crash: ")), random.Random(seed))
    trial = Trial(fault=variant, seed=seed, runs=case.runs, final=case.report)
    trial.faults_injected["kill"] = case.kills
    trial.run_errors += [f"{', '.join(case.points)}: {problem}" for problem in case.problems(template)]
    return trial
