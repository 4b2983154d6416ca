"""A Prefect worker killed (SIGKILL, with its flow-run process) in the middle of a full backfill's apply, a new
worker started, and the run retried with the UI's Retry button: the retried run completes and the invariant holds
(every eligible order in Stripe exactly once, nothing lost, everything referenced, no false Success, money equal).

A real local server and process worker (cpq_sync.ops.stack, as `cpq-sync up` starts them) on a free port. Prefect
does not notice a killed worker by itself: its run stays Running until something marks it Crashed (a zombie-run
automation on missed heartbeats, or an operator's Change state); the test marks it Crashed through the API as those
do, then presses Retry (which the UI offers for terminal runs only).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpq_sync.ops.invariants import check_invariants
from cpq_sync.ops.runs import PrefectApi
from cpq_sync.ops.stack import Stack
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from tests.e2e import browser

pytestmark = [pytest.mark.xdist_group("prefect-stack"), pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    """Every process under `pid` (the flow-run process the worker started runs in a session of its own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_worker(stack: Stack) -> list[int]:
    """SIGKILLs the worker and every process it started, by their ids; returns them."""
    worker = stack._procs["worker"]
    victims = [worker.pid, *_descendants(worker.pid)]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait(30)
    return victims


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    sandbox = tmp_path / "sandbox"
    sandbox_sf.seed_org(sandbox, orders=40, seed=11)
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("SALESFORCE_", "STRIPE_", "CPQ_SYNC_")):
                mp.delenv(name)
        running = Stack(home=tmp_path / "prefect", port=_free_port(), extra_env={"CPQ_SYNC_SANDBOX": str(sandbox)})
        running.start_server()
        try:
            running.deploy()
            yield running
        finally:
            running.stop()


def _press_retry(stack: Stack, api: PrefectApi, run_id: str) -> str:
    """The run page's Retry, then the confirmation's Retry (headless Chromium); without a browser, the request that
    button sends (POST /flow_runs/{id}/set_state AwaitingRetry). Returns how it was done."""
    if browser.missing():
        api._ok(
            api._send(
                "POST",
                f"/flow_runs/{run_id}/set_state",
                json={"state": {"type": "SCHEDULED", "name": "AwaitingRetry", "message": "Retry from the UI"}},
            )
        )
        return "api"
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    with browser.chromium() as driver:
        wait = WebDriverWait(driver, 60)
        driver.get(f"{stack.ui_url}/runs/flow-run/{run_id}")
        wait.until(ec.presence_of_element_located((By.XPATH, "//*[normalize-space()='Crashed']")))
        button = wait.until(ec.element_to_be_clickable((By.XPATH, "//button[normalize-space()='Retry']")))
        driver.execute_script("arguments[0].click()", button)
        retry = "//button[normalize-space()='Retry']"  # the page's, then the confirmation's (its last)
        wait.until(lambda d: len(d.find_elements(By.XPATH, retry)) >= 2)
        driver.execute_script("arguments[0].click()", driver.find_elements(By.XPATH, retry)[-1])
        deadline = time.monotonic() + 30
        while api.flow_run(run_id)["state"]["type"] == "CRASHED":
            assert time.monotonic() < deadline, "the Retry button did not reschedule the run"
            time.sleep(0.5)
    return "ui"


def test_worker_killed_mid_apply_then_retried_from_the_ui(stack: Stack) -> None:
    sandbox = Path(stack.extra_env["CPQ_SYNC_SANDBOX"])
    sandbox_stripe.set_faults(sandbox, sandbox_stripe.StripeFaults(latency_ms=80))  # an apply of several seconds
    stack.start_worker()
    api = PrefectApi(stack.api_url)
    run_id = api.create_run("sync/full-backfill")

    deadline = time.monotonic() + 240
    while len([r for r in sandbox_stripe.request_log(sandbox) if r.method.upper() == "POST"]) < 25:
        assert time.monotonic() < deadline, f"the run did not reach the apply step: {api.flow_run(run_id)['state']}"
        assert api.flow_run(run_id)["state"]["type"] not in ("COMPLETED", "FAILED", "CRASHED")
        time.sleep(0.2)
    victims = _kill_worker(stack)
    assert len(victims) >= 2, "the flow-run process was not found under the worker"
    writes_before = len(sandbox_stripe.request_log(sandbox))
    time.sleep(2)
    assert len(sandbox_stripe.request_log(sandbox)) == writes_before, "something still writes to Stripe"
    assert api.flow_run(run_id)["state"]["type"] == "RUNNING"  # the server cannot know
    api._ok(
        api._send(
            "POST",
            f"/flow_runs/{run_id}/set_state",
            json={"state": {"type": "CRASHED", "message": "worker killed"}, "force": True},
        )
    )
    sandbox_stripe.set_faults(sandbox, None)
    stack.start_worker()

    how = _press_retry(stack, api, run_id)
    result = api.wait(run_id, timeout=360)
    api.close()

    assert result.state == "COMPLETED", result.message
    report = check_invariants(sandbox)
    print(
        f"\nworker crash ({how} retry): orders synced {report.orders_synced}, duplicates {len(report.duplicates)}, "
        f"lost {len(report.lost)}"
    )
    assert report.ok, report.problems()
    assert report.orders_synced > 0 and not report.orders_errored and not report.orders_pending, report
