"""``billing_preview``: what Stripe would invoice, period by period, for a schedule, subscription or invoice.

What the preview covers
-----------------------
* **Recurring licensed items**, billed in advance: one invoice per billing period, periods anchored on the
  billing cycle anchor (the schedule's start; a phase with ``billing_cycle_anchor=phase_start`` or a different
  billing interval resets it), months clamped to month ends (``periods``). The line is ``unit_amount_decimal x
  quantity`` (tiers and ``transform_quantity`` applied), rounded once per line to the minor unit, half up
  (``amounts``).
* **Metered items** are listed on every period's invoice with quantity 0 and amount 0: the sandbox records no
  meter events, so usage is 0. (Stripe bills usage in arrears on the next invoice; the preview shows each
  period's usage line with the period it measures.)
* **One-time items** (``add_invoice_items``) on the first invoice issued in their phase.
* **Phase changes**: on a period boundary, the next invoice simply bills the new items. In the middle of a
  period with ``proration_behavior=create_prorations`` (the default), proration lines credit the unused time
  of the items that changed and charge the remaining time of their replacements, prorated by the second over
  the natural period; they land on the next invoice (their own invoice with ``always_invoice``). With
  ``proration_behavior=none`` no proration line is made.
* **Backdating**: periods that ended before the schedule (or subscription) was created are billed, period by
  period, as Stripe's flexible billing mode bills them on the first invoice, unless the first phase (the one the
  subscription is backdated with) has ``proration_behavior=none``, in which case they are skipped, in every
  phase; the period in progress at creation is billed. A later phase's ``proration_behavior`` only governs the
  prorations of the transition into it ("whether the subscription schedule will create prorations when
  transitioning to this phase"), not the regular periods it bills.
* **End of a schedule**: with ``end_behavior=cancel`` the final partial period (if the end is mid-period) is
  prorated; with ``release`` the subscription goes on and the last period is billed in full. A canceled
  schedule's preview stops at its cancellation time.
* **Discounts**: item discounts apply to their item's line, phase/subscription discounts to the whole invoice
  (spread over its lines in proportion, largest remainder). On each scope percent_off coupons come first, then
  amount_off (same currency), never below zero. Durations: ``once`` on the first invoice of the discount,
  ``repeating`` on invoices issued within ``duration_in_months`` months of its start, ``forever`` always. A
  discount starts with the first phase listing its coupon and lasts while consecutive phases keep listing it.
* **Pending invoice items** on a schedule's subscription (created through ``/v1/invoiceitems`` with
  ``subscription``) go on its next invoice, as Stripe sweeps them into it.
* **Subscriptions** (``sub_``): a schedule's subscription is previewed through its schedule. A standalone one
  bills each period with the items it had then (item changes are remembered), from ``start_date`` (a future
  ``billing_cycle_anchor`` adds a prorated stub, free with ``proration_behavior=none``) to ``cancel_at`` (the
  last period prorated) or 12 periods (of the shortest interval when its items mix intervals). Its pending
  invoice items (the prorations an item change created, or the sync's own) go on the next invoice, as Stripe
  sweeps them into it.
* **Invoices** (``in_``): their lines and totals as stored.
* **Mixed intervals** (flexible billing mode): each item bills on its own interval; see ``mixed_preview``.

Not covered: taxes, trials, customer balances, credit notes, usage from meter events, invoice thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from cpq_sync.sandbox.stripe.billing import amounts, periods
from cpq_sync.sandbox.stripe.billing.common import is_metered, price_interval
from cpq_sync.sandbox.stripe.billing.lifecycle import HISTORY_STATE
from cpq_sync.sandbox.stripe.store import Condition, JSONObject, Store

PRORATION_STATE = "billing.subscription_proration_behavior."
"""State key (+ subscription id) keeping the ``proration_behavior`` a subscription was created with."""


def backdated_skipped(segments: Sequence[Segment]) -> bool:
    """Whether the periods that ended before creation go unbilled: the first phase says (see Backdating)."""
    return bool(segments) and segments[0].proration_behavior == "none"


class PreviewLine(BaseModel):
    kind: Literal["subscription", "invoice_item", "proration"]
    price: str
    product: str
    quantity: int
    unit_amount_decimal: Decimal
    amount: int
    discounts: int = 0
    period_start: datetime
    period_end: datetime
    description: str


class PreviewInvoice(BaseModel):
    period_start: datetime
    period_end: datetime
    currency: str
    lines: list[PreviewLine]
    subtotal: int
    discount_total: int
    total: int


@dataclass
class Item:
    price: JSONObject
    quantity: int
    coupons: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int]:
        return str(self.price["id"]), self.quantity


@dataclass
class Segment:
    start: int
    end: int
    items: list[Item]
    one_time: list[Item] = field(default_factory=list)
    coupons: list[str] = field(default_factory=list)
    proration_behavior: str = "create_prorations"
    reset_anchor: bool = False


@dataclass
class _Draft:
    start: int
    end: int
    issued: int
    lines: list[tuple[PreviewLine, list[str]]] = field(default_factory=list)
    coupons: list[str] = field(default_factory=list)


class _Discounts:
    """Which coupons apply to an invoice, by duration, tracking when each discount started."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.since: dict[tuple[str, str], int] = {}
        self.used_once: set[tuple[str, str, int]] = set()

    def enter(self, segment: Segment, previous: Segment | None) -> None:
        def scopes(seg: Segment | None) -> set[tuple[str, str]]:
            if seg is None:
                return set()
            out = {("invoice", c) for c in seg.coupons}
            out |= {(f"item:{i.price['id']}", c) for i in [*seg.items, *seg.one_time] for c in i.coupons}
            return out

        before, now = scopes(previous), scopes(segment)
        for scope in now:
            if scope not in before or scope not in self.since:
                self.since[scope] = segment.start
        for scope in before - now:
            self.since.pop(scope, None)

    def applying(self, scope: str, coupons: list[str], issued: int) -> list[JSONObject]:
        out: list[JSONObject] = []
        for coupon_id in coupons:
            coupon = self.store.get("coupon", coupon_id)
            if coupon is None:
                continue
            since = self.since.get((scope, coupon_id), issued)
            duration = coupon.get("duration", "once")
            if duration == "forever":
                out.append(coupon)
            elif duration == "repeating":
                months = int(coupon.get("duration_in_months") or 0)
                limit = periods.to_timestamp(periods.add_months(periods.from_timestamp(since), months))
                if since <= issued < limit:
                    out.append(coupon)
            else:
                key = (scope, coupon_id, since)
                if key not in self.used_once and issued >= since:
                    self.used_once.add(key)
                    out.append(coupon)
        return out


