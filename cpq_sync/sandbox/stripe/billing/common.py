"""Helpers shared by the billing resources: parameter reading, price and coupon checks, metadata, shapes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cpq_sync.sandbox.stripe.billing.periods import INTERVALS, Interval
from cpq_sync.sandbox.stripe.errors import StripeError, invalid_request
from cpq_sync.sandbox.stripe.resources.common import apply_metadata
from cpq_sync.sandbox.stripe.router import RequestContext
from cpq_sync.sandbox.stripe.store import JSONObject, Store
from cpq_sync.sandbox.stripe.wire import to_bool, to_decimal, to_int

__all__ = ["apply_metadata", "to_bool", "to_decimal", "to_int"]


def unsupported(param: str) -> StripeError:
    """A 400 for a parameter the pinned API version accepts but the sandbox does not emulate."""
    return invalid_request(
        f"The sandbox Stripe account does not emulate the parameter `{param}`; it refuses it rather than ignoring it.",
        param=param,
    )


def only(params: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    """Refuse every key of ``params`` outside ``allowed`` (known to the SDK, not emulated here)."""
    allowed_set = set(allowed) | {"expand"}
    for key in params:
        if key not in allowed_set:
            raise unsupported(f"{prefix}[{key}]" if prefix else key)


def sub(param: str, *parts: str | int) -> str:
    """``sub("phases", 0, "items")`` -> ``"phases[0][items]"``."""
    return param + "".join(f"[{p}]" for p in parts)


def timestamp(value: Any, param: str, now_ts: int, *, allow_now: bool = True) -> int:
    if allow_now and value == "now":
        return now_ts
    return to_int(value, param)


def as_list(value: Any, param: str) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):  # a list the wire decoder could not make dense
        raise invalid_request(f"Invalid array: {param}", param=param)
    raise invalid_request(f"Invalid array: {param}", param=param)


def check_metadata(value: Any, param: str) -> dict[str, str]:
    """A new object's metadata, with Stripe's limits (keys set to "" are dropped)."""
    return apply_metadata(None, value, param=param)


def load_customer(ctx: RequestContext, customer_id: Any, param: str = "customer") -> JSONObject:
    if not customer_id:
        raise invalid_request(f"Missing required param: {param}.", param=param)
    customer = ctx.store.get("customer", str(customer_id))
    if customer is None or customer.get("deleted"):
        raise ctx.missing("customer", str(customer_id), param=param)
    return customer


def claim_customer_currency(ctx: RequestContext, customer: JSONObject, currency: str | None) -> None:
    """A customer bills recurring charges in one currency: its first subscription (or schedule) sets
    ``customer.currency``; one in another currency is refused, as at Stripe."""
    if currency is None:
        return
    held = customer.get("currency")
    if held is None:
        customer["currency"] = currency
        ctx.store.save(customer)
    elif held != currency:
        raise invalid_request(
            "You cannot combine currencies on a single customer. This customer has an active subscription, "
            f"subscription schedule, discount, quote, or invoice item with currency {held}.",
            param="currency",
        )


@dataclass(frozen=True)
class Reuse:
    """Prices and coupons already on the object being updated. Stripe keeps using them even when the price was
    archived or the coupon has reached ``max_redemptions`` since (the connector archives prices right after
    attaching them, and amendments pass them again)."""

    prices: frozenset[str] = frozenset()
    coupons: frozenset[str] = frozenset()


NEW = Reuse()


def load_price(
    ctx: RequestContext, price_id: Any, param: str, *, recurring: bool | None, reuse: Reuse = NEW
) -> JSONObject:
    """A price usable in an item: it exists, has the expected type, and is active (unless reused)."""
    price = ctx.store.get("price", str(price_id))
    if price is None:
        raise ctx.missing("price", str(price_id), param=param)
    if not price.get("active", True) and price["id"] not in reuse.prices:
        raise invalid_request(
            f"The price specified ({price_id}) is inactive. This field only accepts active prices.",
            param=param,
        )
    kind = price.get("type") or ("recurring" if price.get("recurring") else "one_time")
    if recurring is True and kind != "recurring":
        raise invalid_request(
            f"The price specified ({price_id}) is set to `type=one_time` but this field only accepts prices "
            "with `type=recurring`.",
            param=param,
        )
    if recurring is False and kind != "one_time":
        raise invalid_request(
            f"The price specified ({price_id}) is set to `type=recurring` but this field only accepts prices "
            "with `type=one_time`.",
            param=param,
        )
    return price


def load_coupon(ctx: RequestContext, coupon_id: Any, param: str, reuse: Reuse = NEW) -> JSONObject:
    coupon = ctx.store.get("coupon", str(coupon_id))
    if coupon is None or coupon.get("deleted"):
        raise ctx.missing("coupon", str(coupon_id), param=param)
    if coupon["id"] in reuse.coupons:
        return coupon
    if coupon.get("valid") is False:
        raise invalid_request(f"Coupon expired: {coupon_id}", param=param)
    max_redemptions = coupon.get("max_redemptions")
    if max_redemptions is not None and int(coupon.get("times_redeemed") or 0) >= int(max_redemptions):
        raise invalid_request(f"Coupon expired: {coupon_id}", param=param)
    return coupon


def discounts_param(
    ctx: RequestContext, raw: Any, param: str, currency: str | None, reuse: Reuse = NEW
) -> list[JSONObject]:
    """``discounts=[{coupon}]`` -> the stored shape ``[{coupon, discount, promotion_code}]``."""
    out: list[JSONObject] = []
    seen: set[str] = set()
    for j, entry in enumerate(as_list(raw, param)):
        where = sub(param, j)
        if not isinstance(entry, dict):
            raise invalid_request("Invalid object", param=where)
        only(entry, ("coupon",), where)
        if "coupon" not in entry:
            raise invalid_request(f"Missing required param: {where}[coupon].", param=f"{where}[coupon]")
        coupon = load_coupon(ctx, entry["coupon"], f"{where}[coupon]", reuse)
        if coupon.get("amount_off") is not None and currency is not None:
            coupon_currency = str(coupon.get("currency") or "").lower()
            if coupon_currency != currency.lower():
                raise invalid_request(
                    f"The coupon {coupon['id']} is in {coupon_currency} but the prices are in {currency}; an "
                    "amount_off coupon must have the same currency.",
                    param=f"{where}[coupon]",
                )
        if coupon["id"] in seen:
            raise invalid_request(f"The coupon {coupon['id']} is listed more than once.", param=where)
        seen.add(coupon["id"])
        out.append({"coupon": coupon["id"], "discount": None, "promotion_code": None})
    return out


def redeem(store: Store, discounts: Iterable[Mapping[str, Any]]) -> None:
    """Count one redemption of each coupon (``times_redeemed``)."""
    for entry in discounts:
        coupon = store.get("coupon", str(entry["coupon"]))
        if coupon is not None:
            coupon["times_redeemed"] = int(coupon.get("times_redeemed") or 0) + 1
            store.save(coupon)


def price_interval(price: Mapping[str, Any]) -> tuple[Interval, int]:
    recurring = price.get("recurring") or {}
    interval = recurring.get("interval", "month")
    if interval not in INTERVALS:
        raise ValueError(f"price {price.get('id')} has an unknown interval {interval!r}")
    return interval, int(recurring.get("interval_count") or 1)


def is_metered(price: Mapping[str, Any]) -> bool:
    return (price.get("recurring") or {}).get("usage_type") == "metered"


def plan_of(price: Mapping[str, Any]) -> JSONObject:
    """The legacy ``plan`` object Stripe still shows beside a subscription item's price."""
    recurring = price.get("recurring") or {}
    return {
        "id": price["id"],
        "object": "plan",
        "active": price.get("active", True),
        "amount": price.get("unit_amount"),
        "amount_decimal": price.get("unit_amount_decimal"),
        "billing_scheme": price.get("billing_scheme", "per_unit"),
        "created": price.get("created"),
        "currency": price.get("currency"),
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "livemode": False,
        "metadata": price.get("metadata") or {},
        "meter": recurring.get("meter"),
        "nickname": price.get("nickname"),
        "product": price.get("product"),
        "tiers_mode": price.get("tiers_mode"),
        "transform_usage": price.get("transform_quantity"),
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": recurring.get("usage_type", "licensed"),
    }


def list_object(url: str, data: list[JSONObject], has_more: bool = False) -> JSONObject:
    return {"object": "list", "data": data, "has_more": has_more, "total_count": len(data), "url": url}
