"""One-time adjustments of a schedule: signed amounts Stripe bills once, on the subscription's next invoice, as
invoice items (`amount`, not discountable) the apply step creates once each (found again by their key).

Pure. Two rules use them:

* **Reduction credits**: an amendment that lowers a line's quantity off that line's billing boundary gets CPQ's
  negative prorated amount for the time to the boundary (the units removed were billed for the whole period).
* **Rounding remainder**: Stripe rounds each invoice line to the cent, so a price whose per-period amount is a
  fraction of a cent (TotalPrice 1000.00 over 12 periods: 83.333...) drifts from CPQ's TotalPrice over the term.
  Per price, over every phase of the schedule (a ramp's segments, an amended contract's quantities), the
  difference between its billed periods at their exact amount and as Stripe rounds them is settled once, on the
  schedule's first invoice after the sync, so Stripe bills exactly what CPQ sold. A new order settles its
  schedule's remainders (one per price, keyed by its first line); each amendment settles what is left between
  the contract's orders' totals and what Stripe bills for them (`contract_remainder`: CPQ also rounds a prorated
  UnitPrice to the cent) less what was settled before (one, keyed by the amendment): nothing is redone.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cpq_sync.desired import Ref
from cpq_sync.records import OrderItemRecord
from cpq_sync.translate.dates import add_months, months_between
from cpq_sync.translate.terms import minor_units

CENT = Decimal("0.01")


def adjustment(key: str, amount: int, currency: str, description: str, metadata: dict[str, str]) -> dict[str, Any]:
    """One adjustment: `amount` in minor units (negative: a credit); `metadata` names the Salesforce record it
    settles (`salesforce_order_item_id` or `salesforce_order_id`)."""
    return {
        "key": key,
        "amount": amount,
        "currency": currency,
        "description": description[:500],
        "metadata": metadata,
    }


def whole_minor(amount: Decimal) -> int:
    """An amount in minor units as Stripe bills it: rounded to a whole minor unit, half up."""
    return int(amount.quantize(Decimal(1), ROUND_HALF_UP))


def whole_minor_units(amount: Decimal, currency: str) -> int:
    return whole_minor(minor_units(amount, currency))


def total_price(item: OrderItemRecord, quantity: int, currency: str) -> int:
    """CPQ's TotalPrice of a line (quantity x UnitPrice, stored to the cent) in minor units."""
    return whole_minor_units((item.unit_price * quantity).quantize(CENT, ROUND_HALF_UP), currency)


@dataclass(frozen=True, slots=True)
class Span:
    """One phase of a schedule on the calendar, from `start` to `end` (excluded), with its items; `unbilled_past`:
    a first phase with `proration_behavior=none`, which tells Stripe not to bill a backdated start's past."""

    start: dt.date
    end: dt.date
    items: list[dict[str, Any]]
    unbilled_past: bool = False

    @classmethod
    def of(cls, phase: dict[str, Any], start: dt.date, end: dt.date, *, first: bool) -> Span:
        """A schedule's phase (its parameters) from `start` to `end`; `first`: the schedule's first phase."""
        unbilled = first and phase.get("proration_behavior") == "none"
        return cls(start, end, phase.get("items", []), unbilled)


def spans_of(start: dt.date, phases: list[dict[str, Any]]) -> list[Span]:
    """The calendar of phases given by their `duration` in months (a new order's), from `start`."""
    spans = []
    for index, phase in enumerate(phases):
        end = add_months(start, int(phase["duration"]["interval_count"]))
        spans.append(Span.of(phase, start, end, first=index == 0))
        start = end
    return spans


@dataclass(frozen=True, slots=True)
class Remainder:
    amount: int  # minor units, either sign
    line_id: str  # the first order line the price bills