def _dt(ts: int) -> datetime:
    return periods.from_timestamp(ts)


class _Engine:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.names: dict[str, str] = {}

    def product_name(self, price: JSONObject) -> str:
        product_id = str(price.get("product"))
        if product_id not in self.names:
            product = self.store.get("product", product_id) or {}
            self.names[product_id] = str(product.get("name") or product_id)
        return self.names[product_id]

    def line(
        self,
        kind: Literal["subscription", "invoice_item", "proration"],
        item: Item,
        start: int,
        end: int,
        share: Fraction = Fraction(1),
        description: str | None = None,
    ) -> PreviewLine:
        metered = is_metered(item.price)
        quantity = 0 if metered else item.quantity
        amount = 0 if metered else amounts.line_amount(item.price, quantity, share)
        return PreviewLine(
            kind=kind,
            price=str(item.price["id"]),
            product=str(item.price.get("product")),
            quantity=quantity,
            unit_amount_decimal=amounts.effective_unit_amount(item.price, max(quantity, 1)),
            amount=amount,
            period_start=_dt(start),
            period_end=_dt(end),
            description=description or f"{quantity} × {self.product_name(item.price)}",  # noqa: RUF001
        )

    def run(
        self,
        segments: list[Segment],
        *,
        created: int,
        until: int,
        prorate_final: bool,
        extra: Sequence[tuple[int, PreviewLine, list[str]]] = (),
    ) -> list[PreviewInvoice]:
        from cpq_sync.sandbox.stripe.billing import mixed_preview  # it builds on this module

        if mixed_preview.is_mixed(segments):
            return mixed_preview.run_mixed(
                self, segments, created=created, until=until, prorate_final=prorate_final, extra=extra
            )
        drafts: list[_Draft] = []
        discounts = _Discounts(self.store)
        pending: list[tuple[PreviewLine, list[str]]] = []
        anchor = segments[0].start if segments else 0
        skip_backdated = backdated_skipped(segments)
        previous: Segment | None = None
        interval: tuple[periods.Interval, int] = ("month", 1)
        for index, seg in enumerate(segments):
            if seg.start >= until:
                break
            new_interval = price_interval(seg.items[0].price) if seg.items else interval
            discounts.enter(seg, previous)
            first_boundary = seg.start
            if previous is not None:
                reset = seg.reset_anchor or new_interval != interval
                old_start, old_end = periods.period_containing(
                    _dt(anchor),
                    interval[0],
                    interval[1],
                    _dt(seg.start),
                )
                n_start, n_end = periods.to_timestamp(old_start), periods.to_timestamp(old_end)
                mid_period = n_start != seg.start
                if mid_period and seg.proration_behavior != "none":
                    credit_end = n_end
                    share = periods.fraction(_dt(seg.start), _dt(credit_end), old_start, old_end)
                    lines = self.prorations(previous, seg, seg.start, credit_end, share, reset)
                    if seg.proration_behavior == "always_invoice":
                        drafts.append(_Draft(seg.start, credit_end, seg.start, lines, []))
                    else:
                        pending.extend(lines)
                if reset:
                    anchor = seg.start
                elif mid_period:
                    first_boundary = n_end
            interval = new_interval
            one_time = list(seg.one_time)
            stop = min(seg.end, until)
            last_segment = index == len(segments) - 1
            for p_start_dt, p_end_dt in periods.periods(
                _dt(anchor),
                interval[0],
                interval[1],
                _dt(first_boundary),
                _dt(stop),
            ):
                p_start, p_end = periods.to_timestamp(p_start_dt), periods.to_timestamp(p_end_dt)
                nat_start_dt, nat_end_dt = periods.period_containing(
                    _dt(anchor),
                    interval[0],
                    interval[1],
                    p_start_dt,
                )
                nat_end = periods.to_timestamp(nat_end_dt)
                share = Fraction(1)
                bill_end = nat_end
                if p_end < nat_end and p_end == seg.end and last_segment and prorate_final:
                    share = periods.fraction(p_start_dt, p_end_dt, nat_start_dt, nat_end_dt)
                    bill_end = p_end
                if nat_end <= created and skip_backdated:
                    continue
                draft = _Draft(p_start, bill_end, p_start, coupons=list(seg.coupons))
                for item in seg.items:
                    draft.lines.append((self.line("subscription", item, p_start, bill_end, share), item.coupons))
                for item in one_time:
                    line = self.line(
                        "invoice_item", item, seg.start, seg.end, description=self.product_name(item.price)
                    )
                    draft.lines.append((line, item.coupons))
                one_time = []
                draft.lines.extend(pending)
                pending = []
                drafts.append(draft)
            if one_time:
                lines = [
                    (
                        self.line("invoice_item", i, seg.start, seg.end, description=self.product_name(i.price)),
                        i.coupons,
                    )
                    for i in one_time
                ]
                pending.extend(lines)
            previous = seg
        if pending:
            start = min(int(line.period_start.timestamp()) for line, _ in pending)
            end = max(int(line.period_end.timestamp()) for line, _ in pending)
            drafts.append(_Draft(start, end, start, pending, list(previous.coupons) if previous else []))
        for when, line, coupons in sorted(extra, key=lambda e: e[0]):
            # Pending invoice items of the subscription go on its next invoice, as at Stripe.
            target = next((d for d in drafts if d.issued >= when), None)
            if target is None:
                end = int(line.period_end.timestamp())
                target = _Draft(when, max(end, when), when, [], list(previous.coupons) if previous else [])
                drafts.append(target)
            target.lines.append((line, coupons))
        currency = str(segments[0].items[0].price.get("currency")) if segments and segments[0].items else "usd"
        return [self.finish(d, discounts, currency) for d in drafts]

    def prorations(
        self, old: Segment, new: Segment, start: int, end: int, share: Fraction, reset: bool
    ) -> list[tuple[PreviewLine, list[str]]]:
        old_keys = {i.key for i in old.items}
        new_keys = {i.key for i in new.items}
        when = _dt(start).date().isoformat()
        out: list[tuple[PreviewLine, list[str]]] = []
        for item in old.items:
            if (item.key in new_keys and not reset) or is_metered(item.price):
                continue
            line = self.line(
                "proration",
                item,
                start,
                end,
                -share,
                f"Unused time on {item.quantity} × {self.product_name(item.price)} after {when}",  # noqa: RUF001
            )
            out.append((line, []))
        if reset:
            return out
        for item in new.items:
            if item.key in old_keys or is_metered(item.price):
                continue
            line = self.line(
                "proration",
                item,
                start,
                end,
                share,
                f"Remaining time on {item.quantity} × {self.product_name(item.price)} after {when}",  # noqa: RUF001
            )
            out.append((line, item.coupons))
        return out

    def finish(self, draft: _Draft, discounts: _Discounts, currency: str) -> PreviewInvoice:
        lines: list[PreviewLine] = []
        remaining: list[int] = []
        for line, coupons in draft.lines:
            off = 0
            if line.amount > 0 and coupons:
                off = amounts.apply_coupons(
                    discounts.applying(f"item:{line.price}", coupons, draft.issued), line.amount, currency
                )
            lines.append(line.model_copy(update={"discounts": off}))
            remaining.append(line.amount - off)
        base = max(0, sum(remaining))
        invoice_coupons = discounts.applying("invoice", draft.coupons, draft.issued) if draft.coupons else []
        invoice_off = amounts.apply_coupons(invoice_coupons, base, currency)
        shares = amounts.allocate(invoice_off, remaining)
        lines = [
            line.model_copy(update={"discounts": line.discounts + s}) for line, s in zip(lines, shares, strict=True)
        ]
        subtotal = sum(line.amount for line in lines)
        discount_total = sum(line.discounts for line in lines)
        return PreviewInvoice(
            period_start=_dt(draft.start),
            period_end=_dt(draft.end),
            currency=currency,
            lines=lines,
            subtotal=subtotal,
            discount_total=discount_total,
            total=subtotal - discount_total,
        )


