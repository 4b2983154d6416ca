"""Subscriptions as stored objects: items, discounts, periods, cancellation (no HTTP here).

A subscription is stored with its items embedded (``items.data``) and each item also stored on its own
(``subscription_item``) for ``/v1/subscription_items``. Discounts are stored ``discount`` objects (``di_``)
whose ids the subscription and its items list, as Stripe shows them. Periods
(``current_period_start``/``_end`` on each item) follow the billing cycle anchor and the sandbox clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cpq_sync.sandbox.stripe import ids
from cpq_sync.sandbox.stripe.billing import periods
from cpq_sync.sandbox.stripe.billing.common import list_object, plan_of, price_interval
from cpq_sync.sandbox.stripe.store import JSONObject, Store, register_index


def _pad(ts: int | None) -> str | None:
    return None if ts is None else f"{ts:012d}"


def subscription_next_due(sub: JSONObject) -> str | None:
    """When the clock must next touch this subscription (period rollover or cancel_at); None when ended."""
    if sub.get("status") in ("canceled", "incomplete_expired"):
        return None
    ends = [int(i["current_period_end"]) for i in sub["items"]["data"]]
    candidates = [*ends, *([int(sub["cancel_at"])] if sub.get("cancel_at") else [])]
    return _pad(min(candidates)) if candidates else None


register_index("subscription", "customer")
register_index("subscription", "status")
register_index("subscription", "next_due", subscription_next_due)
register_index("subscription_item", "subscription")
register_index("discount", "subscription")


def interval_of(store: Store, sub: JSONObject) -> tuple[periods.Interval, int]:
    for item in sub["items"]["data"]:
        return price_interval(item["price"])
    return "month", 1


def current_period(sub: JSONObject, interval: tuple[periods.Interval, int], now_ts: int) -> tuple[int, int]:
    """The period of a subscription at ``now_ts`` (the first one while it has not started)."""
    anchor = periods.from_timestamp(int(sub["billing_cycle_anchor"]))
    start = int(sub["start_date"])
    when = periods.from_timestamp(max(now_ts, start))
    p_start, p_end = periods.period_containing(anchor, interval[0], interval[1], when)
    begin = max(periods.to_timestamp(p_start), start)
    end = periods.to_timestamp(p_end)
    if sub.get("cancel_at"):
        end = min(end, int(sub["cancel_at"]))
    return begin, end


def new_discount(
    store: Store,
    coupon_id: str,
    *,
    customer: str,
    start: int,
    subscription: str | None = None,
    subscription_item: str | None = None,
    schedule: str | None = None,
) -> JSONObject:
    coupon = store.get("coupon", coupon_id) or {"id": coupon_id}
    end = None
    if coupon.get("duration") == "repeating" and coupon.get("duration_in_months"):
        end = periods.to_timestamp(periods.add_months(periods.from_timestamp(start), int(coupon["duration_in_months"])))
    discount: JSONObject = {
        "id": ids.new_id("di"),
        "object": "discount",
        "checkout_session": None,
        "coupon": coupon,
        "created": start,
        "customer": customer,
        "customer_account": None,
        "end": end,
        "invoice": None,
        "invoice_item": None,
        "promotion_code": None,
        "schedule": schedule,
        "start": start,
        "subscription": subscription,
        "subscription_item": subscription_item,
    }
    store.insert(discount)
    return discount


def sync_discounts(
    store: Store,
    current: Sequence[str],
    wanted: Sequence[Mapping[str, Any]],
    *,
    customer: str,
    start: int,
    subscription: str,
    subscription_item: str | None = None,
    schedule: str | None = None,
) -> list[str]:
    """Discount ids for the ``wanted`` coupons, keeping the discounts already there for the same coupon."""
    by_coupon: dict[str, str] = {}
    for discount_id in current:
        discount = store.get("discount", discount_id)
        if discount is not None:
            by_coupon[str(discount["coupon"]["id"])] = discount_id
    out: list[str] = []
    for entry in wanted:
        coupon_id = str(entry["coupon"])
        if coupon_id in by_coupon:
            out.append(by_coupon.pop(coupon_id))
        else:
            created = new_discount(
                store,
                coupon_id,
                customer=customer,
                start=start,
                subscription=subscription,
                subscription_item=subscription_item,
                schedule=schedule,
            )
            out.append(created["id"])
    for gone in by_coupon.values():
        store.delete("discount", gone)
    return out


def set_items(store: Store, sub: JSONObject, specs: Sequence[Mapping[str, Any]], now_ts: int) -> None:
    """Make the subscription's items those of ``specs`` (stored item shape: price id, quantity, discounts,
    metadata), keeping the ``si_`` id of an item whose price stays."""
    existing = {str(item["price"]["id"]): item for item in sub["items"]["data"]}
    items: list[JSONObject] = []
    for spec in specs:
        price_id = str(spec["price"])
        price = store.get("price", price_id)
        if price is None:
            raise KeyError(price_id)
        item = existing.pop(price_id, None)
        if item is None:
            item = {
                "id": ids.new_id("si"),
                "object": "subscription_item",
                "billing_thresholds": None,
                "created": now_ts,
                "current_period_end": 0,
                "current_period_start": 0,
                "discounts": [],
                "metadata": {},
                "subscription": sub["id"],
                "tax_rates": [],
            }
        item["price"] = {k: v for k, v in price.items() if k != "tiers"}  # tiers: only when expanded
        item["plan"] = plan_of(price)
        item["quantity"] = spec.get("quantity")
        item["metadata"] = dict(spec.get("metadata") or {})
        item["discounts"] = sync_discounts(
            store,
            item.get("discounts") or [],
            spec.get("discounts") or [],
            customer=str(sub["customer"]),
            start=now_ts,
            subscription=sub["id"],
            subscription_item=item["id"],
        )
        items.append(item)
    for removed in existing.values():
        store.delete("subscription_item", removed["id"])
        for discount_id in removed.get("discounts") or []:
            store.delete("discount", discount_id)
    sub["items"] = list_object(f"/v1/subscription_items?subscription={sub['id']}", items)
    if items:
        sub["currency"] = items[0]["price"]["currency"]


def refresh_periods(store: Store, sub: JSONObject, now_ts: int) -> None:
    """Each item's current period, on its own price's interval (they differ in a mixed-interval
    subscription), all anchored on the subscription's billing cycle anchor."""
    for item in sub["items"]["data"]:
        start, end = current_period(sub, price_interval(item["price"]), now_ts)
        item["current_period_start"] = start
        item["current_period_end"] = end


