"""Order -> Subscription Schedule (termed recurring lines) or one-time Invoice (only one-time lines).

Pure: everything comes in as records, everything goes out as desired objects. Amendments, evergreen, MDQ,
usage and proration build on this in their own modules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cpq_sync.consumption import ConsumptionSchedule
from cpq_sync.desired import Desired, ObjectKind, Ref, SfRef
from cpq_sync.errors import DataError
from cpq_sync.mapping.kinds import Kind
from cpq_sync.records import (
    AccountRecord,
    CouponRecord,
    OrderItemRecord,
    OrderRecord,
    PricebookEntryRecord,
    Product2Record,
)
from cpq_sync.translate.adjustments import rounding_adjustments
from cpq_sync.translate.catalog import (
    LineCharge,
    customer_key,
    line_charge,
    memoized,
    product_key,
    translate_customer,
    translate_line_price,
    translate_product,
)
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.coupons import add_discounts, order_coupons
from cpq_sync.translate.dates import utc_midnight
from cpq_sync.translate.evergreen import check_not_mixed, evergreen_subscription
from cpq_sync.translate.mdq import mdq_phases
from cpq_sync.translate.migration import is_migrated, skip_paid_periods
from cpq_sync.translate.prices import is_metered, product_schedule, schedule_tiers, translate_meter
from cpq_sync.translate.proration import check_invoice_items, prorated_phases
from cpq_sync.translate.terms import payment_term_days, whole_number

DEFAULT_DAYS_UNTIL_DUE = 30
MAX_RECURRING_LINES = 100
BILLING_MODE = {"type": "flexible"}
"""Sent on every new schedule and subscription: Stripe's flexible billing mode (the default since API
2025-09-30.clover, said explicitly so it does not hang on the pinned API version) lets one schedule bill lines of
different frequencies (an annual license, a quarterly add-on, a monthly fee), each on its own interval, on one
invoice when their periods align. Classic mode refuses such orders, and a mode cannot go back to classic."""


@dataclass(slots=True)
class OrderBundle:
    """One order with everything it references."""

    order: OrderRecord
    items: list[OrderItemRecord]
    account: AccountRecord
    products: dict[str, Product2Record] = field(default_factory=dict)
    pricebook_entries: dict[str, PricebookEntryRecord] = field(default_factory=dict)
    quote_coupons: list[CouponRecord] = field(default_factory=list)  # order level, through the quote
    line_coupons: dict[str, list[CouponRecord]] = field(default_factory=dict)  # OrderItem id -> its quote line's
    consumption: dict[str, tuple[ConsumptionSchedule, ...]] = field(default_factory=dict)  # by product id


@dataclass
class OrderTranslation:
    order: OrderRecord
    main: Desired
    objects: list[Desired]  # the catalog objects it needs (customer, products, prices), then `main`
    line_prices: dict[str, str]  # OrderItem id -> price key, for the lines' write-back
    skipped_lines: list[str] = field(default_factory=list)


def order_key(order_id: str) -> str:
    return f"order:{order_id}"


def _reject_unsupported(bundle: OrderBundle, lines: list[OrderItemRecord]) -> None:
    order = bundle.order
    kinds = ((order.type or "").lower(), (order.quote_type or "").lower())
    if "amendment" in kinds or ("renewal" not in kinds and any(i.revised_order_product for i in lines)):
        raise DataError(
            "Order",
            order.id,
            "ContractId",
            "the amendment order has no contract (neither ContractId nor the quote's SBQQ__MasterContract__c), "
            "so the schedule it amends cannot be found.",
            "set the order's contract to the contract it amends.",
        )


def translate_order(bundle: OrderBundle, ctx: TranslateContext) -> OrderTranslation:
    """The desired Stripe objects for one new order; raises DataError naming the record and field at fault."""
    order = bundle.order
    lines = [i for i in bundle.items if not i.skip]
    skipped = [i.id for i in bundle.items if i.skip]
    if not lines:
        raise DataError("Order", order.id, "OrderItems", "the order has no lines to sync.")
    _reject_unsupported(bundle, lines)
    currency = ctx.currency(order.currency)
    for item in lines:
        if ctx.multi_currency and item.currency and item.currency.lower() != currency:
            raise DataError(
                "OrderItem",
                item.id,
                "CurrencyIsoCode",
                f"line currency {item.currency} differs from the order's {order.currency}.",
            )
    start = order.quote_start_date or order.effective_date
    if start is None:
        raise DataError(
            "Order",
            order.id,
            "SBQQ__Quote__r.SBQQ__StartDate__c",
            "the order has no start date (neither the quote's start date nor EffectiveDate is set).",
        )

    for item in lines:  # a decimal quantity is named as such before a mapping reads it (usage lines send none)
        if not is_metered(item.charge_type, item.billing_type):
            whole_number(item.quantity, object_type="OrderItem", record_id=item.id, field="Quantity", what="quantity")
    customer = memoized(translate_customer, bundle.account, ctx)
    objects: dict[str, Desired] = {customer.key: customer}
    line_prices: dict[str, str] = {}
    charges: dict[str, LineCharge] = {}
    for item in lines:
        product = bundle.products.get(item.product2_id)
        if product is None:
            raise DataError("OrderItem", item.id, "Product2Id", f"product {item.product2_id} was not found.")
        pbe = bundle.pricebook_entries.get(item.pricebook_entry_id or "")
        if item.pricebook_entry_id and pbe is None:
            raise DataError(
                "OrderItem",
                item.id,
                "PricebookEntryId",
                f"price book entry {item.pricebook_entry_id} was not found (deleted or inactive).",
                "re-price the order line from an active price book entry.",
            )
        charge = line_charge(item)
        charges[item.id] = charge
        if product_key(product.id) not in objects:  # translated once per order, however many lines bill it
            prod = memoized(translate_product, product, ctx)
            objects[prod.key] = prod
        schedules = bundle.consumption.get(item.product2_id)  # most products have none
        schedule = product_schedule(item, schedules, currency, ctx) if schedules else None
        tiers = schedule_tiers(schedule, currency, ctx) if schedule is not None else None
        if charge.metered:
            meter = memoized(translate_meter, product, ctx)
            objects.setdefault(meter.key, meter)
        price = translate_line_price(item, pbe, charge, currency, ctx, tiers)
        objects.setdefault(price.key, price)
        line_prices[item.id] = price.key

    recurring: list[OrderItemRecord] = []
    one_time: list[OrderItemRecord] = []
    for item in lines:
        (recurring if charges[item.id].recurring else one_time).append(item)
    days = payment_term_days(order.payment_term, object_type="Order", record_id=order.id, field="SBQQ__PaymentTerm__c")
    days_until_due = DEFAULT_DAYS_UNTIL_DUE if days is None else days
    if check_not_mixed(order, recurring):
        main = evergreen_subscription(
            order, bundle.account.id, recurring, one_time, charges, line_prices, start, days_until_due, ctx
        )
    elif any(i.segment_key for i in recurring):
        phases = mdq_phases(order, recurring, one_time, charges, line_prices, start, ctx)
        main = schedule_desired(bundle, phases, start, days_until_due, ctx)
    elif recurring:
        main = _schedule(bundle, recurring, one_time, charges, line_prices, start, days_until_due, ctx)
    else:
        main = _invoice(bundle, one_time, line_prices, currency, days_until_due, ctx)
    drop_metered_quantities(main, objects.values())
    if main.kind is ObjectKind.SUBSCRIPTION_SCHEDULE and not order.skip_past_initial_invoices:
        prices = {o.key: o.params for o in objects.values() if o.kind is ObjectKind.PRICE}
        rounding = rounding_adjustments(start, main.params["phases"], prices, currency)
        if rounding:
            main.children["adjustments"] = rounding
    coupons = order_coupons(bundle.quote_coupons, bundle.line_coupons, lines, currency, ctx)
    add_discounts(main, coupons, order.id)
    objects.update((c.key, c) for c in coupons.objects)
    # The order's schedule, subscription or invoice is its own; the other objects may be shared with other orders
    # (`catalog.memoized`): the plan gives them their primaries.
    main.primaries.add(SfRef("Order", order.id))
    return OrderTranslation(order, main, [*objects.values(), main], line_prices, skipped)


def metered_price_keys(objects: Iterable[Desired]) -> set[str]:
    return {
        o.key
        for o in objects
        if o.kind is ObjectKind.PRICE and (o.params.get("recurring") or {}).get("usage_type") == "metered"
    }


def drop_metered_quantities(main: Desired, objects: Iterable[Desired]) -> None:
    """Metered items carry no quantity in any phase (usage decides what they bill); one that a phase idles or
    terminates at quantity 0 leaves that phase instead. The one rule for every way phases are built."""
    metered = metered_price_keys(objects)
    if not metered:
        return
    for phase in main.params.get("phases", []):
        kept = []
        for item in phase.get("items", []):
            price = item.get("price")
            if isinstance(price, Ref) and price.key in metered:
                if item.get("quantity") == 0:
                    continue
                item.pop("quantity", None)
            kept.append(item)
        phase["items"] = kept


def _billed_quantity(item: OrderItemRecord, params: dict[str, Any], charge: LineCharge) -> int | None:
    """Metered lines carry no quantity (usage decides); a block-priced line bills its block once."""
    if charge.metered:
        return None
    quantity = _quantity(item, params)
    return 1 if charge.block and quantity > 0 else quantity


def _quantity(item: OrderItemRecord, params: dict[str, Any]) -> int:
    value = params.get("quantity", item.quantity)
    quantity = whole_number(value, object_type="OrderItem", record_id=item.id, field="Quantity", what="quantity")
    if quantity < 0:
        raise DataError("OrderItem", item.id, "Quantity", f"quantity {quantity} is negative on a new order.")
    return quantity


def _schedule(
    bundle: OrderBundle,
    recurring: list[OrderItemRecord],
    one_time: list[OrderItemRecord],
    charges: dict[str, LineCharge],
    line_prices: dict[str, str],
    start: dt.date,
    days_until_due: int,
    ctx: TranslateContext,
) -> Desired:
    order = bundle.order
    if len(recurring) > MAX_RECURRING_LINES:
        raise DataError("Order", order.id, "OrderItems", f"{len(recurring)} recurring lines; Stripe allows 100.")
    term = _order_term(order, recurring, charges)
    # Lines may bill at different frequencies (flexible billing mode), each prorated on its own periods.
    intervals = sorted({charges[i.id].interval_months for i in recurring})
    items: dict[str, dict[str, Any]] = {}
    for item in recurring:
        params = ctx.apply(Kind.PHASE_ITEM, {}, item)
        quantity = _billed_quantity(item, params, charges[item.id])
        key = line_prices[item.id]
        if key in items:  # Stripe forbids a price twice in one phase: the lines bill together
            if quantity is not None:
                items[key]["quantity"] += quantity
            ids = items[key]["metadata"]["salesforce_order_item_id"]
            items[key]["metadata"]["salesforce_order_item_id"] = f"{ids},{item.id}"[:500]
            continue
        params.update(price=Ref(key), metadata={**params.get("metadata", {}), "salesforce_order_item_id": item.id})
        if quantity is None:
            params.pop("quantity", None)
        else:
            params["quantity"] = quantity
        items[key] = params
    add_items = []
    for item in one_time:
        params = ctx.apply(Kind.PHASE_ITEM, {}, item)
        add_items.append(
            {
                "price": Ref(line_prices[item.id]),
                "quantity": _billed_quantity(item, params, charges[item.id]),
                "metadata": {"salesforce_order_item_id": item.id},
            }
        )
    check_invoice_items(order.id, add_items)
    phase: dict[str, Any] = {
        "items": list(items.values()),
        "duration": {"interval": "month", "interval_count": term},
        "metadata": {"salesforce_order_id": order.id},
    }
    if add_items:
        phase["add_invoice_items"] = add_items
    if order.skip_past_initial_invoices:
        phase["proration_behavior"] = "none"  # do not bill the backdated past
    phase = ctx.apply(Kind.PHASE, phase, order)
    phases = [phase]
    if any(term % m for m in intervals):  # leftover months billed once, prorated
        phases = prorated_phases(order, recurring, charges, phase, term, ctx.currency(order.currency))
    if ctx.migrated_before and is_migrated(order, ctx.migrated_before):
        every = {line_prices[i.id]: charges[i.id].interval_months for i in recurring}
        item_intervals = [every[item["price"].key] for item in phase["items"]]
        phases = skip_paid_periods(phases, start, ctx.migrated_before, item_intervals)
    return schedule_desired(bundle, phases, start, days_until_due, ctx)


def schedule_desired(
    bundle: OrderBundle, phases: list[dict[str, Any]], start: dt.date, days_until_due: int, ctx: TranslateContext
) -> Desired:
    """The order's subscription schedule around its phases."""
    order = bundle.order
    schedule: dict[str, Any] = {
        "customer": Ref(customer_key(bundle.account.id)),
        "start_date": utc_midnight(start),
        "billing_mode": dict(BILLING_MODE),
        "end_behavior": "cancel",
        "default_settings": {
            "collection_method": "send_invoice",
            "invoice_settings": {"days_until_due": days_until_due},
        },
        "phases": phases,
        "metadata": {
            **ctx.metadata("order", order.id),
            "salesforce_account_id": bundle.account.id,
        },
    }
    schedule = ctx.apply(Kind.SUBSCRIPTION_SCHEDULE, schedule, order)
    return Desired.of(order_key(order.id), ObjectKind.SUBSCRIPTION_SCHEDULE, order, schedule)


