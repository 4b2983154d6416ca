"""Extract what prices need beyond the order query: the products' consumption schedules (one query per 200
products, rates and product links as subqueries), the price book entries already in Stripe that changed in the
window (incremental runs), and the currencies each account already bills in (one query per 200 accounts)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from cpq_sync.consumption import ConsumptionRateRecord, ConsumptionSchedule, ConsumptionScheduleRecord
from cpq_sync.desired import SfRef
from cpq_sync.errors import DataError
from cpq_sync.plan import Failure
from cpq_sync.records import PricebookEntryRecord, Product2Record, flatten
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.extract import (
    ID_CHUNK,
    Extracted,
    FieldLists,
    Window,
    _modstamp_conditions,
    select_in,
    soql_string,
)
from cpq_sync.salesforce.filters import SyncFilters

log = logging.getLogger(__name__)

SCHEDULE_FIELDS = ("Id", "Type", "CurrencyIsoCode", "IsActive")
CURRENCY_FIELD = "currencyisocode"


def org_is_multi_currency(order_describe: Mapping[str, Any]) -> bool:
    """Only multi-currency orgs have CurrencyIsoCode (on Order and every other object)."""
    return any(str(f.get("name", "")).lower() == CURRENCY_FIELD for f in order_describe.get("fields", []))


def single_currency_fields(fields: FieldLists, multi_currency: bool) -> FieldLists:
    """In an org without multi-currency, CurrencyIsoCode does not exist: it leaves every query (prices then use
    the default currency preference)."""
    if multi_currency:
        return fields

    def keep(names: list[str]) -> list[str]:
        return [n for n in names if n.lower().rsplit(".", 1)[-1] != CURRENCY_FIELD]

    return FieldLists(
        account=keep(fields.account),
        product=keep(fields.product),
        pricebook_entry=keep(fields.pricebook_entry),
        order=keep(fields.order),
        order_item=keep(fields.order_item),
    )


RATE_FIELDS = ("Id", "LowerBound", "UpperBound", "Price", "PricingMethod", "ProcessingOrder")


def _chunks(ids: Iterable[str]) -> list[list[str]]:
    unique = sorted(set(ids))
    return [unique[n : n + ID_CHUNK] for n in range(0, len(unique), ID_CHUNK)]


def _in_list(ids: list[str]) -> str:
    return ", ".join(soql_string(i) for i in ids)


def _children(org: OrgClient, record: dict[str, Any], relationship: str) -> list[dict[str, Any]]:
    child = record.get(relationship)
    if not child:
        return []
    rows: list[dict[str, Any]] = list(child["records"])
    while not child.get("done", True):
        child = org.query_more(child["nextRecordsUrl"])
        rows.extend(child["records"])
    return rows


def consumption_query(product_ids: list[str], *, multi_currency: bool = True) -> str:
    fields = [f for f in SCHEDULE_FIELDS if multi_currency or f.lower() != CURRENCY_FIELD]
    return (
        f"SELECT {', '.join(fields)}, "
        f"(SELECT {', '.join(RATE_FIELDS)} FROM ConsumptionRates ORDER BY LowerBound), "
        "(SELECT ProductId FROM ProductConsumptionSchedules) FROM ConsumptionSchedule "
        "WHERE Id IN (SELECT ConsumptionScheduleId FROM ProductConsumptionSchedule "
        f"WHERE ProductId IN ({_in_list(product_ids)})) ORDER BY Id"
    )


def extract_consumption(
    org: OrgClient, product_ids: Iterable[str], *, multi_currency: bool = True
) -> tuple[dict[str, tuple[ConsumptionSchedule, ...]], dict[str, DataError]]:
    """Product id -> its consumption schedules with their rates; and product id -> the error of a schedule that
    cannot be read (the orders using that product fail, nothing else)."""
    found: dict[str, list[ConsumptionSchedule]] = {}
    bad: dict[str, DataError] = {}
    for chunk in _chunks(product_ids):
        wanted = set(chunk)
        for raw in org.query_all_iter(consumption_query(chunk, multi_currency=multi_currency)):
            products = [str(link["ProductId"]) for link in _children(org, raw, "ProductConsumptionSchedules")]
            try:
                record = ConsumptionScheduleRecord.from_flat(flatten(raw))
                rates = tuple(
                    ConsumptionRateRecord.from_flat(flatten(r)) for r in _children(org, raw, "ConsumptionRates")
                )
            except DataError as exc:
                for product in products:
                    bad.setdefault(product, exc)
                continue
            for product in products:
                if product in wanted:
                    found.setdefault(product, []).append(ConsumptionSchedule(record, rates))
    return {k: tuple(v) for k, v in found.items()}, bad


def attach_consumption(org: OrgClient, result: Extracted, *, multi_currency: bool = True) -> None:
    """Gives every extracted order its products' consumption schedules (one query per 200 products)."""
    product_ids = {i.product2_id for b in result.bundles for i in b.items}
    product_ids |= {pbe.product2_id for pbe, _ in result.changed_pricebook_entries}
    if not product_ids:
        return
    schedules, bad = extract_consumption(org, product_ids, multi_currency=multi_currency)
    result.consumption = schedules
    kept = []
    for bundle in result.bundles:
        errors = [bad[i.product2_id] for i in bundle.items if i.product2_id in bad]
        if errors:
            result.failures.append(Failure(SfRef("Order", bundle.order.id), errors[0]))
            continue
        bundle.consumption = {
            i.product2_id: schedules[i.product2_id] for i in bundle.items if i.product2_id in schedules
        }
        kept.append(bundle)
    result.bundles = kept


