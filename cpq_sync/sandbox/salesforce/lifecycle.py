"""Platform rules of the order lifecycle and of deletions, as a real org enforces them on API writes.

- An order is created Draft and activated by an update that changes its Status only, once it has order
  products; activation stamps ``ActivatedDate`` and ``ActivatedById``.
- Order products cannot be added to, or deleted from, an activated order (editing them is allowed: the
  integration user holds "Edit Activated Orders", as the Stripe connector requires to write back ids).
- An activated order cannot be deleted; deleting a draft order deletes its products (master-detail).
- An account with orders or activated contracts, a product or price book entry used by order products, cannot be
  deleted.

The error codes are those a real org answers with; where Salesforce does not document the exact message the
wording is the sandbox's own (the contract tests assert codes, not wording, against a real org).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from cpq_sync.sandbox.salesforce.errors import SalesforceError

ACTIVATED = "Activated"
#: Order Status values whose status category (StatusCode) is Activated.
ACTIVATED_STATUSES = frozenset({ACTIVATED})
#: The fields an activation update may carry besides Status (none: "the Status field is the only field you can
#: update when activating the order").
_ACTIVATION_FIELDS = frozenset({"Status"})


def _integrity(message: str, fields: list[str] | None = None) -> SalesforceError:
    return SalesforceError("FIELD_INTEGRITY_EXCEPTION", message, fields=fields)


def is_activated(conn: sqlite3.Connection, order_id: str | None) -> bool:
    if order_id is None:
        return False
    row = conn.execute('SELECT "StatusCode" FROM "sf_Order" WHERE "Id" = ?', (order_id,)).fetchone()
    return row is not None and row[0] == ACTIVATED


def _has_products(conn: sqlite3.Connection, order_id: str) -> bool:
    row = conn.execute(
        'SELECT 1 FROM "sf_OrderItem" WHERE "OrderId" = ? AND "IsDeleted" = 0 LIMIT 1', (order_id,)
    ).fetchone()
    return row is not None


def check_new_order(row: Mapping[str, Any]) -> None:
    """An order is inserted Draft: an activated status is refused (REST and the seed's bulk insert alike)."""
    if row.get("Status") in ACTIVATED_STATUSES:
        raise _integrity(
            "You can't create an order with an activated status. Create the order as Draft, add its order "
            "products, then activate it.",
            ["Status"],
        )


def check_activation(conn: sqlite3.Connection, order_id: str) -> None:
    """Activation needs at least one order product."""
    if not _has_products(conn, order_id):
        raise _integrity("You can't activate an order without order products.", ["Status"])


def before_order_update(
    conn: sqlite3.Connection,
    row: dict[str, Any],
    old: Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    user_id: str,
    stamp: str,
) -> None:
    """A REST update of an order: activation rules, and the activation stamps set on ``row``."""
    activating = row.get("Status") in ACTIVATED_STATUSES and old.get("StatusCode") != ACTIVATED
    if not activating:
        return
    others = sorted(set(changes) - _ACTIVATION_FIELDS)
    if others:
        raise _integrity(
            f"When you activate an order, Status is the only field you can update: {', '.join(others)}",
            others,
        )
    check_activation(conn, str(old["Id"]))
    row["ActivatedDate"] = stamp
    row["ActivatedById"] = user_id


def check_new_order_product(conn: sqlite3.Connection, row: Mapping[str, Any]) -> None:
    if is_activated(conn, row.get("OrderId")):
        raise _integrity("You can't add order products to an activated order.", ["OrderId"])


def _numbers(conn: sqlite3.Connection, sql: str, record_id: str) -> str:
    return ", ".join(str(r[0]) for r in conn.execute(sql + " LIMIT 10", (record_id,)))


def _in_use(name: Any, what: str, numbers: str) -> SalesforceError:
    return SalesforceError(
        "DELETE_FAILED",
        f"Your attempt to delete {name} could not be completed because it is associated with the following "
        f"{what}.: {numbers}",
    )


def check_delete(conn: sqlite3.Connection, sobject: str, old: Mapping[str, Any]) -> None:
    """Refuse the deletions a real org refuses (the record is live and ``old`` its stored state)."""
    record_id = str(old["Id"])
    if sobject in ("Order", "OrderItem"):
        order_id = record_id if sobject == "Order" else old.get("OrderId")
        if is_activated(conn, order_id):
            what = "an activated order" if sobject == "Order" else "order products of an activated order"
            raise SalesforceError("DELETE_FAILED", f"You can't delete {what}. Deactivate the order first.")
    elif sobject == "Account":
        orders = _numbers(
            conn,
            'SELECT "OrderNumber" FROM "sf_Order" WHERE "AccountId" = ? AND "IsDeleted" = 0 ORDER BY rowid',
            record_id,
        )
        if orders:
            raise _in_use(old.get("Name"), "orders", orders)
        contracts = _numbers(
            conn,
            'SELECT "ContractNumber" FROM "sf_Contract" WHERE "AccountId" = ? AND "IsDeleted" = 0 '
            "AND \"StatusCode\" = 'Activated' ORDER BY rowid",
            record_id,
        )
        if contracts:
            raise _in_use(old.get("Name"), "contracts", contracts)
    elif sobject in ("Product2", "PricebookEntry"):
        column = "Product2Id" if sobject == "Product2" else "PricebookEntryId"
        items = _numbers(
            conn,
            f'SELECT "OrderItemNumber" FROM "sf_OrderItem" WHERE "{column}" = ? AND "IsDeleted" = 0 ORDER BY rowid',
            record_id,
        )
        if items:
            raise _in_use(old.get("Name"), "order products", items)
