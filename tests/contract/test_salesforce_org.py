"""Contract tests of the Salesforce org, driven through the real simple-salesforce client.

Every test taking the ``org`` fixture runs against the sandbox org (page size 3, so query paging is always
exercised) and, when credentials are set, against a real org:

    SALESFORCE_USERNAME + SALESFORCE_PASSWORD + SALESFORCE_SECURITY_TOKEN [+ SALESFORCE_DOMAIN]
    or SALESFORCE_INSTANCE_URL + SALESFORCE_ACCESS_TOKEN

(the real org needs the project's metadata under ``salesforce/`` deployed). Tests of what only the sandbox has
(fault injection, the settable clock, persistence on disk, page sizes below 200) take ``sandbox_dir``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from cpq_sync.sandbox import salesforce as sandbox
from cpq_sync.sandbox.salesforce import SalesforceFaults
from cpq_sync.sandbox.salesforce.ids import to_18
from cpq_sync.sandbox.salesforce.schema import FieldDef, Schema, SObjectDef, load_schema
from cpq_sync.sandbox.salesforce.store import OrgStore

DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
LIVE_REASON = (
    "no real org: set SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN "
    "(or SALESFORCE_INSTANCE_URL and SALESFORCE_ACCESS_TOKEN) to run the contract against a real org"
)


def _live_client() -> Salesforce | None:
    env = os.environ
    if env.get("SALESFORCE_INSTANCE_URL") and env.get("SALESFORCE_ACCESS_TOKEN"):
        return Salesforce(instance_url=env["SALESFORCE_INSTANCE_URL"], session_id=env["SALESFORCE_ACCESS_TOKEN"])
    if env.get("SALESFORCE_USERNAME") and env.get("SALESFORCE_PASSWORD"):
        return Salesforce(
            username=env["SALESFORCE_USERNAME"],
            password=env["SALESFORCE_PASSWORD"],
            security_token=env.get("SALESFORCE_SECURITY_TOKEN", ""),
            domain=env.get("SALESFORCE_DOMAIN", "login"),
        )
    return None


@dataclass
class Org:
    sf: Salesforce
    kind: str
    page_size: int  # the query page the org uses
    tag: str  # prefix of every record name this module creates
    standard_pricebook: str
    created: list[tuple[str, str]] = field(default_factory=list)

    def create(self, sobject: str, values: dict[str, Any]) -> str:
        result = getattr(self.sf, sobject).create(values)
        assert result["success"] is True and result["errors"] == []
        self.created.append((sobject, result["id"]))
        return str(result["id"])

    def name(self, what: str) -> str:
        return f"{self.tag}-{what}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module", params=["sandbox", pytest.param("live", marks=pytest.mark.live)])
def org(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    tag = f"ct{uuid.uuid4().hex[:8]}"
    if request.param == "live":
        sf = _live_client()
        if sf is None:
            pytest.skip(LIVE_REASON)
        pricebook = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
        the_org = Org(sf, "live", 2000, tag, pricebook)
    else:
        directory = tmp_path_factory.mktemp("sf-org")
        store = OrgStore.open(directory)
        # The standard price book exists in every real org; it is not createable through the API.
        pricebook = store.insert_many("Pricebook2", [{"Name": "Standard Price Book", "IsStandard": True}])[0]
        the_org = Org(sandbox.connect(directory, page_size=3), "sandbox", 3, tag, pricebook)
    yield the_org
    if the_org.kind == "live":
        for sobject, record_id in reversed(the_org.created):
            with contextlib.suppress(SalesforceError):
                getattr(the_org.sf, sobject).delete(record_id)


@dataclass
class Dataset:
    accounts: dict[str, str]
    products: dict[str, str]
    orders: dict[str, str]
    items: dict[str, str]


@pytest.fixture(scope="module")
def data(org: Org) -> Dataset:
    """A small CPQ-shaped dataset built through the API: 3 accounts, 2 products, 3 orders, 4 lines."""
    t = org.tag
    accounts = {
        "acme": org.create("Account", {"Name": f"{t} Acme", "BillingCity": "Paris", "NumberOfEmployees": 50}),
        "beta": org.create("Account", {"Name": f"{t} Beta", "NumberOfEmployees": 5}),
        "quote": org.create("Account", {"Name": f"{t} O'Brien \\ Sons"}),
    }
    products = {
        "widget": org.create("Product2", {"Name": f"{t} Widget", "IsActive": True}),
        "gadget": org.create("Product2", {"Name": f"{t} Gadget", "IsActive": True}),
    }
    pbes = {
        k: org.create(
            "PricebookEntry",
            {"Pricebook2Id": org.standard_pricebook, "Product2Id": v, "UnitPrice": p, "IsActive": True},
        )
        for (k, v), p in zip(products.items(), (10.0, 20.0), strict=True)
    }
    orders = {
        "o1": org.create(
            "Order",
            {
                "AccountId": accounts["acme"],
                "EffectiveDate": "2024-01-15",
                "Status": "Draft",
                "Pricebook2Id": org.standard_pricebook,
            },
        ),
        "o2": org.create(
            "Order",
            {
                "AccountId": accounts["beta"],
                "EffectiveDate": "2024-02-01",
                "Status": "Draft",
                "Pricebook2Id": org.standard_pricebook,
            },
        ),
        "o3": org.create(
            "Order",
            {
                "AccountId": accounts["acme"],
                "EffectiveDate": "2024-03-01",
                "Status": "Draft",
                "Pricebook2Id": org.standard_pricebook,
            },
        ),
    }
    items = {
        "o1w": org.create(
            "OrderItem",
            {"OrderId": orders["o1"], "PricebookEntryId": pbes["widget"], "Quantity": 1, "UnitPrice": 10},
        ),
        "o1g": org.create(
            "OrderItem",
            {"OrderId": orders["o1"], "PricebookEntryId": pbes["gadget"], "Quantity": 3, "UnitPrice": 18},
        ),
        "o2w": org.create(
            "OrderItem",
            {"OrderId": orders["o2"], "PricebookEntryId": pbes["widget"], "Quantity": 5, "UnitPrice": 9},
        ),
        "o3g": org.create(
            "OrderItem",
            {"OrderId": orders["o3"], "PricebookEntryId": pbes["gadget"], "Quantity": 2, "UnitPrice": 20},
        ),
    }
    for key in ("o1", "o2"):
        assert org.sf.Order.update(orders[key], {"Status": "Activated"}) == 204
    return Dataset(accounts, products, orders, items)


def error_code(exc: SalesforceError) -> str:
    content = exc.content
    assert isinstance(content, list) and content, content
    return str(content[0]["errorCode"])


def error_message(exc: SalesforceError) -> str:
    return str(exc.content[0]["message"])


def names(records: list[dict[str, Any]]) -> list[str]:
    return [r["Name"] for r in records]


# ------------------------------------------------------------ query


def test_query_pages_through_next_records_url(org: Org) -> None:
    prefix = org.name("page")
    created = [f"{prefix}-{i}" for i in range(7)]
    for n in reversed(created):
        org.create("Account", {"Name": n})
    soql = f"SELECT Id, Name FROM Account WHERE Name LIKE '{prefix}%' ORDER BY Name"

    first = org.sf.query(soql)
    assert first["totalSize"] == 7
    if org.page_size < 7:
        assert first["done"] is False
        assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
        assert names(first["records"]) == created[: org.page_size]
        second = org.sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
        assert second["totalSize"] == 7
        assert names(second["records"]) == created[org.page_size : 2 * org.page_size]
    assert names(org.sf.query_all(soql)["records"]) == created
    assert names(list(org.sf.query_all_iter(soql))) == created


def test_query_more_cursor_is_a_snapshot(org: Org) -> None:
    prefix = org.name("snap")
    for i in range(5):
        org.create("Account", {"Name": f"{prefix}-{i}"})
    soql = f"SELECT Name FROM Account WHERE Name LIKE '{prefix}%' ORDER BY Name"
    first = org.sf.query(soql)
    org.create("Account", {"Name": f"{prefix}-0a"})  # lands inside the sorted range after the cursor opened
    rest: list[dict[str, Any]] = []
    page = first
    while not page["done"]:
        page = org.sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
        rest.extend(page["records"])
    assert names(first["records"] + rest) == [f"{prefix}-{i}" for i in range(5)]


def test_records_have_real_ids_attributes_and_datetimes(org: Org, data: Dataset) -> None:
    rec = org.sf.Account.get(data.accounts["acme"])
    assert rec["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{rec['Id']}",
    }
    assert rec["Id"] == to_18(rec["Id"][:15]) and rec["Id"].startswith("001")
    for stamp in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        assert DATETIME_RE.match(rec[stamp]), rec[stamp]
    assert rec["IsDeleted"] is False
    assert rec["BillingAddress"]["city"] == "Paris"
    assert data.orders["o1"].startswith("801") and data.items["o1w"].startswith("802")
    assert data.products["widget"].startswith("01t")
    # A 15-character id is accepted and answered with the 18-character form.
    assert org.sf.Account.get(data.accounts["acme"][:15])["Id"] == data.accounts["acme"]


def test_parent_paths_and_child_subqueries(org: Org, data: Dataset) -> None:
    soql = (
        "SELECT Id, OrderNumber, Account.Name, Account.Owner.Name, "
        "(SELECT Id, Quantity, Product2.Name FROM OrderItems WHERE Quantity > 0 ORDER BY Quantity DESC) "
        f"FROM Order WHERE Account.Name LIKE '{org.tag}%' ORDER BY EffectiveDate"
    )
    records = org.sf.query_all(soql)["records"]
    assert [r["Id"] for r in records] == [data.orders["o1"], data.orders["o2"], data.orders["o3"]]
    first = records[0]
    assert first["Account"]["Name"] == f"{org.tag} Acme"
    assert first["Account"]["attributes"]["type"] == "Account"
    assert isinstance(first["Account"]["Owner"]["Name"], str)
    lines = first["OrderItems"]
    assert lines["totalSize"] == 2 and lines["done"] is True
    assert [r["Quantity"] for r in lines["records"]] == [3.0, 1.0]
    assert lines["records"][0]["Product2"]["Name"] == f"{org.tag} Gadget"
    # Order numbers are auto-numbers, read-only and distinct.
    assert len({r["OrderNumber"] for r in records}) == 3


def test_child_subquery_without_matches_is_null(org: Org, data: Dataset) -> None:
    soql = f"SELECT Id, (SELECT Id FROM OrderItems WHERE Quantity > 100) FROM Order WHERE Id = '{data.orders['o1']}'"
    assert org.sf.query(soql)["records"][0]["OrderItems"] is None


def test_count_and_case_insensitive_identifiers(org: Org, data: Dataset) -> None:
    result = org.sf.query(f"select count() from ORDER where account.NAME like '{org.tag}%'")
    assert result["totalSize"] == 3 and result["records"] == []
    rows = org.sf.query(f"sElEcT iD, nAmE FrOm aCcOuNt WhErE iD = '{data.accounts['beta']}'")["records"]
    assert rows[0]["Name"] == f"{org.tag} Beta" and "Id" in rows[0]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("NumberOfEmployees = 50", ["acme"]),
        ("NumberOfEmployees != 50", ["beta", "quote"]),  # != keeps nulls in SOQL
        ("NumberOfEmployees < 50", ["beta"]),
        ("NumberOfEmployees <= 50", ["acme", "beta"]),
        ("NumberOfEmployees > 5", ["acme"]),
        ("NumberOfEmployees >= 5", ["acme", "beta"]),
        ("NumberOfEmployees = null", ["quote"]),
        ("NumberOfEmployees != null", ["acme", "beta"]),
        ("BillingCity IN ('paris', 'Lyon')", ["acme"]),
        ("BillingCity NOT IN ('Paris')", ["beta", "quote"]),
        ("Name LIKE '%acme'", ["acme"]),
        ("Name LIKE '%O\\'Brien \\\\ Sons'", ["quote"]),
        ("Name = 'TAGGED BETA'", ["beta"]),
        ("NOT Name LIKE '%Acme'", ["beta", "quote"]),
        ("(NumberOfEmployees = 5 OR BillingCity = 'Paris') AND NOT (Name LIKE '%Beta')", ["acme"]),
        ("IsDeleted = false AND NumberOfEmployees > 1.5", ["acme", "beta"]),
        ("Id IN (SELECT AccountId FROM Order WHERE Status = 'Activated')", ["acme", "beta"]),
        ("Id NOT IN (SELECT AccountId FROM Order)", ["quote"]),
        (
            "CreatedDate > 2000-01-01T00:00:00Z AND CreatedDate < 2999-01-01T00:00:00+05:00",
            ["acme", "beta", "quote"],
        ),
        ("CreatedDate = LAST_N_DAYS:2", ["acme", "beta", "quote"]),
        ("CreatedDate < YESTERDAY", []),
    ],
)
def test_where_operators(org: Org, data: Dataset, where: str, expected: list[str]) -> None:
    where = where.replace("TAGGED", org.tag)
    soql = f"SELECT Id FROM Account WHERE Name LIKE '{org.tag} %' AND ({where}) ORDER BY Name"
    got = [r["Id"] for r in org.sf.query_all(soql)["records"]]
    assert got == [data.accounts[k] for k in expected]


def test_datetime_literals_compare_as_instants(org: Org, data: Dataset) -> None:
    created = datetime.fromisoformat(org.sf.Account.get(data.accounts["beta"])["CreatedDate"])
    after = (created + timedelta(seconds=1)).replace(microsecond=0).astimezone(timezone_hours(-5))
    before = (created - timedelta(seconds=1)).replace(microsecond=0).astimezone(timezone_hours(5))
    base = f"SELECT Id FROM Account WHERE Id = '{data.accounts['beta']}' AND CreatedDate"
    assert len(org.sf.query(f"{base} <= {after.isoformat()}")["records"]) == 1
    assert len(org.sf.query(f"{base} < {before.isoformat()}")["records"]) == 0
    assert len(org.sf.query(f"{base} > {before.isoformat()}")["records"]) == 1


def timezone_hours(hours: int) -> Any:
    from datetime import timezone

    return timezone(timedelta(hours=hours))


def test_date_fields_and_order_by_several_keys(org: Org, data: Dataset) -> None:
    base = f"SELECT Id FROM Order WHERE Account.Name LIKE '{org.tag}%'"
    got = org.sf.query_all(f"{base} AND EffectiveDate >= 2024-02-01 ORDER BY EffectiveDate DESC")["records"]
    assert [r["Id"] for r in got] == [data.orders["o3"], data.orders["o2"]]
    ordered = org.sf.query_all(f"{base} ORDER BY Status ASC, EffectiveDate DESC NULLS LAST")["records"]
    assert [r["Id"] for r in ordered] == [data.orders["o2"], data.orders["o1"], data.orders["o3"]]
    limited = org.sf.query_all(f"{base} ORDER BY EffectiveDate LIMIT 1 OFFSET 1")["records"]
    assert [r["Id"] for r in limited] == [data.orders["o2"]]
    nulls = org.sf.query_all(
        f"SELECT Id FROM Account WHERE Name LIKE '{org.tag} %' ORDER BY NumberOfEmployees DESC NULLS FIRST"
    )["records"]
    assert [r["Id"] for r in nulls] == [data.accounts["quote"], data.accounts["acme"], data.accounts["beta"]]


#: Errors a real org answers the same way; the sandbox-only ones are limits of its SOQL subset (or rules
#: whose exact real answer is not asserted), skipped against a real org.
EVERYWHERE, SANDBOX_ONLY = True, False


@pytest.mark.parametrize(
    ("soql", "code", "named", "everywhere"),
    [
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY", None, EVERYWHERE),
        ("SELECT Id FROM Account GROUP BY Name", "MALFORMED_QUERY", None, EVERYWHERE),
        (
            "SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'",
            "MALFORMED_QUERY",
            None,
            EVERYWHERE,
        ),
        ("SELECT Id FROM Account WHERE Name = 'a' Name = 'b'", "MALFORMED_QUERY", None, EVERYWHERE),
        ("SELECT Id FROM Account WHERE CreatedDate = SOMEDAY", "MALFORMED_QUERY", None, EVERYWHERE),
        ("SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY", None, EVERYWHERE),
        ("SELECT Id FROM Account LIMIT 5 garbage", "MALFORMED_QUERY", None, EVERYWHERE),
        ("SELECT Id, Bogus__c FROM Account", "INVALID_FIELD", "Bogus__c", EVERYWHERE),
        ("SELECT Id FROM Account WHERE Nonexistent = 1", "INVALID_FIELD", "Nonexistent", EVERYWHERE),
        ("SELECT Id, Nope__r.Name FROM Order", "INVALID_FIELD", "Nope__r", EVERYWHERE),
        (
            "SELECT Id FROM Account WHERE NumberOfEmployees = 'five'",
            "INVALID_FIELD",
            "NumberOfEmployees",
            EVERYWHERE,
        ),
        ("SELECT Id FROM Account WHERE CreatedDate > 2024-01-01", "INVALID_FIELD", "CreatedDate", EVERYWHERE),
        (
            "SELECT Id FROM Account WHERE Name = 'a' OR Id IN (SELECT AccountId FROM Order)",
            "MALFORMED_QUERY",
            None,
            EVERYWHERE,
        ),
        (
            "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Order WHERE Id IN (SELECT OrderId "
            "FROM OrderItem))",
            "MALFORMED_QUERY",
            None,
            EVERYWHERE,
        ),
        (
            "SELECT Id FROM Account WHERE Id = 'not-an-id'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "not-an-id",
            EVERYWHERE,
        ),
        ("SELECT Id FROM Account OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", None, EVERYWHERE),
        ("SELECT Id FROM Widget__c", "INVALID_TYPE", "Widget__c", EVERYWHERE),
        ("SELECT Id, (SELECT Id FROM Gizmos) FROM Account", "INVALID_TYPE", "Gizmos", EVERYWHERE),
        ("SELECT Id FROM Account a", "MALFORMED_QUERY", None, SANDBOX_ONLY),  # aliases: outside the subset
        ("SELECT COUNT(Id) FROM Account", "MALFORMED_QUERY", None, SANDBOX_ONLY),  # aggregates: outside
        ("SELECT Id FROM Account WHERE Name LIKE 5", "MALFORMED_QUERY", None, SANDBOX_ONLY),
        (
            "SELECT Id FROM Account WHERE CreatedDate > 2024-01-01T00:00:00.000+0000",
            "MALFORMED_QUERY",
            None,
            SANDBOX_ONLY,
        ),
        ("SELECT Id FROM Account WHERE Name INCLUDES ('a')", "INVALID_FIELD", "Name", SANDBOX_ONLY),
        ("SELECT COUNT() FROM Account ORDER BY Name", "MALFORMED_QUERY", None, SANDBOX_ONLY),
        (
            "SELECT Id FROM Account WHERE Id IN (SELECT Id FROM Account)",
            "MALFORMED_QUERY",
            None,
            SANDBOX_ONLY,
        ),
        (
            "SELECT Id FROM Account WHERE Id IN (SELECT Name FROM Order)",
            "INVALID_FIELD",
            "Name",
            SANDBOX_ONLY,
        ),
        ("SELECT Id, Name, name FROM Account", "MALFORMED_QUERY", "duplicate", SANDBOX_ONLY),
    ],
)
def test_query_errors_are_loud(org: Org, soql: str, code: str, named: str | None, everywhere: bool) -> None:
    if org.kind == "live" and not everywhere:
        pytest.skip("a limit of the sandbox's SOQL subset, not asserted against a real org")
    with pytest.raises(SalesforceMalformedRequest) as info:
        org.sf.query(soql)
    assert error_code(info.value) == code
    if named is not None:
        assert named in error_message(info.value)


def test_query_all_sees_the_recycle_bin(org: Org) -> None:
    keep = org.create("Account", {"Name": org.name("bin-keep")})
    gone = org.create("Account", {"Name": org.name("bin-gone")})
    assert org.sf.Account.delete(gone) == 204
    soql = f"SELECT Id, IsDeleted FROM Account WHERE Id IN ('{keep}', '{gone}') ORDER BY Name"
    assert [r["Id"] for r in org.sf.query(soql)["records"]] == [keep]
    everything = {r["Id"]: r["IsDeleted"] for r in org.sf.query_all(soql, include_deleted=True)["records"]}
    assert everything == {keep: False, gone: True}
    with pytest.raises(SalesforceResourceNotFound):
        org.sf.Account.get(gone)


# ------------------------------------------------------------ records


def test_create_update_delete_bump_stamps(org: Org, sandbox_clock: Any) -> None:
    record_id = org.create("Account", {"Name": org.name("crud")})
    before = org.sf.Account.get(record_id)
    sandbox_clock(timedelta(seconds=5))
    assert org.sf.Account.update(record_id, {"Name": org.name("crud2"), "NumberOfEmployees": 7}) == 204
    after = org.sf.Account.get(record_id)
    assert after["NumberOfEmployees"] == 7
    assert after["SystemModstamp"] > before["SystemModstamp"]
    assert after["LastModifiedDate"] > before["LastModifiedDate"]
    assert after["CreatedDate"] == before["CreatedDate"]
    since = before["SystemModstamp"].replace("+0000", "Z")
    changed = org.sf.query(f"SELECT Id FROM Account WHERE Id = '{record_id}' AND SystemModstamp > {since}")
    assert changed["totalSize"] == 1
    assert org.sf.Account.delete(record_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as info:
        org.sf.Account.delete(record_id)
    assert error_code(info.value) in ("ENTITY_IS_DELETED", "NOT_FOUND")


@pytest.fixture
def sandbox_clock(org: Org) -> Iterator[Any]:
    """Moves the sandbox org clock forward (a real org's clock moves by itself: there it sleeps)."""
    directory = org.sf.session.get_adapter(sandbox.INSTANCE_URL).store.directory if org.kind == "sandbox" else None
    start = datetime.now(UTC)
    elapsed = timedelta()

    def advance(delta: timedelta) -> None:
        nonlocal elapsed
        elapsed += delta
        if directory is None:
            time.sleep(delta.total_seconds())
        else:
            sandbox.set_clock(directory, start + elapsed)

    yield advance
    if directory is not None:
        sandbox.set_clock(directory, None)


def test_write_validation_errors(org: Org, data: Dataset) -> None:
    cases: list[tuple[Any, str, str | None]] = [
        (
            lambda: org.sf.Order.update(data.orders["o3"], {"OrderNumber": "X1"}),
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "OrderNumber",
        ),
        (
            lambda: org.sf.OrderItem.update(data.items["o3g"], {"TotalPrice": 1}),
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "TotalPrice",
        ),
        (lambda: org.sf.Account.create({"BillingCity": "Nowhere"}), "REQUIRED_FIELD_MISSING", "Name"),
        (lambda: org.sf.Account.create({"Name": "x", "Bogus__c": 1}), "INVALID_FIELD", "Bogus__c"),
        (
            lambda: org.sf.Order.update(data.orders["o3"], {"CurrencyIsoCode": "XYZ"}),
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "XYZ",
        ),
        (lambda: org.sf.Account.create({"Name": "x" * 256}), "STRING_TOO_LONG", "Name"),
        (
            lambda: org.sf.Order.create(
                {"AccountId": data.products["widget"], "EffectiveDate": "2024-01-01", "Status": "Draft"}
            ),
            "FIELD_INTEGRITY_EXCEPTION",
            None,
        ),
        (
            lambda: org.sf.Account.create({"Name": "x", "NumberOfEmployees": "many"}),
            "JSON_PARSER_ERROR",
            None,
        ),
    ]
    for call, code, named in cases:
        with pytest.raises(SalesforceMalformedRequest) as info:
            call()
        assert error_code(info.value) == code, info.value.content
        if named is not None:
            assert named in error_message(info.value)
    with pytest.raises(SalesforceResourceNotFound):
        org.sf.Account.get("001000000000000AAA")


def test_price_book_and_order_product_rules(org: Org, data: Dataset) -> None:
    product = org.create("Product2", {"Name": org.name("rules"), "IsActive": True})
    custom = org.create("Pricebook2", {"Name": org.name("book"), "IsActive": True})
    with pytest.raises(SalesforceMalformedRequest) as no_standard:
        org.sf.PricebookEntry.create({"Pricebook2Id": custom, "Product2Id": product, "UnitPrice": 5})
    assert error_code(no_standard.value) == "STANDARD_PRICE_NOT_DEFINED"
    org.create("PricebookEntry", {"Pricebook2Id": org.standard_pricebook, "Product2Id": product, "UnitPrice": 5})
    with pytest.raises(SalesforceMalformedRequest) as duplicate:
        org.sf.PricebookEntry.create({"Pricebook2Id": org.standard_pricebook, "Product2Id": product, "UnitPrice": 6})
    assert error_code(duplicate.value) == "DUPLICATE_VALUE"
    other_book = org.create("PricebookEntry", {"Pricebook2Id": custom, "Product2Id": product, "UnitPrice": 4})
    with pytest.raises(SalesforceMalformedRequest) as wrong_book:
        org.sf.OrderItem.create(
            {"OrderId": data.orders["o3"], "PricebookEntryId": other_book, "Quantity": 1, "UnitPrice": 4}
        )
    assert error_code(wrong_book.value) == "FIELD_INTEGRITY_EXCEPTION"
    assert "PricebookEntryId" in error_message(wrong_book.value)


def test_activated_orders_and_their_products_cannot_be_deleted(org: Org, data: Dataset) -> None:
    for sobject, record_id in (("OrderItem", data.items["o1w"]), ("Order", data.orders["o1"])):
        with pytest.raises(SalesforceMalformedRequest) as info:
            getattr(org.sf, sobject).delete(record_id)
        if org.kind == "sandbox":  # the rule is documented; the exact code of a real org is not asserted
            assert error_code(info.value) == "DELETE_FAILED"
        assert getattr(org.sf, sobject).get(record_id)["Id"] == record_id


def test_deleting_a_record_clears_lookups_to_it(org: Org) -> None:
    parent = org.create("Account", {"Name": org.name("parent")})
    child = org.create("Account", {"Name": org.name("child"), "ParentId": parent})
    assert org.sf.Account.get(child)["ParentId"] == parent
    org.sf.Account.delete(parent)
    row = org.sf.query(f"SELECT ParentId, Parent.Name FROM Account WHERE Id = '{child}'")["records"][0]
    assert row["ParentId"] is None and row["Parent"] is None


def test_roll_ups_and_formulas_are_computed(org: Org, data: Dataset) -> None:
    order = org.sf.Order.get(data.orders["o1"])
    assert order["TotalAmount"] == pytest.approx(10 * 1 + 18 * 3)
    assert order["StatusCode"] == "Activated"
    line = org.sf.OrderItem.get(data.items["o1g"])
    assert line["TotalPrice"] == pytest.approx(54.0)
    assert line["ListPrice"] == pytest.approx(20.0)
    assert line["Product2Id"] == data.products["gadget"]


def test_upsert_by_external_id(org: Org) -> None:
    key = org.name("cus")
    assert org.sf.Account.upsert(f"Stripe_ID__c/{key}", {"Name": org.name("up")}) == 201
    found = org.sf.Account.get_by_custom_id("Stripe_ID__c", key)
    org.created.append(("Account", found["Id"]))
    assert org.sf.Account.upsert(f"Stripe_ID__c/{key}", {"Name": "renamed"}) == 200
    assert org.sf.Account.get(found["Id"])["Name"] == "renamed"
    raw = org.sf.Account.upsert(f"Stripe_ID__c/{key}", {"NumberOfEmployees": 3}, raw_response=True)
    assert raw.status_code == 200 and raw.json() == {
        "id": found["Id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    # Stripe_ID__c is an external id but not unique: two matches answer 300 Multiple Choices.
    org.create("Account", {"Name": org.name("dup"), "Stripe_ID__c": key})
    with pytest.raises(SalesforceMoreThanOneRecord):
        org.sf.Account.upsert(f"Stripe_ID__c/{key}", {"Name": "x"})


def test_unique_external_id_rejects_duplicates(org: Org) -> None:
    compound = org.name("cmp")
    org.create("Sync_Record__c", {"Compound_ID__c": compound, "Resolution_Status__c": "Success"})
    with pytest.raises(SalesforceMalformedRequest) as info:
        org.sf.Sync_Record__c.create({"Compound_ID__c": compound.upper()})
    assert error_code(info.value) == "DUPLICATE_VALUE"
    name = org.sf.query(f"SELECT Name FROM Sync_Record__c WHERE Compound_ID__c = '{compound}'")["records"][0]["Name"]
    assert name  # auto-number


# ------------------------------------------------------------ collections


def test_collections_create_update_delete_in_order_with_per_record_errors(org: Org) -> None:
    n1, n2 = org.name("col1"), org.name("col2")
    results = org.sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Name": n1},
                {"attributes": {"type": "Account"}, "BillingCity": "no name"},
                {"attributes": {"type": "Account"}, "Name": n2},
            ],
        },
    )
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    first, third = results[0]["id"], results[2]["id"]
    org.created += [("Account", first), ("Account", third)]
    updated = org.sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "id": first, "NumberOfEmployees": 11},
                {"attributes": {"type": "Account"}, "id": third, "Name": "x" * 300},
            ],
        },
    )
    assert updated[0] == {"id": first, "success": True, "errors": []}
    assert updated[1]["id"] == third and updated[1]["success"] is False
    assert updated[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert org.sf.Account.get(first)["NumberOfEmployees"] == 11
    fetched = org.sf.restful("composite/sobjects/Account", params={"ids": f"{third},{first}", "fields": "Name"})
    assert [r["Name"] for r in fetched] == [n2, n1] and fetched[0]["attributes"]["type"] == "Account"
    deleted = org.sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{first},{third}"})
    assert [(r["id"], r["success"]) for r in deleted] == [(first, True), (third, True)]


def test_collections_all_or_none_rolls_back(org: Org) -> None:
    name = org.name("aon")
    results = org.sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "Name": name},
                {"attributes": {"type": "Account"}, "Name": "x" * 300},
            ],
        },
    )
    assert [r["success"] for r in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert org.sf.query(f"SELECT COUNT() FROM Account WHERE Name = '{name}'")["totalSize"] == 0


def test_collections_upsert_and_size_limit(org: Org) -> None:
    k1, k2 = org.name("ext"), org.name("ext")
    org.create("Account", {"Name": org.name("pre"), "Stripe_ID__c": k1})
    results = org.sf.restful(
        "composite/sobjects/Account/Stripe_ID__c",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Stripe_ID__c": k1, "NumberOfEmployees": 1},
                {"attributes": {"type": "Account"}, "Stripe_ID__c": k2, "Name": org.name("new")},
            ],
        },
    )
    assert [(r["success"], r["created"]) for r in results] == [(True, False), (True, True)]
    org.created.append(("Account", results[1]["id"]))
    too_many = [{"attributes": {"type": "Account"}, "Name": f"n{i}"} for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as info:
        org.sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": too_many})
    assert error_code(info.value) == "EXCEEDED_ID_LIMIT"


def test_composite_with_references(org: Org) -> None:
    name = org.name("cmp")
    answer = org.sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Account",
                    "referenceId": "acct",
                    "body": {"Name": name},
                },
                {
                    "method": "GET",
                    "url": "/services/data/v59.0/sobjects/Account/@{acct.id}",
                    "referenceId": "read",
                },
            ],
        },
    )
    created, read = answer["compositeResponse"]
    assert created["httpStatusCode"] == 201 and read["httpStatusCode"] == 200
    assert created["httpHeaders"]["Location"].endswith(f"/sobjects/Account/{created['body']['id']}")
    assert read["body"]["Name"] == name
    org.created.append(("Account", created["body"]["id"]))


