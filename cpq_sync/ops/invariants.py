"""The sync's invariants, checked through the real clients after any run (faulty, killed or clean):

* every eligible order (it passes the sync filters, was activated on or after the sync start date, and is not
  skipped by a recorded Data Error) is in Stripe exactly once: counted by the ``salesforce_order_id`` metadata of
  the top-level Stripe objects (schedules, subscriptions not run by a schedule, invoices not billing a
  subscription), an amendment by the Stripe id written back on it. More than one object is a *duplicate*; none,
  once the watermark has passed the order, and no Error Sync Record for it, is a *lost* order;
* every such Stripe object, and every customer and product, is referenced from Salesforce (``Stripe_ID__c``);
* no Sync Record says Success for a Stripe object that does not exist;
* the billing preview of each plain schedule (one order: no amendment, coupon, usage line or skipped past
  invoices) and of each one-time invoice bills what CPQ sold: the sum of the order's lines, quantity x unit price,
  within a cent per invoice line (Stripe rounds each line; CPQ's unit price is for the whole term). A schedule
  that bills more than one order (an amended contract) is left out: this check compares one order's lines with
  one schedule's preview. Such a contract does bill CPQ's prorated amounts: units added off a billing boundary
  bill their prorated time once, units removed are credited once (a one-time adjustment on the subscription's
  next invoice, README "Reduction credits"); `tests/e2e/test_prorated_lifecycle.py` checks that money period
  by period.

``check_invariants(directory)`` reads the two sandboxes; the billing preview is the sandbox Stripe's
(``cpq_sync.sandbox.stripe.billing_preview``), so the money check needs the sandbox directory.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import stripe
from pydantic import BaseModel, Field
from simple_salesforce.api import Salesforce

from cpq_sync.config import SyncPreferences
from cpq_sync.salesforce.extract import ID_CHUNK, Window, order_conditions, soql_string
from cpq_sync.salesforce.filters import SyncFilters
from cpq_sync.salesforce.state import WATERMARK_KEY
from cpq_sync.salesforce.write_back import Status

DATA_ERROR_PREFIX = "Data Error"
ORDER_METADATA = "salesforce_order_id"
_FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


class MoneyMismatch(BaseModel):
    stripe_id: str
    order_ids: list[str]
    sold_cents: int
    billed_cents: int


class InvariantReport(BaseModel):
    """What the two sides hold, against the sync's promises. Each list names the records (ids) that break one."""

    orders_eligible: int = 0
    orders_synced: int = 0
    orders_data_errors: list[str] = Field(default_factory=list)  # eligible by filter, skipped by a Data Error
    orders_errored: list[str] = Field(default_factory=list)  # an Error Sync Record that is not a Data Error
    error_messages: dict[str, str] = Field(default_factory=dict)  # the errored orders' Sync Record messages
    orders_pending: list[str] = Field(default_factory=list)  # not in Stripe, changed after the watermark
    duplicates: dict[str, list[str]] = Field(default_factory=dict)  # Salesforce order id -> its Stripe objects
    lost: list[str] = Field(default_factory=list)
    unreferenced: list[str] = Field(default_factory=list)  # Stripe ids no Salesforce record points at
    false_success: list[str] = Field(default_factory=list)  # Sync Record ids (Success, Stripe object missing)
    money_checked: int = 0
    money_mismatches: list[MoneyMismatch] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing billed twice, nothing dropped, nothing orphaned or claimed, every checked amount right."""
        return not (self.duplicates or self.lost or self.unreferenced or self.false_success or self.money_mismatches)

    def problems(self) -> str:
        parts = [
            f"{name}: {value}"
            for name, value in (
                ("duplicates", self.duplicates),
                ("lost", self.lost),
                ("unreferenced", self.unreferenced),
                ("false_success", self.false_success),
                ("money_mismatches", [m.model_dump() for m in self.money_mismatches]),
            )
            if value
        ]
        return "; ".join(parts) or "none"


def cents(amount: Decimal | float | str) -> int:
    """An amount in a currency's major unit, in cents."""
    return int((Decimal(str(amount)) * 100).quantize(Decimal(1)))


def cents_sold(sf: Salesforce, *order_ids: str, usage: bool = True) -> int:
    """What CPQ sold on these orders, in cents: the sum of their lines' quantity x unit price (without the usage
    lines when `usage` is False: those bill on metered usage, not on CPQ's estimate)."""
    soql = "SELECT Quantity, UnitPrice, SBQQ__ChargeType__c FROM OrderItem WHERE OrderId IN ({ids})"
    total = sum(
        (
            Decimal(str(row["Quantity"])) * Decimal(str(row["UnitPrice"]))
            for row in _by_chunks(sf, soql, order_ids)
            if usage or row["SBQQ__ChargeType__c"] != "Usage"
        ),
        Decimal(0),
    )
    return cents(total)