def extract_changed_pricebook_entries(
    org: OrgClient, fields: FieldLists, window: Window, filters: SyncFilters, result: Extracted
) -> None:
    """Price book entries whose price is in Stripe and whose data changed in the window (incremental only), with
    their products: the entry itself, or its product's consumption schedule (the schedule, a rate, or a link to
    the product). Their prices are planned again, and a changed one is replaced. Three queries when nothing
    changed, plus one per 200 changed schedules or products."""
    if window.since is None or window.by_ids:
        return
    stamp = " AND ".join(_modstamp_conditions(window))
    conditions = [stamp]
    schedules = {str(r["Id"]) for r in org.query_all_iter(f"SELECT Id FROM ConsumptionSchedule WHERE {stamp}")}
    schedules |= {
        str(r["ConsumptionScheduleId"])
        for r in org.query_all_iter(f"SELECT ConsumptionScheduleId FROM ConsumptionRate WHERE {stamp}")
    }
    products = {
        str(r["ProductId"])
        for r in org.query_all_iter(f"SELECT ProductId FROM ProductConsumptionSchedule WHERE {stamp}")
    }
    linked = "Product2Id IN (SELECT ProductId FROM ProductConsumptionSchedule WHERE ConsumptionScheduleId IN ({}))"
    conditions += [linked.format(_in_list(c)) for c in _chunks(schedules)]
    conditions += [f"Product2Id IN ({_in_list(c)})" for c in _chunks(products)]
    select = [*fields.pricebook_entry, *(f"product2.{f}" for f in fields.product)]
    seen: set[str] = set()
    for condition in conditions:
        where = f"Stripe_ID__c != null AND {condition}"
        if filters.product:
            where += f" AND Product2Id IN (SELECT Id FROM Product2 WHERE {filters.product})"
        soql = f"SELECT {', '.join(dict.fromkeys(select))} FROM PricebookEntry WHERE {where} ORDER BY Id"
        for raw in org.query_all_iter(soql):
            row = flatten(raw)
            if str(row.get("id")) in seen:
                continue
            seen.add(str(row.get("id")))
            try:
                pbe = PricebookEntryRecord.from_flat(row)
                product = Product2Record.from_flat(row, "product2.")
            except DataError as exc:
                result.failures.append(Failure(SfRef("PricebookEntry", str(row.get("id"))), exc))
                continue
            result.changed_pricebook_entries.append((pbe, product))


def synced_currencies(org: OrgClient, account_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Account id -> [(order id, currency)] of its orders already in Stripe as subscriptions or schedules
    (`sub_...`, `sub_sched_...`): the currency its Stripe customer bills in, read from Salesforce (no Stripe read)."""
    out: dict[str, list[tuple[str, str]]] = {}
    soql = (
        "SELECT Id, AccountId, CurrencyIsoCode FROM Order WHERE Stripe_ID__c LIKE 'sub%' AND {ids} "
        "ORDER BY ActivatedDate, Id"
    )
    for raw in select_in(org, soql, "AccountId", account_ids):
        if raw.get("CurrencyIsoCode"):
            out.setdefault(str(raw["AccountId"]), []).append((str(raw["Id"]), str(raw["CurrencyIsoCode"])))
    return out


def attach_synced_currencies(org: OrgClient, result: Extracted) -> None:
    """For the accounts with orders new to Stripe in this run: the currencies they already bill in."""
    accounts = {b.account.id for b in result.bundles if b.order.stripe_id is None}
    if accounts:
        result.synced_currencies = synced_currencies(org, accounts)