def save(store: Store, sub: JSONObject) -> None:
    """Store the subscription and each of its items."""
    for item in sub["items"]["data"]:
        store.save(item)
    store.save(sub)


def new_subscription(
    store: Store,
    *,
    customer: str,
    start_date: int,
    anchor: int,
    now_ts: int,
    collection_method: str,
    days_until_due: int | None,
    metadata: Mapping[str, str],
    description: str | None = None,
    schedule: str | None = None,
    cancel_at: int | None = None,
    billing_mode: JSONObject | None = None,
) -> JSONObject:
    sub_id = ids.new_id("sub")
    return {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": anchor,
        "billing_cycle_anchor_config": None,
        "billing_mode": dict(
            billing_mode or {"flexible": {"proration_discounts": "included"}, "type": "flexible", "updated_at": None}
        ),
        "billing_thresholds": None,
        "cancel_at": cancel_at,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": collection_method,
        "created": now_ts,
        "currency": None,
        "customer": customer,
        "customer_account": None,
        "days_until_due": days_until_due,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": description,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": list_object(f"/v1/subscription_items?subscription={sub_id}", []),
        "latest_invoice": None,
        "livemode": False,
        "metadata": dict(metadata),
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": schedule,
        "start_date": start_date,
        "status": "active",
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }


def end_subscription(store: Store, sub: JSONObject, when: int, *, reason: str = "cancellation_requested") -> None:
    """Cancel now (or at ``when``, a past cancel_at reached by the clock)."""
    sub["status"] = "canceled"
    sub["canceled_at"] = sub.get("canceled_at") or when
    sub["ended_at"] = when
    sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": reason}
    save(store, sub)


def step_subscription(store: Store, sub: JSONObject, now_ts: int) -> None:
    """Bring a subscription up to the clock: roll its period forward, end it at ``cancel_at``."""
    if sub.get("status") == "canceled":
        return
    cancel_at = sub.get("cancel_at")
    if cancel_at and now_ts >= int(cancel_at):
        end_subscription(store, sub, int(cancel_at))
        return
    refresh_periods(store, sub, now_ts)
    save(store, sub)


HISTORY_STATE = "billing.subscription_items_history."
"""State key (+ subscription id): the item sets a standalone subscription had and when each started, so the
preview bills past periods with the items they had (Stripe's invoices keep them; the sandbox makes none)."""


def record_items(store: Store, sub: JSONObject, when: int) -> None:
    """Remember the subscription's current item set as starting at ``when``."""
    key = HISTORY_STATE + sub["id"]
    history: list[JSONObject] = store.get_state(key) or []
    entry: JSONObject = {
        "from": when,
        "items": [
            {
                "price": item["price"]["id"],
                "quantity": item.get("quantity"),
                "discounts": [str(d) for d in item.get("discounts") or []],
            }
            for item in sub["items"]["data"]
        ],
    }
    if history and int(history[-1]["from"]) == when:
        history[-1] = entry
    else:
        history.append(entry)
    store.set_state(key, history)
