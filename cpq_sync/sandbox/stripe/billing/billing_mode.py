"""``billing_mode`` of schedules and subscriptions, and the one-interval rule it lifts.

Stripe (API 2025-06-30.basil) added ``billing_mode[type]`` = ``classic`` | ``flexible``; since
2025-09-30.clover a new subscription or schedule created through the API without it is ``flexible``, so for the
pinned version (2026-10-28.endive) the default is ``flexible`` (the SDK's params say "If no value is passed,
the default is `flexible`"). Since 2025-07-30.basil a flexible subscription may bill recurring prices of
different intervals ("mixed intervals"); ``classic`` keeps the rule that every price of a subscription (and of
a schedule phase) shares one interval. The mode is set on create and cannot be changed here (Stripe migrates
classic -> flexible through ``/v1/subscriptions/{id}/migrate``, which the sandbox does not emulate).

``billing_mode[flexible][proration_discounts]`` is accepted as ``included`` (Stripe's default); ``itemized``
changes how proration discounts are displayed and is refused as not emulated.
"""

from __future__ import annotations

from typing import Any

from cpq_sync.sandbox.stripe.billing.common import only, unsupported
from cpq_sync.sandbox.stripe.errors import invalid_request
from cpq_sync.sandbox.stripe.store import JSONObject

MODES = ("classic", "flexible")
DEFAULT_MODE = "flexible"


def billing_mode(raw: Any, param: str = "billing_mode") -> JSONObject:
    """``billing_mode`` params -> the stored shape ``{type, flexible, updated_at}`` (None: the default)."""
    if raw is None:
        raw = {"type": DEFAULT_MODE}
    if not isinstance(raw, dict):
        raise invalid_request("Invalid object", param=param)
    only(raw, ("type", "flexible"), param)
    if "type" not in raw:
        raise invalid_request(f"Missing required param: {param}[type].", param=f"{param}[type]")
    mode = raw["type"]
    if mode not in MODES:
        raise invalid_request(f"Invalid {param}[type]: must be one of classic or flexible", param=f"{param}[type]")
    flexible = raw.get("flexible")
    if flexible is not None and mode != "flexible":
        raise invalid_request(
            f"{param}[flexible] can only be set when {param}[type] is `flexible`.", param=f"{param}[flexible]"
        )
    if mode == "classic":
        return {"type": "classic", "flexible": None, "updated_at": None}
    settings = flexible or {}
    if not isinstance(settings, dict):
        raise invalid_request("Invalid object", param=f"{param}[flexible]")
    only(settings, ("proration_discounts",), f"{param}[flexible]")
    discounts = settings.get("proration_discounts", "included")
    if discounts == "itemized":
        raise unsupported(f"{param}[flexible][proration_discounts]")
    if discounts != "included":
        raise invalid_request(
            f"Invalid {param}[flexible][proration_discounts]: must be one of included or itemized",
            param=f"{param}[flexible][proration_discounts]",
        )
    return {"type": "flexible", "flexible": {"proration_discounts": "included"}, "updated_at": None}


def mixed_allowed(mode: JSONObject | None) -> bool:
    """Whether prices of different intervals may share a subscription (or a schedule phase)."""
    return bool((mode or {}).get("type", DEFAULT_MODE) == "flexible")
