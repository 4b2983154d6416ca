"""The Stripe object kinds a mapping can target, the Salesforce object each reads from, and the SDK
parameters each is checked against."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Kind(StrEnum):
    CUSTOMER = "customer"
    PRODUCT = "product"
    PRICE = "price"
    PRICE_ORDER_ITEM = "price_order_item"
    SUBSCRIPTION_SCHEDULE = "subscription_schedule"
    PHASE = "phase"
    PHASE_ITEM = "phase_item"
    SUBSCRIPTION = "subscription"
    SUBSCRIPTION_ITEM = "subscription_item"
    INVOICE = "invoice"
    INVOICE_ITEM = "invoice_item"
    COUPON = "coupon"


class KindSpec(NamedTuple):
    source_object: str
    method: str
    path: str
    prefix: str  # where inside that request's parameters the kind's fields live ("" = top level)


SPECS: dict[Kind, KindSpec] = {
    Kind.CUSTOMER: KindSpec("Account", "post", "/v1/customers", ""),
    Kind.PRODUCT: KindSpec("Product2", "post", "/v1/products", ""),
    Kind.PRICE: KindSpec("PricebookEntry", "post", "/v1/prices", ""),
    Kind.PRICE_ORDER_ITEM: KindSpec("OrderItem", "post", "/v1/prices", ""),
    Kind.SUBSCRIPTION_SCHEDULE: KindSpec("Order", "post", "/v1/subscription_schedules", ""),
    Kind.PHASE: KindSpec("Order", "post", "/v1/subscription_schedules", "phases"),
    Kind.PHASE_ITEM: KindSpec("OrderItem", "post", "/v1/subscription_schedules", "phases.items"),
    Kind.SUBSCRIPTION: KindSpec("Order", "post", "/v1/subscriptions", ""),
    Kind.SUBSCRIPTION_ITEM: KindSpec("OrderItem", "post", "/v1/subscriptions", "items"),
    Kind.INVOICE: KindSpec("Order", "post", "/v1/invoices", ""),
    Kind.INVOICE_ITEM: KindSpec("OrderItem", "post", "/v1/invoiceitems", ""),
    Kind.COUPON: KindSpec("Quote_Stripe_Coupon__c", "post", "/v1/coupons", ""),
}
