"""Subscriptions (``/v1/subscriptions``) and subscription items (``/v1/subscription_items``).

Create takes ``customer``, ``items`` (price, quantity, discounts, metadata), ``discounts`` (``coupon=`` is
gone from the pinned API version; the strict checker refuses it), ``collection_method`` (``send_invoice``
requires ``days_until_due``), ``cancel_at``, ``billing_cycle_anchor``, ``backdate_start_date``,
``proration_behavior``, ``description``, ``metadata`` and ``billing_mode`` (default flexible: items may bill
on different intervals, each with its own current period; classic refuses that). Update changes items (by
``id``, ``deleted``, or new entries; not on a mixed-interval subscription, not emulated), discounts,
collection settings, ``cancel_at`` and metadata; an item change in the middle of a period creates Stripe's
pending proration invoice items unless ``proration_behavior=none`` (``always_invoice`` and interval changes
are refused as not emulated). ``DELETE`` cancels at once. Every other parameter the SDK knows is refused as
not emulated. The sandbox does not take payments: subscriptions are ``active`` (never ``incomplete``) and
renewal invoices are not generated as objects; ``billing_preview`` shows what they would bill.
"""

from __future__ import annotations

from typing import Any

from cpq_sync.sandbox.stripe.billing import amounts, lifecycle, periods
from cpq_sync.sandbox.stripe.billing.billing_mode import billing_mode, mixed_allowed
from cpq_sync.sandbox.stripe.billing.common import (
    Reuse,
    apply_metadata,
    as_list,
    check_metadata,
    claim_customer_currency,
    discounts_param,
    is_metered,
    load_customer,
    only,
    price_interval,
    redeem,
    sub,
    timestamp,
    to_bool,
    to_int,
    unsupported,
)
from cpq_sync.sandbox.stripe.billing.invoices import build_invoice_item
from cpq_sync.sandbox.stripe.billing.phases import Currency, check_collection, normalize_items
from cpq_sync.sandbox.stripe.billing.preview import PRORATION_STATE
from cpq_sync.sandbox.stripe.errors import invalid_request
from cpq_sync.sandbox.stripe.listing import list_response
from cpq_sync.sandbox.stripe.router import RequestContext, route
from cpq_sync.sandbox.stripe.search import search_response
from cpq_sync.sandbox.stripe.store import JSONObject

CREATE_KEYS = (
    "customer",
    "items",
    "discounts",
    "collection_method",
    "days_until_due",
    "cancel_at",
    "cancel_at_period_end",
    "billing_cycle_anchor",
    "backdate_start_date",
    "proration_behavior",
    "description",
    "metadata",
    "billing_mode",
)
PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")


def _collection(params: dict[str, Any], current: JSONObject | None = None) -> tuple[str, int | None]:
    method = str(params.get("collection_method") or (current or {}).get("collection_method") or "charge_automatically")
    if "days_until_due" in params and params["days_until_due"] != "":
        days: int | None = to_int(params["days_until_due"], "days_until_due")
    elif "collection_method" in params:
        days = None if method == "charge_automatically" else (current or {}).get("days_until_due")
    else:
        days = (current or {}).get("days_until_due")
    check_collection(method, days, "days_until_due")
    if method == "charge_automatically" and days is not None:
        raise invalid_request(
            "You can only set `days_until_due` when `collection_method` is `send_invoice`.",
            param="days_until_due",
        )
    return method, days


def _proration(params: dict[str, Any]) -> None:
    value = params.get("proration_behavior")
    if value is not None and value not in PRORATION_BEHAVIORS:
        raise invalid_request(
            f"Invalid proration_behavior: must be one of {', '.join(PRORATION_BEHAVIORS)}",
            param="proration_behavior",
        )


def _cancel_at(value: Any, now_ts: int) -> int | None:
    if value in (None, ""):
        return None
    if value in ("max_period_end", "min_period_end"):
        raise unsupported("cancel_at")
    when = to_int(value, "cancel_at")
    if when <= now_ts:
        raise invalid_request("cancel_at must be in the future.", param="cancel_at")
    return when