def _rows(sf: Salesforce, soql: str) -> Iterator[dict[str, Any]]:
    for row in sf.query_all_iter(soql):
        yield dict(row)


def _by_chunks(sf: Salesforce, soql: str, ids: Iterable[str]) -> Iterator[dict[str, Any]]:
    """`soql` has one `{ids}` placeholder for an `IN (...)` list, run 200 ids at a time."""
    ordered = sorted(set(ids))
    for n in range(0, len(ordered), ID_CHUNK):
        yield from _rows(sf, soql.format(ids=", ".join(soql_string(i) for i in ordered[n : n + ID_CHUNK])))


def _all(listing: Any, params: dict[str, Any] | None = None) -> list[Any]:
    return list(listing({"limit": 100, **(params or {})}).auto_paging_iter())


def _metadata(obj: Any) -> dict[str, str]:
    meta = getattr(obj, "metadata", None)
    return {} if meta is None else dict(meta.to_dict())


def _id_of(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value.id)


def stripe_objects(client: stripe.StripeClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """(top-level order objects by id, every object with a Salesforce reference by id)."""
    v1 = client.v1
    schedules = _all(v1.subscription_schedules.list)
    subscriptions = _all(v1.subscriptions.list, {"status": "all"})
    invoices = _all(v1.invoices.list)
    customers = _all(v1.customers.list)
    products = _all(v1.products.list)
    top: dict[str, Any] = {s.id: s for s in schedules}
    top.update({s.id: s for s in subscriptions if _id_of(getattr(s, "schedule", None)) is None})
    top.update({i.id: i for i in invoices if parent_subscription(i) is None})
    everything: dict[str, Any] = {**top, **{c.id: c for c in customers}, **{p.id: p for p in products}}
    everything.update({s.id: s for s in subscriptions})
    return top, everything


def parent_subscription(obj: Any) -> str | None:
    """The subscription an invoice (or an invoice item) bills for, from its `parent` (None: none)."""
    parent = getattr(obj, "parent", None)
    details = getattr(parent, "subscription_details", None) if parent is not None else None
    return _id_of(getattr(details, "subscription", None)) if details is not None else None


def _eligible_orders(sf: Salesforce, preferences: SyncPreferences) -> list[dict[str, Any]]:
    """The orders a full run considers, with the very conditions the extract uses."""
    start = None if preferences.migrate_orders_before_start_date else preferences.sync_start_date
    window = Window(since=None, until=_FAR_FUTURE, sync_start_date=start)
    (conditions,) = order_conditions(window, SyncFilters.from_preferences(preferences.filters))
    soql = (
        "SELECT Id, Stripe_ID__c, SystemModstamp, Skip_Past_Initial_Invoices__c FROM Order WHERE "
        + " AND ".join(conditions)
        + " ORDER BY Id"
    )
    return list(_rows(sf, soql))


def _latest_sync_records(sf: Salesforce) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """(the latest Sync Record of each primary record, every Success record)."""
    soql = (
        "SELECT Id, Primary_Record_ID__c, Resolution_Status__c, Resolution_Message__c, Stripe_Object_ID__c, "
        "LastModifiedDate FROM Sync_Record__c ORDER BY LastModifiedDate DESC, Id DESC"
    )
    latest: dict[str, dict[str, Any]] = {}
    successes: list[dict[str, Any]] = []
    for row in _rows(sf, soql):
        latest.setdefault(str(row["Primary_Record_ID__c"]), row)
        if row["Resolution_Status__c"] == Status.SUCCESS.value:
            successes.append(row)
    return latest, successes


def _watermark(sf: Salesforce) -> dt.datetime | None:
    rows = list(_rows(sf, f"SELECT Value__c FROM Stripe_Sync_State__c WHERE Key__c = {soql_string(WATERMARK_KEY)}"))
    value = rows[0]["Value__c"] if rows else None
    return dt.datetime.fromisoformat(value) if value else None


def _referenced_ids(sf: Salesforce) -> set[str]:
    ids: set[str] = set()
    for sobject in ("Account", "Product2", "Order"):
        ids |= {
            str(r["Stripe_ID__c"]) for r in _rows(sf, f"SELECT Stripe_ID__c FROM {sobject} WHERE Stripe_ID__c != null")
        }
    return ids


def sandbox_clients(directory: Path) -> tuple[Salesforce, stripe.StripeClient]:
    from cpq_sync.sandbox import salesforce as sandbox_sf
    from cpq_sync.sandbox import stripe as sandbox_stripe

    return sandbox_sf.connect(directory, faults=sandbox_sf.SalesforceFaults()), sandbox_stripe.connect(
        directory, faults=sandbox_stripe.StripeFaults()
    )


def check_invariants(
    directory: Path,
    *,
    preferences: SyncPreferences | None = None,
    sf: Salesforce | None = None,
    client: stripe.StripeClient | None = None,
    money: bool = True,
) -> InvariantReport:
    """Checks the invariants on the sandboxes in `directory` (clients without faults unless given)."""
    preferences = preferences or SyncPreferences()
    if sf is None or client is None:
        default_sf, default_client = sandbox_clients(directory)
        sf, client = sf or default_sf, client or default_client
    report = InvariantReport()
    orders = _eligible_orders(sf, preferences)
    latest, successes = _latest_sync_records(sf)
    top, everything = stripe_objects(client)
    watermark = _watermark(sf)

    owners: defaultdict[str, list[str]] = defaultdict(list)
    for obj in top.values():
        order_id = _metadata(obj).get(ORDER_METADATA)
        if order_id:
            owners[order_id].append(obj.id)
    for order in orders:
        order_id = str(order["Id"])
        mine = owners.get(order_id, [])
        if len(mine) > 1:  # whatever else is true of the order
            report.duplicates[order_id] = sorted(mine)
        record = latest.get(order_id)
        if record is not None and record["Resolution_Status__c"] == Status.ERROR.value:
            message = str(record["Resolution_Message__c"] or "")
            if message.startswith(DATA_ERROR_PREFIX):
                report.orders_data_errors.append(order_id)
                continue
            report.orders_errored.append(order_id)
            report.error_messages[order_id] = message
        report.orders_eligible += 1
        if mine or (order["Stripe_ID__c"] and str(order["Stripe_ID__c"]) in everything):
            report.orders_synced += 1
            continue
        if order_id in report.orders_errored:
            continue
        changed = dt.datetime.fromisoformat(str(order["SystemModstamp"]))
        if watermark is None or changed >= watermark:
            report.orders_pending.append(order_id)
        else:
            report.lost.append(order_id)

    referenced = _referenced_ids(sf)
    report.unreferenced = sorted(
        obj_id
        for obj_id, obj in everything.items()
        if obj_id not in referenced and (obj_id in top or obj_id.startswith(("cus_", "prod_")))
    )
    report.false_success = sorted(
        str(r["Id"])
        for r in successes
        if r["Stripe_Object_ID__c"]
        and str(r["Stripe_Object_ID__c"]) not in everything
        and not _exists(client, str(r["Stripe_Object_ID__c"]))
    )
    if money:
        _check_money(directory, sf, orders, top, report)
    return report


def _exists(client: stripe.StripeClient, object_id: str) -> bool:
    """Objects outside the listed kinds (prices, coupons), retrieved one by one."""
    v1 = client.v1
    retrieve = {"price_": v1.prices.retrieve, "prod_": v1.products.retrieve, "cus_": v1.customers.retrieve}
    for prefix, fn in retrieve.items():
        if object_id.startswith(prefix):
            try:
                fn(object_id)
                return True
            except stripe.InvalidRequestError:
                return False
    return False


def _check_money(
    directory: Path,
    sf: Salesforce,
    orders: list[dict[str, Any]],
    top: dict[str, Any],
    report: InvariantReport,
) -> None:
    """Plain schedules and one-time invoices: what the preview bills over the term is what CPQ sold."""
    from cpq_sync.sandbox.stripe import billing_preview

    by_object: defaultdict[str, list[str]] = defaultdict(list)
    skip_past = set()
    for order in orders:
        if order["Stripe_ID__c"] in top:
            by_object[str(order["Stripe_ID__c"])].append(str(order["Id"]))
            if order["Skip_Past_Initial_Invoices__c"]:
                skip_past.add(str(order["Stripe_ID__c"]))
    usage_orders = {
        str(r["OrderId"])
        for r in _by_chunks(
            sf,
            "SELECT OrderId FROM OrderItem WHERE SBQQ__ChargeType__c = 'Usage' AND OrderId IN ({ids})",
            [o for ids in by_object.values() for o in ids],
        )
    }
    for object_id, order_ids in sorted(by_object.items()):
        obj = top[object_id]
        if object_id.startswith("sub_") and not object_id.startswith("sub_sched_"):
            continue  # open-ended (evergreen): no term to compare
        if len(order_ids) > 1 or object_id in skip_past or usage_orders & set(order_ids) or has_discounts(obj):
            continue
        invoices = billing_preview(directory, object_id)
        billed = sum(invoice.total for invoice in invoices)
        sold = cents_sold(sf, *order_ids)
        report.money_checked += 1
        # Stripe rounds each invoice line to the cent; CPQ's unit price is for the whole term.
        if abs(billed - sold) > sum(len(invoice.lines) for invoice in invoices):
            report.money_mismatches.append(
                MoneyMismatch(stripe_id=object_id, order_ids=order_ids, sold_cents=sold, billed_cents=billed)
            )


def has_discounts(obj: Any) -> bool:
    if getattr(obj, "discounts", None):
        return True
    for stripe_phase in getattr(obj, "phases", None) or []:
        phase = stripe_phase.to_dict()
        if phase.get("discounts") or any(item.get("discounts") for item in phase.get("items", [])):
            return True
    return False
