"""Products: create (id given or generated), retrieve, update, delete (only without prices), list, search."""

from __future__ import annotations

from typing import Any

from cpq_sync.sandbox.stripe.errors import StripeError
from cpq_sync.sandbox.stripe.listing import list_response
from cpq_sync.sandbox.stripe.resources.common import apply_metadata, optional_str, reject_unsupported
from cpq_sync.sandbox.stripe.router import RequestContext, route
from cpq_sync.sandbox.stripe.search import search_response
from cpq_sync.sandbox.stripe.store import Condition, register_index
from cpq_sync.sandbox.stripe.wire import to_bool

OBJECT = "product"
SEARCH_FIELDS = ("active", "description", "name", "shippable", "url")
for _field in SEARCH_FIELDS:
    register_index(OBJECT, _field, selective=_field not in ("active", "shippable"))

_CREATE = (
    "id",
    "active",
    "description",
    "metadata",
    "name",
    "shippable",
    "statement_descriptor",
    "unit_label",
    "url",
)
_UPDATE = tuple(f for f in _CREATE if f != "id")


def new_product(ctx: RequestContext, params: dict[str, Any], *, param_prefix: str = "") -> dict[str, Any]:
    """A product built from create params (also used for a price's ``product_data``); not stored yet."""
    product_id = optional_str(params, "id") or ctx.new_id("prod", 14)
    if ctx.store.exists(OBJECT, product_id):
        raise StripeError(
            f"Product already exists: {product_id}",
            code="resource_already_exists",
            param=f"{param_prefix}[id]" if param_prefix else "id",
        )
    name = params.get("name")
    if not name:
        param = f"{param_prefix}[name]" if param_prefix else "name"
        raise StripeError(f"Missing required param: {param}.", code="parameter_missing", param=param)
    product: dict[str, Any] = {
        "id": product_id,
        "object": OBJECT,
        "active": True,
        "created": ctx.now_ts,
        "default_price": None,
        "description": None,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": str(name),
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "unit_label": None,
        "updated": ctx.now_ts,
        "url": None,
    }
    _apply(product, params)
    return product


def _apply(product: dict[str, Any], params: dict[str, Any]) -> None:
    if "active" in params:
        product["active"] = to_bool(params["active"], "active")
    if "shippable" in params:
        product["shippable"] = to_bool(params["shippable"], "shippable")
    for key in ("description", "statement_descriptor", "unit_label", "url"):
        if key in params:
            product[key] = optional_str(params, key)
    if "name" in params:
        if not params["name"]:
            raise StripeError("You cannot unset a product's name.", param="name")
        product["name"] = str(params["name"])
    if "metadata" in params:
        product["metadata"] = apply_metadata(product.get("metadata"), params["metadata"])


@route("POST", "/v1/products")
def create_product(ctx: RequestContext) -> dict[str, Any]:
    reject_unsupported(ctx, _CREATE, what="products")
    product = new_product(ctx, ctx.params)
    ctx.store.insert(product)
    return product


@route("GET", "/v1/products/search")
def search_products(ctx: RequestContext) -> dict[str, Any]:
    return search_response(ctx, OBJECT, url="/v1/products/search", fields=SEARCH_FIELDS)


@route("GET", "/v1/products/{id}")
def retrieve_product(ctx: RequestContext) -> dict[str, Any]:
    return ctx.get_or_404(OBJECT, ctx.path_params["id"])


@route("POST", "/v1/products/{id}")
def update_product(ctx: RequestContext) -> dict[str, Any]:
    product = ctx.get_or_404(OBJECT, ctx.path_params["id"])
    reject_unsupported(ctx, _UPDATE, what="products")
    _apply(product, ctx.params)
    product["updated"] = ctx.now_ts
    ctx.store.save(product)
    return product


@route("DELETE", "/v1/products/{id}")
def delete_product(ctx: RequestContext) -> dict[str, Any]:
    product = ctx.get_or_404(OBJECT, ctx.path_params["id"])
    if ctx.store.page("price", condition=Condition.attr("price", "product", product["id"]), limit=1).data:
        raise StripeError("This product cannot be deleted because it has one or more user-created prices.")
    ctx.store.delete(OBJECT, product["id"])
    return {"id": product["id"], "object": OBJECT, "deleted": True}


@route("GET", "/v1/products")
def list_products(ctx: RequestContext) -> dict[str, Any]:
    filters = {}
    if "active" in ctx.params:
        filters["active"] = "true" if to_bool(ctx.params["active"], "active") else "false"
    if "shippable" in ctx.params:
        filters["shippable"] = "true" if to_bool(ctx.params["shippable"], "shippable") else "false"
    return list_response(ctx, OBJECT, url="/v1/products", filters=filters, supported_filters=("active", "shippable"))
