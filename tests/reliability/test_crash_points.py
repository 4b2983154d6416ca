"""Crash consistency: the sync is killed (SIGKILL) at seeded points of extract, apply and write-back, once or twice
in a row (sometimes so long before the rerun that Stripe forgot the idempotency keys), and one clean rerun restores
the invariant: every eligible order in Stripe exactly once, nothing lost, every Stripe object referenced from
Salesforce, no false Success, and the billing preview equal to what CPQ sold.

A failing case names its seed and kill points; `KillPoint.parse` and `run_killed` replay it exactly.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from cpq_sync.ops.invariants import check_invariants
from cpq_sync.sandbox import stripe as sandbox_stripe
from tests.e2e.support import stripe_posts as stripe_writes
from tests.reliability.kill_points import CrashTemplate, KillPoint, Phase, crash_case, make_template, run_killed

ORDERS = 40  # every kind the seed makes: new, one-time, evergreen, amendments, termination, renewal, ...
SEEDS_PER_PHASE = 2


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> CrashTemplate:
    return make_template(tmp_path_factory.mktemp("crash"), orders=ORDERS, seed=11)


@pytest.mark.parametrize("phase", list(Phase), ids=[p.value for p in Phase])
def test_a_rerun_after_kills_restores_the_invariant(
    phase: Phase, template: CrashTemplate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = kills = synced = duplicates = lost = 0
    points: list[str] = []
    for seed in range(SEEDS_PER_PHASE):
        case = crash_case(template, tmp_path / f"seed-{seed}", phase, random.Random(f"{phase.value}-{seed}"))
        assert case.report is not None
        runs, kills, synced = runs + case.runs, kills + case.kills, synced + case.report.orders_synced
        duplicates, lost = duplicates + len(case.report.duplicates), lost + len(case.report.lost)
        points += [f"{seed}:{p}" for p in case.points]
        assert not case.problems(template), f"phase {phase.value}, seed {seed}, kills {case.points}"
    assert kills, f"no run was killed in {phase.value}: the test proves nothing"
    with capsys.disabled():
        print(
            f"\ncrash point {phase.value:<10} runs {runs:>3}  kills {kills:>3}  orders synced {synced:>4}  "
            f"duplicates {duplicates}  lost {lost}  [{', '.join(points)}]"
        )


@pytest.mark.parametrize(
    ("kills", "expired"),
    [
        # Dead before the first Collection of Stripe ids (this org's ids fit in one, written once apply is done),
        # after creating and at once cancelling an evergreen subscription (its contract's cancellation is past):
        # the rerun replays the create, and the cancel, a DELETE that Stripe does not replay by key, must not fail on
        # the cancelled subscription. (Killed again at its last write, the watermark.)
        (["write-back:1:sent", "write-back:4:sent"], False),
        # The same after Stripe forgot the keys: the lookup must list cancelled subscriptions too, or it makes a second.
        (["write-back:1:sent", "extract:2:applied"], True),
    ],
    ids=["replayed-cancel", "expired-keys-cancelled-subscription"],
)
def test_found_crash_cases_stay_fixed(kills: list[str], expired: bool, template: CrashTemplate, tmp_path: Path) -> None:
    """Cases the seeded search found (holes closed in cpq_sync/stripe/apply.py), replayed exactly."""
    directory = tmp_path / "case"
    shutil.copytree(template.directory, directory)
    for point in kills:
        run_killed(directory, KillPoint.parse(point))
    if expired:
        sandbox_stripe.expire_idempotency_keys(directory)
    assert run_killed(directory, None) in (0, 1)
    report = check_invariants(directory)
    assert report.ok, report.problems()
    assert report.orders_synced == template.clean.orders_synced
    assert not report.orders_errored, report.orders_errored


def test_a_one_time_invoice_interrupted_twice_is_billed_once(template: CrashTemplate, tmp_path: Path) -> None:
    """Killed just after creating a one-time order's draft invoice, then the recovering run killed just after creating
    its replacement (one Stripe write at a time, so the points are exact): the third run deletes that draft and bills
    the order once. (Recovery used one fixed key for the replacement, which then replayed the deleted draft.)"""
    serial = {"CPQ_SYNC_STRIPE_CONCURRENCY": "1"}
    directory = tmp_path / "invoice"
    shutil.copytree(template.directory, directory)

    def next_invoice_create() -> int:
        """The index among a clean run's Stripe writes (from `directory` as it is) of its first invoice create."""
        probe = tmp_path / "probe"
        shutil.rmtree(probe, ignore_errors=True)
        shutil.copytree(directory, probe)
        before = len(stripe_writes(probe))
        assert run_killed(probe, None, env=serial) in (0, 1)
        writes = stripe_writes(probe)[before:]
        return next(n for n, r in enumerate(writes, start=1) if r.path == "/v1/invoices")

    for _ in range(2):
        point = KillPoint(phase=Phase.APPLY, k=next_invoice_create(), applied=True)
        assert run_killed(directory, point, env=serial) == -9
    assert run_killed(directory, None, env=serial) in (0, 1)
    report = check_invariants(directory)
    assert report.ok, report.problems()
    assert report.orders_synced == template.clean.orders_synced
    assert not report.orders_errored, report.orders_errored