def _price(store: Store, price_id: str) -> JSONObject:
    price = store.get("price", price_id)
    if price is None:
        raise LookupError(f"No such price: {price_id}")
    return price


def schedule_segments(store: Store, schedule: JSONObject) -> list[Segment]:
    default_anchor = schedule["default_settings"].get("billing_cycle_anchor")
    out: list[Segment] = []
    for phase in schedule["phases"]:
        items = [
            Item(
                _price(store, str(i["price"])),
                int(i["quantity"] or 0),
                [str(d["coupon"]) for d in i["discounts"]],
            )
            for i in phase["items"]
        ]
        one_time = [
            Item(
                _price(store, str(i["price"])),
                int(i["quantity"] or 1),
                [str(d["coupon"]) for d in i["discounts"]],
            )
            for i in phase["add_invoice_items"]
        ]
        out.append(
            Segment(
                start=int(phase["start_date"]),
                end=int(phase["end_date"]),
                items=items,
                one_time=one_time,
                coupons=[str(d["coupon"]) for d in phase["discounts"]],
                proration_behavior=str(phase.get("proration_behavior") or "create_prorations"),
                reset_anchor=(phase.get("billing_cycle_anchor") or default_anchor) == "phase_start",
            )
        )
    return out


def _discount_coupons(store: Store, discount_ids: list[Any]) -> list[str]:
    out = []
    for discount_id in discount_ids:
        discount = store.get("discount", str(discount_id))
        if discount is not None:
            out.append(str(discount["coupon"]["id"]))
    return out


