"""Routes of the sandbox Stripe account: ``(method, path pattern) -> handler``.

How to add a resource
---------------------
Write a module (e.g. ``cpq_sync/sandbox/stripe/billing/schedules.py``) and register handlers with
:func:`route`,
using Stripe's own path templates (the strict checker finds the SDK's params TypedDict from the same
template)::

    from cpq_sync.sandbox.stripe.router import RequestContext, route
    from cpq_sync.sandbox.stripe.store import register_index

    register_index("subscription_schedule", "customer")      # list filter ?customer=

    @route("POST", "/v1/subscription_schedules")
    def create_schedule(ctx: RequestContext) -> dict[str, Any]:
        customer = ctx.params.get("customer")                # decoded wire values: strings, dicts, lists
        if customer and not ctx.store.exists("customer", customer):
            raise ctx.missing("customer", customer, param="customer")
        obj = {"id": ctx.new_id("sub_sched"), "object": "subscription_schedule", "created": ctx.now_ts, ...}
        ctx.store.insert(obj)
        return obj                                            # 200 with this JSON body

    @route("GET", "/v1/subscription_schedules/{schedule}")
    def retrieve_schedule(ctx: RequestContext) -> dict[str, Any]:
        return ctx.get_or_404("subscription_schedule", ctx.path_params["schedule"], kind="schedule")

Then import the module from your package's ``__init__`` (``cpq_sync/sandbox/stripe/billing/__init__.py``): the
HTTP client imports ``cpq_sync.sandbox.stripe.resources`` and ``cpq_sync.sandbox.stripe.billing`` once.

What the framework does around a handler: it rejects unknown endpoints (404), checks the params strictly
against
the SDK's TypedDict for ``(method, template)`` (400 naming the param; pass ``params_type=`` to override, or
``check=False`` to skip), runs the whole request in one SQLite transaction (an exception rolls everything
back),
applies ``expand`` on the returned JSON, handles idempotency keys, faults and the request log. Handlers raise
``ctx.error(message, param=...)`` (400), ``ctx.missing(kind, id)`` (404) or any :class:`StripeError`.
``ctx.now`` / ``ctx.now_ts`` is the sandbox clock (``set_clock``). Functions registered with
:func:`before_request`
run first in every request's transaction (e.g. to move schedules forward to the clock).
Helpers:
- ``listing.list_response(ctx, "subscription", url=..., filters={"customer": ...}, supported_filters=(...))``;
- ``search.search_response(ctx, "subscription", url=..., fields=(...))`` (fields must be registered with
  ``register_index``; pass ``selective=False`` for low-cardinality fields such as ``status``);
- ``resources.common.apply_metadata(current, ctx.params.get("metadata"), param="phases[0][metadata]")``
  (merge, ``""`` removal, limits) and ``reject_unsupported(ctx, supported_keys)``;
- ``resources.prices.require_active_price(ctx, price_id, param=...)`` (404 missing / 400 archived) and
  ``resources.coupons.require_coupon(ctx, coupon_id, param=...)``;
- ``wire.to_int/to_bool/to_decimal`` to read the decoded wire strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cpq_sync.sandbox.stripe import ids
from cpq_sync.sandbox.stripe.errors import StripeError, invalid_request, resource_missing
from cpq_sync.sandbox.stripe.store import JSONObject, Store


@dataclass
class RequestContext:
    """What a handler receives."""

    store: Store
    method: str
    path: str
    template: str
    path_params: dict[str, str]
    params: dict[str, Any]
    now: datetime
    directory: Path
    idempotency_key: str | None = None
    request_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def now_ts(self) -> int:
        return int(self.now.timestamp())

    @staticmethod
    def new_id(prefix: str, length: int = 24) -> str:
        return ids.new_id(prefix, length)

    @staticmethod
    def error(message: str, *, param: str | None = None, code: str | None = None, status: int = 400) -> StripeError:
        """A 400 invalid_request_error (``raise ctx.error("...", param="phases[0][items]")``)."""
        err = invalid_request(message, param=param, code=code)
        err.status = status
        return err

    @staticmethod
    def missing(kind: str, object_id: str, *, param: str | None = "id") -> StripeError:
        """resource_missing "No such price: 'price_123'": 404 for the URL's object (param "id"), else 400."""
        return resource_missing(kind, object_id, param=param)

    def get_or_404(
        self, object_type: str, object_id: str, *, kind: str | None = None, param: str | None = "id"
    ) -> JSONObject:
        obj = self.store.get(object_type, object_id)
        if obj is None:
            raise self.missing(kind or object_type, object_id, param=param)
        return obj

    @property
    def expand(self) -> list[str]:
        value = self.params.get("expand") or []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]


Handler = Callable[[RequestContext], JSONObject]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler
    params_type: type | None
    check: bool
    literal_segments: int


_ROUTES: list[Route] = []
_BEFORE: list[Callable[[RequestContext], None]] = []


def _compile(template: str) -> tuple[re.Pattern[str], int]:
    parts = template.strip("/").split("/")
    regex = ""
    literals = 0
    for part in parts:
        if part.startswith("{") and part.endswith("}"):
            regex += f"/(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += "/" + re.escape(part)
            literals += 1
    return re.compile(f"^{regex}$"), literals


def route(
    method: str, template: str, *, params_type: type | None = None, check: bool = True
) -> Callable[[Handler], Handler]:
    """Register a handler for ``METHOD template`` (Stripe's template, e.g. ``/v1/prices/{price}``)."""

    def register(handler: Handler) -> Handler:
        regex, literals = _compile(template)
        _ROUTES.append(Route(method.upper(), template, regex, handler, params_type, check, literals))
        # Literal segments win over placeholders: /v1/customers/search before /v1/customers/{customer}.
        _ROUTES.sort(key=lambda r: -r.literal_segments)
        return handler

    return register


def before_request(fn: Callable[[RequestContext], None]) -> Callable[[RequestContext], None]:
    """Run ``fn(ctx)`` at the start of every request, inside its transaction."""
    _BEFORE.append(fn)
    return fn


def before_request_hooks() -> list[Callable[[RequestContext], None]]:
    return list(_BEFORE)


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    method = method.upper()
    for candidate in _ROUTES:
        if candidate.method != method:
            continue
        match = candidate.regex.match(path)
        if match:
            return candidate, dict(match.groupdict())
    return None


def routes() -> list[tuple[str, str]]:
    return [(r.method, r.template) for r in _ROUTES]


def apply_expand(store: Store, body: JSONObject, paths: list[str]) -> JSONObject:
    """Replace id strings named by ``expand`` paths (``customer``, ``data.price.product``) by objects."""
    for path in paths:
        _expand(store, body, path.split("."), path)
    return body


def _expand(store: Store, node: Any, segments: list[str], full: str) -> None:
    if not segments or node is None:
        return
    if isinstance(node, list):
        for item in node:
            _expand(store, item, segments, full)
        return
    if not isinstance(node, dict):
        raise invalid_request(f"This property cannot be expanded ({full}).", param="expand")
    head, rest = segments[0], segments[1:]
    if head not in node:
        raise invalid_request(f"This property cannot be expanded ({full}).", param="expand")
    value = node[head]
    if isinstance(value, str):
        loaded = store.get_any(value)
        if loaded is None:
            raise invalid_request(f"This property cannot be expanded ({full}).", param="expand")
        node[head] = loaded
        value = loaded
    _expand(store, value, rest, full)
