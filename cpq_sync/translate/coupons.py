"""Quote_Stripe_Coupon__c -> Stripe coupon, and where an order's coupons apply.

* A coupon is `percent_off`, or `amount_off` (minor units) with its `currency`; `duration` once, repeating (with
  `duration_in_months`) or forever; `max_redemptions`; `name` (mapping `coupon.name`, default Name__c, else the
  record's Name); metadata `salesforce_coupon_id` / `salesforce_coupon_link`.
* Coupons are immutable in Stripe: a coupon changed in Salesforce gets a new content hash, so the plan REPLACEs it
  with a new Stripe coupon; discounts already in Stripe keep the old one.
* Order-level coupons (on the order's quote) become the phase's `discounts` (the invoice's for one-time orders);
  line-level coupons (on the order line's quote line) the item's `discounts`. Several coupons stack, in the order
  Salesforce lists them; Stripe takes percent_off coupons first, then amount_off.
* A coupon's CurrencyIsoCode only matters for amount_off coupons (a percentage has no currency): it must be the
  order's currency. `Duration_In_Months__c` on a once or forever coupon is ignored (Stripe refuses it there).

Pure: records in, desired objects out; every problem is a DataError naming the coupon record and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cpq_sync.desired import Desired, ObjectKind, Ref, SfRef
from cpq_sync.errors import DataError
from cpq_sync.mapping.kinds import Kind
from cpq_sync.records import CouponRecord, OrderItemRecord
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.terms import minor_units, whole_number

OBJECT = "Quote_Stripe_Coupon__c"
DURATIONS = ("once", "repeating", "forever")
NAME_MAX = 40  # Stripe's limit on a coupon's name
MAX_PERCENT = Decimal(100)

Discount = dict[str, Ref]


def coupon_key(coupon_id: str) -> str:
    return f"coupon:{coupon_id}"


def _error(coupon: CouponRecord, field_name: str, problem: str, fix: str = "") -> DataError:
    return DataError(OBJECT, coupon.id, field_name, problem, fix)


def _amount_params(coupon: CouponRecord, amount: Decimal, order_currency: str, ctx: TranslateContext) -> dict[str, Any]:
    if amount <= 0:
        raise _error(coupon, "Amount_Off__c", f"amount off {amount} must be positive.")
    if ctx.multi_currency and not coupon.currency:
        raise _error(
            coupon,
            "CurrencyIsoCode",
            "an amount-off coupon needs a currency and this one has none.",
            "set the coupon's currency.",
        )
    currency = ctx.currency(coupon.currency)
    if currency != order_currency:
        raise _error(
            coupon,
            "CurrencyIsoCode",
            f"the coupon takes an amount off in {currency.upper()} but the order is in {order_currency.upper()}.",
            "use a coupon in the order's currency, or a percent-off coupon.",
        )
    minor = minor_units(amount, currency)
    if minor != minor.to_integral_value():
        raise _error(
            coupon,
            "Amount_Off__c",
            f"amount off {amount} {currency.upper()} is not a whole number of the currency's smallest unit.",
        )
    return {"amount_off": int(minor), "currency": currency}


def _duration_params(coupon: CouponRecord) -> dict[str, Any]:
    duration = (coupon.duration or "").strip().lower()
    if duration not in DURATIONS:
        problem = "the duration is empty." if not duration else f"duration {coupon.duration!r} is not supported."
        raise _error(coupon, "Duration__c", problem, "choose once, repeating or forever.")
    params: dict[str, Any] = {"duration": duration}
    if duration == "repeating":
        if coupon.duration_in_months is None:
            raise _error(
                coupon,
                "Duration_In_Months__c",
                "a repeating coupon needs its number of months and none is set.",
                "set Duration_In_Months__c, or make the duration once or forever.",
            )
        months = whole_number(
            coupon.duration_in_months,
            object_type=OBJECT,
            record_id=coupon.id,
            field="Duration_In_Months__c",
            what="duration in months",
        )
        if months <= 0:
            raise _error(coupon, "Duration_In_Months__c", f"duration in months {months} must be positive.")
        params["duration_in_months"] = months
    return params


def translate_coupon(coupon: CouponRecord, order_currency: str, ctx: TranslateContext) -> Desired:
    """The Stripe coupon for one Quote_Stripe_Coupon__c, checked against the order it discounts."""
    percent, amount = coupon.percent_off, coupon.amount_off
    if percent is not None and amount is not None:
        raise _error(
            coupon,
            "Amount_Off__c",
            f"both Percent_Off__c ({percent}) and Amount_Off__c ({amount}) are set; a coupon takes one of them.",
            "clear one of the two.",
        )
    params: dict[str, Any]
    if percent is not None:
        if not 0 < percent <= MAX_PERCENT:
            raise _error(coupon, "Percent_Off__c", f"percent off {percent} must be more than 0 and at most 100.")
        params = {"percent_off": float(percent)}
    elif amount is not None:
        params = _amount_params(coupon, amount, order_currency, ctx)
    else:
        raise _error(
            coupon,
            "Percent_Off__c",
            "neither Percent_Off__c nor Amount_Off__c is set.",
            "set one of the two.",
        )
    params.update(_duration_params(coupon))
    if coupon.max_redemptions is not None:
        redemptions = whole_number(
            coupon.max_redemptions,
            object_type=OBJECT,
            record_id=coupon.id,
            field="Max_Redemptions__c",
            what="max redemptions",
        )
        if redemptions <= 0:
            raise _error(coupon, "Max_Redemptions__c", f"max redemptions {redemptions} must be positive.")
        params["max_redemptions"] = redemptions
    params = ctx.apply(Kind.COUPON, params, coupon)
    params["name"] = str(params.get("name") or coupon.name or coupon.id)[:NAME_MAX]
    params["metadata"] = {**params.get("metadata", {}), **ctx.metadata("coupon", coupon.id)}
    return Desired(
        key=coupon_key(coupon.id),
        kind=ObjectKind.COUPON,
        record=SfRef(OBJECT, coupon.id),
        params=params,
        known_id=coupon.stripe_id,
        known_hash=coupon.sync_hash,
    )


@dataclass
class OrderCoupons:
    """An order's coupons: the Stripe coupons it needs and the discounts of the order and of each line."""

    objects: list[Desired] = field(default_factory=list)
    order_discounts: list[Discount] = field(default_factory=list)
    line_discounts: dict[str, list[Discount]] = field(default_factory=dict)  # OrderItem id -> discounts


