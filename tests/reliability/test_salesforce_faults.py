"""The Salesforce faults the sync absorbs on its own, through the real simple-salesforce client: a query that times
out is read again over narrower SystemModstamp windows (and fails clearly when even a second is too much), and
records locked by someone else are written again until they are written."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from cpq_sync.config import DEFAULT_MAPPINGS_DIR
from cpq_sync.desired import SfRef
from cpq_sync.errors import SyncError
from cpq_sync.mapping.loader import load_mappings
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.extract import FieldLists, Window, extract_orders
from cpq_sync.salesforce.filters import SyncFilters
from cpq_sync.salesforce.write_back import StripeIdUpdate, write_stripe_ids
from cpq_sync.sandbox import salesforce as sandbox_sf
from tests.reliability.matrix import fast_backoff


@pytest.fixture(scope="module")
def org_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("org")
    sandbox_sf.seed_org(directory, orders=60, seed=5)
    return directory


def _org(directory: Path, faults: sandbox_sf.SalesforceFaults | None = None) -> OrgClient:
    return OrgClient(lambda: sandbox_sf.connect(directory, page_size=7, faults=faults))


def _extract_ids(org: OrgClient) -> list[str]:
    fields = FieldLists.build(load_mappings(DEFAULT_MAPPINGS_DIR))
    window = Window(since=None, until=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
    filters = SyncFilters.from_preferences({"Order": "Status = 'Activated'"})
    extracted = extract_orders(org, fields, window, filters)
    return sorted(b.order.id for b in extracted.bundles)


def test_a_timed_out_order_query_is_read_again_over_narrower_windows(
    org_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clean = _extract_ids(_org(org_dir))
    faults = sandbox_sf.SalesforceFaults(seed=3, query_timeout_rate=0.4)
    with caplog.at_level(logging.WARNING, logger="cpq_sync.salesforce.extract"), fast_backoff():
        narrowed = _extract_ids(_org(org_dir, faults))
    assert any("QUERY_TIMEOUT" in r.getMessage() and "two halves" in r.getMessage() for r in caplog.records)
    assert narrowed == clean and len(clean) > 40  # every order once: the halves neither overlap nor leave a gap


def test_an_order_query_that_always_times_out_fails_clearly(org_dir: Path) -> None:
    faults = sandbox_sf.SalesforceFaults(query_timeout_rate=1.0)
    with pytest.raises(SyncError) as failure:
        _extract_ids(_org(org_dir, faults))
    message = str(failure.value)
    assert message.startswith("the Order query timed out (QUERY_TIMEOUT) even for the window of SystemModstamp from")
    assert "make the Order sync filter more selective" in message


def test_locked_records_are_written_again_one_by_one(org_dir: Path) -> None:
    sf = sandbox_sf.connect(org_dir)
    accounts = [r["Id"] for r in sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 40")["records"]]
    updates = [StripeIdUpdate(SfRef("Account", a), f"cus_locked{n:04d}", f"hash{n}") for n, a in enumerate(accounts)]
    locking = _org(org_dir, sandbox_sf.SalesforceFaults(seed=11, lock_row_rate=0.3))
    with fast_backoff():
        problems = write_stripe_ids(locking, updates)
    assert problems == []
    written = {r["Id"]: r["Stripe_ID__c"] for r in sf.query("SELECT Id, Stripe_ID__c FROM Account")["records"]}
    assert [written[a] for a in accounts] == [u.stripe_id for u in updates]


def test_records_locked_past_the_retries_are_reported_by_name(org_dir: Path) -> None:
    sf = sandbox_sf.connect(org_dir)
    account = sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 1")["records"][0]["Id"]
    always = _org(org_dir, sandbox_sf.SalesforceFaults(lock_row_rate=1.0))
    with fast_backoff():
        problems = write_stripe_ids(always, [StripeIdUpdate(SfRef("Account", account), "cus_never", "h")])
    assert problems == [
        f"Account {account}: UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record or 1 records"
    ]