def test_composite_carries_collections_up_to_five(org: Org) -> None:
    def collection(i: int) -> dict[str, Any]:
        return {
            "method": "POST",
            "url": "/services/data/v59.0/composite/sobjects",
            "referenceId": f"batch{i}",
            "body": {
                "allOrNone": False,
                "records": [{"attributes": {"type": "Account"}, "Name": org.name(f"b{i}")}],
            },
        }

    answer = org.sf.restful(
        "composite",
        method="POST",
        json={"allOrNone": False, "compositeRequest": [collection(i) for i in range(5)]},
    )
    results = [r["body"][0] for r in answer["compositeResponse"]]
    assert all(r["success"] for r in results)
    org.created += [("Account", r["id"]) for r in results]
    with pytest.raises(SalesforceMalformedRequest):
        org.sf.restful("composite", method="POST", json={"compositeRequest": [collection(i) for i in range(6)]})


# ------------------------------------------------------------ describe, limits


def test_describe_global_and_per_object(org: Org) -> None:
    described = {s["name"]: s for s in org.sf.describe()["sobjects"]}
    assert described["Account"]["keyPrefix"] == "001"
    assert described["Order"]["keyPrefix"] == "801"
    assert "Sync_Record__c" in described and described["Sync_Record__c"]["custom"] is True
    assert org.sf.Order.metadata()["objectDescribe"]["keyPrefix"] == "801"
    order = org.sf.Order.describe()
    fields = {f["name"]: f for f in order["fields"]}
    assert fields["OrderNumber"]["autoNumber"] is True and fields["OrderNumber"]["createable"] is False
    assert fields["AccountId"]["referenceTo"] == ["Account"] and fields["AccountId"]["relationshipName"] == "Account"
    assert {"Draft", "Activated"} <= {v["value"] for v in fields["Status"]["picklistValues"]}
    assert fields["Stripe_ID__c"]["externalId"] is True and fields["Stripe_ID__c"]["type"] == "string"
    assert fields["TotalAmount"]["createable"] is False and fields["TotalAmount"]["updateable"] is False
    children = {c["relationshipName"]: c for c in order["childRelationships"]}
    assert children["OrderItems"]["childSObject"] == "OrderItem" and children["OrderItems"]["field"] == "OrderId"
    with pytest.raises(SalesforceResourceNotFound):
        org.sf.restful("sobjects/Nope__c/describe")


