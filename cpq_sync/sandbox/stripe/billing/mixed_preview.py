"""``billing_preview`` of mixed-interval schedules and subscriptions (flexible billing mode).

Stripe, "Mixed interval subscriptions": each item has its own billing period (``items[].current_period_*``),
on its own price's interval, all anchored on the subscription's billing cycle anchor; "Stripe generates a
single, combined invoice when item-level billing periods align and separate invoices when billing periods
diverge". So a 12-month schedule from Jan 1 with an annual, a quarterly and a monthly item issues an invoice on
every month's first: Jan 1 bills the three items, Apr 1, Jul 1 and Oct 1 the quarterly and the monthly one, the
other months the monthly one alone; the annual item bills once.

The rules of ``preview`` apply item by item:

* an item bills in advance at the start of each of its periods; a period cut by the end of a schedule with
  ``end_behavior=cancel`` is prorated by the second;
* at a phase change an item whose price and quantity stay keeps its periods; one that goes away or changes in the
  middle of its period is credited for the unused time of that period, and its replacement charged for the time
  up to its own next boundary (``proration_behavior=create_prorations``; none with ``none``); the proration
  lines go on the next invoice (their own invoice with ``always_invoice``); the replacement then bills from its
  next boundary. ``billing_cycle_anchor=phase_start`` resets the anchor for every item. Unlike a one-interval
  schedule, a phase whose intervals differ from the previous phase's does not reset the anchor;
* backdated periods that ended before creation are billed, unless the first phase has ``proration_behavior=none``;
* one-time items go on the first invoice issued in their phase; discounts as in ``preview``.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from cpq_sync.sandbox.stripe.billing import periods
from cpq_sync.sandbox.stripe.billing.common import is_metered, price_interval
from cpq_sync.sandbox.stripe.billing.preview import (
    Item,
    PreviewInvoice,
    PreviewLine,
    Segment,
    _Discounts,
    _Draft,
    _dt,
    _Engine,
    backdated_skipped,
)

Pending = tuple[int, PreviewLine, list[str]]


def is_mixed(segments: Sequence[Segment]) -> bool:
    """Whether some segment bills prices of different intervals."""
    return any(len({price_interval(i.price) for i in seg.items}) > 1 for seg in segments)


def _natural(anchor: int, item: Item, when: int) -> tuple[int, int]:
    interval, count = price_interval(item.price)
    start, end = periods.period_containing(_dt(anchor), interval, count, _dt(when))
    return periods.to_timestamp(start), periods.to_timestamp(end)


def _share(start: int, end: int, nat_start: int, nat_end: int) -> Fraction:
    return periods.fraction(_dt(start), _dt(end), _dt(nat_start), _dt(nat_end))


class _MixedRun:
    def __init__(self, engine: _Engine, *, created: int, until: int, prorate_final: bool) -> None:
        self.engine = engine
        self.created = created
        self.until = until
        self.prorate_final = prorate_final
        self.drafts: dict[int, _Draft] = {}
        self.standalone: list[_Draft] = []  # always_invoice prorations
        self.pending: list[Pending] = []
        self.skip_backdated = False

    def draft(self, issued: int, seg: Segment) -> _Draft:
        if issued not in self.drafts:
            self.drafts[issued] = _Draft(issued, issued, issued, coupons=list(seg.coupons))
        return self.drafts[issued]

    def bill(self, issued: int, seg: Segment, line: PreviewLine, coupons: list[str]) -> None:
        draft = self.draft(issued, seg)
        draft.end = max(draft.end, int(line.period_end.timestamp()))
        draft.lines.append((line, coupons))

    def prorate(self, seg: Segment, lines: list[tuple[PreviewLine, list[str]]]) -> None:
        if not lines:
            return
        if seg.proration_behavior == "always_invoice":
            end = max(int(line.period_end.timestamp()) for line, _ in lines)
            self.standalone.append(_Draft(seg.start, end, seg.start, lines, []))
        else:
            self.pending.extend((seg.start, line, coupons) for line, coupons in lines)

    def transition(self, previous: Segment, seg: Segment, anchor: int, reset: bool) -> None:
        """Credit the items that leave (or change) mid-period; charge their replacements' remaining time."""
        if seg.proration_behavior == "none":
            return
        when = _dt(seg.start).date().isoformat()
        new_keys = {i.key for i in seg.items}
        old_keys = {i.key for i in previous.items}
        lines: list[tuple[PreviewLine, list[str]]] = []
        for item in previous.items:
            if (item.key in new_keys and not reset) or is_metered(item.price):
                continue
            nat_start, nat_end = _natural(anchor, item, seg.start)
            if nat_start == seg.start:
                continue
            name = self.engine.product_name(item.price)
            line = self.engine.line(
                "proration",
                item,
                seg.start,
                nat_end,
                -_share(seg.start, nat_end, nat_start, nat_end),
                f"Unused time on {item.quantity} × {name} after {when}",  # noqa: RUF001
            )
            lines.append((line, []))
        if not reset:
            for item in seg.items:
                if item.key in old_keys or is_metered(item.price):
                    continue
                nat_start, nat_end = _natural(anchor, item, seg.start)
                if nat_start == seg.start:
                    continue
                name = self.engine.product_name(item.price)
                line = self.engine.line(
                    "proration",
                    item,
                    seg.start,
                    nat_end,
                    _share(seg.start, nat_end, nat_start, nat_end),
                    f"Remaining time on {item.quantity} × {name} after {when}",  # noqa: RUF001
                )
                lines.append((line, item.coupons))
        self.prorate(seg, lines)

    def periods_of(self, seg: Segment, item: Item, anchor: int, first: int, last_segment: bool) -> list[int]:
        """Bill ``item``'s periods from ``first`` to the segment's end; returns the invoice times used."""
        interval, count = price_interval(item.price)
        stop = min(seg.end, self.until)
        issued: list[int] = []
        for p_start_dt, p_end_dt in periods.periods(_dt(anchor), interval, count, _dt(first), _dt(stop)):
            p_start, p_end = periods.to_timestamp(p_start_dt), periods.to_timestamp(p_end_dt)
            nat_start, nat_end = _natural(anchor, item, p_start)
            share = Fraction(1)
            bill_end = nat_end
            if p_end < nat_end and p_end == seg.end and last_segment and self.prorate_final:
                share = _share(p_start, p_end, nat_start, nat_end)
                bill_end = p_end
            if nat_end <= self.created and self.skip_backdated:
                continue
            self.bill(p_start, seg, self.engine.line("subscription", item, p_start, bill_end, share), item.coupons)
            issued.append(p_start)
        return issued

    def run(self, segments: list[Segment], extra: Sequence[Pending]) -> list[PreviewInvoice]:
        discounts = _Discounts(self.engine.store)
        anchor = segments[0].start
        self.skip_backdated = backdated_skipped(segments)
        previous: Segment | None = None
        for index, seg in enumerate(segments):
            if seg.start >= self.until:
                break
            discounts.enter(seg, previous)
            reset = previous is not None and seg.reset_anchor
            if previous is not None:
                self.transition(previous, seg, anchor, reset)
            if reset:
                anchor = seg.start
            issued: list[int] = []
            for item in seg.items:
                nat_start, nat_end = _natural(anchor, item, seg.start)
                # A period in progress at the phase change was billed (an item that stays) or prorated (a new
                # or changed item): the item bills from its next boundary.
                first = seg.start if nat_start == seg.start else nat_end
                issued += self.periods_of(seg, item, anchor, first, index == len(segments) - 1)
            one_time = [
                (
                    self.engine.line(
                        "invoice_item", i, seg.start, seg.end, description=self.engine.product_name(i.price)
                    ),
                    i.coupons,
                )
                for i in seg.one_time
            ]
            if one_time and issued:
                target = self.drafts[min(issued)]
                target.lines.extend(one_time)
            else:
                self.pending.extend((seg.start, line, coupons) for line, coupons in one_time)
            previous = seg
        for when, line, coupons in sorted([*self.pending, *extra], key=lambda e: e[0]):
            # Pending invoice items go on the next invoice, as Stripe sweeps them into it.
            later = [t for t in sorted(self.drafts) if t >= when]
            if later:
                target = self.drafts[later[0]]
            else:
                coupons_now = list(previous.coupons) if previous else []
                target = self.drafts.setdefault(when, _Draft(when, when, when, [], coupons_now))
            target.end = max(target.end, int(line.period_end.timestamp()))
            target.lines.append((line, coupons))
        currency = str(segments[0].items[0].price.get("currency")) if segments[0].items else "usd"
        ordered = sorted([*self.drafts.values(), *self.standalone], key=lambda d: d.issued)
        return [self.engine.finish(d, discounts, currency) for d in ordered]


def run_mixed(
    engine: _Engine,
    segments: list[Segment],
    *,
    created: int,
    until: int,
    prorate_final: bool,
    extra: Sequence[Pending] = (),
) -> list[PreviewInvoice]:
    """The invoices of ``segments`` whose items bill on different intervals, in the order Stripe issues them."""
    if not segments:
        return []
    return _MixedRun(engine, created=created, until=until, prorate_final=prorate_final).run(segments, extra)
