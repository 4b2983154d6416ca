"""Subscription schedules: ``/v1/subscription_schedules`` create, retrieve, update, cancel, release, list.

Update follows Stripe: ``phases`` replaces the schedule's phases from the current one on. Phases that have
ended may be omitted (they are kept) or passed back unchanged with their ``start_date``; changing one is
refused. The first phase given must carry ``start_date`` (for an active schedule, the current phase's start,
which cannot move). A canceled, completed or released schedule can no longer be updated, canceled or released.
``billing_mode`` is set on create (default ``flexible``, see ``billing_mode``): a flexible schedule's phases may
mix prices of different intervals, each item billed on its own interval; a classic one refuses that.
"""

from __future__ import annotations

from typing import Any

from cpq_sync.sandbox.stripe.billing.billing_mode import billing_mode, mixed_allowed
from cpq_sync.sandbox.stripe.billing.clock import TERMINAL, step_schedule
from cpq_sync.sandbox.stripe.billing.common import (
    Reuse,
    apply_metadata,
    as_list,
    check_metadata,
    claim_customer_currency,
    load_customer,
    only,
    redeem,
    sub,
    timestamp,
    to_int,
)
from cpq_sync.sandbox.stripe.billing.phases import Currency, check_collection, normalize_phases
from cpq_sync.sandbox.stripe.errors import invalid_request
from cpq_sync.sandbox.stripe.listing import list_response
from cpq_sync.sandbox.stripe.router import RequestContext, route
from cpq_sync.sandbox.stripe.store import JSONObject

END_BEHAVIORS = ("release", "cancel")


def _default_settings(raw: Any, current: JSONObject | None = None) -> JSONObject:
    settings: JSONObject = current or {
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": "automatic",
        "billing_thresholds": None,
        "collection_method": "charge_automatically",
        "default_payment_method": None,
        "description": None,
        "invoice_settings": {"account_tax_ids": None, "days_until_due": None, "issuer": {"type": "self"}},
        "on_behalf_of": None,
        "transfer_data": None,
    }
    if raw is None:
        return settings
    if not isinstance(raw, dict):
        raise invalid_request("Invalid object", param="default_settings")
    only(
        raw,
        ("collection_method", "invoice_settings", "description", "billing_cycle_anchor"),
        "default_settings",
    )
    if "collection_method" in raw:
        settings["collection_method"] = str(raw["collection_method"])
    if "description" in raw:
        settings["description"] = raw["description"] or None
    if "billing_cycle_anchor" in raw:
        if raw["billing_cycle_anchor"] not in ("automatic", "phase_start"):
            raise invalid_request(
                "Invalid default_settings[billing_cycle_anchor]: must be one of automatic or phase_start",
                param="default_settings[billing_cycle_anchor]",
            )
        settings["billing_cycle_anchor"] = raw["billing_cycle_anchor"]
    invoice_settings = raw.get("invoice_settings")
    if invoice_settings is not None:
        if not isinstance(invoice_settings, dict):
            raise invalid_request("Invalid object", param="default_settings[invoice_settings]")
        only(invoice_settings, ("days_until_due",), "default_settings[invoice_settings]")
        if "days_until_due" in invoice_settings:
            days = to_int(invoice_settings["days_until_due"], "default_settings[invoice_settings][days_until_due]")
            if days < 0:
                raise invalid_request(
                    "This value must be greater than or equal to 0.",
                    param="default_settings[invoice_settings][days_until_due]",
                )
            settings["invoice_settings"]["days_until_due"] = days
    check_collection(
        settings["collection_method"],
        settings["invoice_settings"]["days_until_due"],
        "default_settings[invoice_settings][days_until_due]",
    )
    return settings


def _end_behavior(value: Any) -> str:
    if value not in END_BEHAVIORS:
        raise invalid_request(
            f"Invalid end_behavior: the sandbox emulates {' and '.join(END_BEHAVIORS)} (got {value!r}).",
            param="end_behavior",
        )
    return str(value)


def _coupons(phases: list[JSONObject]) -> list[JSONObject]:
    seen: dict[str, JSONObject] = {}
    for phase in phases:
        for entry in [*phase["discounts"], *(d for i in phase["items"] for d in i["discounts"])]:
            seen.setdefault(str(entry["coupon"]), entry)
    return list(seen.values())


