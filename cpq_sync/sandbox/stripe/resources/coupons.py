"""Coupons: percent_off or amount_off + currency; duration once/repeating/forever; name/metadata mutable."""

from __future__ import annotations

import re
from typing import Any

from cpq_sync.sandbox.stripe.errors import StripeError
from cpq_sync.sandbox.stripe.listing import list_response
from cpq_sync.sandbox.stripe.resources.common import apply_metadata, optional_str, reject_unsupported
from cpq_sync.sandbox.stripe.router import RequestContext, route
from cpq_sync.sandbox.stripe.wire import to_decimal, to_int

OBJECT = "coupon"
_CREATE = (
    "id",
    "amount_off",
    "currency",
    "duration",
    "duration_in_months",
    "max_redemptions",
    "metadata",
    "name",
    "percent_off",
    "redeem_by",
)
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,200}$")


@route("POST", "/v1/coupons")
def create_coupon(ctx: RequestContext) -> dict[str, Any]:
    reject_unsupported(ctx, _CREATE, what="coupons")
    params = ctx.params
    coupon_id = optional_str(params, "id") or ctx.new_id("x", 8).split("_", 1)[1]
    if not _ID.match(coupon_id):
        raise StripeError(f"Invalid coupon id: {coupon_id}", param="id")
    if ctx.store.exists(OBJECT, coupon_id):
        raise StripeError("Coupon already exists.", code="resource_already_exists", param="id")
    percent = params.get("percent_off")
    amount = params.get("amount_off")
    if (percent is None) == (amount is None):
        raise StripeError(
            "Invalid coupon: you must specify exactly one of percent_off or amount_off.",
            param="percent_off" if percent is not None else "amount_off",
        )
    currency = optional_str(params, "currency")
    percent_off: float | None = None
    amount_off: int | None = None
    if percent is not None:
        value = to_decimal(percent, "percent_off")
        if not 0 < value <= 100:
            raise StripeError("Invalid percent_off: must be greater than 0 and at most 100.", param="percent_off")
        percent_off = float(value)
    else:
        amount_off = to_int(amount, "amount_off")
        if amount_off <= 0:
            raise StripeError("Invalid amount_off: must be a positive integer.", param="amount_off")
        if currency is None:
            raise StripeError("You must pass currency when passing amount_off.", param="currency")
    duration = str(params.get("duration", "once"))
    months: int | None = None
    if duration == "repeating":
        if "duration_in_months" not in params:
            raise StripeError(
                "Missing required param: duration_in_months (required when duration is repeating).",
                param="duration_in_months",
            )
        months = to_int(params["duration_in_months"], "duration_in_months")
        if months <= 0:
            raise StripeError("Invalid duration_in_months: must be positive.", param="duration_in_months")
    elif "duration_in_months" in params:
        raise StripeError("duration_in_months can only be set when duration is repeating.", param="duration_in_months")
    max_redemptions = None
    if "max_redemptions" in params:
        max_redemptions = to_int(params["max_redemptions"], "max_redemptions")
        if max_redemptions <= 0:
            raise StripeError("Invalid max_redemptions: must be positive.", param="max_redemptions")
    redeem_by = to_int(params["redeem_by"], "redeem_by") if "redeem_by" in params else None
    if redeem_by is not None and redeem_by <= ctx.now_ts:
        raise StripeError("redeem_by must be in the future.", param="redeem_by")
    coupon: dict[str, Any] = {
        "id": coupon_id,
        "object": OBJECT,
        "amount_off": amount_off,
        "created": ctx.now_ts,
        "currency": currency.lower() if currency and amount_off is not None else None,
        "duration": duration,
        "duration_in_months": months,
        "livemode": False,
        "max_redemptions": max_redemptions,
        "metadata": apply_metadata({}, params.get("metadata")),
        "name": optional_str(params, "name"),
        "percent_off": percent_off,
        "redeem_by": redeem_by,
        "times_redeemed": 0,
        "valid": True,
    }
    ctx.store.insert(coupon)
    return coupon


@route("GET", "/v1/coupons/{coupon}")
def retrieve_coupon(ctx: RequestContext) -> dict[str, Any]:
    return ctx.get_or_404(OBJECT, ctx.path_params["coupon"])


@route("POST", "/v1/coupons/{coupon}")
def update_coupon(ctx: RequestContext) -> dict[str, Any]:
    coupon = ctx.get_or_404(OBJECT, ctx.path_params["coupon"])
    reject_unsupported(ctx, ("name", "metadata"), what="coupons")
    if "name" in ctx.params:
        coupon["name"] = optional_str(ctx.params, "name")
    if "metadata" in ctx.params:
        coupon["metadata"] = apply_metadata(coupon.get("metadata"), ctx.params["metadata"])
    ctx.store.save(coupon)
    return coupon


@route("DELETE", "/v1/coupons/{coupon}")
def delete_coupon(ctx: RequestContext) -> dict[str, Any]:
    coupon = ctx.get_or_404(OBJECT, ctx.path_params["coupon"])
    ctx.store.delete(OBJECT, coupon["id"])
    return {"id": coupon["id"], "object": OBJECT, "deleted": True}


@route("GET", "/v1/coupons")
def list_coupons(ctx: RequestContext) -> dict[str, Any]:
    return list_response(ctx, OBJECT, url="/v1/coupons")


def require_coupon(ctx: RequestContext, coupon_id: str, *, param: str) -> dict[str, Any]:
    """A coupon usable in a new discount (404 when missing, 400 when no longer valid)."""
    coupon = ctx.get_or_404(OBJECT, coupon_id, param=param)
    if not coupon.get("valid", True):
        raise StripeError(f"Coupon {coupon_id} is no longer valid.", param=param)
    if coupon.get("redeem_by") is not None and int(coupon["redeem_by"]) <= ctx.now_ts:
        raise StripeError(f"Coupon {coupon_id} expired and can no longer be redeemed.", param=param)
    max_redemptions = coupon.get("max_redemptions")
    if max_redemptions is not None and int(coupon.get("times_redeemed", 0)) >= int(max_redemptions):
        raise StripeError(f"Coupon {coupon_id} has reached its max_redemptions.", param=param)
    return coupon