def rounding_remainders(
    anchor: dt.date, spans: list[Span], prices: dict[str, dict[str, Any]]
) -> dict[str, Remainder] | None:
    """Per flat licensed price of a schedule: what its billed periods come to at its exact unit amount (summed,
    then rounded once) less what Stripe bills for them (each period's line rounded to the minor unit, half up).

    Each item bills at the start of each of its price's periods, anchored on `anchor` (the schedule's start,
    flexible billing mode), the quantity of the phase that period starts in; a change inside a period bills from
    the next one (the phases changing quantities off a boundary have Stripe's proration off). A price whose last
    period is cut by the schedule's end (Stripe prorates it by the second) gets none. None when the phases alone
    do not tell what Stripe bills: a first phase that does not bill its backdated past holds billed units."""
    fractional = []
    for key, line_id in _first_lines(spans).items():
        params = prices.get(key) or {}
        unit = _fractional_unit(params)
        if unit is not None:
            fractional.append((key, line_id, unit, int(params["recurring"]["interval_count"])))
    if not fractional:
        return {}
    quantities = [_quantities(span.items) for span in spans]
    calendar = _Calendar(anchor, spans)
    out: dict[str, Remainder] = {}
    try:
        for key, line_id, unit, every in fractional:
            periods = _periods_billed(calendar, spans, quantities, key, unit, every)
            if periods is None:
                continue
            remainder = whole_minor(periods.exact) - periods.billed
            if remainder:
                out[key] = Remainder(remainder, line_id)
    except _Unknown:
        return None
    return out


def contract_remainder(
    anchor: dt.date,
    spans: list[Span],
    prices: dict[str, dict[str, Any]],
    sold: list[tuple[OrderItemRecord, int]],
    once: list[int],
    currency: str,
) -> int | None:
    """What CPQ sold on a contract's lines billed at flat licensed `prices` (their TotalPrice, summed over the
    initial order and its amendments) less what Stripe bills for them: every period of those prices, each rounded
    to the minor unit, and `once`, the one-time amounts billed for those lines (prorated months and charges,
    credits), in minor units. It is what rounding leaves: each period, each one-time amount, and CPQ's own
    rounding of a prorated UnitPrice to the cent (half a cent a unit at most). None when the phases alone do not
    tell what Stripe bills (a cut last period, an unbilled backdated past) or the difference is larger than
    rounding can make (something else differs: nothing is settled rather than a wrong amount)."""
    quantities = [_quantities(span.items) for span in spans]
    calendar = _Calendar(anchor, spans)
    billed, lines = sum(once), len(once)
    try:
        for key, params in prices.items():
            unit = Decimal(str(params["unit_amount_decimal"]))
            periods = _periods_billed(
                calendar, spans, quantities, key, unit, int(params["recurring"]["interval_count"])
            )
            if periods is None:
                return None
            billed += periods.billed
            lines += periods.count
    except _Unknown:
        return None
    remainder = sum(total_price(item, quantity, currency) for item, quantity in sold) - billed
    units = sum(abs(quantity) for _, quantity in sold)
    return remainder if abs(remainder) * 2 <= lines + units else None


def flat_licensed(params: dict[str, Any]) -> bool:
    """A recurring price billed in advance at one amount a unit (what rounding remainders settle)."""
    recurring = params.get("recurring") or {}
    return recurring.get("usage_type") == "licensed" and "unit_amount_decimal" in params


class _Unknown(Exception):
    """What Stripe bills cannot be told from the phases alone."""


@dataclass(frozen=True, slots=True)
class _Periods:
    exact: Decimal  # minor units, not rounded
    billed: int  # each period's amount rounded to the minor unit, half up
    count: int  # periods billing something


class _Calendar:
    """The periods of each billing interval over a schedule's phases (contiguous, from `anchor`), worked out once
    per interval: how many start in each phase, and which phase the last one starts in when the schedule's end
    cuts it (None when it does not)."""

    def __init__(self, anchor: dt.date, spans: list[Span]) -> None:
        self.anchor = anchor
        self.bounds = [span.start for span in spans] + [spans[-1].end]
        self._found: dict[int, tuple[list[int], int | None]] = {}

    def periods(self, every: int) -> tuple[list[int], int | None]:
        found = self._found.get(every)
        if found is None:
            before = [_periods_before(self.anchor, day, every) for day in self.bounds]
            counts = [b - a for a, b in itertools.pairwise(before)]
            cut = None
            last, end = before[-1], self.bounds[-1]
            if last and add_months(self.anchor, every * last) > end:
                cut_start = add_months(self.anchor, every * (last - 1))
                cut = next(i for i in range(len(counts)) if self.bounds[i] <= cut_start < self.bounds[i + 1])
            found = self._found[every] = (counts, cut)
        return found


