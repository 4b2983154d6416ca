"""Helpers shared by resource handlers: metadata rules, unsupported parameters, small field readers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cpq_sync.sandbox.stripe.errors import StripeError, invalid_request
from cpq_sync.sandbox.stripe.router import RequestContext
from cpq_sync.sandbox.stripe.value_limits import check_metadata, metadata_count_error
from cpq_sync.stripe.limits import METADATA_KEYS_MAX


def apply_metadata(current: dict[str, str] | None, update: Any, *, param: str = "metadata") -> dict[str, str]:
    """Stripe's metadata rules: merge key by key, ``""`` removes a key, ``metadata=""`` clears; limits."""
    merged = dict(current or {})
    if update is None:
        return merged
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise invalid_request("Invalid object", param=param)
    check_metadata(update, param)
    for key, value in update.items():
        key = str(key)
        if not isinstance(value, str):
            raise invalid_request("Invalid string", param=f"{param}[{key}]")
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > METADATA_KEYS_MAX:
        raise metadata_count_error(len(merged), param)
    return merged


def reject_unsupported(ctx: RequestContext, supported: Iterable[str], *, what: str = "") -> None:
    """Fail loudly on a parameter Stripe accepts but the sandbox does not emulate (never ignore it)."""
    allowed = set(supported) | {"expand"}
    for key in ctx.params:
        if key not in allowed:
            raise StripeError(
                f"The sandbox Stripe account does not emulate the parameter `{key}`"
                + (f" on {what}" if what else "")
                + ". Stripe accepts it, but the sandbox would ignore it, so it refuses the request instead.",
                status=400,
                param=key,
            )


def optional_str(params: dict[str, Any], key: str) -> str | None:
    """A string param where ``""`` means unset (None)."""
    value = params.get(key)
    if value is None or value == "":
        return None
    return str(value)


def nullable_hash(value: Any) -> dict[str, Any] | None:
    """A hash param (address, shipping...) where ``""`` unsets it."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        return value
    raise invalid_request("Invalid object")


def address(value: Any) -> dict[str, Any] | None:
    raw = nullable_hash(value)
    if raw is None:
        return None
    return {k: raw.get(k) or None for k in ("city", "country", "line1", "line2", "postal_code", "state")}
