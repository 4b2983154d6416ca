"""Extraction against the sandbox org through the real simple-salesforce client: REST and Bulk API 2.0 give the
same records, in few calls."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cpq_sync.config import DEFAULT_MAPPINGS_DIR
from cpq_sync.mapping.loader import load_mappings
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.extract import FieldLists, Window, extract_orders
from cpq_sync.salesforce.filters import SyncFilters
from cpq_sync.sandbox import salesforce as sandbox_sf


@pytest.fixture(scope="module")
def org_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("org")
    sandbox_sf.seed_org(directory, orders=60, seed=5)
    return directory


def _extract(directory: Path, **kwargs: int) -> tuple[OrgClient, object]:
    org = OrgClient(lambda: sandbox_sf.connect(directory, page_size=7))
    fields = FieldLists.build(load_mappings(DEFAULT_MAPPINGS_DIR))
    window = Window(since=None, until=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
    filters = SyncFilters.from_preferences({"Order": "Status = 'Activated'"})
    return org, extract_orders(org, fields, window, filters, **kwargs)


def _snapshot(extracted: object) -> dict[str, object]:
    bundles = extracted.bundles  # type: ignore[attr-defined]
    return {
        b.order.id: (
            b.order.model_dump(exclude={"values"}),
            [(i.id, i.quantity, i.unit_price, i.billing_frequency) for i in b.items],  # in the same order
            b.account.model_dump(exclude={"values"}),
            sorted(b.pricebook_entries),
        )
        for b in bundles
    }


def test_rest_and_bulk_extracts_are_the_same(org_dir: Path) -> None:
    _, rest = _extract(org_dir)
    _, bulk = _extract(org_dir, bulk_threshold=0)
    assert rest.orders_seen == bulk.orders_seen > 40  # type: ignore[attr-defined]
    assert _snapshot(rest) == _snapshot(bulk)
    assert rest.failures == bulk.failures == []  # type: ignore[attr-defined]


def test_rest_extract_pages_and_counts_calls(org_dir: Path) -> None:
    org, extracted = _extract(org_dir)
    seen = extracted.orders_seen  # type: ignore[attr-defined]
    pages = -(-seen // 7)
    assert org.calls_used() == 1 + pages  # a full window: COUNT(), then one call per page of 7 orders with lines


def test_drafts_and_deleted_orders_are_not_extracted(org_dir: Path) -> None:
    _, extracted = _extract(org_dir)
    sf = sandbox_sf.connect(org_dir)
    every = sf.query_all("SELECT Id, Description FROM Order", include_deleted=True)["records"]
    left_alone = {o["Id"] for o in every if o["Description"] in ("kind: draft", "kind: deleted")}
    extracted_ids = {b.order.id for b in extracted.bundles}  # type: ignore[attr-defined]
    assert len(left_alone) >= 4
    assert extracted_ids and not extracted_ids & left_alone
    assert len(extracted_ids) == len(every) - len(left_alone)
