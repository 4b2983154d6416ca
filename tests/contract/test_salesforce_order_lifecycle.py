"""The order lifecycle and deletion rules of the sandbox org, through the real simple-salesforce client: an order
is created Draft, gets its products, then is activated (stamped); an activated order keeps its products; records
other records depend on cannot be deleted; a draft order's deletion takes its products along."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest, SalesforceResourceNotFound

from cpq_sync.sandbox import salesforce as sandbox
from cpq_sync.sandbox.salesforce.store import OrgStore

CLOCK = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@dataclass
class Org:
    sf: Salesforce
    account: str
    product: str
    entry: str
    book: str

    def draft(self) -> str:
        return str(
            self.sf.Order.create(
                {"AccountId": self.account, "EffectiveDate": "2026-03-01", "Status": "Draft", "Pricebook2Id": self.book}
            )["id"]
        )

    def line(self, order_id: str, quantity: int = 2) -> str:
        values = {"OrderId": order_id, "PricebookEntryId": self.entry, "Quantity": quantity, "UnitPrice": 10.0}
        return str(self.sf.OrderItem.create(values)["id"])


@pytest.fixture
def org(tmp_path: Path) -> Org:
    store = OrgStore.open(tmp_path)
    store.set_clock(CLOCK)
    book = store.insert_many("Pricebook2", [{"Name": "Standard Price Book", "IsStandard": True}])[0]
    sf = sandbox.connect(tmp_path)
    account = str(sf.Account.create({"Name": "Acme"})["id"])
    product = str(sf.Product2.create({"Name": "Widget", "IsActive": True})["id"])
    entry = sf.PricebookEntry.create({"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 10.0, "IsActive": True})
    return Org(sf, account, product, str(entry["id"]), book)


def error(exc: SalesforceError) -> tuple[str, str]:
    body = exc.content[0]
    return str(body["errorCode"]), str(body["message"])


def test_an_order_cannot_be_created_activated(org: Org) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        org.sf.Order.create(
            {"AccountId": org.account, "EffectiveDate": "2026-03-01", "Status": "Activated", "Pricebook2Id": org.book}
        )
    assert error(info.value)[0] == "FIELD_INTEGRITY_EXCEPTION"
    assert org.sf.query("SELECT Id FROM Order")["totalSize"] == 0
    with pytest.raises(SalesforceMalformedRequest) as stamped:  # the activation stamps are not createable
        org.sf.Order.create(
            {"AccountId": org.account, "EffectiveDate": "2026-03-01", "ActivatedDate": CLOCK.isoformat()}
        )
    assert error(stamped.value)[0] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_activation_needs_products_changes_status_only_and_is_stamped(org: Org) -> None:
    order_id = org.draft()
    with pytest.raises(SalesforceMalformedRequest) as empty:
        org.sf.Order.update(order_id, {"Status": "Activated"})
    assert error(empty.value) == ("FIELD_INTEGRITY_EXCEPTION", "You can't activate an order without order products.")
    org.line(order_id)
    with pytest.raises(SalesforceMalformedRequest) as more:
        org.sf.Order.update(order_id, {"Status": "Activated", "Description": "go"})
    assert error(more.value)[0] == "FIELD_INTEGRITY_EXCEPTION"
    draft = org.sf.Order.get(order_id)
    assert (draft["StatusCode"], draft["ActivatedDate"], draft["ActivatedById"]) == ("Draft", None, None)

    assert org.sf.Order.update(order_id, {"Status": "Activated"}) == 204
    order = org.sf.Order.get(order_id)
    user = org.sf.query("SELECT Id FROM User WHERE Username = 'integration@cpq-sync.sandbox'")["records"][0]["Id"]
    assert order["StatusCode"] == "Activated"
    assert order["ActivatedDate"] == "2026-03-02T09:30:00.000+0000"
    assert order["ActivatedById"] == user
    assert org.sf.query("SELECT Id FROM Order WHERE ActivatedDate = 2026-03-02T09:30:00Z")["totalSize"] == 1


def test_an_activated_order_keeps_its_products(org: Org) -> None:
    order_id = org.draft()
    line = org.line(order_id)
    org.sf.Order.update(order_id, {"Status": "Activated"})
    with pytest.raises(SalesforceMalformedRequest) as added:
        org.line(order_id)
    assert error(added.value)[0] == "FIELD_INTEGRITY_EXCEPTION"
    with pytest.raises(SalesforceMalformedRequest) as removed:
        org.sf.OrderItem.delete(line)
    assert error(removed.value)[0] == "DELETE_FAILED"
    with pytest.raises(SalesforceMalformedRequest) as gone:
        org.sf.Order.delete(order_id)
    assert error(gone.value)[0] == "DELETE_FAILED"
    # Editing a product's fields stays possible ("Edit Activated Orders", held by the sync's integration user).
    assert org.sf.OrderItem.update(line, {"Quantity": 3}) == 204
    assert org.sf.Order.get(order_id)["TotalAmount"] == pytest.approx(30.0)
    assert org.sf.query(f"SELECT Id FROM OrderItem WHERE OrderId = '{order_id}'")["totalSize"] == 1
    # Deactivated, the order can change again.
    org.sf.Order.update(order_id, {"Status": "Draft"})
    org.sf.OrderItem.delete(line)
    assert org.sf.query(f"SELECT Id FROM OrderItem WHERE OrderId = '{order_id}'")["totalSize"] == 0


def test_deleting_a_draft_order_deletes_its_products(org: Org) -> None:
    order_id = org.draft()
    lines = [org.line(order_id), org.line(order_id, 5)]
    org.sf.Order.delete(order_id)
    for line in lines:
        with pytest.raises(SalesforceResourceNotFound):
            org.sf.OrderItem.get(line)
    deleted = org.sf.query_all(
        f"SELECT Id, IsDeleted FROM OrderItem WHERE OrderId = '{order_id}'", include_deleted=True
    )
    assert sorted(r["Id"] for r in deleted["records"]) == sorted(lines)
    assert all(r["IsDeleted"] for r in deleted["records"])
    with pytest.raises(SalesforceResourceNotFound) as again:
        org.sf.Order.delete(order_id)
    assert error(again.value)[0] == "ENTITY_IS_DELETED"


def test_records_others_depend_on_cannot_be_deleted(org: Org) -> None:
    order_id = org.draft()
    org.line(order_id)
    number = org.sf.Order.get(order_id)["OrderNumber"]
    for sobject, record_id in (("Account", org.account), ("Product2", org.product), ("PricebookEntry", org.entry)):
        with pytest.raises(SalesforceMalformedRequest) as info:
            getattr(org.sf, sobject).delete(record_id)
        assert error(info.value)[0] == "DELETE_FAILED", sobject
        assert getattr(org.sf, sobject).get(record_id)["Id"] == record_id
    with pytest.raises(SalesforceMalformedRequest) as account:
        org.sf.Account.delete(org.account)
    assert number in error(account.value)[1]
    # Once the order is gone, so are the obstacles: a product's deletion takes its price book entries along.
    org.sf.Order.delete(order_id)
    org.sf.Product2.delete(org.product)
    with pytest.raises(SalesforceResourceNotFound):
        org.sf.PricebookEntry.get(org.entry)
    org.sf.Account.delete(org.account)
    with pytest.raises(SalesforceResourceNotFound):
        org.sf.Account.get(org.account)