@route("POST", "/v1/subscriptions")
def create_subscription(ctx: RequestContext) -> JSONObject:
    params = ctx.params
    only(params, CREATE_KEYS)
    customer = load_customer(ctx, params.get("customer"))
    _proration(params)
    currency = Currency()
    mode = billing_mode(params.get("billing_mode"))
    items = normalize_items(ctx, params.get("items"), "items", currency, mixed=mixed_allowed(mode))
    mixed = len({price_interval(ctx.store.get("price", i["price"]) or {}) for i in items}) > 1
    if mixed and "billing_cycle_anchor" in params:
        raise unsupported("billing_cycle_anchor")  # the stub before a future anchor of mixed items
    if mixed and "cancel_at_period_end" in params:
        raise unsupported("cancel_at_period_end")  # which item's period end is not emulated
    discounts = discounts_param(ctx, params.get("discounts"), "discounts", currency.value)
    claim_customer_currency(ctx, customer, currency.value)
    method, days = _collection(params)
    now = ctx.now_ts
    start = now
    if "backdate_start_date" in params:
        start = to_int(params["backdate_start_date"], "backdate_start_date")
        if start > now:
            raise invalid_request("backdate_start_date must be in the past.", param="backdate_start_date")
    anchor = start
    if "billing_cycle_anchor" in params:
        anchor = timestamp(params["billing_cycle_anchor"], "billing_cycle_anchor", now, allow_now=False)
        if anchor < now:
            raise invalid_request("billing_cycle_anchor cannot be in the past.", param="billing_cycle_anchor")
    cancel_at = _cancel_at(params.get("cancel_at"), now)
    subscription = lifecycle.new_subscription(
        ctx.store,
        customer=customer["id"],
        start_date=start,
        anchor=anchor,
        now_ts=now,
        collection_method=method,
        days_until_due=days,
        metadata=check_metadata(params.get("metadata"), "metadata"),
        description=params.get("description") or None,
        cancel_at=cancel_at,
        billing_mode=mode,
    )
    lifecycle.set_items(ctx.store, subscription, items, now)
    subscription["discounts"] = lifecycle.sync_discounts(
        ctx.store, [], discounts, customer=customer["id"], start=now, subscription=subscription["id"]
    )
    if "cancel_at_period_end" in params and to_bool(params["cancel_at_period_end"], "cancel_at_period_end"):
        subscription["cancel_at_period_end"] = True
    lifecycle.refresh_periods(ctx.store, subscription, now)
    if subscription["cancel_at_period_end"]:
        subscription["cancel_at"] = subscription["items"]["data"][0]["current_period_end"]
    redeem(ctx.store, [*discounts, *(d for i in items for d in i["discounts"])])
    lifecycle.record_items(ctx.store, subscription, now)
    if params.get("proration_behavior") == "none":
        # Not part of the subscription object; the preview needs it for backdated or anchored starts.
        ctx.store.set_state(PRORATION_STATE + subscription["id"], "none")
    lifecycle.save(ctx.store, subscription)
    return subscription


def _get(ctx: RequestContext) -> JSONObject:
    return ctx.get_or_404("subscription", ctx.path_params["subscription_exposed_id"], kind="subscription")


@route("GET", "/v1/subscriptions/{subscription_exposed_id}")
def retrieve_subscription(ctx: RequestContext) -> JSONObject:
    return _get(ctx)


def _coupon_ids(ctx: RequestContext, discount_ids: list[Any]) -> list[str]:
    out = []
    for discount_id in discount_ids:
        discount = ctx.store.get("discount", str(discount_id))
        if discount is not None:
            out.append(str(discount["coupon"]["id"]))
    return out


def _reuse(ctx: RequestContext, subscription: JSONObject) -> Reuse:
    """What the subscription already uses: its prices (even archived) and coupons (even fully redeemed)."""
    items = subscription["items"]["data"]
    coupons = _coupon_ids(ctx, [*(subscription.get("discounts") or []), *(d for i in items for d in i["discounts"])])
    return Reuse(prices=frozenset(str(i["price"]["id"]) for i in items), coupons=frozenset(coupons))


def _updated_items(ctx: RequestContext, subscription: JSONObject, raw: Any) -> list[JSONObject]:
    """Stripe's item update: entries with ``id`` change (or ``deleted``) an item; entries without add one.
    The resulting item set is validated as a whole (duplicates, currency, interval, new archived prices)."""
    specs: dict[str, JSONObject] = {}
    for item in subscription["items"]["data"]:
        spec: JSONObject = {
            "price": item["price"]["id"],
            "metadata": item.get("metadata") or "",
            "discounts": [{"coupon": c} for c in _coupon_ids(ctx, item.get("discounts") or [])],
        }
        if item.get("quantity") is not None:
            spec["quantity"] = item["quantity"]
        specs[item["id"]] = spec
    added: list[Any] = []
    for j, entry in enumerate(as_list(raw, "items")):
        where = sub("items", j)
        if not isinstance(entry, dict):
            raise invalid_request("Invalid object", param=where)
        only(entry, ("id", "price", "quantity", "deleted", "discounts", "metadata"), where)
        if "id" not in entry:
            added.append({k: v for k, v in entry.items() if k != "deleted"})
            continue
        item_id = str(entry["id"])
        if item_id not in specs:
            raise ctx.missing("subscription_item", item_id, param=f"{where}[id]")
        if "deleted" in entry and to_bool(entry["deleted"], f"{where}[deleted]"):
            specs.pop(item_id)
            continue
        spec = specs[item_id]
        for key in ("price", "quantity", "discounts"):
            if key in entry:
                spec[key] = entry[key]
        if "metadata" in entry:
            spec["metadata"] = apply_metadata(spec["metadata"] or {}, entry["metadata"], param=f"{where}[metadata]")
    return normalize_items(
        ctx,
        [*specs.values(), *added],
        "items",
        Currency(subscription.get("currency")),
        reuse=_reuse(ctx, subscription),
        mixed=mixed_allowed(subscription.get("billing_mode")),
    )


