"""Issue 6 end to end: a real Prefect server and process worker on loopback (temporary PREFECT_HOME), the
deployments of prefect.yaml, driven through the server's REST API as the UI's buttons do, on the two sandboxes.

The stack is the one `cpq-sync up` starts (cpq_sync.ops.stack), on a free port; every process it starts is
stopped by its PID at the end, and the last test checks none is left.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cpq_sync.ops.runs import PrefectApi
from cpq_sync.ops.stack import Stack
from cpq_sync.sandbox import salesforce as sandbox_sf
from tests.e2e import browser
from tests.e2e.support import account_id, connect_both, create_order, sync_records

pytestmark = [pytest.mark.xdist_group("prefect-stack"), pytest.mark.slow]

# A short live-sync interval keeps the test bounded; the latency it prints is measured with it.
LIVE_INTERVAL = int(os.environ.get("CPQ_SYNC_E2E_LIVE_INTERVAL", "10"))


@dataclass
class Running:
    stack: Stack
    api: PrefectApi
    sandbox: Path
    pids: list[int]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("stack")
    sandbox = root / "sandbox"
    sandbox_sf.seed_org(sandbox, orders=12, seed=7)
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("SALESFORCE_", "STRIPE_", "CPQ_SYNC_")) and name != "CPQ_SYNC_E2E_LIVE_INTERVAL":
                mp.delenv(name)
        stack = Stack(home=root / "prefect", port=_free_port(), extra_env={"CPQ_SYNC_SANDBOX": str(sandbox)})
        pids = [stack.start_server()]
        try:
            stack.deploy()
            pids.append(stack.start_worker())
            api = PrefectApi(stack.api_url)
            yield Running(stack, api, sandbox, pids)
            api.close()
        finally:
            stack.stop()


def _cli(running: Running, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cpq_sync.cli", *args],
        env=running.stack.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _today(running: Running) -> dt.date:
    return sandbox_sf.now(running.sandbox).date().replace(day=1)


def test_bad_parameters_are_refused_before_a_run_starts(running: Running) -> None:
    with pytest.raises(RuntimeError, match=r"409.*does not match"):
        running.api.create_run("sync-orders/sync-orders", {"parameters": {"order_ids": ["not an id!"]}})
    with pytest.raises(RuntimeError, match="409"):
        running.api.create_run("prune-sync-records/prune-sync-records", {"parameters": {"keep": -1}})
    assert running.api.runs_of("sync-orders/sync-orders") == []


def test_sync_orders_while_live_sync_is_paused(running: Running) -> None:
    running.api.set_schedule_active("sync/incremental", False)
    assert "Live sync is off" in _cli(running, "live", "status")
    sf, stripe = connect_both(running.sandbox)
    order_id, _ = create_order(sf, account_id(sf, "Acme%"), [("Platform Subscription", 5)], start=_today(running))

    result = running.api.run("sync-orders/sync-orders", {"parameters": {"order_ids": [order_id]}}, timeout=180)
    assert result.state == "COMPLETED", result.message
    schedule_id = sf.Order.get(order_id)["Stripe_ID__c"]
    schedule = stripe.v1.subscription_schedules.retrieve(schedule_id)
    assert schedule.phases[0]["items"][0].quantity == 5
    assert [r["Resolution_Status__c"] for r in sync_records(sf, order_id)] == ["Success"]
    # The summary artifact: counts, API calls on both sides, duration, and the table with links.
    assert "| 1 |" in result.summary and "Stripe requests" in result.summary and "Duration" in result.summary
    table = result.artifacts["sync-objects"]
    assert f"/subscription_schedules/{schedule_id}" in str(table)
    # The libraries' logs are in the run's logs (PREFECT_LOGGING_EXTRA_LOGGERS), with no secret in them.
    deadline = time.monotonic() + 20  # logs are shipped in batches, possibly after the final state
    while not {"stripe", "cpq_sync"} <= (names := {log["name"].split(".")[0] for log in running.api.logs(result.id)}):
        assert time.monotonic() < deadline, names
        time.sleep(1)
    # Live sync was off all along: no incremental run happened.
    assert running.api.runs_of("sync/incremental") == []


def test_a_failed_order_fixed_in_the_org_is_resolved_by_rerun_failed(running: Running) -> None:
    sf, stripe = connect_both(running.sandbox)
    # A line with a negative quantity fails the order (the Error Sync Record names the line and field).
    order_id, (line_id,) = create_order(
        sf, account_id(sf, "Acme%"), [("Platform Subscription", -2)], start=_today(running)
    )
    first = running.api.run("sync-orders/sync-orders", {"parameters": {"order_ids": [order_id]}}, timeout=180)
    assert first.state == "COMPLETED", first.message
    (error,) = sync_records(sf, order_id)
    assert error["Resolution_Status__c"] == "Error"
    assert error["Secondary_Record_ID__c"] == line_id and "Quantity" in error["Resolution_Message__c"]
    assert not sf.Order.get(order_id)["Stripe_ID__c"]

    sf.OrderItem.update(line_id, {"Quantity": 2})  # the user fixes the line in the org
    rerun = running.api.run("rerun-failed/rerun-failed", {"parameters": {"object_type": "Order"}}, timeout=180)
    assert rerun.state == "COMPLETED", rerun.message
    schedule_id = sf.Order.get(order_id)["Stripe_ID__c"]
    assert stripe.v1.subscription_schedules.retrieve(schedule_id).phases[0]["items"][0].quantity == 2
    statuses = {r["Compound_ID__c"]: r["Resolution_Status__c"] for r in sync_records(sf, order_id)}
    assert statuses[error["Compound_ID__c"]] == "Resolved"
    assert statuses[f"{order_id}-{order_id}"] == "Success"


def test_live_sync_on_syncs_a_new_order_within_the_interval(running: Running) -> None:
    _cli(running, "live", "off", "--interval", str(LIVE_INTERVAL))
    running.api.set_schedule_active("sync/incremental", True)  # the UI's toggle
    assert f"Live sync is on every {LIVE_INTERVAL}s" in _cli(running, "live", "status")
    sf, stripe = connect_both(running.sandbox)
    activated = time.monotonic()
    order_id, _ = create_order(sf, account_id(sf, "Acme%"), [("Platform Subscription", 7)], start=_today(running))
    deadline = activated + 150
    while not sf.Order.get(order_id)["Stripe_ID__c"]:
        assert time.monotonic() < deadline, "the live sync did not pick the order up"
        time.sleep(0.5)
    latency = time.monotonic() - activated
    print(f"\nactivation-to-Stripe latency: {latency:.1f}s (live-sync interval {LIVE_INTERVAL}s)")
    schedule = stripe.v1.subscription_schedules.retrieve(sf.Order.get(order_id)["Stripe_ID__c"])
    assert schedule.phases[0]["items"][0].quantity == 7
    runs = running.api.runs_of("sync/incremental")
    assert runs and all(r["auto_scheduled"] for r in runs)

    _cli(running, "live", "off")
    assert "Live sync is off" in _cli(running, "live", "status")
    for run in running.api.runs_of("sync/incremental"):  # a run the schedule started before the pause ends first
        state = run["state"] or {}
        if state.get("type") in ("PENDING", "RUNNING") or state.get("name") == "Late":
            running.api.wait(run["id"], timeout=180)


def test_an_incremental_run_does_not_start_while_the_previous_one_runs(running: Running) -> None:
    first = running.api.create_run("sync/incremental")
    second = running.api.create_run("sync/incremental")
    states = sorted(running.api.wait(run, timeout=180).state for run in (first, second))
    assert states == ["CANCELLED", "COMPLETED"]


def test_prune_sync_records_keeps_the_newest_and_every_error(running: Running) -> None:
    sf, _ = connect_both(running.sandbox)

    def count(status: str) -> int:
        soql = f"SELECT COUNT() FROM Sync_Record__c WHERE Resolution_Status__c = '{status}'"
        return int(sf.query(soql)["totalSize"])

    errors = count("Error")
    assert count("Success") + count("Resolved") > 2
    result = running.api.run("prune-sync-records/prune-sync-records", {"parameters": {"keep": 2}}, timeout=180)
    assert result.state == "COMPLETED", result.message
    assert count("Success") + count("Resolved") == 2
    assert count("Error") == errors
    assert "Kept the newest 2" in result.summary


def test_the_ui_runs_sync_orders_for_an_order_id(running: Running) -> None:
    """Headless Chromium: Deployments -> sync-orders -> Run -> Custom run -> Order Ids: Add item -> Submit -> the run
    reaches Completed with the summary artifact."""
    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    sf, _ = connect_both(running.sandbox)
    order_id, _ = create_order(sf, account_id(sf, "Acme%"), [("Platform Subscription", 3)], start=_today(running))
    with browser.chromium() as driver:
        wait = WebDriverWait(driver, 60)

        def click(xpath: str) -> None:
            driver.execute_script("arguments[0].click()", wait.until(ec.presence_of_element_located((By.XPATH, xpath))))

        driver.get(f"{running.stack.ui_url}/deployments")
        click("//a[normalize-space()='sync-orders' and contains(@href, '/deployments/deployment/')]")
        click("//button[normalize-space()='Run']")
        click("(//*[normalize-space()='Custom run'])[last()]")
        click("(//button[normalize-space()='Add item'])[1]")  # the first list of the form: Order Ids
        wait.until(ec.element_to_be_clickable((By.XPATH, "(//textarea)[1]"))).send_keys(order_id)
        click("//button[normalize-space()='Submit']")
        # The run the form created (the server's view of the click), then its page, as from the runs list.
        deadline = time.monotonic() + 90
        while not (
            runs := [
                r
                for r in running.api.runs_of("sync-orders/sync-orders")
                if r["parameters"].get("parameters", {}).get("order_ids") == [order_id]
            ]
        ):
            assert time.monotonic() < deadline, "the form's Submit created no run"
            time.sleep(0.5)
        run_name = runs[0]["name"]
        try:
            soon = WebDriverWait(driver, 10)
            link = soon.until(ec.presence_of_element_located((By.XPATH, f"//a[normalize-space()='{run_name}']")))
            driver.execute_script("arguments[0].click()", link)
            soon.until(ec.url_contains("/runs/flow-run/"))
        except TimeoutException:  # the list had not refreshed yet
            driver.get(f"{running.stack.ui_url}/runs/flow-run/{runs[0]['id']}")
        run_id = driver.current_url.rstrip("/").split("/")[-1].split("?")[0]
        WebDriverWait(driver, 180, poll_frequency=1).until(
            ec.presence_of_element_located((By.XPATH, "//*[normalize-space()='Completed']"))
        )
        # The Artifacts tab, clicked again until it shows the summary (under load a click can land while the page
        # re-renders for the new state and be lost; the artifact itself is made before the run completes).
        summary = "//*[normalize-space()='sync-summary']"
        deadline = time.monotonic() + 60
        while True:
            click("//li[normalize-space()='Artifacts']")
            try:
                WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.XPATH, summary)))
                break
            except TimeoutException:
                assert time.monotonic() < deadline, "the run's Artifacts tab shows no sync-summary"
    run = running.api.flow_run(run_id)
    assert run["state"]["type"] == "COMPLETED"
    assert run["parameters"]["parameters"]["order_ids"] == [order_id]  # what the form sent
    assert sf.Order.get(order_id)["Stripe_ID__c"].startswith("sub_sched_")


def test_stop_ends_every_process_it_started(running: Running) -> None:
    stopped = running.stack.stop()
    assert sorted(stopped) == sorted(running.pids)
    for pid in running.pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