def pending_lines(store: Store, subscription_id: str | None) -> list[tuple[int, PreviewLine, list[str]]]:
    """The subscription's pending invoice items (prorations included), as lines for its next invoice."""
    if not subscription_id:
        return []
    condition = Condition.all_of(
        [
            Condition.attr("invoiceitem", "subscription", subscription_id),
            Condition.attr("invoiceitem", "pending", "true"),
        ]
    )
    out: list[tuple[int, PreviewLine, list[str]]] = []
    for item in store.all("invoiceitem", condition):
        pricing = item.get("pricing") or {}
        details = pricing.get("price_details") or {}
        line = PreviewLine(
            kind="proration" if item.get("proration") else "invoice_item",
            price=str(details.get("price") or ""),
            product=str(details.get("product") or ""),
            quantity=int(item.get("quantity") or 0),
            unit_amount_decimal=Decimal(str(pricing.get("unit_amount_decimal") or 0)),
            amount=int(item["amount"]),
            period_start=_dt(int(item["period"]["start"])),
            period_end=_dt(int(item["period"]["end"])),
            description=str(item.get("description") or ""),
        )
        out.append((int(item["date"]), line, [str(c) for c in item.get("discounts") or []]))
    return out


def _cut(segments: list[Segment], at: int, new_end: int) -> list[Segment]:
    """The segments that start before ``at``, the last one lasting until ``new_end``."""
    kept = [seg for seg in segments if seg.start < at]
    if kept:
        kept[-1] = replace(kept[-1], end=new_end)
    return kept


