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
from cpq_sync.translate.dates import add_months
from flows.sync import SyncParameters, sync_flow


def run_sync(**parameters: Any) -> Any:
    return sync_flow(SyncParameters(**parameters))


def stripe_posts(directory: Path) -> list[Any]:
    return [r for r in sandbox_stripe.request_log(directory) if r.method.upper() in ("POST", "DELETE")]


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


Line = tuple[str, int] | tuple[str, int, str]  # (product name, quantity[, revised OrderItem id])


def create_contract(sf: Salesforce, account_id: str, start: dt.date, term: int) -> str:
    return str(
        sf.Contract.create(
            {
                "AccountId": account_id,
                "Name": f"contract from {start}",
                "Status": "Draft",
                "StartDate": start.isoformat(),
                "ContractTerm": term,
            }
        )["id"]
    )


def create_order(
    sf: Salesforce,
    account_id: str,
    lines: list[Line],
    *,
    start: dt.date,
    term: int = 12,
    payment_term: str = "Net 30",
    discount: Decimal = Decimal(0),
    contract: bool = False,
    amends: str | None = None,
    end: dt.date | None = None,
    activate: bool = True,
    evergreen: bool = False,
    skip_past: bool = False,
) -> tuple[str, list[str]]:
    """An activated CPQ order, as CPQ builds it: quote, order with lines priced by CPQ's math, then activation.

    `contract`: the order starts a contract (Order.ContractId, Contract.SBQQ__Order__c). `amends`: the order is an
    amendment of that contract, starting at `start` for `term` months and ending on `end` (the contract's end);
    lines of three give the OrderItem they revise (SBQQ__RevisedOrderProduct__c) with a quantity delta."""
    contract_id = create_contract(sf, account_id, start, term) if contract else amends
    quote = sf.SBQQ__Quote__c.create(
        {
            "SBQQ__Account__c": account_id,
            "SBQQ__Type__c": "Amendment" if amends else "Quote",
            "SBQQ__Primary__c": True,
            "SBQQ__StartDate__c": start.isoformat(),
            "SBQQ__SubscriptionTerm__c": term,
            "SBQQ__MasterContract__c": amends,
        }
    )["id"]
    book = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    order_end: dt.date | None = end or (add_months(start, term) - dt.timedelta(days=1))
    if evergreen:
        order_end = None
    order_id = sf.Order.create(
        {
            "AccountId": account_id,
            "Status": "Draft",
            "EffectiveDate": start.isoformat(),
            "EndDate": order_end and order_end.isoformat(),
            "Pricebook2Id": book,
            "SBQQ__Quote__c": quote,
            "SBQQ__PaymentTerm__c": payment_term,
            "CurrencyIsoCode": "USD",
            "Type": "Amendment" if amends else "New",
            "Description": "kind: test",
            "ContractId": contract_id,
            "Skip_Past_Initial_Invoices__c": skip_past,
        }
    )["id"]
    if contract:
        sf.Contract.update(contract_id, {"SBQQ__Order__c": order_id})
    items = []
    for line in lines:
        product_name, quantity = line[0], line[1]
        revised = line[2] if len(line) == 3 else None
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
            "SBQQ__RevisedOrderProduct__c": revised,
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
                    "SBQQ__SubscriptionType__c": "Evergreen" if evergreen else "Renewable",
                    "SBQQ__ProductSubscriptionType__c": "Evergreen" if evergreen else "Renewable",
                    "SBQQ__SubscriptionTerm__c": term,
                    "SBQQ__DefaultSubscriptionTerm__c": default_term,
                    "SBQQ__ProrateMultiplier__c": float(multiplier),
                    "EndDate": order_end and order_end.isoformat(),
                }
            )
        else:
            fields["UnitPrice"] = float(list_price * (1 - discount))
        items.append(sf.OrderItem.create(fields)["id"])
    if activate:
        sf.Order.update(order_id, {"Status": "Activated"})
    return order_id, items


