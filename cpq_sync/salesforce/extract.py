"""Extract: the orders to sync, with their lines, accounts, products and price book entries, in as few API calls
as possible (one query with parent paths and an OrderItems subquery, 2,000 orders a page).

The field lists are derived from the record models and the mapping files, never written twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cpq_sync.desired import SfRef
from cpq_sync.errors import DataError
from cpq_sync.mapping.kinds import Kind
from cpq_sync.mapping.loader import MappingEntry, MappingSet
from cpq_sync.plan import Failure
from cpq_sync.records import (
    AccountRecord,
    OrderItemRecord,
    OrderRecord,
    PricebookEntryRecord,
    Product2Record,
    SfModel,
    flatten,
)
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.filters import SyncFilters
from cpq_sync.translate.contract import contract_of, is_amendment
from cpq_sync.translate.order import OrderBundle

log = logging.getLogger(__name__)
ID_CHUNK = 200  # ids per `Id IN (...)` clause, well within SOQL's URL length


def soql_datetime(value: dt.datetime, *, round_up: bool = False) -> str:
    """SOQL datetime literals have whole seconds; a window's upper bound rounds up so nothing modified before the
    run started is left for later (a record seen twice costs nothing: its content hash is unchanged)."""
    value = value.astimezone(dt.UTC)
    if round_up and value.microsecond:
        value = value.replace(microsecond=0) + dt.timedelta(seconds=1)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _unique(fields: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in fields:
        seen.setdefault(name.lower(), None)
    return list(seen)


@dataclass(frozen=True)
class FieldLists:
    """The SOQL field list of each object, derived from the models and the mappings."""

    account: list[str]
    product: list[str]
    pricebook_entry: list[str]
    order: list[str]
    order_item: list[str]

    @classmethod
    def build(cls, mappings: MappingSet, broken: Iterable[MappingEntry] = ()) -> FieldLists:
        """`broken` entries (unknown to the org) are left out, so one bad mapping cannot fail every query."""
        skip = set(broken)

        def paths(*kinds: Kind) -> list[str]:
            return [
                e.salesforce_path
                for k in kinds
                for e in mappings.for_kind(k)
                if e.salesforce_path is not None and e not in skip
            ]

        return cls(
            account=_unique([*AccountRecord.soql_fields(), *paths(Kind.CUSTOMER)]),
            product=_unique([*Product2Record.soql_fields(), *paths(Kind.PRODUCT)]),
            pricebook_entry=_unique([*PricebookEntryRecord.soql_fields(), *paths(Kind.PRICE)]),
            order=_unique(
                [
                    *OrderRecord.soql_fields(),
                    *paths(Kind.SUBSCRIPTION_SCHEDULE, Kind.PHASE, Kind.SUBSCRIPTION, Kind.INVOICE),
                ]
            ),
            order_item=_unique(
                [
                    *OrderItemRecord.soql_fields(),
                    *paths(Kind.PHASE_ITEM, Kind.PRICE_ORDER_ITEM, Kind.SUBSCRIPTION_ITEM, Kind.INVOICE_ITEM),
                ]
            ),
        )

    def order_query(self, where: str) -> str:
        items = [
            *self.order_item,
            *(f"product2.{f}" for f in self.product),
            *(f"pricebookentry.{f}" for f in self.pricebook_entry),
        ]
        select = [*self.order, *(f"account.{f}" for f in self.account)]
        return (
            f"SELECT {', '.join(_unique(select))}, (SELECT {', '.join(_unique(items))} FROM OrderItems "
            f"ORDER BY Id) FROM Order WHERE {where} ORDER BY SystemModstamp, Id"
        )


@dataclass
class Extracted:
    bundles: list[OrderBundle] = field(default_factory=list)
    # The other orders of the contracts the bundles belong to (initial orders, earlier amendments): context for
    # rebuilding a contract's schedule, not synced themselves.
    contract_orders: list[OrderBundle] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    changed_accounts: list[AccountRecord] = field(default_factory=list)
    changed_products: list[Product2Record] = field(default_factory=list)
    max_modstamp: dt.datetime | None = None
    orders_seen: int = 0


@dataclass(frozen=True)
class Window:
    """What to extract: a SystemModstamp window (incremental), everything (full), or given orders."""

    since: dt.datetime | None
    until: dt.datetime
    order_ids: tuple[str, ...] = ()
    sync_start_date: dt.date | None = None

    @property
    def by_ids(self) -> bool:
        return bool(self.order_ids)


def _modstamp_conditions(window: Window) -> list[str]:
    conditions = [f"SystemModstamp < {soql_datetime(window.until, round_up=True)}"]
    if window.since is not None:
        conditions.append(f"SystemModstamp >= {soql_datetime(window.since)}")
    return conditions


def order_conditions(window: Window, filters: SyncFilters) -> list[list[str]]:
    """WHERE clauses (one per query: id lists are chunked). User filters arrive re-rendered from their parse tree."""
    base: list[str] = []
    if filters.order:
        base.append(f"({filters.order})")
    if filters.account:
        base.append(f"AccountId IN (SELECT Id FROM Account WHERE {filters.account})")
    if window.by_ids:
        ids = list(window.order_ids)
        return [
            [*base, f"Id IN ({', '.join(soql_string(i) for i in ids[n : n + ID_CHUNK])})"]
            for n in range(0, len(ids), ID_CHUNK)
        ]
    conditions = [*base, *_modstamp_conditions(window)]
    if window.sync_start_date is not None:
        conditions.append(f"ActivatedDate >= {window.sync_start_date.isoformat()}T00:00:00Z")
    return [conditions]


def _child_records(org: OrgClient, order: dict[str, Any]) -> list[dict[str, Any]]:
    child = order.get("OrderItems") or order.get("orderitems")
    if not child:
        return []
    records: list[dict[str, Any]] = list(child["records"])
    while not child.get("done", True):
        child = org.query_more(child["nextRecordsUrl"])
        records.extend(child["records"])
    return records


def _frame(rows: list[dict[str, Any]], prefix: str) -> pd.DataFrame:
    """The part of flattened rows under `prefix` (e.g. `account.`), one row per distinct record id."""
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    columns = [c for c in frame.columns if c.startswith(prefix)]
    if f"{prefix}id" not in columns:
        return pd.DataFrame()
    part = frame[columns].rename(columns=lambda c: c[len(prefix) :])
    part = part[part["id"].notna()].drop_duplicates(subset="id")
    return part


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    if frame.empty:
        return []
    clean = frame.astype(object).where(frame.notna(), None)
    return clean.to_dict("records")  # type: ignore[return-value]


def _by_id(model: type[SfModel], frame: pd.DataFrame, bad: dict[str, DataError]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for row in _records(frame):
        try:
            record = model.from_flat(row)
        except DataError as exc:
            bad[str(row.get("id"))] = exc
            continue
        out[record.id] = record
    return out


def _query_rows(
    org: OrgClient, fields: FieldLists, where: Iterable[list[str]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    order_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    for conditions in where:
        soql = fields.order_query(" AND ".join(conditions))
        for order in org.query_all_iter(soql):
            order_rows.append(flatten(order))
            item_rows.extend(flatten(item) for item in _child_records(org, order))
    return order_rows, item_rows


def extract_orders(org: OrgClient, fields: FieldLists, window: Window, filters: SyncFilters) -> Extracted:
    result = Extracted()
    order_rows, item_rows = _query_rows(org, fields, order_conditions(window, filters))
    result.orders_seen = len(order_rows)
    if not order_rows:
        return result
    orders = pd.DataFrame(order_rows)
    modstamps = pd.to_datetime(orders["systemmodstamp"], utc=True, format="ISO8601")
    result.max_modstamp = modstamps.max().to_pydatetime()
    result.bundles, result.failures = _bundles(order_rows, item_rows)
    log.info("extracted %d orders (%d lines)", len(order_rows), len(item_rows))
    return result


def extract_contract_orders(org: OrgClient, fields: FieldLists, result: Extracted) -> None:
    """The other activated orders of the contracts the extracted amendments belong to, in one query per 200
    contracts (none when the run has no amendment): an amendment's schedule is rebuilt from its contract's initial
    order and every amendment."""
    have = {b.order.id for b in result.bundles} | {f.primary.id for f in result.failures}
    contracts = sorted({c for b in result.bundles if is_amendment(b) and (c := contract_of(b))})
    if not contracts:
        return
    where = [
        [
            "Status = 'Activated'",
            f"ContractId IN ({', '.join(soql_string(c) for c in contracts[n : n + ID_CHUNK])})",
        ]
        for n in range(0, len(contracts), ID_CHUNK)
    ]
    order_rows, item_rows = _query_rows(org, fields, where)
    keep = {str(r.get("id")) for r in order_rows} - have
    order_rows = [r for r in order_rows if str(r.get("id")) in keep]
    item_rows = [r for r in item_rows if str(r.get("orderid")) in keep]
    bundles, _failures = _bundles(order_rows, item_rows)  # a broken context order fails its amendments later
    result.contract_orders.extend(bundles)


def _bundles(
    order_rows: list[dict[str, Any]], item_rows: list[dict[str, Any]]
) -> tuple[list[OrderBundle], list[Failure]]:
    bundles: list[OrderBundle] = []
    failures: list[Failure] = []
    bad: dict[str, DataError] = {}
    accounts = _by_id(AccountRecord, _frame(order_rows, "account."), bad)
    products = _by_id(Product2Record, _frame(item_rows, "product2."), bad)
    pbes = _by_id(PricebookEntryRecord, _frame(item_rows, "pricebookentry."), bad)
    items_by_order: dict[str, list[OrderItemRecord]] = {}
    item_errors: dict[str, DataError] = {}
    for row in item_rows:
        try:
            item = OrderItemRecord.from_flat(row)
        except DataError as exc:
            item_errors.setdefault(str(row.get("orderid")), exc)
            continue
        items_by_order.setdefault(item.order_id, []).append(item)

    for row in order_rows:
        order_id = str(row.get("id"))
        primary = SfRef("Order", order_id)
        try:
            order = OrderRecord.from_flat(row)
            if order_id in item_errors:
                raise item_errors[order_id]
            account = accounts.get(order.account_id)
            if account is None:
                raise bad.get(order.account_id) or DataError(
                    "Order", order_id, "AccountId", "the order has no account."
                )
            items = items_by_order.get(order_id, [])
            for item in items:
                for ref in (item.product2_id, item.pricebook_entry_id):
                    if ref and ref in bad:
                        raise bad[ref]
        except DataError as exc:
            failures.append(Failure(primary, exc))
            continue
        bundles.append(
            OrderBundle(
                order=order,
                items=items,
                account=account,
                products={i.product2_id: products[i.product2_id] for i in items if i.product2_id in products},
                pricebook_entries={
                    i.pricebook_entry_id: pbes[i.pricebook_entry_id]
                    for i in items
                    if i.pricebook_entry_id and i.pricebook_entry_id in pbes
                },
            )
        )
    return bundles, failures


def extract_changed(
    org: OrgClient, fields: FieldLists, window: Window, filters: SyncFilters, result: Extracted
) -> None:
    """Accounts and products already in Stripe whose Salesforce record changed in the window (incremental only)."""
    if window.since is None or window.by_ids:
        return
    stamp = " AND ".join(_modstamp_conditions(window))
    queries: list[tuple[type[SfModel], str, str | None, list[Any]]] = [
        (AccountRecord, "Account", filters.account, result.changed_accounts),
        (Product2Record, "Product2", filters.product, result.changed_products),
    ]
    field_lists = {"Account": fields.account, "Product2": fields.product}
    for model, sobject, user_filter, sink in queries:
        where = f"Stripe_ID__c != null AND {stamp}" + (f" AND ({user_filter})" if user_filter else "")
        soql = f"SELECT {', '.join(field_lists[sobject])} FROM {sobject} WHERE {where} ORDER BY Id"
        for record in org.query_all_iter(soql):
            row = flatten(record)
            try:
                sink.append(model.from_flat(row))
            except DataError as exc:
                result.failures.append(Failure(SfRef(sobject, str(row.get("id"))), exc))
