"""Stripe's error shape: ``{"error": {"type", "code", "param", "message"}}`` with its HTTP status.

Handlers raise :class:`StripeError` (usually through ``ctx.error(...)`` or ``ctx.missing(...)``); the HTTP
client
turns it into the JSON body and status the SDK maps to ``InvalidRequestError``, ``IdempotencyError``, ...
"""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An API error as Stripe returns it. ``type``: invalid_request_error, api_error, ..."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def invalid_request(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    """A 400 ``invalid_request_error`` (the SDK raises ``stripe.InvalidRequestError``)."""
    return StripeError(message, status=400, code=code, param=param)


def resource_missing(kind: str, object_id: str, *, param: str | None = "id") -> StripeError:
    """``resource_missing``: "No such customer: 'cus_123'".

    As at Stripe: 404 for the object named by the URL (``param="id"``), 400 for an object named by a request
    parameter (``param="customer"``, ``"phases[0][items][0][price]"``...).
    """
    status = 404 if param in (None, "id") else 400
    return StripeError(f"No such {kind}: '{object_id}'", status=status, code="resource_missing", param=param)


def unknown_endpoint(method: str, path: str) -> StripeError:
    return StripeError(
        f"Unrecognized request URL ({method.upper()}: {path}). The sandbox Stripe account does not emulate "
        "this endpoint; see cpq_sync/sandbox/stripe/resources for the endpoints it serves.",
        status=404,
    )


def idempotency_conflict(key: str) -> StripeError:
    return StripeError(
        "Keys for idempotent requests can only be used with the same parameters they were first used with. "
        f"Try using a key other than '{key}' if you meant to execute a different request.",
        status=400,
        type="idempotency_error",
    )


def api_error(message: str, status: int = 500) -> StripeError:
    return StripeError(message, status=status, type="api_error")


def rate_limited() -> StripeError:
    return StripeError(
        "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
        status=429,
        code="rate_limit",
        headers={"Stripe-Should-Retry": "true"},
    )