@route("POST", "/v1/subscription_schedules")
def create_schedule(ctx: RequestContext) -> JSONObject:
    params = ctx.params
    only(
        params,
        ("customer", "start_date", "end_behavior", "phases", "default_settings", "metadata", "billing_mode"),
    )
    mode = billing_mode(params.get("billing_mode"))
    customer = load_customer(ctx, params.get("customer"))
    if not as_list(params.get("phases"), "phases"):
        raise invalid_request("Missing required param: phases.", param="phases")
    if "start_date" not in params:
        raise invalid_request("Missing required param: start_date.", param="start_date")
    start = timestamp(params["start_date"], "start_date", ctx.now_ts)
    settings = _default_settings(params.get("default_settings"))
    currency = Currency()
    phases = normalize_phases(
        ctx,
        params["phases"],
        first_start=start,
        default_settings=settings,
        currency=currency,
        mixed=mixed_allowed(mode),
    )
    claim_customer_currency(ctx, customer, currency.value)
    sched: JSONObject = {
        "id": ctx.new_id("sub_sched"),
        "object": "subscription_schedule",
        "application": None,
        "billing_mode": mode,
        "canceled_at": None,
        "completed_at": None,
        "created": ctx.now_ts,
        "current_phase": None,
        "customer": customer["id"],
        "customer_account": None,
        "default_settings": settings,
        "end_behavior": _end_behavior(params.get("end_behavior", "release")),
        "livemode": False,
        "metadata": check_metadata(params.get("metadata"), "metadata"),
        "phases": phases,
        "released_at": None,
        "released_subscription": None,
        "status": "not_started",
        "subscription": None,
        "test_clock": None,
    }
    redeem(ctx.store, _coupons(phases))
    step_schedule(ctx.store, sched, ctx.now_ts)  # stores it (once), with its subscription if it has started
    return sched


@route("GET", "/v1/subscription_schedules/{schedule}")
def retrieve_schedule(ctx: RequestContext) -> JSONObject:
    return ctx.get_or_404("subscription_schedule", ctx.path_params["schedule"], kind="subscription_schedule")


def _same_phase(given: Any, stored: JSONObject, ctx: RequestContext, where: str) -> bool:
    if not isinstance(given, dict):
        return False
    if "end_date" in given and timestamp(given["end_date"], f"{where}[end_date]", ctx.now_ts) != stored["end_date"]:
        return False
    if "duration" in given:
        return False
    items = as_list(given.get("items"), f"{where}[items]")
    wanted = sorted((str(i.get("price")), int(i.get("quantity", 1))) for i in items if isinstance(i, dict))
    have = sorted((str(i["price"]), int(i["quantity"] if i["quantity"] is not None else 1)) for i in stored["items"])
    return wanted == have


def _updated_phases(ctx: RequestContext, sched: JSONObject, raw: Any) -> list[JSONObject]:
    now = ctx.now_ts
    stored: list[JSONObject] = sched["phases"]
    past = [p for p in stored if int(p["end_date"]) <= now]
    current = next((p for p in stored if int(p["start_date"]) <= now < int(p["end_date"])), None)
    if sched["status"] == "not_started":
        past, current = [], None
    incoming = as_list(raw, "phases")
    if not incoming:
        raise invalid_request("Missing required param: phases.", param="phases")
    kept: list[JSONObject] = []
    k = 0
    by_start = {int(p["start_date"]): p for p in past}
    while k < len(incoming) and isinstance(incoming[k], dict) and incoming[k].get("start_date") is not None:
        where = sub("phases", k)
        start = timestamp(incoming[k]["start_date"], f"{where}[start_date]", now)
        if start not in by_start:
            break
        if not _same_phase(incoming[k], by_start[start], ctx, where):
            raise invalid_request(
                f"You cannot modify a phase that has already ended: {where} started at {start} and ended at "
                f"{by_start[start]['end_date']}. Pass it back unchanged or leave it out.",
                param=where,
            )
        kept.append(by_start[start])
        k += 1
    rest = incoming[k:]
    if not rest:
        raise invalid_request("The phases must include the current phase and the phases after it.", param="phases")
    first = rest[0] if isinstance(rest[0], dict) else {}
    where = sub("phases", k)
    previous_end = int(kept[-1]["end_date"]) if kept else None
    currency = Currency(stored[0]["currency"])
    # Prices and coupons already on the schedule stay usable (archived prices, fully redeemed coupons).
    on_schedule = Reuse(
        prices=frozenset(str(i["price"]) for p in stored for i in [*p["items"], *p["add_invoice_items"]]),
        coupons=frozenset(str(c["coupon"]) for c in _coupons(stored)),
    )
    if current is None:
        return normalize_phases(
            ctx,
            rest,
            first_start=None,
            default_settings=sched["default_settings"],
            currency=currency,
            offset=k,
            reuse=on_schedule,
            mixed=mixed_allowed(sched.get("billing_mode")),
        )
    current_start = int(current["start_date"])
    if first.get("start_date") is not None:
        given: int | None = timestamp(first["start_date"], f"{where}[start_date]", now)
    else:
        given = previous_end
    if given is None:
        raise invalid_request(f"Missing required param: {where}[start_date].", param=f"{where}[start_date]")
    if given < current_start:
        raise invalid_request(
            f"You cannot modify a phase that has already ended: {where} starts at {given}, "
            f"before the current phase ({current_start}).",
            param=f"{where}[start_date]",
        )
    if given != current_start:
        raise invalid_request(
            f"You cannot change the start date of the current phase ({current_start}); {where}[start_date] is {given}.",
            param=f"{where}[start_date]",
        )
    new = normalize_phases(
        ctx,
        rest,
        first_start=current_start,
        default_settings=sched["default_settings"],
        currency=currency,
        offset=k,
        reuse=on_schedule,
        mixed=mixed_allowed(sched.get("billing_mode")),
    )
    for index, phase in enumerate(new):
        if int(phase["end_date"]) < now:
            raise invalid_request(
                f"The end of phases[{k + index}] is in the past: the current phase and the later ones must "
                "end now or later.",
                param=f"phases[{k + index}][end_date]",
            )
    return [*past, *new]


