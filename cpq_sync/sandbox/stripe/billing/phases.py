"""Validation of subscription schedule phases into their stored (Stripe response) shape.

Rules enforced as Stripe enforces them: phases are contiguous and ordered (a phase starts where the previous
one ends); each phase but the last sets ``end_date`` or ``duration`` (the last one without either lasts one
billing interval of its prices); ``items`` is required and may not list the same price twice; prices must
exist, be active and recurring (one-time for ``add_invoice_items``); all prices share one currency and, within
a phase, one billing interval; at most 20 ``add_invoice_items`` per phase; metered items take no quantity.
``iterations`` never reaches this module: the strict parameter checker refuses it as the pinned API version
does.
"""

from __future__ import annotations

from typing import Any

from cpq_sync.sandbox.stripe.billing import periods
from cpq_sync.sandbox.stripe.billing.common import (
    NEW,
    Reuse,
    as_list,
    check_metadata,
    discounts_param,
    is_metered,
    load_price,
    only,
    price_interval,
    sub,
    timestamp,
    to_int,
    unsupported,
)
from cpq_sync.sandbox.stripe.billing.inline_prices import inline_price
from cpq_sync.sandbox.stripe.errors import invalid_request
from cpq_sync.sandbox.stripe.router import RequestContext
from cpq_sync.sandbox.stripe.store import JSONObject

MAX_ADD_INVOICE_ITEMS = 20
PHASE_KEYS = (
    "items",
    "add_invoice_items",
    "discounts",
    "duration",
    "end_date",
    "metadata",
    "proration_behavior",
    "billing_cycle_anchor",
    "collection_method",
    "invoice_settings",
    "description",
    "currency",
)
PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")


class Currency:
    """The one currency of a schedule or subscription, fixed by the first price seen."""

    def __init__(self, currency: str | None = None) -> None:
        self.value = currency

    def check(self, price: JSONObject, param: str) -> None:
        currency = str(price.get("currency", "")).lower()
        if self.value is None:
            self.value = currency
        elif currency != self.value:
            raise invalid_request(
                f"The price {price['id']} is in `{currency}`, but the other prices are in `{self.value}`. "
                "All prices of a subscription (and of every phase of a schedule) must share one currency.",
                param=param,
            )


def normalize_items(
    ctx: RequestContext,
    raw: Any,
    param: str,
    currency: Currency,
    *,
    required: bool = True,
    reuse: Reuse = NEW,
    mixed: bool = False,
) -> list[JSONObject]:
    """Phase (or subscription) items -> stored ``[{price, quantity, discounts, metadata, ...}]``.

    ``mixed``: prices of different intervals are allowed (flexible billing mode); otherwise refused."""
    items = as_list(raw, param)
    if required and not items:
        raise invalid_request(f"Missing required param: {param}.", param=param)
    seen: set[str] = set()
    interval: tuple[str, int] | None = None
    out: list[JSONObject] = []
    for j, item in enumerate(items):
        where = sub(param, j)
        if not isinstance(item, dict):
            raise invalid_request("Invalid object", param=where)
        if "price_data" in item:
            raise unsupported(f"{where}[price_data]")
        only(item, ("price", "quantity", "discounts", "metadata"), where)
        if "price" not in item:
            raise invalid_request(f"Missing required param: {where}[price].", param=f"{where}[price]")
        price = load_price(ctx, item["price"], f"{where}[price]", recurring=True, reuse=reuse)
        if price["id"] in seen:
            message = (
                f"A price may not be used more than once in a phase: {price['id']} is listed twice."
                if param.startswith("phases")
                else f"Cannot add multiple subscription items with the same price: {price['id']}"
            )
            raise invalid_request(message, param=param)
        seen.add(price["id"])
        currency.check(price, f"{where}[price]")
        this_interval = price_interval(price)
        if interval is None:
            interval = this_interval
        elif this_interval != interval and not mixed:
            raise invalid_request(
                "All prices of a phase (or subscription) must have the same `interval`, `interval_count` and "
                f"`currency`: {price['id']} bills every {this_interval[1]} {this_interval[0]}(s), the others "
                f"every {interval[1]} {interval[0]}(s). Prices of different intervals need "
                "`billing_mode[type]=flexible`.",
                param=f"{where}[price]",
            )
        if is_metered(price):
            if "quantity" in item:
                raise invalid_request(
                    f"Quantity should not be specified where usage_type is `metered`. Remove quantity from `{where}`.",
                    param=f"{where}[quantity]",
                )
            quantity = None
        else:
            quantity = to_int(item.get("quantity", 1), f"{where}[quantity]")
            if quantity < 0:
                raise invalid_request("This value must be greater than or equal to 0.", param=f"{where}[quantity]")
        out.append(
            {
                "billing_thresholds": None,
                "discounts": discounts_param(ctx, item.get("discounts"), f"{where}[discounts]", currency.value, reuse),
                "metadata": check_metadata(item.get("metadata"), f"{where}[metadata]"),
                "plan": price["id"],
                "price": price["id"],
                "quantity": quantity,
                "tax_rates": [],
            }
        )
    return out


