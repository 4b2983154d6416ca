"""Proration of terms that are not a whole number of billing periods (18 months billed annually, 9 months billed
annually): the whole periods bill as usual, the months left over bill once, the prorated amount CPQ computed.

Pure. Each line's leftover months follow its last whole billing period (lines of different frequencies in one
flexible-mode schedule each have their own): from there its item stays on the subscription at quantity 0 (so
nothing recurring bills) and the prorated amount is a one-time invoice item (`price_data`, metadata
`salesforce_proration=true`) billed when that phase starts; Stripe's own proration is off. With no whole period
at all (9 months billed annually) the first phase bills the whole prorated amount at the start.

Per unit, the leftover is UnitPrice x leftover months / term (month precision: the leftover is whole months
by construction): the amount CPQ priced. SBQQ__ProrateMultiplier__c must agree with term / default term at the
precision CPQ stores it (4 decimals; re-deriving amounts from the rounded multiplier would be off by cents); a
mismatch is an error on the line rather than a guess.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import itertools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cpq_sync.desired import Ref
from cpq_sync.errors import DataError
from cpq_sync.records import OrderItemRecord, OrderRecord
from cpq_sync.translate.catalog import LineCharge, product_key
from cpq_sync.translate.dates import add_months, months_between
from cpq_sync.translate.terms import decimal_string, minor_units, whole_number

MAX_INVOICE_ITEMS_PER_PHASE = 20
CENT = Decimal("0.01")
MULTIPLIER_PLACES = 4  # CPQ stores SBQQ__ProrateMultiplier__c rounded to 4 decimals


def leftover_per_unit(item: OrderItemRecord, charge: LineCharge, months: int, term: int) -> Decimal:
    """The line's prorated amount for `months` leftover months of its `term`, per unit, checked against CPQ."""
    multiplier = item.prorate_multiplier
    if multiplier is not None and multiplier > 0:
        default_term = item.default_subscription_term or Decimal(charge.interval_months)
        expected = Decimal(term) / default_term
        places = max(MULTIPLIER_PLACES, -multiplier.as_tuple().exponent)  # type: ignore[operator]
        step = Decimal(1).scaleb(-places)
        if multiplier.quantize(step, ROUND_HALF_UP) != expected.quantize(step, ROUND_HALF_UP):
            raise DataError(
                "OrderItem",
                item.id,
                "SBQQ__ProrateMultiplier__c",
                f"the prorate multiplier {multiplier} does not match the line's term ({term} months over a "
                f"{default_term}-month default term = {expected.quantize(step)}), so the prorated amount for "
                f"{months} months ({(item.unit_price * months / term).quantize(CENT)} from the term) cannot be "
                "trusted.",
                "recalculate the quote so the prorate multiplier matches the subscription term.",
            )
    return item.unit_price * months / term


@dataclass(frozen=True)
class Billing:
    """How one line bills over its span (`start` to `end`: the contract, or its MDQ segment), on its billing
    periods anchored on the contract's start: the time before the first period boundary (`first`) bills once,
    prorated, at `start`; whole periods bill from `first` to `last`; the months left after `last` bill once,
    prorated, at `last`. Quarterly segments of an annual line have no whole period: the segment bills once."""

    start: dt.date
    end: dt.date
    first: dt.date
    last: dt.date

    def bills(self, day: dt.date) -> bool:
        """Whether the line's recurring item bills (a quantity) in a phase starting on `day`."""
        return self.first <= day < self.last

    def stub_months(self, day: dt.date) -> int:
        """The months billed once, prorated, by a phase starting on `day` (0: none)."""
        if day == self.start and self.start < self.first:
            return months_between(self.start, self.first)
        if day == self.last and self.last < self.end:
            return months_between(self.last, self.end)
        return 0


@functools.lru_cache(maxsize=1 << 16)
def billing(anchor: dt.date, start: dt.date, end: dt.date, interval: int) -> Billing:
    """A line's `Billing` from `start` to `end` on `interval`-month periods anchored on `anchor` (made once for
    each set of arguments: a `Billing` is frozen, so lines of the same dates and frequency share one)."""
    k = 0
    while add_months(anchor, k * interval) < start:
        k += 1
    first = min(add_months(anchor, k * interval), end)
    last = first
    while add_months(anchor, (k + 1) * interval) <= end:
        k += 1
        last = add_months(anchor, k * interval)
    return Billing(start, end, first, max(last, first))


def prorated_item(
    item: OrderItemRecord, charge: LineCharge, months: int, term: int, quantity: int, currency: str
) -> dict[str, Any]:
    """The one-time invoice item that bills `months` of a line's `term`, prorated as CPQ computed them."""
    return prorated_charge(item, leftover_per_unit(item, charge, months, term), quantity, currency, months)