def _refuse_if_ended(sched: JSONObject, action: str) -> None:
    if sched["status"] in TERMINAL:
        raise invalid_request(
            f"You cannot {action} a subscription schedule that is currently in the `{sched['status']}` status.",
            param=None,
        )


@route("POST", "/v1/subscription_schedules/{schedule}")
def update_schedule(ctx: RequestContext) -> JSONObject:
    sched = ctx.get_or_404("subscription_schedule", ctx.path_params["schedule"], kind="subscription_schedule")
    params = ctx.params
    only(params, ("phases", "end_behavior", "default_settings", "metadata", "proration_behavior"))
    if "metadata" in params:
        sched["metadata"] = apply_metadata(sched.get("metadata"), params["metadata"])
    if set(params) - {"metadata", "expand"}:
        _refuse_if_ended(sched, "update")
    if "proration_behavior" in params and params["proration_behavior"] not in (
        "create_prorations",
        "none",
        "always_invoice",
    ):
        raise invalid_request("Invalid proration_behavior", param="proration_behavior")
    if "default_settings" in params:
        sched["default_settings"] = _default_settings(params["default_settings"], sched["default_settings"])
    if "end_behavior" in params:
        sched["end_behavior"] = _end_behavior(params["end_behavior"])
    if "phases" in params:
        before = {str(c["coupon"]) for c in _coupons(sched["phases"])}
        sched["phases"] = _updated_phases(ctx, sched, params["phases"])
        redeem(ctx.store, [c for c in _coupons(sched["phases"]) if str(c["coupon"]) not in before])
    step_schedule(ctx.store, sched, ctx.now_ts)
    return sched


@route("POST", "/v1/subscription_schedules/{schedule}/cancel")
def cancel_schedule(ctx: RequestContext) -> JSONObject:
    sched = ctx.get_or_404("subscription_schedule", ctx.path_params["schedule"], kind="subscription_schedule")
    only(ctx.params, ("invoice_now", "prorate"))
    _refuse_if_ended(sched, "cancel")
    from cpq_sync.sandbox.stripe.billing import lifecycle

    sched["status"] = "canceled"
    sched["canceled_at"] = ctx.now_ts
    sched["current_phase"] = None
    if sched.get("subscription"):
        subscription = ctx.store.get("subscription", str(sched["subscription"]))
        if subscription is not None and subscription["status"] != "canceled":
            lifecycle.end_subscription(ctx.store, subscription, ctx.now_ts)
    ctx.store.save(sched)
    return sched


@route("POST", "/v1/subscription_schedules/{schedule}/release")
def release_schedule(ctx: RequestContext) -> JSONObject:
    sched = ctx.get_or_404("subscription_schedule", ctx.path_params["schedule"], kind="subscription_schedule")
    only(ctx.params, ("preserve_cancel_date",))
    _refuse_if_ended(sched, "release")
    sched["status"] = "released"
    sched["released_at"] = ctx.now_ts
    sched["current_phase"] = None
    subscription_id = sched.get("subscription")
    sched["released_subscription"] = subscription_id
    sched["subscription"] = None
    if subscription_id:
        subscription = ctx.store.get("subscription", str(subscription_id))
        if subscription is not None:
            subscription["schedule"] = None
            ctx.store.save(subscription)
    ctx.store.save(sched)
    return sched


@route("GET", "/v1/subscription_schedules")
def list_schedules(ctx: RequestContext) -> JSONObject:
    filters = {"customer": str(ctx.params["customer"])} if ctx.params.get("customer") else {}
    return list_response(
        ctx,
        "subscription_schedule",
        url="/v1/subscription_schedules",
        filters=filters,
        supported_filters=("customer",),
        kind="subscription_schedule",
    )