def order_coupons(
    quote_coupons: list[CouponRecord],
    line_coupons: dict[str, list[CouponRecord]],
    lines: list[OrderItemRecord],
    currency: str,
    ctx: TranslateContext,
) -> OrderCoupons:
    """`lines`: the order lines that sync (skipped lines' coupons are left out with them)."""
    out = OrderCoupons()
    if not quote_coupons and not line_coupons:  # most orders: no coupon at all
        return out
    objects: dict[str, Desired] = {}

    def discounts(coupons: list[CouponRecord]) -> list[Discount]:
        found = []
        for coupon in coupons:
            desired = objects.get(coupon_key(coupon.id)) or translate_coupon(coupon, currency, ctx)
            objects[desired.key] = desired
            found.append({"coupon": Ref(desired.key)})
        return found

    out.order_discounts = discounts(quote_coupons)
    for item in lines:
        if line_coupons.get(item.id):
            out.line_discounts[item.id] = discounts(line_coupons[item.id])
    out.objects = list(objects.values())
    return out


def _item_ids(entry: dict[str, Any]) -> list[str]:
    metadata = entry.get("metadata") or {}
    ids = str(metadata.get("salesforce_order_item_id") or "")
    return [i for i in ids.split(",") if i]


def _item_discounts(entry: dict[str, Any], coupons: OrderCoupons) -> None:
    """An item's discounts from its order line(s); lines billed as one item must carry the same coupons."""
    ids = _item_ids(entry)
    found = [coupons.line_discounts.get(i, []) for i in ids]
    if not found or not found[0]:
        if any(found):
            first = next(i for i, d in zip(ids, found, strict=True) if d)
            raise _merged_error(first, ids)
        return
    if any(d != found[0] for d in found[1:]):
        raise _merged_error(ids[0], ids)
    entry["discounts"] = list(found[0])


def _merged_error(item_id: str, ids: list[str]) -> DataError:
    return DataError(
        "OrderItem",
        item_id,
        "SBQQ__QuoteLine__c",
        f"order lines {', '.join(ids)} bill with the same price in one phase (Stripe makes them one item) but "
        "their quote lines carry different coupons.",
        "put the same coupons on these quote lines, or split them into separate orders.",
    )


def add_discounts(main: Desired, coupons: OrderCoupons, order_id: str) -> None:
    """Puts the order's discounts on the schedule's phases of this order (or the subscription, or the invoice),
    and each line's on its item. Phases another order built (earlier amendments) are left as they are."""
    if not coupons.order_discounts and not coupons.line_discounts:
        return
    params = main.params
    if main.kind is ObjectKind.SUBSCRIPTION_SCHEDULE:
        for phase in params.get("phases", []):
            if (phase.get("metadata") or {}).get("salesforce_order_id", order_id) != order_id:
                continue
            if coupons.order_discounts:
                phase["discounts"] = list(coupons.order_discounts)
            for entry in [*phase.get("items", []), *phase.get("add_invoice_items", [])]:
                _item_discounts(entry, coupons)
    elif main.kind is ObjectKind.SUBSCRIPTION:
        if coupons.order_discounts:
            params["discounts"] = list(coupons.order_discounts)
        for entry in [*params.get("items", []), *params.get("add_invoice_items", [])]:
            _item_discounts(entry, coupons)
    elif main.kind is ObjectKind.INVOICE:
        if coupons.order_discounts:
            params["discounts"] = list(coupons.order_discounts)
        for entry in main.children.get("lines", []):
            _item_discounts(entry, coupons)
