"""Salesforce records for the translation tables, built as extraction hands them over (flattened rows)."""

from __future__ import annotations

from typing import Any

from cpq_sync.records import OrderItemRecord, PricebookEntryRecord

ORDER = "801000000000001AAA"


def pbe(pid: str, product_id: str, price: str, frequency: str | None = "Monthly") -> PricebookEntryRecord:
    return PricebookEntryRecord.from_flat(
        {
            "id": pid,
            "product2id": product_id,
            "unitprice": price,
            "currencyisocode": "USD",
            "product2.sbqq__subscriptionterm__c": 1 if frequency else None,
            "product2.sbqq__billingfrequency__c": frequency,
        }
    )


def line(n: int, product_id: str, pbe_id: str, qty: str, unit_price: str, **values: Any) -> OrderItemRecord:
    row = {
        "id": f"802000000000{n:03d}AAA",
        "orderid": ORDER,
        "product2id": product_id,
        "pricebookentryid": pbe_id,
        "quantity": qty,
        "unitprice": unit_price,
        "currencyisocode": "USD",
        "sbqq__chargetype__c": "Recurring",
        "sbqq__billingfrequency__c": "Monthly",
        "sbqq__subscriptionpricing__c": "Fixed Price",
        "sbqq__subscriptionterm__c": 12,
        "sbqq__defaultsubscriptionterm__c": 1,
        **values,
    }
    return OrderItemRecord.from_flat(row)


def one_time_line(n: int, product_id: str, pbe_id: str, qty: str, unit_price: str) -> OrderItemRecord:
    """A one-time order line: no frequency, pricing or term."""
    return line(
        n,
        product_id,
        pbe_id,
        qty,
        unit_price,
        sbqq__chargetype__c="One-Time",
        sbqq__billingfrequency__c=None,
        sbqq__subscriptionpricing__c=None,
        sbqq__subscriptionterm__c=None,
    )