def test_limits_and_api_usage_header(org: Org) -> None:
    limits = org.sf.limits()
    assert limits["DailyApiRequests"]["Max"] > 0
    org.sf.query("SELECT Id FROM Account LIMIT 1")
    used_before = org.sf.api_usage["api-usage"].used
    org.sf.query("SELECT Id FROM Account LIMIT 1")
    usage = org.sf.api_usage["api-usage"]
    assert usage.used >= used_before + 1
    assert usage.total == limits["DailyApiRequests"]["Max"]
    # Every answer carries the header, errors included.
    missing = org.sf.session.get(org.sf.base_url + "sobjects/Account/001000000000000AAA", headers=org.sf.headers)
    assert missing.status_code == 404
    assert re.fullmatch(r"api-usage=\d+/\d+", missing.headers["Sforce-Limit-Info"].split(";")[0])


# ------------------------------------------------------------ bulk 2.0


def test_bulk2_query_pages_csv_with_locators(org: Org) -> None:
    prefix = org.name("bulk")
    for i in range(5):
        org.create("Account", {"Name": f"{prefix}-{i}", "NumberOfEmployees": i})
    soql = f"SELECT Id, Name, NumberOfEmployees, Owner.Name FROM Account WHERE Name LIKE '{prefix}%' ORDER BY Name"
    pages = list(org.sf.bulk2.Account.query(soql, max_records=2, wait=0))
    assert len(pages) == 3
    rows = [line for page in pages for line in page.strip().split("\n")[1:]]
    assert pages[0].split("\n")[0] == '"Id","Name","NumberOfEmployees","Owner.Name"'
    assert [r.split(",")[1].strip('"') for r in rows] == [f"{prefix}-{i}" for i in range(5)]
    gone = org.sf.query(f"SELECT Id FROM Account WHERE Name = '{prefix}-0'")["records"][0]["Id"]
    org.sf.Account.delete(gone)
    everything = "".join(org.sf.bulk2.Account.query_all(soql.replace("Owner.Name", "IsDeleted"), wait=0))
    assert f'"{gone}"' in everything and '"true"' in everything
    with pytest.raises(SalesforceMalformedRequest):
        list(org.sf.bulk2.Account.query(f"SELECT Id, BillingAddress FROM Account WHERE Name = '{prefix}'", wait=0))