def _periods_billed(
    calendar: _Calendar, spans: list[Span], quantities: list[dict[str, int]], key: str, unit: Decimal, every: int
) -> _Periods | None:
    """One price over a schedule: each of its periods (every `every` months from the schedule's anchor) bills the
    quantity of the phase it starts in. None when its last period, holding units, is cut by the schedule's end
    (Stripe prorates it by the second); raises _Unknown for units in a first phase that does not bill its past."""
    counts, cut = calendar.periods(every)
    if cut is not None and quantities[cut].get(key):
        return None
    exact, billed, count = Decimal(0), 0, 0
    for span, held, periods in zip(spans, quantities, counts, strict=True):
        quantity = held.get(key, 0)
        if not quantity or not periods:
            continue
        if span.unbilled_past:
            raise _Unknown
        amount = unit * quantity
        exact += amount * periods
        billed += whole_minor(amount) * periods
        count += periods
    return _Periods(exact, billed, count)


def rounding_adjustments(
    anchor: dt.date, phases: list[dict[str, Any]], prices: dict[str, dict[str, Any]], currency: str
) -> list[dict[str, Any]]:
    """A new order's rounding remainders (`rounding_remainders`, its `phases` given by their `duration`), one
    adjustment per price, keyed by its first line, settled on the schedule's first invoice after the sync."""
    if not any(_fractional_unit(params) is not None for params in prices.values()):
        return []  # (most orders: no calendar to work out)
    remainders = rounding_remainders(anchor, spans_of(anchor, phases), prices) or {}
    return [
        adjustment(
            f"rounding:{r.line_id}",
            r.amount,
            currency,
            "Rounding: the term's total as sold (TotalPrice) less its periods billed to the cent",
            {"salesforce_order_item_id": r.line_id},
        )
        for r in remainders.values()
    ]


def _fractional_unit(params: dict[str, Any]) -> Decimal | None:
    """A flat licensed price's unit amount when it is a fraction of a minor unit (only those round), else None."""
    return _fraction(str(params["unit_amount_decimal"])) if flat_licensed(params) else None


@functools.lru_cache(maxsize=4096)
def _fraction(amount: str) -> Decimal | None:
    unit = Decimal(amount)
    return None if unit == unit.to_integral_value() else unit


def _quantities(items: list[dict[str, Any]]) -> dict[str, int]:
    """Price key -> the quantity a phase bills of it (an item without a quantity, metered, is left out)."""
    return {
        item["price"].key: int(item["quantity"])
        for item in items
        if isinstance(item.get("price"), Ref) and item.get("quantity") is not None
    }


def _first_lines(spans: list[Span]) -> dict[str, str]:
    """Price key -> the first order line billing it (its first item's first `salesforce_order_item_id`), in the
    order the prices first appear."""
    out: dict[str, str] = {}
    for span in spans:
        for item in span.items:
            price = item.get("price")
            if isinstance(price, Ref) and price.key not in out:
                out[price.key] = str(item.get("metadata", {}).get("salesforce_order_item_id", "")).split(",")[0]
    return out


def _periods_before(anchor: dt.date, day: dt.date, every: int) -> int:
    """How many periods of `every` months, from `anchor`, start before `day`."""
    if day <= anchor:
        return 0
    months = months_between(anchor, day)
    whole = -(-months // every)  # the periods starting at month 0, every, ... below `months`
    if months % every == 0 and add_months(anchor, months) < day:
        whole += 1  # and the one starting at `months` itself, before `day`
    return whole
