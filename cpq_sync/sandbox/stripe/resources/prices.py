"""Prices: one-time and recurring, per-unit (``unit_amount`` / ``unit_amount_decimal``) or tiered, metered
with a billing meter, ``lookup_key`` (unique, ``transfer_lookup_key``), immutable amounts, archiving.

``tiers`` is includable, as at Stripe: returned only with ``expand[]=tiers`` (``data.tiers`` on lists).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cpq_sync.sandbox.stripe.errors import StripeError
from cpq_sync.sandbox.stripe.listing import list_response
from cpq_sync.sandbox.stripe.resources import products
from cpq_sync.sandbox.stripe.resources.common import apply_metadata, optional_str, reject_unsupported
from cpq_sync.sandbox.stripe.router import RequestContext, route
from cpq_sync.sandbox.stripe.search import search_response
from cpq_sync.sandbox.stripe.store import Condition, register_index
from cpq_sync.sandbox.stripe.wire import to_bool, to_decimal, to_int

OBJECT = "price"
SEARCH_FIELDS = ("active", "currency", "lookup_key", "product", "type")
for _field in SEARCH_FIELDS:
    register_index(OBJECT, _field, selective=_field not in ("active", "currency", "type"))

_CREATE = (
    "active",
    "billing_scheme",
    "currency",
    "lookup_key",
    "metadata",
    "nickname",
    "product",
    "product_data",
    "recurring",
    "tax_behavior",
    "tiers",
    "tiers_mode",
    "transfer_lookup_key",
    "transform_quantity",
    "unit_amount",
    "unit_amount_decimal",
)
_UPDATE = ("active", "lookup_key", "metadata", "nickname", "tax_behavior", "transfer_lookup_key")
_PRODUCT_DATA = ("active", "id", "metadata", "name", "statement_descriptor", "unit_label")


def _fail(message: str, param: str, code: str | None = None) -> StripeError:
    return StripeError(message, param=param, code=code)


def _decimal_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _amounts(params: dict[str, Any], prefix: str, *, required: bool) -> tuple[int | None, str | None]:
    """(unit_amount, unit_amount_decimal) from ``unit_amount`` or ``unit_amount_decimal``."""
    name = f"{prefix}[unit_amount]" if prefix else "unit_amount"
    decimal_name = f"{prefix}[unit_amount_decimal]" if prefix else "unit_amount_decimal"
    if "unit_amount" in params and "unit_amount_decimal" in params:
        raise _fail(f"You may only specify one of these parameters: {name}, {decimal_name}.", name)
    if "unit_amount" in params:
        amount = to_int(params["unit_amount"], name)
        if amount < 0:
            raise _fail(f"Invalid non-negative integer: {amount}", name)
        return amount, str(amount)
    if "unit_amount_decimal" in params:
        decimal = to_decimal(params["unit_amount_decimal"], decimal_name)
        if decimal < 0:
            raise _fail(f"Invalid non-negative decimal: {params['unit_amount_decimal']}", decimal_name)
        whole = int(decimal) if decimal == decimal.to_integral_value() else None
        return whole, _decimal_text(decimal)
    if required:
        raise _fail(f"Missing required param: {name}.", name, "parameter_missing")
    return None, None


def _tiers(params: dict[str, Any]) -> list[dict[str, Any]]:
    raw = params.get("tiers")
    if not raw:
        raise _fail("Missing required param: tiers.", "tiers", "parameter_missing")
    if "tiers_mode" not in params:
        raise _fail("Missing required param: tiers_mode.", "tiers_mode", "parameter_missing")
    tiers: list[dict[str, Any]] = []
    previous = 0
    for i, tier in enumerate(raw):
        last = i == len(raw) - 1
        up_to_raw = tier.get("up_to")
        if up_to_raw is None:
            raise _fail(f"Missing required param: tiers[{i}][up_to].", f"tiers[{i}][up_to]", "parameter_missing")
        if up_to_raw == "inf":
            if not last:
                raise _fail("Only the last tier may have up_to set to inf.", f"tiers[{i}][up_to]")
            up_to: int | None = None
        else:
            if last:
                raise _fail("The last tier must have up_to set to inf.", f"tiers[{i}][up_to]")
            up_to = to_int(up_to_raw, f"tiers[{i}][up_to]")
            if up_to <= previous:
                raise _fail("Tiers must be sorted by up_to, each above the previous one.", f"tiers[{i}][up_to]")
            previous = up_to
        unit_amount, unit_decimal = _amounts(tier, f"tiers[{i}]", required=False)
        flat_amount: int | None = None
        flat_decimal: str | None = None
        if "flat_amount" in tier and "flat_amount_decimal" in tier:
            raise _fail(
                f"You may only specify one of these parameters: tiers[{i}][flat_amount], "
                f"tiers[{i}][flat_amount_decimal].",
                f"tiers[{i}][flat_amount]",
            )
        if "flat_amount" in tier:
            flat_amount = to_int(tier["flat_amount"], f"tiers[{i}][flat_amount]")
            flat_decimal = str(flat_amount)
        elif "flat_amount_decimal" in tier:
            flat = to_decimal(tier["flat_amount_decimal"], f"tiers[{i}][flat_amount_decimal]")
            flat_amount = int(flat) if flat == flat.to_integral_value() else None
            flat_decimal = _decimal_text(flat)
        if unit_decimal is None and flat_decimal is None:
            raise _fail(
                "Each tier needs unit_amount, unit_amount_decimal, flat_amount or flat_amount_decimal.",
                f"tiers[{i}]",
            )
        tiers.append(
            {
                "flat_amount": flat_amount,
                "flat_amount_decimal": flat_decimal,
                "unit_amount": unit_amount,
                "unit_amount_decimal": unit_decimal,
                "up_to": up_to,
            }
        )
    return tiers


def _recurring(ctx: RequestContext, raw: dict[str, Any]) -> dict[str, Any]:
    interval = str(raw.get("interval", ""))
    if not interval:
        raise _fail("Missing required param: recurring[interval].", "recurring[interval]", "parameter_missing")
    count = to_int(raw.get("interval_count", "1"), "recurring[interval_count]")
    usage_type = str(raw.get("usage_type", "licensed"))
    meter = optional_str(raw, "meter")
    if usage_type == "metered":
        if meter is None:
            raise _fail(
                "Missing required param: recurring[meter]. Metered prices must be backed by a billing meter.",
                "recurring[meter]",
                "parameter_missing",
            )
        found = ctx.store.get("billing.meter", meter)
        if found is None:
            raise ctx.missing("billing meter", meter, param="recurring[meter]")
        if found.get("status") != "active":
            raise _fail(f"The meter {meter} is inactive.", "recurring[meter]")
    elif meter is not None:
        raise _fail("recurring[meter] can only be set when recurring[usage_type] is metered.", "recurring[meter]")
    trial = to_int(raw["trial_period_days"], "recurring[trial_period_days]") if "trial_period_days" in raw else None
    return {
        "interval": interval,
        "interval_count": count,
        "meter": meter,
        "trial_period_days": trial,
        "usage_type": usage_type,
    }


def _lookup_key(ctx: RequestContext, price_id: str | None, key: str, transfer: bool) -> None:
    """Enforce lookup_key uniqueness, or move the key from its current price when ``transfer``."""
    holders = ctx.store.all(OBJECT, Condition.attr(OBJECT, "lookup_key", key))
    for holder in holders:
        if holder["id"] == price_id:
            continue
        if not transfer:
            raise _fail(
                f"A price (`{holder['id']}`) already uses that lookup key. Pass transfer_lookup_key=true to move it.",
                "lookup_key",
            )
        holder["lookup_key"] = None
        ctx.store.save(holder)


@route("POST", "/v1/prices")
def create_price(ctx: RequestContext) -> dict[str, Any]:
    reject_unsupported(ctx, _CREATE, what="prices")
    params = ctx.params
    if "product" in params and "product_data" in params:
        raise _fail("You may only specify one of these parameters: product, product_data.", "product")
    if "product" in params:
        product_id = str(params["product"])
        if not ctx.store.exists("product", product_id):
            raise ctx.missing("product", product_id, param="product")
    elif "product_data" in params:
        data = params["product_data"]
        for key in data:
            if key not in _PRODUCT_DATA:
                raise StripeError(
                    f"The sandbox Stripe account does not emulate the parameter `product_data[{key}]`.",
                    param=f"product_data[{key}]",
                )
        product = products.new_product(ctx, data, param_prefix="product_data")
        ctx.store.insert(product)
        product_id = product["id"]
    else:
        raise _fail("You must specify either `product` or `product_data` when creating a price.", "product")

    scheme = str(params.get("billing_scheme", "per_unit"))
    tiers: list[dict[str, Any]] | None = None
    tiers_mode: str | None = None
    transform: dict[str, Any] | None = None
    if scheme == "tiered":
        for key in ("unit_amount", "unit_amount_decimal"):
            if key in params:
                raise _fail(f"You may not pass {key} for a tiered price; put amounts in tiers.", key)
        if "transform_quantity" in params:
            raise _fail("transform_quantity cannot be combined with billing_scheme=tiered.", "transform_quantity")
        tiers = _tiers(params)
        tiers_mode = str(params["tiers_mode"])
        unit_amount, unit_decimal = None, None
    else:
        for key in ("tiers", "tiers_mode"):
            if key in params:
                raise _fail(f"{key} can only be set when billing_scheme is tiered.", key)
        unit_amount, unit_decimal = _amounts(params, "", required=True)
        if "transform_quantity" in params:
            raw = params["transform_quantity"]
            divide_by = to_int(raw.get("divide_by", "0"), "transform_quantity[divide_by]")
            if divide_by < 1:
                raise _fail(
                    "transform_quantity[divide_by] must be a positive integer.",
                    "transform_quantity[divide_by]",
                )
            transform = {"divide_by": divide_by, "round": str(raw.get("round", "up"))}

    recurring = _recurring(ctx, params["recurring"]) if "recurring" in params else None
    lookup_key = optional_str(params, "lookup_key")
    transfer = to_bool(params.get("transfer_lookup_key", "false"), "transfer_lookup_key")
    if lookup_key is not None:
        _lookup_key(ctx, None, lookup_key, transfer)
    price: dict[str, Any] = {
        "id": ctx.new_id("price", 24),
        "object": OBJECT,
        "active": to_bool(params.get("active", "true"), "active"),
        "billing_scheme": scheme,
        "created": ctx.now_ts,
        "currency": str(params["currency"]).lower(),
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": apply_metadata({}, params.get("metadata")),
        "nickname": optional_str(params, "nickname"),
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": str(params.get("tax_behavior", "unspecified")),
        "tiers": tiers,
        "tiers_mode": tiers_mode,
        "transform_quantity": transform,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_decimal,
    }
    ctx.store.insert(price)
    return present(ctx, price)


@route("GET", "/v1/prices/search")
def search_prices(ctx: RequestContext) -> dict[str, Any]:
    return present_list(ctx, search_response(ctx, OBJECT, url="/v1/prices/search", fields=SEARCH_FIELDS))


@route("GET", "/v1/prices/{price}")
def retrieve_price(ctx: RequestContext) -> dict[str, Any]:
    return present(ctx, ctx.get_or_404(OBJECT, ctx.path_params["price"]))


@route("POST", "/v1/prices/{price}")
def update_price(ctx: RequestContext) -> dict[str, Any]:
    price = ctx.get_or_404(OBJECT, ctx.path_params["price"])
    reject_unsupported(ctx, _UPDATE, what="prices")
    params = ctx.params
    if "active" in params:
        price["active"] = to_bool(params["active"], "active")
    if "nickname" in params:
        price["nickname"] = optional_str(params, "nickname")
    if "metadata" in params:
        price["metadata"] = apply_metadata(price.get("metadata"), params["metadata"])
    if "tax_behavior" in params:
        wanted = str(params["tax_behavior"])
        if price["tax_behavior"] not in ("unspecified", wanted):
            raise _fail("tax_behavior cannot be changed once it is set to inclusive or exclusive.", "tax_behavior")
        price["tax_behavior"] = wanted
    if "lookup_key" in params:
        key = optional_str(params, "lookup_key")
        if key is not None:
            transfer = to_bool(params.get("transfer_lookup_key", "false"), "transfer_lookup_key")
            _lookup_key(ctx, price["id"], key, transfer)
        price["lookup_key"] = key
    ctx.store.save(price)
    return present(ctx, price)


@route("GET", "/v1/prices")
def list_prices(ctx: RequestContext) -> dict[str, Any]:
    params = ctx.params
    filters: dict[str, str] = {}
    if "active" in params:
        filters["active"] = "true" if to_bool(params["active"], "active") else "false"
    for key in ("currency", "product", "type"):
        if key in params:
            filters[key] = str(params[key])
    condition = None
    if "lookup_keys" in params:
        keys = params["lookup_keys"]
        keys = keys if isinstance(keys, list) else [keys]
        condition = Condition.any_of([Condition.attr(OBJECT, "lookup_key", str(k)) for k in keys])
    body = list_response(
        ctx,
        OBJECT,
        url="/v1/prices",
        filters=filters,
        condition=condition,
        supported_filters=("active", "currency", "product", "type", "lookup_keys"),
    )
    return present_list(ctx, body)


def _take_expand(ctx: RequestContext, path: str) -> bool:
    expand = ctx.expand
    if path not in expand:
        return False
    ctx.params["expand"] = [e for e in expand if e != path]
    return True


def present(ctx: RequestContext, price: dict[str, Any]) -> dict[str, Any]:
    """The price as returned: ``tiers`` only when expanded."""
    if not _take_expand(ctx, "tiers"):
        price = {k: v for k, v in price.items() if k != "tiers"}
    return price


def present_list(ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
    if not _take_expand(ctx, "data.tiers"):
        body["data"] = [{k: v for k, v in p.items() if k != "tiers"} for p in body["data"]]
    return body


def require_active_price(ctx: RequestContext, price_id: str, *, param: str) -> dict[str, Any]:
    """A price usable in a new phase, subscription item or invoice item: 404 if missing, 400 if archived."""
    price = ctx.get_or_404(OBJECT, price_id, param=param)
    if not price.get("active", True):
        raise _fail("The price specified is inactive. This field only accepts active prices.", param)
    return price
