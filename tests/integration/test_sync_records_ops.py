"""Operator queries on Sync Records against the sandbox org, through the real simple-salesforce client: which
records to rerun (latest Sync Record is an Error) and retention (newest N Success/Resolved kept, Errors never)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cpq_sync.desired import SfRef
from cpq_sync.ops.sync_records import failed_records, prune_sync_records
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.write_back import Status, SyncRecord, resolve_earlier_errors, upsert_sync_records
from cpq_sync.sandbox import salesforce as sandbox_sf


@pytest.fixture
def org(tmp_path: Path) -> tuple[OrgClient, Path]:
    sandbox_sf.connect(tmp_path)  # an empty org with the project's metadata
    return OrgClient(lambda: sandbox_sf.connect(tmp_path)), tmp_path


def _record(kind: str, primary: str, status: Status, secondary: str | None = None) -> SyncRecord:
    return SyncRecord(SfRef(kind, primary), SfRef(kind, secondary or primary), status, f"{status.value} {primary}")


def _tick(directory: Path, seconds: int) -> None:
    sandbox_sf.set_clock(directory, sandbox_sf.now(directory) + dt.timedelta(seconds=seconds))


def _statuses(directory: Path) -> list[tuple[str, str]]:
    sf = sandbox_sf.connect(directory)
    rows = sf.query_all("SELECT Primary_Record_ID__c, Resolution_Status__c FROM Sync_Record__c")["records"]
    return sorted((r["Primary_Record_ID__c"], r["Resolution_Status__c"]) for r in rows)


def test_failed_records_are_those_whose_latest_sync_record_is_an_error(org: tuple[OrgClient, Path]) -> None:
    client, directory = org
    upsert_sync_records(
        client,
        [
            _record("Order", "801A", Status.ERROR, "802A1"),
            _record("Order", "801B", Status.ERROR),
            _record("Account", "001C", Status.ERROR),
            _record("Order", "801D", Status.SUCCESS),
        ],
        livemode=False,
    )
    _tick(directory, 60)
    # 801B synced since: its error becomes Resolved, as the sync does it.
    upsert_sync_records(client, [_record("Order", "801B", Status.SUCCESS)], livemode=False)
    resolve_earlier_errors(client, ["801B"])

    failed = failed_records(client)
    assert failed.by_type == {"Account": ["001C"], "Order": ["801A"]}
    assert failed_records(client, object_type="Account").by_type == {"Account": ["001C"]}
    later = sandbox_sf.now(directory) + dt.timedelta(seconds=1)
    assert failed_records(client, since=later).total == 0


def test_prune_keeps_the_newest_successes_and_every_unresolved_error(org: tuple[OrgClient, Path]) -> None:
    client, directory = org
    for n in range(5):
        upsert_sync_records(client, [_record("Order", f"801S{n}", Status.SUCCESS)], livemode=False)
        _tick(directory, 10)
    upsert_sync_records(
        client,
        [_record("Order", "801E", Status.ERROR), _record("Order", "801R", Status.RESOLVED)],
        livemode=False,
    )

    result = prune_sync_records(client, keep=2)
    assert (result.kept, result.deleted, result.problems) == (2, 4, ())
    # The newest two of Success/Resolved: 801R and 801S4; the Error stays whatever its age.
    assert _statuses(directory) == [("801E", "Error"), ("801R", "Resolved"), ("801S4", "Success")]
    assert prune_sync_records(client, keep=0).deleted == 2
    assert _statuses(directory) == [("801E", "Error")]


def test_prune_deletes_in_collections_of_200(org: tuple[OrgClient, Path]) -> None:
    client, directory = org
    upsert_sync_records(client, [_record("Order", f"801X{n:03}", Status.SUCCESS) for n in range(450)], livemode=False)
    before = sandbox_sf.api_calls(directory)
    result = prune_sync_records(client, keep=10)
    assert result.deleted == 440
    # one query page (2,000 a page) and three DELETE calls of at most 200 ids
    assert sandbox_sf.api_calls(directory) - before == 4
    assert len(_statuses(directory)) == 10