def normalize_one_time_items(
    ctx: RequestContext, raw: Any, param: str, currency: Currency, reuse: Reuse = NEW
) -> list[JSONObject]:
    items = as_list(raw, param)
    if len(items) > MAX_ADD_INVOICE_ITEMS:
        raise invalid_request(
            f"You can add at most {MAX_ADD_INVOICE_ITEMS} invoice items to a phase; you passed {len(items)}.",
            param=param,
        )
    out: list[JSONObject] = []
    for j, item in enumerate(items):
        where = sub(param, j)
        if not isinstance(item, dict):
            raise invalid_request("Invalid object", param=where)
        only(item, ("price", "price_data", "quantity", "discounts", "metadata"), where)
        if ("price" in item) == ("price_data" in item):
            raise invalid_request(f"You must specify exactly one of `price` or `price_data` in {where}.", param=where)
        if "price" in item:
            price = load_price(ctx, item["price"], f"{where}[price]", recurring=False, reuse=reuse)
        else:
            price = inline_price(ctx, item["price_data"], f"{where}[price_data]")
        currency.check(price, f"{where}[price]")
        quantity = to_int(item.get("quantity", 1), f"{where}[quantity]")
        if quantity < 0:
            raise invalid_request("This value must be greater than or equal to 0.", param=f"{where}[quantity]")
        out.append(
            {
                "discountable": True,
                "discounts": discounts_param(ctx, item.get("discounts"), f"{where}[discounts]", currency.value, reuse),
                "metadata": check_metadata(item.get("metadata"), f"{where}[metadata]"),
                "period": {
                    "end": {"timestamp": None, "type": "phase_end"},
                    "start": {"timestamp": None, "type": "phase_start"},
                },
                "price": price["id"],
                "quantity": quantity,
                "tax_rates": [],
            }
        )
    return out


def _end_of(
    ctx: RequestContext,
    phase: JSONObject,
    where: str,
    start: int,
    last: bool,
    first_price: JSONObject,
    mixed: bool = False,
) -> int:
    has_end = "end_date" in phase
    has_duration = "duration" in phase
    if has_end and has_duration:
        raise invalid_request(
            f"You may only set one of `end_date` and `duration` in {where}.", param=f"{where}[duration]"
        )
    begin = periods.from_timestamp(start)
    if has_end:
        end = timestamp(phase["end_date"], f"{where}[end_date]", ctx.now_ts)
    elif has_duration:
        duration = phase["duration"]
        if not isinstance(duration, dict):
            raise invalid_request("Invalid object", param=f"{where}[duration]")
        only(duration, ("interval", "interval_count"), f"{where}[duration]")
        interval = duration.get("interval", "")
        if interval not in periods.INTERVALS:
            raise invalid_request(
                f"Invalid {where}[duration][interval]: must be one of day, week, month or year",
                param=f"{where}[duration][interval]",
            )
        count = to_int(duration.get("interval_count", 1), f"{where}[duration][interval_count]")
        if count < 1:
            raise invalid_request(
                "This value must be greater than or equal to 1.", param=f"{where}[duration][interval_count]"
            )
        end = periods.to_timestamp(periods.end_after(begin, interval, count))
    elif last and mixed:
        raise unsupported(f"{where}[end_date]")  # which interval a mixed last phase lasts is not emulated
    elif last:
        interval, count = price_interval(first_price)
        end = periods.to_timestamp(periods.end_after(begin, interval, count))
    else:
        raise invalid_request(
            f"Every phase but the last must set `end_date` or `duration`; {where} sets neither.",
            param=f"{where}[end_date]",
        )
    if end <= start:
        raise invalid_request(
            f"The end of {where} ({_iso(end)}) must be after its start ({_iso(start)}).",
            param=f"{where}[end_date]",
        )
    return end


def _iso(ts: int) -> str:
    return periods.from_timestamp(ts).isoformat()