def create_product(sf: Salesforce, name: str, price: Decimal, frequency: str = "Monthly") -> str:
    """A recurring product priced `price` a billing period in the standard price book (USD)."""
    months = FREQUENCY_MONTHS[frequency]
    product = sf.Product2.create(
        {
            "Name": name,
            "ProductCode": name.upper().replace(" ", "-"),
            "IsActive": True,
            "SBQQ__ChargeType__c": "Recurring",
            "SBQQ__BillingFrequency__c": frequency,
            "SBQQ__BillingType__c": "Advance",
            "SBQQ__SubscriptionPricing__c": "Fixed Price",
            "SBQQ__SubscriptionType__c": "Renewable",
            "SBQQ__SubscriptionTerm__c": months,
        }
    )["id"]
    book = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    sf.PricebookEntry.create(
        {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": float(price), "CurrencyIsoCode": "USD",
         "IsActive": True}
    )  # fmt: skip
    return str(product)


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


def add_segment_line(
    sf: Salesforce,
    order_id: str,
    product_name: str,
    index: int,
    quantity: int,
    seg_start: dt.date,
    months: int,
    *,
    discount: Decimal = Decimal(0),
    revised: str | None = None,
) -> str:
    """One MDQ segment line (index `index`, `months` long from `seg_start`), priced by CPQ for its segment."""
    pbe = pricebook_entry(sf, product_name)
    product = pbe["Product2"]
    default_term = FREQUENCY_MONTHS[product["SBQQ__BillingFrequency__c"]]
    multiplier = Decimal(months) / default_term
    unit = (Decimal(str(pbe["UnitPrice"])) * multiplier * (1 - discount)).quantize(Decimal("0.01"))
    return str(
        sf.OrderItem.create(
            {
                "OrderId": order_id,
                "PricebookEntryId": pbe["Id"],
                "Product2Id": pbe["Product2Id"],
                "Quantity": quantity,
                "UnitPrice": float(unit),
                "SBQQ__ChargeType__c": "Recurring",
                "SBQQ__BillingFrequency__c": product["SBQQ__BillingFrequency__c"],
                "SBQQ__BillingType__c": "Advance",
                "SBQQ__SubscriptionPricing__c": "Fixed Price",
                "SBQQ__SubscriptionTerm__c": months,
                "SBQQ__DefaultSubscriptionTerm__c": default_term,
                "SBQQ__ProrateMultiplier__c": float(multiplier),
                "ServiceDate": seg_start.isoformat(),
                "EndDate": (add_months(seg_start, months) - dt.timedelta(days=1)).isoformat(),
                "SBQQ__SegmentIndex__c": index,
                "SBQQ__SegmentLabel__c": f"Year {index}",
                "SBQQ__SegmentKey__c": "1700000000001",
                "SBQQ__RevisedOrderProduct__c": revised,
            }
        )["id"]
    )


def create_mdq_order(
    sf: Salesforce,
    account_id: str,
    product_name: str,
    segments: list[tuple[int, Decimal]],
    *,
    start: dt.date,
    segment_months: int = 12,
    plain: tuple[tuple[str, int], ...] = (),
    contract: bool = False,
) -> tuple[str, list[str]]:
    """An activated MDQ order: one line per segment of `product_name` (quantity, discount) plus `plain` lines over
    the whole term, as CPQ builds them (each segment line priced for its own segment)."""
    term = segment_months * len(segments)
    order_id, plain_items = create_order(
        sf, account_id, list(plain), start=start, term=term, activate=False, contract=contract
    )
    items = [
        add_segment_line(
            sf,
            order_id,
            product_name,
            index,
            quantity,
            add_months(start, segment_months * (index - 1)),
            segment_months,
            discount=discount,
        )
        for index, (quantity, discount) in enumerate(segments, start=1)
    ]
    sf.Order.update(order_id, {"Status": "Activated"})
    return order_id, [*items, *plain_items]
