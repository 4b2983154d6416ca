"""Helpers for the end-to-end tests: building CPQ orders through the real simple-salesforce client, and reading
Stripe back through the real StripeClient."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from simple_salesforce.api import Salesforce

from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from flows.sync import SyncParameters, sync_flow


def run_sync(**parameters: Any) -> Any:
    return sync_flow(SyncParameters(**parameters))


def stripe_posts(directory: Path) -> list[Any]:
    return [r for r in sandbox_stripe.request_log(directory) if r.method.upper() in ("POST", "DELETE")]


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    import calendar

    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def pricebook_entry(sf: Salesforce, product_name: str, currency: str = "USD") -> dict[str, Any]:
    soql = (
        "SELECT Id, UnitPrice, Product2Id, Pricebook2Id, Product2.SBQQ__BillingFrequency__c, "
        "Product2.SBQQ__ChargeType__c, Product2.SBQQ__SubscriptionTerm__c FROM PricebookEntry "
        f"WHERE Product2.Name = '{product_name}' AND CurrencyIsoCode = '{currency}' AND Pricebook2.IsStandard = true"
    )
    records = sf.query(soql)["records"]
    assert records, f"no {currency} price book entry for {product_name}"
    return dict(records[0])


FREQUENCY_MONTHS = {"Monthly": 1, "Quarterly": 3, "Semiannual": 6, "Annual": 12}


def create_order(
    sf: Salesforce,
    account_id: str,
    lines: list[tuple[str, int]],
    *,
    start: dt.date,
    term: int = 12,
    payment_term: str = "Net 30",
    discount: Decimal = Decimal(0),
) -> tuple[str, list[str]]:
    """An activated CPQ order, as CPQ builds it: quote, order with lines priced by CPQ's math, then activation."""
    quote = sf.SBQQ__Quote__c.create(
        {
            "SBQQ__Account__c": account_id,
            "SBQQ__Type__c": "Quote",
            "SBQQ__Primary__c": True,
            "SBQQ__StartDate__c": start.isoformat(),
            "SBQQ__SubscriptionTerm__c": term,
        }
    )["id"]
    first = pricebook_entry(sf, lines[0][0])
    order_id = sf.Order.create(
        {
            "AccountId": account_id,
            "Status": "Draft",
            "EffectiveDate": start.isoformat(),
            "Pricebook2Id": first["Pricebook2Id"],
            "SBQQ__Quote__c": quote,
            "SBQQ__PaymentTerm__c": payment_term,
            "CurrencyIsoCode": "USD",
            "Type": "New",
            "Description": "kind: test",
        }
    )["id"]
    items = []
    for product_name, quantity in lines:
        pbe = pricebook_entry(sf, product_name)
        product = pbe["Product2"]
        recurring = product["SBQQ__ChargeType__c"] == "Recurring"
        list_price = Decimal(str(pbe["UnitPrice"]))
        fields: dict[str, Any] = {
            "OrderId": order_id,
            "PricebookEntryId": pbe["Id"],
            "Product2Id": pbe["Product2Id"],
            "Quantity": quantity,
            "SBQQ__ChargeType__c": product["SBQQ__ChargeType__c"],
            "ServiceDate": start.isoformat(),
        }
        if recurring:
            default_term = FREQUENCY_MONTHS[product["SBQQ__BillingFrequency__c"]]
            multiplier = Decimal(term) / default_term
            unit = (list_price * multiplier * (1 - discount)).quantize(Decimal("0.01"))
            fields.update(
                {
                    "UnitPrice": float(unit),
                    "SBQQ__BillingFrequency__c": product["SBQQ__BillingFrequency__c"],
                    "SBQQ__BillingType__c": "Advance",
                    "SBQQ__SubscriptionPricing__c": "Fixed Price",
                    "SBQQ__SubscriptionType__c": "Renewable",
                    "SBQQ__ProductSubscriptionType__c": "Renewable",
                    "SBQQ__SubscriptionTerm__c": term,
                    "SBQQ__DefaultSubscriptionTerm__c": default_term,
                    "SBQQ__ProrateMultiplier__c": float(multiplier),
                    "EndDate": (add_months(start, term) - dt.timedelta(days=1)).isoformat(),
                }
            )
        else:
            fields["UnitPrice"] = float(list_price * (1 - discount))
        items.append(sf.OrderItem.create(fields)["id"])
    sf.Order.update(order_id, {"Status": "Activated"})
    return order_id, items


def account_id(sf: Salesforce, name_like: str = "%") -> str:
    return str(
        sf.query(f"SELECT Id FROM Account WHERE Name LIKE '{name_like}' ORDER BY Name LIMIT 1")["records"][0]["Id"]
    )


def sync_records(sf: Salesforce, primary_id: str) -> list[dict[str, Any]]:
    soql = (
        "SELECT Compound_ID__c, Resolution_Status__c, Resolution_Message__c, Secondary_Record_ID__c, "
        f"Stripe_Object_ID__c FROM Sync_Record__c WHERE Primary_Record_ID__c = '{primary_id}'"
    )
    return [dict(r) for r in sf.query_all(soql)["records"]]


def connect_both(directory: Path) -> tuple[Salesforce, Any]:
    return sandbox_sf.connect(directory), sandbox_stripe.connect(directory)
