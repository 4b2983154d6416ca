"""``price_data``: the one-time prices Stripe creates inline for invoice items and ``add_invoice_items``."""

from __future__ import annotations

from typing import Any

from cpq_sync.sandbox.stripe.billing.common import only, to_decimal, to_int
from cpq_sync.sandbox.stripe.errors import invalid_request
from cpq_sync.sandbox.stripe.router import RequestContext
from cpq_sync.sandbox.stripe.store import JSONObject


def inline_price(ctx: RequestContext, data: Any, param: str) -> JSONObject:
    """Create and store the (inactive, one-time) price that ``price_data`` describes."""
    if not isinstance(data, dict):
        raise invalid_request("Invalid object", param=param)
    only(data, ("currency", "product", "unit_amount", "unit_amount_decimal"), param)
    for required in ("currency", "product"):
        if required not in data:
            raise invalid_request(f"Missing required param: {param}[{required}].", param=f"{param}[{required}]")
    product = ctx.store.get("product", str(data["product"]))
    if product is None:
        raise ctx.missing("product", str(data["product"]), param=f"{param}[product]")
    if "unit_amount" in data and "unit_amount_decimal" in data:
        raise invalid_request(
            f"You may only specify one of these parameters: unit_amount, unit_amount_decimal ({param}).",
            param=f"{param}[unit_amount_decimal]",
        )
    if "unit_amount" in data:
        unit_amount: int | None = to_int(data["unit_amount"], f"{param}[unit_amount]")
        decimal = str(unit_amount)
    elif "unit_amount_decimal" in data:
        value = to_decimal(data["unit_amount_decimal"], f"{param}[unit_amount_decimal]")
        decimal = format(value.normalize(), "f")
        unit_amount = int(value) if value == value.to_integral_value() else None
    else:
        raise invalid_request(
            f"Missing required param: {param}[unit_amount] (or unit_amount_decimal).",
            param=f"{param}[unit_amount]",
        )
    price: JSONObject = {
        "id": ctx.new_id("price"),
        "object": "price",
        "active": False,
        "billing_scheme": "per_unit",
        "created": ctx.now_ts,
        "currency": str(data["currency"]).lower(),
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": product["id"],
        "recurring": None,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": decimal,
    }
    ctx.store.insert(price)
    return price
