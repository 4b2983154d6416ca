"""Customers: create, retrieve, update, delete, list, search."""

from __future__ import annotations

from typing import Any

from cpq_sync.sandbox.stripe.listing import list_response
from cpq_sync.sandbox.stripe.resources.common import address, apply_metadata, optional_str, reject_unsupported
from cpq_sync.sandbox.stripe.router import RequestContext, route
from cpq_sync.sandbox.stripe.search import search_response
from cpq_sync.sandbox.stripe.store import Condition, register_index

OBJECT = "customer"
SEARCH_FIELDS = ("email", "name", "phone")
for _field in SEARCH_FIELDS:
    register_index(OBJECT, _field)

_FIELDS = ("address", "description", "email", "metadata", "name", "phone", "shipping", "preferred_locales")


def _shipping(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    return {"address": address(value.get("address")), "name": value.get("name"), "phone": value.get("phone")}


def _apply(ctx: RequestContext, customer: dict[str, Any]) -> None:
    params = ctx.params
    for key in ("description", "email", "name", "phone"):
        if key in params:
            customer[key] = optional_str(params, key)
    if "address" in params:
        customer["address"] = address(params["address"])
    if "shipping" in params:
        customer["shipping"] = _shipping(params["shipping"])
    if "preferred_locales" in params:
        value = params["preferred_locales"]
        customer["preferred_locales"] = [] if value == "" else list(value)
    if "metadata" in params:
        customer["metadata"] = apply_metadata(customer.get("metadata"), params["metadata"])


@route("POST", "/v1/customers")
def create_customer(ctx: RequestContext) -> dict[str, Any]:
    reject_unsupported(ctx, _FIELDS, what="customers")
    customer: dict[str, Any] = {
        "id": ctx.new_id("cus", 14),
        "object": OBJECT,
        "address": None,
        "balance": 0,
        "created": ctx.now_ts,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "invoice_prefix": ctx.new_id("X", 7).split("_")[1].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    _apply(ctx, customer)
    ctx.store.insert(customer)
    return customer


@route("GET", "/v1/customers/search")
def search_customers(ctx: RequestContext) -> dict[str, Any]:
    return search_response(ctx, OBJECT, url="/v1/customers/search", fields=SEARCH_FIELDS)


@route("GET", "/v1/customers/{customer}")
def retrieve_customer(ctx: RequestContext) -> dict[str, Any]:
    customer_id = ctx.path_params["customer"]
    if ctx.store.exists(DELETED, customer_id):
        return {"id": customer_id, "object": OBJECT, "deleted": True}
    return ctx.get_or_404(OBJECT, customer_id)


@route("POST", "/v1/customers/{customer}")
def update_customer(ctx: RequestContext) -> dict[str, Any]:
    customer = _live_customer(ctx, ctx.path_params["customer"])
    reject_unsupported(ctx, _FIELDS, what="customers")
    _apply(ctx, customer)
    ctx.store.save(customer)
    return customer


@route("DELETE", "/v1/customers/{customer}")
def delete_customer(ctx: RequestContext) -> dict[str, Any]:
    """As at Stripe, a deleted customer stays retrievable as ``{"id", "object", "deleted": true}``; it
    leaves lists and search, and cannot be updated or used any more."""
    customer = _live_customer(ctx, ctx.path_params["customer"])
    _end_billing(ctx, customer["id"])
    ctx.store.delete(OBJECT, customer["id"])
    tombstone = {"id": customer["id"], "object": OBJECT, "deleted": True}
    ctx.store.insert({**tombstone, "object": DELETED, "created": customer["created"]})
    return tombstone


DELETED = "deleted_customer"
_LIVE_SCHEDULE = ("active", "not_started")


def _end_billing(ctx: RequestContext, customer_id: str) -> None:
    """Deleting a customer cancels its subscriptions at once (no final invoice, no proration) and its
    subscription schedules, as at Stripe: both stay retrievable, canceled."""
    from cpq_sync.sandbox.stripe.billing import lifecycle

    now = ctx.now_ts
    schedules = ctx.store.all("subscription_schedule", Condition.attr("subscription_schedule", "customer", customer_id))
    for schedule in schedules:
        if schedule["status"] in _LIVE_SCHEDULE:
            schedule.update(status="canceled", canceled_at=now, current_phase=None)
            ctx.store.save(schedule)
    for subscription in ctx.store.all("subscription", Condition.attr("subscription", "customer", customer_id)):
        lifecycle.step_subscription(ctx.store, subscription, now)  # a cancel_at already reached ends it then
        if subscription["status"] not in ("canceled", "incomplete_expired"):
            lifecycle.end_subscription(ctx.store, subscription, now)


def _live_customer(ctx: RequestContext, customer_id: str) -> dict[str, Any]:
    customer = ctx.store.get(OBJECT, customer_id)
    if customer is None:
        raise ctx.missing(OBJECT, customer_id)
    return customer


@route("GET", "/v1/customers")
def list_customers(ctx: RequestContext) -> dict[str, Any]:
    filters = {"email": str(ctx.params["email"])} if "email" in ctx.params else {}
    return list_response(ctx, OBJECT, url="/v1/customers", filters=filters, supported_filters=("email",))