def preview_schedule(store: Store, schedule: JSONObject, until: int | None) -> list[PreviewInvoice]:
    segments = schedule_segments(store, schedule)
    last_end = segments[-1].end
    stop = last_end if until is None else until
    prorate_final = schedule["end_behavior"] == "cancel"
    status = schedule.get("status")
    if status == "canceled" and schedule.get("canceled_at"):
        # Canceled through the API: nothing is billed after the cancellation.
        canceled_at = int(schedule["canceled_at"])
        segments = _cut(segments, canceled_at, min(canceled_at, last_end))
        stop = min(stop, canceled_at)
        prorate_final = False
    elif status == "released" and schedule.get("released_at") and int(schedule["released_at"]) < last_end:
        # Released through the API: the subscription goes on with the phase in force, not the later ones.
        segments = _cut(segments, int(schedule["released_at"]), stop)
        prorate_final = False
    elif schedule["end_behavior"] == "release" and stop > last_end:
        segments[-1] = replace(segments[-1], end=stop)
    elif schedule["end_behavior"] == "cancel":
        stop = min(stop, last_end)
    if not segments:
        return []
    pending = pending_lines(store, schedule.get("subscription"))  # swept into its subscription's next invoice
    return _Engine(store).run(
        segments, created=int(schedule["created"]), until=stop, prorate_final=prorate_final, extra=pending
    )


def preview_subscription(store: Store, subscription: JSONObject, until: int | None) -> list[PreviewInvoice]:
    if subscription.get("schedule"):
        schedule = store.get("subscription_schedule", str(subscription["schedule"]))
        if schedule is not None:
            return preview_schedule(store, schedule, until)
    items = [
        Item(
            store.get("price", str(i["price"]["id"])) or i["price"],
            int(i.get("quantity") or 0),
            _discount_coupons(store, i.get("discounts") or []),
        )
        for i in subscription["items"]["data"]
    ]
    start = int(subscription["start_date"])
    anchor = int(subscription["billing_cycle_anchor"])
    interval, count = price_interval(items[0].price) if items else ("month", 1)
    ends = [int(subscription[k]) for k in ("cancel_at", "ended_at") if subscription.get(k)]
    end = min(ends) if ends else None
    if until is None:  # 12 periods (of the shortest interval, when the items mix intervals)
        horizons = (periods.boundary(_dt(anchor), *price_interval(i.price), 12) for i in items)
        until = end or periods.to_timestamp(min(horizons, default=periods.boundary(_dt(anchor), interval, count, 12)))
    stop = until if end is None else min(until, end)
    behavior = str(store.get_state(PRORATION_STATE + subscription["id"]) or "create_prorations")
    segment = Segment(
        start,
        stop,
        items,
        coupons=_discount_coupons(store, subscription.get("discounts") or []),
        proration_behavior=behavior,
    )
    engine = _Engine(store)
    invoices: list[PreviewInvoice] = []
    if anchor > start and behavior == "none":
        segment.start = anchor  # the stub period before the anchor is free
    elif anchor > start:
        # The stub period before a future billing cycle anchor, prorated.
        head = Segment(start, anchor, items, coupons=segment.coupons)
        first = periods.boundary(_dt(anchor), interval, count, -1)
        share = periods.fraction(_dt(start), _dt(anchor), first, _dt(anchor))
        lines = [engine.line("subscription", i, start, anchor, share) for i in head.items]
        subtotal = sum(line.amount for line in lines)
        invoices.append(
            PreviewInvoice(
                period_start=_dt(start),
                period_end=_dt(anchor),
                currency=str(items[0].price.get("currency")),
                lines=lines,
                subtotal=subtotal,
                discount_total=0,
                total=subtotal,
            )
        )
        segment.start = anchor
    invoices.extend(
        engine.run(
            _history_segments(store, subscription, segment),
            created=int(subscription["created"]),
            until=stop,
            prorate_final=end is not None,
            extra=pending_lines(store, subscription["id"]),
        )
    )
    return invoices


