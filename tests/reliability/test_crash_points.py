"""Crash consistency: the sync is killed (SIGKILL) at seeded points of extract, apply and write-back, once or twice
in a row (sometimes so long before the rerun that Stripe forgot the idempotency keys), and one clean rerun restores
the invariant: every eligible order in Stripe exactly once, nothing lost, every Stripe object referenced from
Salesforce, no false Success, and the billing preview equal to what CPQ sold.

A failing case names its seed and kill points; `KillPoint.parse` and `run_killed` replay it exactly.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cpq_sync.ops.invariants import InvariantReport, check_invariants
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from tests.reliability.kill_points import KillPoint, Phase, PhaseCounts, read_counts, run_killed

ORDERS = (
    36  # every kind the seed makes: new, one-time, evergreen (and cancelled), amendments, termination, renewal, ...
)
SEEDS_PER_PHASE = 2
SECOND_KILL = 0.5  # chance the recovering run is killed too
KEYS_EXPIRED = 0.35  # chance the rerun comes after Stripe forgot the idempotency keys (24 h)


@dataclass
class Template:
    directory: Path
    counts: PhaseCounts
    clean: InvariantReport  # what an uninterrupted run leaves


@dataclass
class Tally:
    runs: int = 0
    kills: int = 0
    orders_synced: int = 0
    duplicates: int = 0
    lost: int = 0
    points: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """A seeded org, and what one clean run of it does (calls per phase) and leaves (the invariant report)."""
    root = tmp_path_factory.mktemp("crash")
    directory = root / "template"
    sandbox_sf.seed_org(directory, orders=ORDERS, seed=11)
    clean = root / "clean"
    shutil.copytree(directory, clean)
    assert run_killed(clean, None, counts_file=root / "counts.json") in (0, 1)
    report = check_invariants(clean)
    assert report.ok and report.orders_synced > 0, report.problems()
    yield Template(directory, read_counts(root / "counts.json"), report)


def _copy(template: Template, target: Path) -> Path:
    shutil.copytree(template.directory, target)
    return target


@pytest.mark.parametrize("phase", list(Phase), ids=[p.value for p in Phase])
def test_a_rerun_after_kills_restores_the_invariant(
    phase: Phase, template: Template, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally()
    for seed in range(SEEDS_PER_PHASE):
        rng = random.Random(f"{phase.value}-{seed}")
        directory = _copy(template, tmp_path / f"seed-{seed}")
        points = [KillPoint.choose(rng, template.counts, phase)]
        if rng.random() < SECOND_KILL:
            points.append(KillPoint.choose(rng, template.counts))
        for point in points:
            tally.runs += 1
            killed = run_killed(directory, point) == -9
            tally.kills += killed
            tally.points.append(f"{seed}:{point}{'' if killed else '(finished)'}")
        if rng.random() < KEYS_EXPIRED:
            sandbox_stripe.expire_idempotency_keys(directory)
            tally.points[-1] += "+expired"

        assert run_killed(directory, None) in (0, 1)
        tally.runs += 1

        report = check_invariants(directory)
        case = f"phase {phase.value}, seed {seed}, kills {[str(p) for p in points]}"
        tally.orders_synced += report.orders_synced
        tally.duplicates += len(report.duplicates)
        tally.lost += len(report.lost)
        assert report.ok, f"{case}: {report.problems()}"
        assert report.orders_synced == template.clean.orders_synced, case
        assert report.orders_data_errors == template.clean.orders_data_errors, case
        assert not report.orders_errored and not report.orders_pending, f"{case}: {report}"
    assert tally.kills, f"no run was killed in {phase.value}: the test proves nothing"
    with capsys.disabled():
        print(
            f"\ncrash point {phase.value:<10} runs {tally.runs:>3}  kills {tally.kills:>3}  orders synced "
            f"{tally.orders_synced:>4}  duplicates {tally.duplicates}  lost {tally.lost}  [{', '.join(tally.points)}]"
        )


@pytest.mark.parametrize(
    ("kills", "expired"),
    [
        # Dead before the write-back of the layer that creates and at once cancels an evergreen subscription (its
        # contract's cancellation is past): the rerun replays the create, and the cancel, a DELETE that Stripe does
        # not replay by key, must not fail on the cancelled subscription.
        (["write-back:3:sent", "write-back:6:sent"], False),
        # The same after Stripe forgot the keys: the lookup must list cancelled subscriptions too, or it makes a second.
        (["write-back:3:sent", "extract:2:applied"], True),
    ],
    ids=["replayed-cancel", "expired-keys-cancelled-subscription"],
)
def test_found_crash_cases_stay_fixed(kills: list[str], expired: bool, template: Template, tmp_path: Path) -> None:
    """Cases the seeded search found (holes closed in cpq_sync/stripe/apply.py), replayed exactly."""
    directory = _copy(template, tmp_path / "case")
    for point in kills:
        run_killed(directory, KillPoint.parse(point))
    if expired:
        sandbox_stripe.expire_idempotency_keys(directory)
    assert run_killed(directory, None) in (0, 1)
    report = check_invariants(directory)
    assert report.ok, report.problems()
    assert report.orders_synced == template.clean.orders_synced
    assert not report.orders_errored, report.orders_errored
