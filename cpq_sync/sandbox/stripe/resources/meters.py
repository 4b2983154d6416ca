"""Billing meters (``/v1/billing/meters``): what metered prices point to."""

from __future__ import annotations

from typing import Any

from cpq_sync.sandbox.stripe.errors import StripeError
from cpq_sync.sandbox.stripe.listing import list_response
from cpq_sync.sandbox.stripe.resources.common import reject_unsupported
from cpq_sync.sandbox.stripe.router import RequestContext, route
from cpq_sync.sandbox.stripe.store import Condition, register_index

OBJECT = "billing.meter"
register_index(OBJECT, "status", selective=False)
register_index(OBJECT, "event_name")

_CREATE = ("default_aggregation", "display_name", "event_name", "customer_mapping", "value_settings")


@route("POST", "/v1/billing/meters")
def create_meter(ctx: RequestContext) -> dict[str, Any]:
    reject_unsupported(ctx, _CREATE, what="billing meters")
    params = ctx.params
    event_name = str(params["event_name"])
    clash = Condition.all_of(
        [Condition.attr(OBJECT, "event_name", event_name), Condition.attr(OBJECT, "status", "active")]
    )
    if ctx.store.page(OBJECT, condition=clash, limit=1).data:
        raise StripeError(f"An active meter with event_name `{event_name}` already exists.", param="event_name")
    mapping = params.get("customer_mapping") or {}
    value_settings = params.get("value_settings") or {}
    meter: dict[str, Any] = {
        "id": ctx.new_id("mtr", 24),
        "object": OBJECT,
        "created": ctx.now_ts,
        "customer_mapping": {
            "event_payload_key": mapping.get("event_payload_key", "stripe_customer_id"),
            "type": mapping.get("type", "by_id"),
        },
        "default_aggregation": {"formula": params["default_aggregation"]["formula"]},
        "display_name": str(params["display_name"]),
        "event_name": event_name,
        "event_time_window": None,
        "livemode": False,
        "status": "active",
        "status_transitions": {"deactivated_at": None},
        "updated": ctx.now_ts,
        "value_settings": {"event_payload_key": value_settings.get("event_payload_key", "value")},
    }
    ctx.store.insert(meter)
    return meter


@route("GET", "/v1/billing/meters/{id}")
def retrieve_meter(ctx: RequestContext) -> dict[str, Any]:
    return ctx.get_or_404(OBJECT, ctx.path_params["id"], kind="billing meter")


@route("GET", "/v1/billing/meters")
def list_meters(ctx: RequestContext) -> dict[str, Any]:
    filters = {"status": str(ctx.params["status"])} if "status" in ctx.params else {}
    return list_response(
        ctx,
        OBJECT,
        url="/v1/billing/meters",
        filters=filters,
        supported_filters=("status",),
        kind="billing meter",
    )