def _history_segments(store: Store, subscription: JSONObject, whole: Segment) -> list[Segment]:
    """``whole`` split where the subscription's items changed. Later changes carry proration_behavior=none:
    their prorations, if any, are the pending invoice items Stripe created on update."""
    history = store.get_state(HISTORY_STATE + subscription["id"]) or []
    if len(history) < 2:
        return [whole]
    out: list[Segment] = []
    for index, entry in enumerate(history):
        begin = whole.start if index == 0 else max(int(entry["from"]), whole.start)
        finish = int(history[index + 1]["from"]) if index + 1 < len(history) else whole.end
        finish = min(finish, whole.end)
        if finish <= begin:
            continue
        items = [
            Item(
                _price(store, str(i["price"])),
                int(i["quantity"] or 0),
                _discount_coupons(store, i["discounts"]),
            )
            for i in entry["items"]
        ]
        behavior = whole.proration_behavior if not out else "none"
        out.append(Segment(begin, finish, items, coupons=whole.coupons, proration_behavior=behavior))
    return out or [whole]


def preview_invoice(store: Store, invoice: JSONObject) -> list[PreviewInvoice]:
    lines: list[PreviewLine] = []
    for line in invoice["lines"]["data"]:
        details = (line.get("pricing") or {}).get("price_details") or {}
        lines.append(
            PreviewLine(
                kind="invoice_item",
                price=str(details.get("price") or ""),
                product=str(details.get("product") or ""),
                quantity=int(line.get("quantity") or 0),
                unit_amount_decimal=Decimal(str((line.get("pricing") or {}).get("unit_amount_decimal") or 0)),
                amount=int(line["amount"]),
                discounts=sum(int(d["amount"]) for d in line.get("discount_amounts") or []),
                period_start=_dt(int(line["period"]["start"])),
                period_end=_dt(int(line["period"]["end"])),
                description=str(line.get("description") or ""),
            )
        )
    subtotal = int(invoice["subtotal"])
    return [
        PreviewInvoice(
            period_start=_dt(int(invoice["period_start"])),
            period_end=_dt(int(invoice["period_end"])),
            currency=str(invoice["currency"]),
            lines=lines,
            subtotal=subtotal,
            discount_total=subtotal - int(invoice["total"]),
            total=int(invoice["total"]),
        )
    ]


def billing_preview(directory: str | Path, object_id: str, *, until: datetime | None = None) -> list[PreviewInvoice]:
    """What Stripe would invoice for ``object_id`` (``sub_sched_``, ``sub_`` or ``in_``), period by period,
    from its start to ``until`` (default: the schedule's end, or 12 periods of an open-ended subscription)."""
    store = Store(directory)
    until_ts = None if until is None else periods.to_timestamp(until)
    if object_id.startswith("sub_sched_"):
        schedule = store.get("subscription_schedule", object_id)
        if schedule is None:
            raise LookupError(f"No such subscription_schedule: '{object_id}'")
        return preview_schedule(store, schedule, until_ts)
    if object_id.startswith("sub_"):
        subscription = store.get("subscription", object_id)
        if subscription is None:
            raise LookupError(f"No such subscription: '{object_id}'")
        return preview_subscription(store, subscription, until_ts)
    if object_id.startswith("in_"):
        invoice = store.get("invoice", object_id)
        if invoice is None:
            raise LookupError(f"No such invoice: '{object_id}'")
        return preview_invoice(store, invoice)
    raise ValueError(f"billing_preview takes a subscription schedule, subscription or invoice id, not {object_id!r}")