# ------------------------------------------------------------ sandbox only


@pytest.fixture
def sandbox_dir(tmp_path: Path) -> Path:
    return tmp_path / "org"


def test_batch_size_header_lowers_the_page(sandbox_dir: Path) -> None:
    sf = sandbox.connect(sandbox_dir)
    for chunk in range(2):
        records = [{"attributes": {"type": "Account"}, "Name": f"acc-{chunk}-{i:03d}"} for i in range(150)]
        assert all(r["success"] for r in sf.restful("composite/sobjects", method="POST", json={"records": records}))
    default = sf.query("SELECT Id FROM Account")
    assert default["done"] is True and len(default["records"]) == 300
    smaller = sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=200"})
    assert smaller["done"] is False and len(smaller["records"]) == 200
    hint = {"Sforce-Query-Options": "batchSize=200"}
    assert len(sf.query_all("SELECT Id FROM Account", headers=hint)["records"]) == 300
    # As in a real org, batchSize is a hint between 200 and 2,000.
    below = sf.query("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=50"})
    assert len(below["records"]) == 200


def test_reset_empties_the_org(sandbox_dir: Path) -> None:
    sf = sandbox.connect(sandbox_dir)
    sf.Account.create({"Name": "before"})
    sf.Account.delete(sf.Account.create({"Name": "binned"})["id"])
    calls = sandbox.api_calls(sandbox_dir)
    sandbox.reset(sandbox_dir)
    # Records are gone, ids start again; connected clients and today's API usage stay.
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    assert sf.query_all("SELECT Id FROM Account", include_deleted=True)["records"] == []
    assert sf.Account.create({"Name": "after"})["id"] == to_18("0015g0000000001")
    assert sandbox.api_calls(sandbox_dir) == calls + 3