def normalize_phase(
    ctx: RequestContext,
    phase: Any,
    where: str,
    start: int,
    last: bool,
    currency: Currency,
    default_settings: JSONObject,
    reuse: Reuse = NEW,
    mixed: bool = False,
) -> JSONObject:
    if not isinstance(phase, dict):
        raise invalid_request("Invalid object", param=where)
    only(phase, (*PHASE_KEYS, "start_date"), where)
    items = normalize_items(ctx, phase.get("items"), f"{where}[items]", currency, reuse=reuse, mixed=mixed)
    first_price = ctx.store.get("price", items[0]["price"]) or {}
    mixed = mixed and len({price_interval(ctx.store.get("price", i["price"]) or {}) for i in items}) > 1
    one_time = normalize_one_time_items(
        ctx, phase.get("add_invoice_items"), f"{where}[add_invoice_items]", currency, reuse
    )
    end = _end_of(ctx, phase, where, start, last, first_price, mixed)
    proration = str(phase.get("proration_behavior", "create_prorations"))
    if proration not in PRORATION_BEHAVIORS:
        raise invalid_request(
            f"Invalid {where}[proration_behavior]: must be one of {', '.join(PRORATION_BEHAVIORS)}",
            param=f"{where}[proration_behavior]",
        )
    anchor = phase.get("billing_cycle_anchor")
    if anchor not in (None, "automatic", "phase_start"):
        raise invalid_request(
            f"Invalid {where}[billing_cycle_anchor]: must be one of automatic or phase_start",
            param=f"{where}[billing_cycle_anchor]",
        )
    collection_method = phase.get("collection_method")
    invoice_settings = phase.get("invoice_settings")
    days_until_due = None
    if invoice_settings is not None:
        if not isinstance(invoice_settings, dict):
            raise invalid_request("Invalid object", param=f"{where}[invoice_settings]")
        only(invoice_settings, ("days_until_due",), f"{where}[invoice_settings]")
        if "days_until_due" in invoice_settings:
            days_until_due = to_int(invoice_settings["days_until_due"], f"{where}[invoice_settings][days_until_due]")
    effective_method = collection_method or default_settings.get("collection_method")
    effective_days = (
        days_until_due if days_until_due is not None else default_settings["invoice_settings"].get("days_until_due")
    )
    check_collection(effective_method, effective_days, f"{where}[invoice_settings][days_until_due]")
    if "currency" in phase and str(phase["currency"]).lower() != currency.value:
        raise invalid_request(
            f"{where}[currency] is `{phase['currency']}` but the phase's prices are in `{currency.value}`.",
            param=f"{where}[currency]",
        )
    return {
        "add_invoice_items": one_time,
        "application_fee_percent": None,
        "billing_cycle_anchor": anchor,
        "billing_thresholds": None,
        "collection_method": collection_method,
        "currency": currency.value,
        "default_payment_method": None,
        "default_tax_rates": [],
        "description": phase.get("description") or None,
        "discounts": discounts_param(ctx, phase.get("discounts"), f"{where}[discounts]", currency.value, reuse),
        "end_date": end,
        "invoice_settings": None if invoice_settings is None else {"days_until_due": days_until_due},
        "items": items,
        "metadata": check_metadata(phase.get("metadata"), f"{where}[metadata]"),
        "on_behalf_of": None,
        "proration_behavior": proration,
        "start_date": start,
        "transfer_data": None,
        "trial_end": None,
    }


def check_collection(method: Any, days_until_due: Any, param: str) -> None:
    if method not in (None, "charge_automatically", "send_invoice"):
        raise invalid_request(
            "Invalid collection_method: must be one of charge_automatically or send_invoice",
            param=param.replace("[invoice_settings][days_until_due]", "[collection_method]"),
        )
    if method == "send_invoice" and days_until_due is None:
        raise invalid_request(
            "Missing required param: days_until_due. It is required when collection_method is send_invoice.",
            param=param,
        )


def normalize_phases(
    ctx: RequestContext,
    raw: Any,
    *,
    first_start: int | None,
    default_settings: JSONObject,
    currency: Currency,
    offset: int = 0,
    previous_end: int | None = None,
    reuse: Reuse = NEW,
    mixed: bool = False,
) -> list[JSONObject]:
    """``phases`` params -> stored phases. ``offset``: index in the request of the first phase given here.

    ``first_start``: the start of the first phase (None: the phase must carry ``start_date``).
    Later phases start where the previous one ends; a ``start_date`` that says otherwise breaks contiguity
    and is refused.
    """
    phases = as_list(raw, "phases")
    out: list[JSONObject] = []
    end = previous_end
    for k, phase in enumerate(phases):
        i = offset + k
        where = sub("phases", i)
        given = phase.get("start_date") if isinstance(phase, dict) else None
        given_ts = None if given is None else timestamp(given, f"{where}[start_date]", ctx.now_ts)
        if k == 0 and first_start is None:
            if given_ts is None:
                raise invalid_request(f"Missing required param: {where}[start_date].", param=f"{where}[start_date]")
            start = given_ts
        elif k == 0 and end is None:
            assert first_start is not None
            start = first_start if given_ts is None else given_ts
        else:
            assert end is not None or first_start is not None
            start = end if end is not None else int(first_start or 0)
            if given_ts is not None and given_ts != start:
                raise invalid_request(
                    f"Phases must be contiguous and in order: {where} starts at {_iso(given_ts)}, but the "
                    f"previous phase ends at {_iso(start)}.",
                    param=f"{where}[start_date]",
                )
        normalized = normalize_phase(
            ctx, phase, where, start, k == len(phases) - 1, currency, default_settings, reuse, mixed
        )
        out.append(normalized)
        end = normalized["end_date"]
    return out
