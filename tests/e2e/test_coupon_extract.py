"""Extracting the coupons of a run's orders from the sandbox org through the real simple-salesforce client: few
queries (one per association object, per chunk of ids, or all of them in one query when that takes fewer calls) and
every order gets exactly its quote's and its lines' coupons."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from cpq_sync.config import DEFAULT_MAPPINGS_DIR
from cpq_sync.mapping.loader import load_mappings
from cpq_sync.salesforce import coupons as coupon_extract
from cpq_sync.salesforce import extract as extract_module
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.extract import FieldLists, Window, extract_orders
from cpq_sync.salesforce.filters import SyncFilters
from cpq_sync.sandbox import salesforce as sandbox_sf


class CountingOrg(OrgClient):
    def __init__(self, directory: Path) -> None:
        super().__init__(lambda: sandbox_sf.connect(directory))
        self.queries: list[str] = []

    def first_page(self, soql: str, *, narrowable: bool = False) -> dict[str, Any]:
        self.queries.append(soql)
        return super().first_page(soql, narrowable=narrowable)


@pytest.fixture(scope="module")
def org_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("coupon-extract")
    sandbox_sf.seed_org(directory, orders=40, seed=7)
    return directory


def _extract(org: CountingOrg, directory: Path) -> Any:
    fields = FieldLists.build(load_mappings(DEFAULT_MAPPINGS_DIR))
    extracted = extract_orders(org, fields, Window(since=None, until=sandbox_sf.now(directory)), SyncFilters())
    org.queries.clear()
    coupon_extract.attach_coupons(org, fields.coupon, extracted)
    return extracted


def _expected(directory: Path, bundle: Any) -> tuple[list[str], dict[str, list[str]]]:
    sf = sandbox_sf.connect(directory)
    soql = "SELECT Quote_Stripe_Coupon__c FROM Quote_Stripe_Coupon_Association__c WHERE Quote__c = '{}' ORDER BY Id"
    quote = [r["Quote_Stripe_Coupon__c"] for r in sf.query_all(soql.format(bundle.order.quote_id))["records"]]
    lines: dict[str, list[str]] = {}
    for item in bundle.items:
        if item.quote_line_id:
            soql = (
                "SELECT Quote_Stripe_Coupon__c FROM Quote_Line_Stripe_Coupon_Association__c "
                f"WHERE Quote_Line__c = '{item.quote_line_id}' ORDER BY Id"
            )
            found = [r["Quote_Stripe_Coupon__c"] for r in sf.query_all(soql)["records"]]
            if found:
                lines[item.id] = found
    return quote, lines


@pytest.mark.parametrize("chunk", [200, 7])
def test_each_order_gets_its_coupons_in_one_query_per_association_object_and_chunk(
    org_dir: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extract_module, "ID_CHUNK", chunk)
    org = CountingOrg(org_dir)
    extracted = _extract(org, org_dir)

    quotes = {b.order.quote_id for b in extracted.bundles if b.order.quote_id}
    lines = {i.quote_line_id for b in extracted.bundles for i in b.items if i.quote_line_id}
    on_quotes = [q for q in org.queries if "FROM Quote_Stripe_Coupon_Association__c" in q]
    on_lines = [q for q in org.queries if "FROM Quote_Line_Stripe_Coupon_Association__c" in q]
    assert len(org.queries) == len(on_quotes) + len(on_lines)
    if chunk == 200:  # one query per association object and chunk of ids
        assert len(on_quotes) == math.ceil(len(quotes) / chunk) and len(on_lines) == math.ceil(len(lines) / chunk)
    else:  # more chunks than the org has pages of associations: each object's associations read in one query
        assert math.ceil(len(lines) / chunk) > 1
        assert len(on_quotes) == len(on_lines) == 1 and "IN (" not in on_lines[0]
    assert "quote_stripe_coupon__r.percent_off__c" in on_quotes[0].lower()  # the coupon comes along as parent paths

    with_coupons = 0
    for bundle in extracted.bundles:
        quote, by_line = _expected(org_dir, bundle)
        assert [c.id for c in bundle.quote_coupons] == quote
        assert {k: [c.id for c in v] for k, v in bundle.line_coupons.items()} == by_line
        with_coupons += bool(quote or by_line)
        for coupon in [*bundle.quote_coupons, *(c for v in bundle.line_coupons.values() for c in v)]:
            assert coupon.duration in ("once", "repeating", "forever")
            assert (coupon.percent_off is None) != (coupon.amount_off is None)
    assert with_coupons == 3  # the seed's three coupon orders
