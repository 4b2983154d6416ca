"""Readable rich tables of the sandbox account: counts per object type, then the rows of each type."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from cpq_sync.sandbox.stripe.resources.money import format_amount
from cpq_sync.sandbox.stripe.store import JSONObject, Store

MAX_ROWS = 20

Column = tuple[str, Callable[[JSONObject], str]]


def _meta(obj: JSONObject) -> str:
    metadata: dict[str, Any] = obj.get("metadata") or {}
    return ", ".join(f"{k}={v}" for k, v in sorted(metadata.items()))[:60]


def _when(obj: JSONObject) -> str:
    return datetime.fromtimestamp(int(obj["created"]), UTC).strftime("%Y-%m-%d %H:%M")


def _price_amount(obj: JSONObject) -> str:
    if obj.get("billing_scheme") == "tiered":
        return f"tiered ({obj.get('tiers_mode')})"
    if obj.get("unit_amount") is not None:
        return format_amount(int(obj["unit_amount"]), str(obj["currency"]))
    return f"{obj.get('unit_amount_decimal')} (minor units) {str(obj['currency']).upper()}"


def _recurring(obj: JSONObject) -> str:
    recurring = obj.get("recurring")
    if not recurring:
        return "one-time"
    text = f"every {recurring['interval_count']} {recurring['interval']}"
    if recurring.get("usage_type") == "metered":
        text += f" metered ({recurring.get('meter')})"
    return text


def _coupon_off(obj: JSONObject) -> str:
    if obj.get("percent_off") is not None:
        return f"{obj['percent_off']}%"
    return format_amount(int(obj["amount_off"]), str(obj["currency"]))


def _field(name: str) -> Callable[[JSONObject], str]:
    def read(obj: JSONObject) -> str:
        value = obj.get(name)
        return "" if value is None else str(value)

    return read


COLUMNS: dict[str, list[Column]] = {
    "customer": [("email", _field("email")), ("name", _field("name"))],
    "product": [("name", _field("name")), ("active", _field("active"))],
    "price": [
        ("product", _field("product")),
        ("amount", _price_amount),
        ("recurring", _recurring),
        ("active", _field("active")),
        ("lookup_key", _field("lookup_key")),
    ],
    "coupon": [("off", _coupon_off), ("duration", _field("duration")), ("name", _field("name"))],
    "billing.meter": [("event_name", _field("event_name")), ("status", _field("status"))],
    "subscription_schedule": [("customer", _field("customer")), ("status", _field("status"))],
    "subscription": [("customer", _field("customer")), ("status", _field("status"))],
    "invoice": [("customer", _field("customer")), ("status", _field("status")), ("total", _field("total"))],
    "invoiceitem": [("customer", _field("customer")), ("amount", _field("amount"))],
}


def show_account(store: Store, console: Console) -> None:
    counts = store.counts()
    summary = Table(title="Sandbox Stripe account")
    summary.add_column("object")
    summary.add_column("count", justify="right")
    for object_type, count in counts.items():
        summary.add_row(object_type, str(count))
    console.print(summary)
    for object_type, count in counts.items():
        columns = COLUMNS.get(object_type, [])
        table = Table(title=f"{object_type} ({min(count, MAX_ROWS)} newest of {count})")
        table.add_column("id")
        table.add_column("created")
        for header, _ in columns:
            table.add_column(header)
        table.add_column("metadata")
        page = store.page(object_type, limit=MAX_ROWS)
        for obj in page.data:
            table.add_row(obj["id"], _when(obj), *(read(obj) for _, read in columns), _meta(obj))
        console.print(table)