def prorated_charge(
    item: OrderItemRecord, per_unit: Decimal, quantity: int, currency: str, months: int, days: int | None = None
) -> dict[str, Any]:
    """A one-time invoice item billing `quantity` units of `item` at `per_unit` (major units) for `months` (and,
    with the month+day precision of an amendment off a monthly anniversary, `days`) of prorated time."""
    metadata = {
        "salesforce_order_item_id": item.id,
        "salesforce_proration": "true",
        "salesforce_prorated_months": str(months),
    }
    if days is not None:
        metadata["salesforce_prorated_days"] = str(days)
    return {
        "price_data": {
            "currency": currency,
            "product": Ref(product_key(item.product2_id)),
            "unit_amount_decimal": decimal_string(minor_units(per_unit, currency)),
        },
        "quantity": quantity,
        "metadata": metadata,
    }


def prorated_phases(
    order: OrderRecord,
    recurring: list[OrderItemRecord],
    charges: dict[str, LineCharge],
    phase: dict[str, Any],
    term: int,
    currency: str,
) -> list[dict[str, Any]]:
    """`phase` (the whole term, every line) split at each line's last whole billing period: a line bills its
    whole periods as usual, then idles at quantity 0 while its leftover months bill once, prorated, when its
    idle phase starts. Lines of different frequencies have their own split (18 months: an annual line idles after
    12, a monthly one bills all 18), so there is one phase per distinct split."""
    whole = {i.id: term - term % charges[i.id].interval_months for i in recurring}
    stubs: dict[int, list[dict[str, Any]]] = {}
    for item in recurring:
        leftover = term - whole[item.id]
        if not leftover or charges[item.id].metered:  # usage bills on what is used, never a prorated share
            continue
        quantity = whole_number(item.quantity, object_type="OrderItem", record_id=item.id, field="Quantity",
                                what="quantity")  # fmt: skip
        stubs.setdefault(whole[item.id], []).append(
            prorated_item(item, charges[item.id], leftover, term, quantity, currency)
        )
    splits = {line_id: months for line_id, months in whole.items() if months < term}
    bounds = sorted({0, *splits.values(), term})
    phases: list[dict[str, Any]] = []
    for begin, end in itertools.pairwise(bounds):
        items = [
            {**copy.deepcopy(i), "quantity": 0} if _idle(i, splits, begin) else i
            for i in phase["items"]
        ]  # fmt: skip
        if begin == 0:
            current = {**phase, "items": items, "duration": {"interval": "month", "interval_count": end}}
            if stubs.get(0):  # (its proration_behavior stays: on a first phase it bills a backdated past)
                current["add_invoice_items"] = [*phase.get("add_invoice_items", []), *stubs[0]]
        else:
            current = {"items": items, "duration": {"interval": "month", "interval_count": end - begin}}
            if stubs.get(begin):
                current["add_invoice_items"] = stubs[begin]
            current.update(proration_behavior="none", metadata=dict(phase.get("metadata", {})))
        check_invoice_items(order.id, current.get("add_invoice_items", []))
        phases.append(current)
    return phases


def _idle(item: dict[str, Any], splits: dict[str, int], begin: int) -> bool:
    """Whether a phase item's line has billed its whole periods by `begin` (its lines share one price, so one
    frequency: the first line decides)."""
    line_id = str(item.get("metadata", {}).get("salesforce_order_item_id", "")).split(",")[0]
    return line_id in splits and splits[line_id] <= begin


def check_invoice_items(order_id: str, items: list[dict[str, Any]]) -> None:
    """The one check of Stripe's limit on a schedule phase's one-time items (`add_invoice_items`: one-time lines,
    prorated months, amendments' prorated charges), wherever a phase's one-time items are built."""
    count = len(items)
    if count <= MAX_INVOICE_ITEMS_PER_PHASE:
        return
    prorated = sum(1 for i in items if i.get("metadata", {}).get("salesforce_proration") == "true")
    if not prorated:
        raise DataError("Order", order_id, "OrderItems",
                        f"{count} one-time lines; Stripe allows {MAX_INVOICE_ITEMS_PER_PHASE} per phase.")  # fmt: skip
    raise DataError(
        "Order",
        order_id,
        "OrderItems",
        f"{count} one-time items in one phase ({count - prorated} one-time lines, {prorated} prorated charges); "
        f"Stripe allows {MAX_INVOICE_ITEMS_PER_PHASE} per phase.",
        "split the order (or the amendment) so that no phase bills more than 20 one-time lines and prorated charges.",
    )