@route("POST", "/v1/subscriptions/{subscription_exposed_id}")
def update_subscription(ctx: RequestContext) -> JSONObject:
    subscription = _get(ctx)
    params = ctx.params
    only(
        params,
        (
            "items",
            "discounts",
            "collection_method",
            "days_until_due",
            "cancel_at",
            "cancel_at_period_end",
            "proration_behavior",
            "description",
            "metadata",
        ),
    )
    if subscription["status"] == "canceled" and set(params) - {"metadata", "expand"}:
        raise invalid_request(
            "A canceled subscription can only update its cancellation_details and metadata.", param=None
        )
    _proration(params)
    now = ctx.now_ts
    if "metadata" in params:
        subscription["metadata"] = apply_metadata(subscription.get("metadata"), params["metadata"])
    if "collection_method" in params or "days_until_due" in params:
        subscription["collection_method"], subscription["days_until_due"] = _collection(params, subscription)
    if "description" in params:
        subscription["description"] = params["description"] or None
    if "items" in params:
        behavior = str(params.get("proration_behavior", "create_prorations"))
        if behavior == "always_invoice":
            raise unsupported("proration_behavior")  # the sandbox does not invoice immediately
        before = [(item["price"], item.get("quantity")) for item in subscription["items"]["data"]]
        wanted = _updated_items(ctx, subscription, params["items"])
        intervals = {price_interval(item["price"]) for item in subscription["items"]["data"]}
        intervals_after = {price_interval(ctx.store.get("price", str(i["price"])) or {}) for i in wanted}
        if len(intervals) > 1 or len(intervals_after) > 1:
            raise unsupported("items")  # item changes (and their prorations) with mixed intervals
        old_interval = lifecycle.interval_of(ctx.store, subscription)
        lifecycle.set_items(ctx.store, subscription, wanted, now)
        if lifecycle.interval_of(ctx.store, subscription) != old_interval:
            raise invalid_request(
                "The sandbox Stripe account does not emulate changing a subscription's billing interval "
                "(Stripe resets the billing cycle anchor); use a new subscription or a schedule phase.",
                param="items",
            )
        if behavior == "create_prorations":
            _prorate(ctx, subscription, before, old_interval)
        lifecycle.record_items(ctx.store, subscription, now)
    if "discounts" in params:
        wanted = discounts_param(
            ctx, params["discounts"], "discounts", subscription.get("currency"), _reuse(ctx, subscription)
        )
        subscription["discounts"] = lifecycle.sync_discounts(
            ctx.store,
            subscription.get("discounts") or [],
            wanted,
            customer=str(subscription["customer"]),
            start=now,
            subscription=subscription["id"],
        )
    if "cancel_at" in params:
        subscription["cancel_at"] = _cancel_at(params["cancel_at"], now)
        subscription["cancel_at_period_end"] = False
    if "cancel_at_period_end" in params:
        flag = to_bool(params["cancel_at_period_end"], "cancel_at_period_end")
        subscription["cancel_at_period_end"] = flag
        subscription["cancel_at"] = None
        lifecycle.refresh_periods(ctx.store, subscription, now)
        if flag:
            subscription["cancel_at"] = subscription["items"]["data"][0]["current_period_end"]
    lifecycle.refresh_periods(ctx.store, subscription, now)
    lifecycle.save(ctx.store, subscription)
    return subscription


