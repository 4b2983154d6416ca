"""Extract: the orders to sync, with their lines, accounts, products and price book entries, in as few API calls
as possible (one query with parent paths and an OrderItems subquery, 2,000 orders a page).

The field lists are derived from the record models and the mapping files, never written twice.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from simple_salesforce.exceptions import SalesforceMalformedRequest

from cpq_sync.consumption import ConsumptionSchedule
from cpq_sync.desired import SfRef
from cpq_sync.errors import DataError, SyncError
from cpq_sync.mapping.kinds import Kind
from cpq_sync.mapping.loader import MappingEntry, MappingSet
from cpq_sync.plan import Failure
from cpq_sync.records import (
    AccountRecord,
    CouponRecord,
    OrderItemRecord,
    OrderRecord,
    PricebookEntryRecord,
    Product2Record,
    SfModel,
    flatten,
)
from cpq_sync.salesforce.client import OrgClient, is_query_timeout
from cpq_sync.salesforce.filters import SyncFilters
from cpq_sync.translate.contract import contract_of, is_amendment
from cpq_sync.translate.order import OrderBundle

log = logging.getLogger(__name__)
ID_CHUNK = 200  # ids per `Id IN (...)` clause, well within SOQL's URL length
BULK_THRESHOLD = 2_000  # orders above which extraction uses Bulk API 2.0
BULK_POLL_SECONDS = 0.5
NARROWEST_WINDOW = dt.timedelta(seconds=1)  # a window that still times out fails the run
EARLIEST_MODSTAMP = dt.datetime(1999, 1, 1, tzinfo=dt.UTC)  # before any Salesforce org: a full run's lower bound
ORDER_KINDS = (Kind.SUBSCRIPTION_SCHEDULE, Kind.PHASE, Kind.SUBSCRIPTION, Kind.INVOICE)  # mapped from an Order
ORDER_ITEM_KINDS = (Kind.PHASE_ITEM, Kind.PRICE_ORDER_ITEM, Kind.SUBSCRIPTION_ITEM, Kind.INVOICE_ITEM)  # OrderItem
ROWS_AT_ONCE = 10_000  # rows turned into dicts at a time while records are built


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


def select_in(org: OrgClient, soql: str, field: str, ids: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The records of `soql` whose `field` is one of `ids`, in the fewest calls. `soql` holds `{ids}` where the
    condition goes: one query per ID_CHUNK ids, unless reading the query for every id (`{ids}` -> `Id != null`)
    takes fewer pages; its first page says how many it has, so when it does not, that one call is the price of
    knowing."""
    wanted = sorted(set(ids))
    chunks = -(-len(wanted) // ID_CHUNK)
    if chunks > 1:
        first = org.first_page(soql.format(ids="Id != null"))
        per_page = max(1, len(first["records"]))
        if -(-int(first["totalSize"]) // per_page) < chunks:
            keep = set(wanted)
            yield from (r for r in org.records_from(first) if str(r.get(field)) in keep)
            return
    for n in range(0, len(wanted), ID_CHUNK):
        in_list = ", ".join(soql_string(i) for i in wanted[n : n + ID_CHUNK])
        yield from org.query_all_iter(soql.format(ids=f"{field} IN ({in_list})"))


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
    coupon: list[str] = field(default_factory=list)  # Quote_Stripe_Coupon__c, read through its associations
    # The paths the mappings read from an order and from an order line: all their records keep for the
    # translators (None: every field queried).
    order_values: list[str] | None = None
    order_item_values: list[str] | None = None

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
            order=_unique([*OrderRecord.soql_fields(), *paths(*ORDER_KINDS)]),
            order_item=_unique([*OrderItemRecord.soql_fields(), *paths(*ORDER_ITEM_KINDS)]),
            coupon=_unique([*CouponRecord.soql_fields(), *paths(Kind.COUPON)]),
            order_values=_unique(paths(*ORDER_KINDS)),
            order_item_values=_unique(paths(*ORDER_ITEM_KINDS)),
        )

    def order_select(self) -> list[str]:
        return _unique([*self.order, *(f"account.{f}" for f in self.account)])

    def item_select(self) -> list[str]:
        return _unique(
            [
                *self.order_item,
                *(f"product2.{f}" for f in self.product),
                *(f"pricebookentry.{f}" for f in self.pricebook_entry),
            ]
        )

    def order_query(self, where: str) -> str:
        return (
            f"SELECT {', '.join(self.order_select())}, (SELECT {', '.join(self.item_select())} FROM OrderItems "
            f"ORDER BY Id) FROM Order WHERE {where} ORDER BY SystemModstamp, Id"
        )


ACTIVATED = "Status = 'Activated'"  # the default Order filter; a contract's orders are its activated ones


@dataclass
class Extracted:
    bundles: list[OrderBundle] = field(default_factory=list)
    # The other orders of the contracts the bundles belong to (initial orders, earlier amendments): context for
    # rebuilding a contract's schedule, not synced themselves.
    contract_orders: list[OrderBundle] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    changed_accounts: list[AccountRecord] = field(default_factory=list)
    changed_products: list[Product2Record] = field(default_factory=list)
    changed_pricebook_entries: list[tuple[PricebookEntryRecord, Product2Record]] = field(default_factory=list)
    consumption: dict[str, tuple[ConsumptionSchedule, ...]] = field(default_factory=dict)  # by product id
    synced_currencies: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # account -> (order, cur)
    max_modstamp: dt.datetime | None = None
    orders_seen: int = 0


@dataclass(frozen=True)
class Window:
    """What to extract: a SystemModstamp window (incremental), everything (full), or given orders."""

    since: dt.datetime | None
    until: dt.datetime
    order_ids: tuple[str, ...] = ()
    sync_start_date: dt.date | None = None
    account_ids: tuple[str, ...] = ()
    product_ids: tuple[str, ...] = ()

    @property
    def by_ids(self) -> bool:
        return bool(self.order_ids or self.account_ids or self.product_ids)


def _modstamp_conditions(window: Window) -> list[str]:
    conditions = [f"SystemModstamp < {soql_datetime(window.until, round_up=True)}"]
    if window.since is not None:
        conditions.append(f"SystemModstamp >= {soql_datetime(window.since)}")
    return conditions


def filter_conditions(filters: SyncFilters) -> list[str]:
    """The sync filters' conditions on Order (its own, and its account's)."""
    base: list[str] = []
    if filters.order:
        base.append(f"({filters.order})")
    if filters.account:
        base.append(f"AccountId IN (SELECT Id FROM Account WHERE {filters.account})")
    return base


def order_conditions(window: Window, filters: SyncFilters) -> list[list[str]]:
    """WHERE clauses (one per query: id lists are chunked). User filters arrive re-rendered from their parse tree."""
    base = filter_conditions(filters)
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


def _part(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The columns of `frame` under `prefix` (e.g. `account.`), one row per distinct record id."""
    columns = [c for c in frame.columns if c.startswith(prefix)]
    if f"{prefix}id" not in columns:
        return pd.DataFrame()
    part = frame[columns].rename(columns=lambda c: c[len(prefix) :])
    return part[part["id"].notna()].drop_duplicates(subset="id")


def _records(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
    """The rows of `frame` (only `columns`, when given) as dicts with None for null, a slice at a time: only one
    slice of rows exists as dicts at once."""
    names = list(frame.columns) if columns is None else [c for c in columns if c in frame.columns]
    for start in range(0, len(frame), ROWS_AT_ONCE):
        part = frame.iloc[start : start + ROWS_AT_ONCE]
        lists = []
        for name in names:
            column = part[name].to_numpy(dtype=object, copy=True)
            column[pd.isna(column)] = None
            lists.append(column.tolist())
        for values in zip(*lists, strict=True):
            yield dict(zip(names, values, strict=True))


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


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame()
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _rest_rows(
    org: OrgClient,
    fields: FieldLists,
    where: str,
    first: dict[str, Any] | None = None,
    *,
    narrowable: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One REST query: orders with their lines inline (2,000 orders a page); `first`: its first page, when read."""
    order_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    if first is not None:
        pages = org.records_from(first)
    else:
        pages = org.query_all_iter(fields.order_query(where), narrowable=narrowable)
    for order in pages:
        order_rows.append(flatten(order))
        item_rows.extend(flatten(item) for item in _child_records(org, order))
    return order_rows, item_rows


def _as_frame(rows: list[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """REST rows (typed JSON values, kept as they are) or a Bulk frame (strings) as one kind of frame."""
    return rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, dtype=object)


def _csv_frame(chunks: Iterable[str]) -> pd.DataFrame:
    """Bulk API 2.0 CSV result pages -> one frame of strings, parsed a page at a time (lower-case dotted column
    names; an empty value is null in Bulk CSV)."""
    pages = [
        pd.read_csv(io.StringIO(chunk), dtype=object, keep_default_na=False, na_values=[""], quoting=csv.QUOTE_ALL)
        for chunk in chunks
    ]
    frame = _concat(pages)
    frame.columns = [str(c).lower() for c in frame.columns]
    return frame


def _bulk_rows(org: OrgClient, fields: FieldLists, where: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two Bulk API 2.0 query jobs (Bulk has no subqueries): the orders, then their lines through a semi-join."""
    order_soql = f"SELECT {', '.join(fields.order_select())} FROM Order WHERE {where}"
    item_soql = (
        f"SELECT {', '.join(fields.item_select())} FROM OrderItem WHERE OrderId IN (SELECT Id FROM Order WHERE {where})"
    )
    log.info("extracting with Bulk API 2.0")

    def bulk(soql: str, sobject: str) -> pd.DataFrame:
        return org.call(lambda sf: _csv_frame(getattr(sf.bulk2, sobject).query(soql, wait=BULK_POLL_SECONDS)))

    # Bulk results come in no order; an order's lines are taken in the REST subquery's order (`ORDER BY Id`): a
    # schedule's items follow them (its content hash too). The orders' own order changes nothing they become.
    items = bulk(item_soql, "OrderItem")
    return bulk(order_soql, "Order"), items.sort_values("id", ignore_index=True) if len(items) else items


def _query_rows(org: OrgClient, fields: FieldLists, where: Iterable[list[str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """REST rows for several WHERE clauses (e.g. chunked id lists)."""
    orders: list[pd.DataFrame] = []
    items: list[pd.DataFrame] = []
    for conditions in where:
        page_orders, page_items = _rest_rows(org, fields, " AND ".join(conditions))
        orders.append(_as_frame(page_orders))
        items.append(_as_frame(page_items))
    return _concat(orders), _concat(items)


def count_orders(org: OrgClient, where: str, *, narrowable: bool = False) -> int:
    result: dict[str, Any] = org.call(
        lambda sf: sf.query(f"SELECT COUNT() FROM Order WHERE {where}"), narrowable=narrowable
    )
    return int(result["totalSize"])


def _window_rows(
    org: OrgClient, fields: FieldLists, window: Window, filters: SyncFilters, bulk_threshold: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The orders of a SystemModstamp window: one call when nothing changed (a COUNT() for a full window, the
    first REST page for an incremental one).
    When Salesforce times the query out (QUERY_TIMEOUT), the window is halved and each half read in turn, down
    to NARROWEST_WINDOW; a window that still times out fails the run with what to do about it."""
    (conditions,) = order_conditions(window, filters)
    where = " AND ".join(conditions)
    try:
        first: dict[str, Any] | None = None
        if window.since is None:  # a full window, usually large: counted (one light call), not a first page
            count = count_orders(org, where, narrowable=True)
        else:  # an incremental window, usually small: its first page says how many it holds (totalSize)
            first = org.first_page(fields.order_query(where), narrowable=True)
            count = int(first["totalSize"])
        if count == 0:
            return pd.DataFrame(), pd.DataFrame()
        if count > bulk_threshold:
            return _bulk_rows(org, fields, where)
        orders, items = _rest_rows(org, fields, where, first, narrowable=True)
        return _as_frame(orders), _as_frame(items)
    except SalesforceMalformedRequest as exc:
        if not is_query_timeout(exc):
            raise
    since = window.since or EARLIEST_MODSTAMP
    mid = (since + (window.until - since) / 2).replace(microsecond=0)
    if mid <= since:
        mid = since.replace(microsecond=0) + dt.timedelta(seconds=1)
    if window.until - since <= NARROWEST_WINDOW or mid >= window.until:
        raise SyncError(
            f"the Order query timed out (QUERY_TIMEOUT) even for the window of SystemModstamp from "
            f"{soql_datetime(since)} to {soql_datetime(window.until, round_up=True)}; make the Order sync filter "
            "more selective, or ask Salesforce support for a custom index on the filtered fields"
        )
    log.warning(
        "the Order query timed out (QUERY_TIMEOUT); reading %s .. %s in two halves", soql_datetime(since), window.until
    )
    early = _window_rows(org, fields, dataclasses.replace(window, until=mid), filters, bulk_threshold)
    late = _window_rows(org, fields, dataclasses.replace(window, since=mid), filters, bulk_threshold)
    return _concat([early[0], late[0]]), _concat([early[1], late[1]])


def extract_orders(
    org: OrgClient,
    fields: FieldLists,
    window: Window,
    filters: SyncFilters,
    *,
    bulk_threshold: int = BULK_THRESHOLD,
) -> Extracted:
    """REST for small sets; above `bulk_threshold` orders, Bulk API 2.0 (Salesforce's own guidance: 2,000 records).
    An incremental window, usually small, is read with REST from its first page, which says how many it holds
    (`totalSize`: one call when nothing changed; a large one goes on through Bulk). A full window, usually large,
    is counted first (`COUNT()`, one light call) rather than paying for a first page of 2,000 orders it drops.
    A window whose query times out (QUERY_TIMEOUT) is narrowed."""
    result = Extracted()
    if window.by_ids:
        orders, items = _query_rows(org, fields, order_conditions(window, filters))
    else:
        orders, items = _window_rows(org, fields, window, filters, bulk_threshold)
    result.orders_seen = len(orders)
    if not len(orders):
        return result
    modstamps = pd.to_datetime(orders["systemmodstamp"], utc=True, format="ISO8601")
    result.max_modstamp = modstamps.max().to_pydatetime()
    result.bundles, result.failures = _bundles(fields, orders, items)
    log.info("extracted %d orders (%d lines)", len(orders), len(items))
    return result


def extract_contract_orders(org: OrgClient, fields: FieldLists, result: Extracted, filters: SyncFilters) -> None:
    """The other activated orders of the contracts the extracted amendments belong to (none when the run has no
    amendment): an amendment's schedule is rebuilt from its contract's initial order and every amendment. Their ids
    first (one query per 200 contracts), then only the orders the run does not hold already (a full sync holds
    them all, so it reads no order twice).

    A contract with an activated order that the sync filters leave out does not sync: its orders in the run fail,
    naming that order (a schedule built without it would bill what the contract no longer is, one built with it
    what the filters exclude; the connector refused such amendments too). Checked with a second query per 200
    contracts when the filters narrow the activated orders (not with the default filter)."""
    have = {b.order.id for b in result.bundles} | {f.primary.id for f in result.failures}
    contracts = sorted({c for b in result.bundles if is_amendment(b) and (c := contract_of(b))})
    narrowed = [c for c in filter_conditions(filters) if c != f"({ACTIVATED})"]
    contract_of_order: dict[str, str] = {}
    left_out: dict[str, str] = {}  # contract -> an activated order of it the filters leave out
    for n in range(0, len(contracts), ID_CHUNK):
        in_list = ", ".join(soql_string(c) for c in contracts[n : n + ID_CHUNK])
        where = f"{ACTIVATED} AND ContractId IN ({in_list})"
        rows = org.query_all_iter(f"SELECT Id, ContractId FROM Order WHERE {where} ORDER BY Id")
        found = {str(row["Id"]): str(row["ContractId"]) for row in rows}
        contract_of_order.update(found)
        if narrowed:
            soql = f"SELECT Id FROM Order WHERE {' AND '.join([where, *narrowed])}"
            kept = {str(row["Id"]) for row in org.query_all_iter(soql)}
            for order_id in sorted(set(found) - kept):
                left_out.setdefault(found[order_id], order_id)
    if left_out:
        _stop_contracts(result, left_out, filters)
    missing = [i for i, c in contract_of_order.items() if i not in have and c not in left_out]
    where_ids = [[f"Id IN ({', '.join(soql_string(i) for i in missing[n : n + ID_CHUNK])})"]
                 for n in range(0, len(missing), ID_CHUNK)]  # fmt: skip
    orders, items = _query_rows(org, fields, where_ids)
    bundles, _failures = _bundles(fields, orders, items)  # a broken context order fails its amendments later
    result.contract_orders.extend(bundles)


def _stop_contracts(result: Extracted, left_out: dict[str, str], filters: SyncFilters) -> None:
    """The run's orders of contracts with an activated order the sync filters leave out fail, naming it."""
    kept: list[OrderBundle] = []
    shown = "; ".join(f"{sobject}: {text}" for sobject, text in filters.items())
    for bundle in result.bundles:
        contract = contract_of(bundle)
        if contract is None or contract not in left_out:
            kept.append(bundle)
            continue
        error = DataError(
            "Order",
            left_out[contract],
            None,
            f"this activated order of contract {contract} does not pass the sync filters ({shown}); a contract's "
            "schedule is built from all its activated orders, so none of them syncs while one is left out.",
            "change the order or the sync filters so that every activated order of the contract passes them.",
        )
        result.failures.append(Failure(SfRef("Order", bundle.order.id), error))
    result.bundles = kept


def _bundles(fields: FieldLists, orders: pd.DataFrame, items: pd.DataFrame) -> tuple[list[OrderBundle], list[Failure]]:
    """Order bundles from the flattened rows; each record is validated from its own columns (its query's fields),
    the parents' columns (account., product2., pricebookentry.) build the parents once each."""
    bundles: list[OrderBundle] = []
    failures: list[Failure] = []
    bad: dict[str, DataError] = {}
    accounts = _by_id(AccountRecord, _part(orders, "account."), bad)
    products = _by_id(Product2Record, _part(items, "product2."), bad)
    pbes = _by_id(PricebookEntryRecord, _part(items, "pricebookentry."), bad)
    items_by_order: dict[str, list[OrderItemRecord]] = {}
    item_errors: dict[str, DataError] = {}
    for row in _records(items, fields.order_item):
        try:
            item = OrderItemRecord.from_row(row, fields.order_item_values)
        except DataError as exc:
            item_errors.setdefault(str(row.get("orderid")), exc)
            continue
        items_by_order.setdefault(item.order_id, []).append(item)

    for row in _records(orders, fields.order):
        order_id = str(row.get("id"))
        primary = SfRef("Order", order_id)
        try:
            order = OrderRecord.from_row(row, fields.order_values)
            if order_id in item_errors:
                raise item_errors[order_id]
            account = accounts.get(order.account_id)
            if account is None:
                raise bad.get(order.account_id) or DataError(
                    "Order", order_id, "AccountId", "the order has no account."
                )
            lines = items_by_order.get(order_id, [])
            for item in lines:
                for ref in (item.product2_id, item.pricebook_entry_id):
                    if ref and ref in bad:
                        raise bad[ref]
        except DataError as exc:
            failures.append(Failure(primary, exc))
            continue
        bundles.append(
            OrderBundle(
                order=order,
                items=lines,
                account=account,
                products={i.product2_id: products[i.product2_id] for i in lines if i.product2_id in products},
                pricebook_entries={
                    i.pricebook_entry_id: pbes[i.pricebook_entry_id]
                    for i in lines
                    if i.pricebook_entry_id and i.pricebook_entry_id in pbes
                },
            )
        )
    return bundles, failures


def _passing(org: OrgClient, sobject: str, ids: set[str], condition: str) -> set[str]:
    """The ids among `ids` that pass a user filter (one query per 200 ids)."""
    ordered = sorted(ids)
    passing: set[str] = set()
    for n in range(0, len(ordered), ID_CHUNK):
        chunk = ", ".join(soql_string(i) for i in ordered[n : n + ID_CHUNK])
        soql = f"SELECT Id FROM {sobject} WHERE Id IN ({chunk}) AND ({condition})"
        passing |= {str(r["Id"]) for r in org.query_all_iter(soql)}
    return passing


def apply_line_filters(org: OrgClient, result: Extracted, filters: SyncFilters) -> None:
    """An order whose product or price book entry does not pass its sync filter cannot be synced: it fails with an
    error naming the line, the record and the filter (the connector synced such orders with what it could)."""

    def product(item: OrderItemRecord) -> str | None:
        return item.product2_id

    def pricebook_entry(item: OrderItemRecord) -> str | None:
        return item.pricebook_entry_id

    checks = [
        ("Product2", "Product2Id", filters.product, product),
        ("PricebookEntry", "PricebookEntryId", filters.pricebook_entry, pricebook_entry),
    ]
    for sobject, field_name, condition, key in checks:
        if not condition or not result.bundles:
            continue
        ids = {k for b in result.bundles for i in b.items if (k := key(i))}
        passing = _passing(org, sobject, ids, condition)
        kept = []
        for bundle in result.bundles:
            bad = next((i for i in bundle.items if key(i) and key(i) not in passing and not i.skip), None)
            if bad is None:
                kept.append(bundle)
                continue
            error = DataError(
                "OrderItem",
                bad.id,
                field_name,
                f"{sobject} {key(bad)} does not pass the {sobject} sync filter ({condition}).",
                f"change the {sobject} record or the sync filter, or skip the line with Skip_Line_Item__c.",
            )
            result.failures.append(Failure(SfRef("Order", bundle.order.id), error))
        result.bundles = kept


def _extract_by_ids(
    org: OrgClient, fields: FieldLists, window: Window, filters: SyncFilters, result: Extracted
) -> None:
    wanted: list[tuple[type[SfModel], str, tuple[str, ...], str | None, list[Any], list[str]]] = [
        (AccountRecord, "Account", window.account_ids, filters.account, result.changed_accounts, fields.account),
        (Product2Record, "Product2", window.product_ids, filters.product, result.changed_products, fields.product),
    ]
    for model, sobject, ids, user_filter, sink, field_list in wanted:
        for n in range(0, len(ids), ID_CHUNK):
            where = f"Id IN ({', '.join(soql_string(i) for i in ids[n : n + ID_CHUNK])})"
            where += f" AND ({user_filter})" if user_filter else ""
            soql = f"SELECT {', '.join(field_list)} FROM {sobject} WHERE {where} ORDER BY Id"
            for record in org.query_all_iter(soql):
                row = flatten(record)
                try:
                    sink.append(model.from_flat(row))
                except DataError as exc:
                    result.failures.append(Failure(SfRef(sobject, str(row.get("id"))), exc))


def extract_changed(
    org: OrgClient, fields: FieldLists, window: Window, filters: SyncFilters, result: Extracted
) -> None:
    """Accounts and products already in Stripe whose Salesforce record changed in the window (incremental only),
    or the accounts and products given by id (whether in Stripe yet or not)."""
    if window.account_ids or window.product_ids:
        _extract_by_ids(org, fields, window, filters, result)
        return
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