def test_clock_drives_stamps_and_date_literals(sandbox_dir: Path) -> None:
    sf = sandbox.connect(sandbox_dir)
    sandbox.set_clock(sandbox_dir, datetime(2024, 3, 10, 12, 0, tzinfo=UTC))
    old = sf.Account.create({"Name": "old"})["id"]
    sandbox.set_clock(sandbox_dir, datetime(2024, 5, 1, 9, 30, tzinfo=UTC))
    new = sf.Account.create({"Name": "new"})["id"]
    assert sandbox.now(sandbox_dir) == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert sf.Account.get(old)["CreatedDate"] == "2024-03-10T12:00:00.000+0000"
    today = [r["Id"] for r in sf.query("SELECT Id FROM Account WHERE CreatedDate = TODAY")["records"]]
    recent = [r["Id"] for r in sf.query("SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS:30")["records"]]
    last_year = sf.query("SELECT Id FROM Account WHERE CreatedDate = THIS_YEAR ORDER BY CreatedDate")["records"]
    assert today == [new] and recent == [new] and [r["Id"] for r in last_year] == [old, new]
    # With the clock frozen, an update that changes nothing still succeeds (and keeps the stamp).
    assert sf.Account.update(new, {}) == 204 and sf.Account.update(new, {"Name": "new"}) == 204
    assert sf.Account.get(new)["SystemModstamp"] == "2024-05-01T09:30:00.000+0000"
    # Every answer carries the org's time in its `Date` header, as Salesforce's do (the sync's watermark).
    answer = sf.session.get(f"{sf.base_url}limits/", headers=sf.headers)
    assert answer.headers["Date"] == "Wed, 01 May 2024 09:30:00 GMT"


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("TODAY", ["wed"]),
        ("YESTERDAY", ["tue"]),
        ("TOMORROW", ["thu"]),
        ("LAST_N_DAYS:1", ["tue", "wed"]),
        ("NEXT_N_DAYS:2", ["thu", "fri"]),
        ("N_DAYS_AGO:8", ["last-tue"]),
        ("THIS_WEEK", ["sun", "tue", "wed", "thu", "fri"]),  # weeks start on Sunday in the en_US locale
        ("LAST_WEEK", ["last-tue"]),
        ("THIS_MONTH", ["sun", "tue", "wed", "thu", "fri", "last-tue"]),
        ("LAST_MONTH", ["prev-month"]),
        ("LAST_N_MONTHS:1", ["prev-month"]),
        ("THIS_QUARTER", ["prev-month", "sun", "tue", "wed", "thu", "fri", "last-tue"]),
        ("THIS_YEAR", ["prev-month", "sun", "tue", "wed", "thu", "fri", "last-tue"]),
        ("LAST_YEAR", ["last-year"]),
    ],
)
def test_date_literals_on_date_fields(sandbox_dir: Path, literal: str, expected: list[str]) -> None:
    sandbox.set_clock(sandbox_dir, datetime(2024, 5, 15, 23, 30, tzinfo=UTC))  # a Wednesday
    sf = sandbox.connect(sandbox_dir)
    days = {
        "sun": "2024-05-12", "tue": "2024-05-14", "wed": "2024-05-15", "thu": "2024-05-16",
        "fri": "2024-05-17", "last-tue": "2024-05-07", "prev-month": "2024-04-30", "last-year": "2023-12-31",
    }  # fmt: skip
    for name, day in days.items():
        sf.Opportunity.create({"Name": name, "StageName": "Prospecting", "CloseDate": day})
    got = sf.query_all(f"SELECT Name FROM Opportunity WHERE CloseDate = {literal}")["records"]
    assert sorted(names(got)) == sorted(expected)