def _order_term(order: OrderRecord, recurring: list[OrderItemRecord], charges: dict[str, LineCharge]) -> int:
    terms = {charges[i.id].term_months for i in recurring}
    if order.quote_term is not None:
        quote_term = whole_number(
            order.quote_term,
            object_type="Order",
            record_id=order.id,
            field="SBQQ__Quote__r.SBQQ__SubscriptionTerm__c",
            what="subscription term",
        )
        terms.add(quote_term)
    if len(terms) > 1:
        raise DataError(
            "Order",
            order.id,
            "SBQQ__SubscriptionTerm__c",
            f"the order's lines have different subscription terms ({sorted(terms)} months); they must co-terminate.",
        )
    return terms.pop()


def _invoice(
    bundle: OrderBundle,
    one_time: list[OrderItemRecord],
    line_prices: dict[str, str],
    currency: str,
    days_until_due: int,
    ctx: TranslateContext,
) -> Desired:
    order = bundle.order
    lines = []
    for item in one_time:
        params = ctx.apply(Kind.INVOICE_ITEM, {}, item)
        params.update(
            pricing={"price": Ref(line_prices[item.id])},  # invoice items take pricing[price] in this API version
            quantity=_billed_quantity(item, params, line_charge(item)),
            metadata={**params.get("metadata", {}), **ctx.metadata("order_item", item.id)},
        )
        lines.append(params)
    invoice: dict[str, Any] = {
        "customer": Ref(customer_key(bundle.account.id)),
        "currency": currency,
        "collection_method": "send_invoice",
        "days_until_due": days_until_due,
        "pending_invoice_items_behavior": "exclude",
        "auto_advance": False,
        "metadata": {**ctx.metadata("order", order.id), "salesforce_account_id": bundle.account.id},
    }
    invoice = ctx.apply(Kind.INVOICE, invoice, order)
    return Desired(
        key=order_key(order.id),
        kind=ObjectKind.INVOICE,
        record=SfRef("Order", order.id),
        params=invoice,
        known_id=order.stripe_id,
        known_hash=order.sync_hash,
        children={"lines": lines},
    )
