"""Evergreen orders (`SBQQ__SubscriptionType__c = Evergreen`): a Stripe Subscription with no end.

Pure. The subscription bills by invoice (`collection_method=send_invoice`, `days_until_due` from the payment
term). Its start is in `children["start_date"]`; apply turns it into Stripe's terms against the clock: a start in
the past is `backdate_start_date`, a start in the future is `billing_cycle_anchor` with `proration_behavior=none`
(the subscription exists at once and bills nothing until its start, then a full period each time). One-time lines
become invoice items on the subscription (billed with its next invoice). A cancellation amendment (every line to
quantity 0) sets `children["cancel_at"]`: apply cancels at once when that date has come, otherwise sets
`cancel_at`, with no proration (no credit for the partial period, as the connector did).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cpq_sync.desired import Desired, ObjectKind, Ref, SfRef
from cpq_sync.errors import DataError
from cpq_sync.mapping.kinds import Kind
from cpq_sync.records import OrderItemRecord, OrderRecord
from cpq_sync.translate.catalog import LineCharge, customer_key
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.dates import utc_midnight
from cpq_sync.translate.terms import whole_number


def is_evergreen(item: OrderItemRecord) -> bool:
    return (item.subscription_type or "").strip().lower() == "evergreen"


def check_not_mixed(order: OrderRecord, recurring: list[OrderItemRecord]) -> bool:
    """True when the order is evergreen; a DataError when it mixes evergreen and termed lines."""
    evergreen = [i for i in recurring if is_evergreen(i)]
    if evergreen and len(evergreen) != len(recurring):
        termed = next(i for i in recurring if not is_evergreen(i))
        raise DataError(
            "OrderItem",
            termed.id,
            "SBQQ__SubscriptionType__c",
            f"the order mixes evergreen lines (e.g. {evergreen[0].id}) and termed lines (this one).",
            "put the evergreen lines and the termed lines in separate orders.",
        )
    return bool(evergreen)


def evergreen_subscription(
    order: OrderRecord,
    account_id: str,
    recurring: list[OrderItemRecord],
    one_time: list[OrderItemRecord],
    charges: dict[str, LineCharge],
    line_prices: dict[str, str],
    start: dt.date,
    days_until_due: int,
    ctx: TranslateContext,
) -> Desired:
    intervals = {charges[i.id].interval_months for i in recurring}
    if len(intervals) > 1:
        raise DataError(
            "Order",
            order.id,
            "SBQQ__BillingFrequency__c",
            f"the order's evergreen lines bill at different frequencies ({sorted(intervals)} months).",
            "split the order so each order has one billing frequency.",
        )
    items: dict[str, dict[str, Any]] = {}
    for item in recurring:
        params = ctx.apply(Kind.SUBSCRIPTION_ITEM, {}, item)
        quantity = whole_number(params.get("quantity", item.quantity), object_type="OrderItem", record_id=item.id,
                                field="Quantity", what="quantity")  # fmt: skip
        if quantity < 0:
            raise DataError("OrderItem", item.id, "Quantity", f"quantity {quantity} is negative on a new order.")
        key = line_prices[item.id]
        if key in items:  # Stripe forbids a price twice on one subscription: the lines bill together
            items[key]["quantity"] += quantity
            continue
        params.update(price=Ref(key), quantity=quantity,
                      metadata={**params.get("metadata", {}), "salesforce_order_item_id": item.id})  # fmt: skip
        items[key] = params
    subscription: dict[str, Any] = {
        "customer": Ref(customer_key(account_id)),
        "items": list(items.values()),
        "collection_method": "send_invoice",
        "days_until_due": days_until_due,
        "proration_behavior": "none",
        "metadata": {**ctx.metadata("order", order.id), "salesforce_account_id": account_id},
    }
    subscription = ctx.apply(Kind.SUBSCRIPTION, subscription, order)
    invoice_items = [
        {
            "pricing": {"price": Ref(line_prices[i.id])},
            "quantity": whole_number(i.quantity, object_type="OrderItem", record_id=i.id, field="Quantity",
                                     what="quantity"),
            "metadata": {"salesforce_order_item_id": i.id},
        }
        for i in one_time
    ]  # fmt: skip
    return Desired(
        key=f"order:{order.id}",
        kind=ObjectKind.SUBSCRIPTION,
        record=SfRef("Order", order.id),
        params=subscription,
        known_id=order.stripe_id,
        known_hash=order.sync_hash,
        children={"start_date": utc_midnight(start), "invoice_items": invoice_items},
    )


def cancellation(main: Desired, amendment: OrderRecord, start: dt.date) -> Desired:
    """The evergreen subscription cancelled by `amendment` from `start` (every line brought to 0)."""
    return Desired(
        key=main.key,
        kind=main.kind,
        record=main.record,
        params=main.params,
        known_id=main.known_id,
        known_hash=main.known_hash,
        primaries=set(main.primaries),
        children={**main.children, "cancel_at": utc_midnight(start), "amendments": [amendment.id]},
        also_records=[SfRef("Order", amendment.id)],
    )