def _prorate(
    ctx: RequestContext,
    subscription: JSONObject,
    before: list[tuple[JSONObject, int | None]],
    interval: tuple[periods.Interval, int],
) -> None:
    """Stripe's prorations for an item change mid-period: pending invoice items crediting the unused time of
    the items that changed and charging the remaining time of their replacements, on the next invoice."""
    items = subscription["items"]["data"]
    now = ctx.now_ts
    if subscription["status"] != "active" or not items or now < int(subscription["start_date"]):
        return
    end = int(items[0]["current_period_end"])
    anchor = periods.from_timestamp(int(subscription["billing_cycle_anchor"]))
    natural_start, natural_end = periods.period_containing(anchor, *interval, periods.from_timestamp(now))
    share = periods.fraction(periods.from_timestamp(now), periods.from_timestamp(end), natural_start, natural_end)
    if share == 0:
        return
    after = [(item["price"], item.get("quantity")) for item in items]
    old_keys = {(p["id"], q) for p, q in before}
    new_keys = {(p["id"], q) for p, q in after}
    when = periods.from_timestamp(now).strftime("%d %b %Y")
    changes = [(p, q, -share, "Unused") for p, q in before if (p["id"], q) not in new_keys] + [
        (p, q, share, "Remaining") for p, q in after if (p["id"], q) not in old_keys
    ]
    for price, quantity, part, word in changes:
        if is_metered(price) or quantity is None:
            continue
        product = ctx.store.get("product", str(price["product"])) or {}
        name = product.get("name") or price["product"]
        ctx.store.insert(
            build_invoice_item(
                ctx.store,
                customer=str(subscription["customer"]),
                currency=str(price["currency"]),
                amount=amounts.line_amount(price, quantity, part),
                unit=amounts.unit_amount_decimal(price),
                quantity=quantity,
                price=price,
                now=now,
                period={"start": now, "end": end},
                subscription_id=subscription["id"],
                description=f"{word} time on {quantity} × {name} after {when}",  # noqa: RUF001
                proration=True,
            )
        )


@route("DELETE", "/v1/subscriptions/{subscription_exposed_id}")
def cancel_subscription(ctx: RequestContext) -> JSONObject:
    subscription = _get(ctx)
    only(ctx.params, ("invoice_now", "prorate", "cancellation_details"))
    if subscription["status"] == "canceled":
        raise invalid_request(f"A canceled subscription can't be canceled again: {subscription['id']}.", param=None)
    schedule_id = subscription.get("schedule")
    lifecycle.end_subscription(ctx.store, subscription, ctx.now_ts)
    if schedule_id:
        schedule = ctx.store.get("subscription_schedule", str(schedule_id))
        if schedule is not None and schedule["status"] in ("active", "not_started"):
            schedule["status"] = "canceled"
            schedule["canceled_at"] = ctx.now_ts
            schedule["current_phase"] = None
            ctx.store.save(schedule)
    return subscription


@route("GET", "/v1/subscriptions")
def list_subscriptions(ctx: RequestContext) -> JSONObject:
    filters: dict[str, str] = {}
    for key in ("customer", "status"):
        if ctx.params.get(key):
            filters[key] = str(ctx.params[key])
    status = filters.get("status")
    if status == "all":
        filters.pop("status")
    return (
        list_response(
            ctx,
            "subscription",
            url="/v1/subscriptions",
            filters=filters,
            supported_filters=("customer", "status"),
            condition=None,
            kind="subscription",
        )
        if status is not None
        else _list_not_canceled(ctx, filters)
    )


def _list_not_canceled(ctx: RequestContext, filters: dict[str, str]) -> JSONObject:
    # Without ``status``, Stripe lists every subscription that is not canceled.
    from cpq_sync.sandbox.stripe.store import Condition

    return list_response(
        ctx,
        "subscription",
        url="/v1/subscriptions",
        filters=filters,
        supported_filters=("customer", "status"),
        condition=Condition.attr("subscription", "status", "canceled").negated(),
        kind="subscription",
    )


@route("GET", "/v1/subscriptions/search")
def search_subscriptions(ctx: RequestContext) -> JSONObject:
    return search_response(ctx, "subscription", url="/v1/subscriptions/search", fields=("status", "customer"))


@route("GET", "/v1/subscription_items")
def list_subscription_items(ctx: RequestContext) -> JSONObject:
    if not ctx.params.get("subscription"):
        raise invalid_request("Missing required param: subscription.", param="subscription")
    ctx.get_or_404("subscription", str(ctx.params["subscription"]), kind="subscription", param="subscription")
    return list_response(
        ctx,
        "subscription_item",
        url="/v1/subscription_items",
        filters={"subscription": str(ctx.params["subscription"])},
        supported_filters=("subscription",),
        kind="subscription_item",
    )


@route("GET", "/v1/subscription_items/{item}")
def retrieve_subscription_item(ctx: RequestContext) -> JSONObject:
    return ctx.get_or_404("subscription_item", ctx.path_params["item"], kind="subscription_item")