def test_range_filters_on_a_large_object_agree_with_small_ones(sandbox_dir: Path) -> None:
    # Over 5,000 rows the engine scans instead of walking an index when a range matches most rows.
    store = OrgStore.open(sandbox_dir)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    stamps = [base + timedelta(minutes=i) for i in range(6000)]
    store.insert_many(
        "Account",
        [
            {
                "Name": f"a{i:05d}",
                "NumberOfEmployees": i % 7,
                "SystemModstamp": stamp,
                "LastModifiedDate": stamp,
            }
            for i, stamp in enumerate(stamps)
        ],
    )
    sf = sandbox.connect(sandbox_dir)
    for cut in (10, 5990):
        since = stamps[cut].strftime("%Y-%m-%dT%H:%M:%SZ")
        soql = (
            f"SELECT Name FROM Account WHERE SystemModstamp >= {since} AND NumberOfEmployees = 3 "
            "ORDER BY SystemModstamp DESC, Name"
        )
        expected = [f"a{i:05d}" for i in reversed(range(cut, 6000)) if i % 7 == 3]
        assert names(sf.query_all(soql)["records"]) == expected


def test_one_client_shared_by_threads(sandbox_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sf = sandbox.connect(sandbox_dir)

    def work(worker: int) -> list[str]:
        return [sf.Account.create({"Name": f"t{worker}-{i}"})["id"] for i in range(25)]

    with ThreadPoolExecutor(4) as pool:
        created = [i for chunk in pool.map(work, range(4)) for i in chunk]
    assert len(set(created)) == 100
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 100


def test_expired_session_and_new_session(sandbox_dir: Path) -> None:
    sandbox.set_faults(sandbox_dir, SalesforceFaults(expire_session_after_calls=2))
    sf = sandbox.connect(sandbox_dir)
    sf.query("SELECT Id FROM Account")
    sf.query("SELECT Id FROM Account")
    with pytest.raises(SalesforceExpiredSession) as info:
        sf.query("SELECT Id FROM Account")
    assert error_code(info.value) == "INVALID_SESSION_ID"
    fresh = Salesforce(
        instance_url=sandbox.INSTANCE_URL, session_id=sandbox.new_session(sandbox_dir), session=sf.session
    )
    assert fresh.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_daily_quota_refuses_calls(sandbox_dir: Path) -> None:
    sf = sandbox.connect(sandbox_dir, faults=SalesforceFaults(api_quota_max=3))
    for _ in range(3):
        sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"].used == 3 and sf.api_usage["api-usage"].total == 3
    with pytest.raises(SalesforceRefusedRequest) as info:
        sf.query("SELECT Id FROM Account")
    assert error_code(info.value) == "REQUEST_LIMIT_EXCEEDED"
    assert sandbox.api_calls(sandbox_dir) == 3


def test_lock_row_query_timeout_and_server_errors(sandbox_dir: Path) -> None:
    sf = sandbox.connect(sandbox_dir)
    record = sf.Account.create({"Name": "locked"})["id"]
    sandbox.set_faults(sandbox_dir, SalesforceFaults(lock_row_rate=1.0, query_timeout_rate=1.0))
    faulty = sandbox.connect(sandbox_dir)
    with pytest.raises(SalesforceMalformedRequest) as lock:
        faulty.Account.update(record, {"Name": "x"})
    assert error_code(lock.value) == "UNABLE_TO_LOCK_ROW"
    results = faulty.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Account"}, "id": record, "Name": "y"}]},
    )
    assert results[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    with pytest.raises(SalesforceMalformedRequest) as timeout:
        faulty.query("SELECT Id FROM Account")
    assert error_code(timeout.value) == "QUERY_TIMEOUT"
    with pytest.raises(SalesforceOperationError, match="QUERY_TIMEOUT"):  # a Bulk query job ends Failed
        list(faulty.bulk2.Account.query("SELECT Id FROM Account", wait=0))
    sandbox.set_faults(sandbox_dir, SalesforceFaults(server_error_rate=1.0, seed=3))
    statuses = set()
    for _ in range(8):
        with pytest.raises(SalesforceGeneralError) as err:
            faulty.query("SELECT Id FROM Account")
        statuses.add(err.value.status)
    assert statuses == {500, 503}
    sandbox.set_faults(sandbox_dir, None)
    assert faulty.Account.get(record)["Name"] == "locked"


def test_faults_are_deterministic_from_the_seed(tmp_path: Path) -> None:
    def outcomes(directory: Path, seed: int) -> list[str]:
        sf = sandbox.connect(directory, faults=SalesforceFaults(seed=seed, server_error_rate=0.4, lock_row_rate=0.3))
        seen = []
        for i in range(25):
            try:
                sf.Account.create({"Name": f"a{i}"})
                seen.append("ok")
            except SalesforceError as exc:
                seen.append(error_code(exc))
        return seen

    first, again, other = (
        outcomes(tmp_path / "a", 1),
        outcomes(tmp_path / "b", 1),
        outcomes(tmp_path / "c", 2),
    )
    assert first == again
    assert first != other
    assert {"ok", "UNABLE_TO_LOCK_ROW"} <= set(first) and ({"UNKNOWN_EXCEPTION", "SERVER_UNAVAILABLE"} & set(first))


def test_latency_is_added_to_every_call(sandbox_dir: Path) -> None:
    sf = sandbox.connect(sandbox_dir, faults=SalesforceFaults(latency_ms=60))
    start = time.perf_counter()
    sf.query("SELECT Id FROM Account")
    sf.limits()
    assert time.perf_counter() - start >= 0.12


def test_unknown_routes_and_methods_fail_loudly(sandbox_dir: Path) -> None:
    sf = sandbox.connect(sandbox_dir)
    too_many = ", ".join(f"'{to_18(f'0015g{i:010d}')}'" for i in range(800))
    with pytest.raises(SalesforceGeneralError) as long_uri:
        sf.query(f"SELECT Id FROM Account WHERE Id IN ({too_many})")
    assert long_uri.value.status == 414
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("jobs/ingest", method="POST", json={"object": "Account"})
    with pytest.raises(SalesforceGeneralError) as info:
        sf.restful("limits", method="POST", json={})
    assert info.value.status == 405


_NEXT_PAGE = """
import json, sys
from cpq_sync.sandbox import salesforce as sandbox
sf = sandbox.connect(sys.argv[1], page_size=2)
page = sf.query_more(sys.argv[2], identifier_is_url=True)
print(json.dumps([r["Name"] for r in page["records"]]))
"""


def test_another_process_fetches_the_next_page(sandbox_dir: Path) -> None:
    sf = sandbox.connect(sandbox_dir, page_size=2)
    for i in range(5):
        sf.Account.create({"Name": f"acc-{i}"})
    first = sf.query("SELECT Name FROM Account ORDER BY Name")
    out = subprocess.run(
        [sys.executable, "-c", _NEXT_PAGE, str(sandbox_dir), first["nextRecordsUrl"]],
        check=True,
        capture_output=True,
        text=True,
    )
    assert names(first["records"]) == ["acc-0", "acc-1"]
    assert out.stdout.strip() == '["acc-2", "acc-3"]'
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query_more(first["nextRecordsUrl"].replace("-2", "-99"), identifier_is_url=True)
    assert error_code(info.value) == "INVALID_QUERY_LOCATOR"


def test_get_deleted_and_updated(sandbox_dir: Path) -> None:
    sf = sandbox.connect(sandbox_dir)
    sandbox.set_clock(sandbox_dir, datetime(2024, 6, 1, 10, 0, tzinfo=UTC))
    kept = sf.Account.create({"Name": "kept"})["id"]
    gone = sf.Account.create({"Name": "gone"})["id"]
    sandbox.set_clock(sandbox_dir, datetime(2024, 6, 2, 10, 0, tzinfo=UTC))
    sf.Account.delete(gone)
    window = (datetime(2024, 6, 1, 12, 0, tzinfo=UTC), datetime(2024, 6, 3, tzinfo=UTC))
    deleted = sf.Account.deleted(*window)
    assert [(r["id"], r["deletedDate"]) for r in deleted["deletedRecords"]] == [(gone, "2024-06-02T10:00:00.000+0000")]
    assert sf.Account.updated(*window)["ids"] == []
    assert sf.Account.updated(datetime(2024, 6, 1, tzinfo=UTC), window[1])["ids"] == [kept]


def test_bulk2_job_state(sandbox_dir: Path) -> None:
    sf = sandbox.connect(sandbox_dir)
    job = sf.restful("jobs/query", method="POST", json={"operation": "query", "query": "SELECT Id FROM Account"})
    assert job["state"] == "UploadComplete" and job["object"] == "Account" and job["id"].startswith("750")
    assert sf.restful(f"jobs/query/{job['id']}")["state"] == "JobComplete"
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("jobs/query", method="POST", json={"operation": "query", "query": "SELECT Nope FROM Account"})


def test_includes_and_excludes_on_multi_select_picklists(sandbox_dir: Path) -> None:
    # The org's schema has no multi-select picklist; give Account one in a store this directory then uses.
    schema = load_schema()
    account = schema.objects["Account"]
    regions = FieldDef(
        name="Regions__c",
        label="Regions",
        type="multipicklist",
        length=4099,
        custom=True,
        picklist_values=("EMEA", "AMER", "APAC"),
        restricted_picklist=True,
    )
    patched = SObjectDef(
        name=account.name,
        label=account.label,
        key_prefix=account.key_prefix,
        custom=account.custom,
        fields={**account.fields, "Regions__c": regions},
        child_relationships=account.child_relationships,
    )
    custom = Schema([patched if o.name == "Account" else o for o in schema.objects.values()])
    store = OrgStore(sandbox_dir, schema=custom)  # kept alive by this test: connect() finds it in the cache
    OrgStore._instances[sandbox_dir.resolve()] = store
    sf = sandbox.connect(sandbox_dir)
    for name, value in (("a", "EMEA;AMER"), ("b", "APAC"), ("c", None), ("d", "AMER")):
        sf.Account.create({"Name": name, "Regions__c": value})

    def found(where: str) -> list[str]:
        return names(sf.query_all(f"SELECT Name FROM Account WHERE {where} ORDER BY Name")["records"])

    assert found("Regions__c INCLUDES ('AMER')") == ["a", "d"]
    assert found("Regions__c INCLUDES ('amer;emea', 'APAC')") == ["a", "b"]
    assert found("Regions__c EXCLUDES ('AMER')") == ["b", "c"]
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Account.create({"Name": "e", "Regions__c": "EMEA;MARS"})
    assert error_code(info.value) == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


_WRITER = """
import sys
from cpq_sync.sandbox import salesforce as sandbox
sf = sandbox.connect(sys.argv[1])
for i in range(int(sys.argv[3])):
    sf.Account.create({"Name": f"{sys.argv[2]}-{i}"})
"""


def test_data_survives_process_exit(sandbox_dir: Path) -> None:
    subprocess.run([sys.executable, "-c", _WRITER, str(sandbox_dir), "child", "3"], check=True)
    sf = sandbox.connect(sandbox_dir)
    assert names(sf.query_all("SELECT Name FROM Account ORDER BY Name")["records"]) == [
        "child-0",
        "child-1",
        "child-2",
    ]


def _write_many(directory: str, label: str, count: int, barrier: Any) -> None:
    sf = sandbox.connect(directory)
    barrier.wait(30)  # both processes start writing at the same moment
    for i in range(count):
        sf.Account.create({"Name": f"{label}-{i:03d}", "NumberOfEmployees": i})
        sf.query(f"SELECT Id FROM Account WHERE Name = '{label}-{i:03d}'")


def test_two_processes_writing_at_once_corrupt_nothing(sandbox_dir: Path) -> None:
    sandbox.connect(sandbox_dir)  # creates the database
    calls_before = sandbox.api_calls(sandbox_dir)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    workers = [ctx.Process(target=_write_many, args=(str(sandbox_dir), label, 60, barrier)) for label in "pq"]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    sf = sandbox.connect(sandbox_dir)
    records = sf.query_all("SELECT Id, Name, NumberOfEmployees FROM Account")["records"]
    assert len(records) == 120 and len({r["Id"] for r in records}) == 120
    assert sorted(names(records)) == sorted(f"{label}-{i:03d}" for label in "pq" for i in range(60))
    assert all(r["NumberOfEmployees"] == int(r["Name"][2:]) for r in records)
    assert sandbox.api_calls(sandbox_dir) == calls_before + 240 + 1
