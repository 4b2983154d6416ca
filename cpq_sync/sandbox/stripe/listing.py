"""List endpoints: ``limit`` (1..100, default 10), ``starting_after``, ``ending_before``, newest first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cpq_sync.sandbox.stripe.errors import StripeError, invalid_request, resource_missing
from cpq_sync.sandbox.stripe.router import RequestContext
from cpq_sync.sandbox.stripe.store import Condition, merge_filters
from cpq_sync.sandbox.stripe.wire import to_int

PAGING_PARAMS = frozenset({"limit", "starting_after", "ending_before", "expand", "created"})


def read_limit(params: Mapping[str, Any]) -> int:
    limit = to_int(params.get("limit", "10"), "limit")
    if not 1 <= limit <= 100:
        raise invalid_request("Invalid limit: must be between 1 and 100", param="limit")
    return limit


def list_response(
    ctx: RequestContext,
    object_type: str,
    *,
    url: str,
    filters: Mapping[str, str] | None = None,
    supported_filters: Iterable[str] = (),
    condition: Condition | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """A Stripe list of ``object_type``; ``filters`` are equality filters on indexed fields.

    Any request parameter other than paging, ``expand`` and ``supported_filters`` is refused (400), so an
    unemulated filter never silently returns everything.
    """
    allowed = PAGING_PARAMS | set(supported_filters)
    for key in ctx.params:
        if key not in allowed:
            raise StripeError(
                f"The sandbox Stripe account does not emulate the list filter `{key}` on {url}.", param=key
            )
    params = ctx.params
    limit = read_limit(params)
    if params.get("starting_after") and params.get("ending_before"):
        raise invalid_request(
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    after = before = None
    if params.get("starting_after"):
        after = ctx.store.cursor_of(object_type, str(params["starting_after"]))
        if after is None:
            raise resource_missing(kind or object_type, str(params["starting_after"]), param="starting_after")
    elif params.get("ending_before"):
        before = ctx.store.cursor_of(object_type, str(params["ending_before"]))
        if before is None:
            raise resource_missing(kind or object_type, str(params["ending_before"]), param="ending_before")
    parts = [c for c in (merge_filters(object_type, filters or {}), condition) if c is not None]
    if "created" in params:
        parts.append(created_condition(params["created"]))
    combined = Condition.all_of(parts) if parts else None
    page = ctx.store.page(object_type, condition=combined, limit=limit, after=after, before=before)
    return {"object": "list", "data": page.data, "has_more": page.has_more, "url": url}


_CREATED_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def created_condition(value: Any) -> Condition:
    """``created=<ts>`` or ``created[gte]=<ts>`` (gt, gte, lt, lte) on list endpoints."""
    if isinstance(value, dict):
        parts = []
        for op, bound in value.items():
            if op not in _CREATED_OPS:
                raise invalid_request(f"Received unknown parameter: created[{op}]", param=f"created[{op}]")
            parts.append(Condition(f"o.created {_CREATED_OPS[op]} ?", (to_int(bound, f"created[{op}]"),)))
        return Condition.all_of(parts) if parts else Condition("1 = 1")
    return Condition("o.created = ?", (to_int(value, "created"),))
