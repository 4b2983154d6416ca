"""Contract -> one Subscription Schedule rebuilt from the contract's initial order and every amendment, in order.

Pure. A contract with no amendment is just its initial order (`translate_order`, unchanged, so the schedules
synced before keep their hash). With amendments, the contract is a timeline of intervals (one for a plain order,
one per segment for an MDQ ramp); each amendment splits the interval it starts in and changes the quantities of
every interval from its start on (a segmented line only within its own dates), aggregated over the initial order
and every earlier amendment (a revised line adds its delta to the line it revises, through
`SBQQ__RevisedOrderProduct__c`: 10 then -4 gives 6). Every phase carries `start_date` and `end_date`, so an update
passes the past phases back unchanged (Stripe refuses changes to them).

* A price is reused when the amendment line bills exactly what the line it revises bills (same product, currency,
  amount and recurrence); otherwise it is a new price and a new item.
* Units added off a billing-period boundary bill the prorated time to the next boundary once (CPQ's amount, a
  `price_data` add_invoice_item) and recur from it; every amendment phase has `proration_behavior=none`.
  Each line goes by its own billing period (lines of different frequencies share the schedule in flexible
  billing mode). Units removed off their boundary were billed for the whole period: CPQ's negative prorated
  amount to the boundary is credited once (a one-time adjustment, `adjustments`).
* A term or MDQ segment that is not a whole number of a line's billing periods (`proration.Billing`): the line
  bills its prorated months once and stays at quantity 0 through them; every phase from an amendment's start
  bills those prorated months for the units the line has then, so units added before them bill them too and
  units removed do not (their credit is what Stripe then no longer bills).
* An order migrated from before the sync start date: its lines (an MDQ segment over its own dates) stay at
  quantity 0 through the periods the replaced system billed (`migration.resumes_on`). An amendment activated
  before the sync start date changes nothing in them (billed by that system too); a later one bills or credits
  its units' time up to the end of those periods.
* Units removed leave the price the removal line bills first (its signature), then the latest units added.
* Rounding: each amendment settles what CPQ sold on the contract's flat licensed lines (TotalPrice) less what
  Stripe bills for them (`adjustments.contract_remainder`: every period rounded to the cent, prorated charges,
  credits), less what the contract's earlier orders settled: one adjustment keyed by the amendment, so the
  contract bills its orders' totals to the cent (not for migrated contracts or skipped pasts).
* All lines at 0 (a termination): the last phase ends at the amendment's start; off a line's billing boundary,
  a last phase idles the lines at quantity 0 to the boundary and the unused time is credited as above (Stripe's
  own proration at the end would count seconds, not CPQ's months); a termination on the contract's first day
  cancels the schedule. Lines that reach 0 leave the phase (partial termination).
* An evergreen contract (a Subscription) takes only its cancellation.
* An amendment that fails (bad data, not co-terminating, a termination with later amendments) fails with every
  later amendment of its contract; the earlier ones still apply.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cpq_sync.desired import Desired, ObjectKind, Ref, SfRef
from cpq_sync.errors import DataError
from cpq_sync.mapping.kinds import Kind
from cpq_sync.records import OrderItemRecord
from cpq_sync.translate.adjustments import Span, adjustment, contract_remainder, flat_licensed, total_price, whole_minor
from cpq_sync.translate.catalog import LineCharge, line_charge, memoized, translate_line_price, translate_product
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.dates import add_months, months_between, utc_midnight
from cpq_sync.translate.evergreen import cancellation
from cpq_sync.translate.migration import is_migrated, resumes_on
from cpq_sync.translate.order import (
    OrderBundle,
    OrderTranslation,
    drop_metered_quantities,
    translate_order,
)
from cpq_sync.translate.proration import (
    Billing,
    billing,
    check_invoice_items,
    leftover_per_unit,
    prorated_charge,
    prorated_item,
)
from cpq_sync.translate.terms import decimal_string, minor_units, whole_number


def is_amendment(bundle: OrderBundle) -> bool:
    order = bundle.order
    kinds = ((order.type or "").lower(), (order.quote_type or "").lower())
    if "renewal" in kinds:
        return False
    return "amendment" in kinds or any(i.revised_order_product for i in bundle.items)


def contract_of(bundle: OrderBundle) -> str | None:
    return bundle.order.master_contract_id or bundle.order.contract_id


def order_start(bundle: OrderBundle) -> dt.date | None:
    return bundle.order.quote_start_date or bundle.order.effective_date


def _sort_key(bundle: OrderBundle) -> tuple[dt.date, dt.datetime, str]:
    order = bundle.order
    return (
        order_start(bundle) or dt.date.min,
        order.activated_date or dt.datetime.min.replace(tzinfo=dt.UTC),
        order.order_number or order.id,
    )


@dataclass
class Contract:
    """The orders of one contract: its initial order (None when it was not found) and its amendments in order."""

    contract_id: str
    initial: OrderBundle | None
    amendments: list[OrderBundle]
    initial_in_run: bool = True


def group_contracts(
    bundles: list[OrderBundle], context: Iterable[OrderBundle] = ()
) -> tuple[list[OrderBundle], list[Contract]]:
    """The orders to sync as (orders on their own, contracts with amendments). `context` holds the contracts'
    other orders (not synced themselves); only contracts with an amendment among `bundles` or `context` and an
    order among `bundles` are returned."""
    in_run = {b.order.id for b in bundles}
    by_contract: dict[str, list[OrderBundle]] = {}
    alone: list[OrderBundle] = []
    seen: set[str] = set()
    for bundle in [*bundles, *context]:
        if bundle.order.id in seen:
            continue
        seen.add(bundle.order.id)
        contract = contract_of(bundle)
        if contract is None:
            if bundle.order.id in in_run:
                alone.append(bundle)
            continue
        by_contract.setdefault(contract, []).append(bundle)
    contracts: list[Contract] = []
    for contract_id, members in by_contract.items():
        if not any(m.order.id in in_run for m in members):
            continue
        kinds = [is_amendment(m) for m in members]
        if not any(kinds):  # no amendment (most contracts): its orders are on their own
            alone.extend(m for m in members if m.order.id in in_run)
            continue
        amendments = sorted((m for m, amends in zip(members, kinds, strict=True) if amends), key=_sort_key)
        initials = sorted((m for m, amends in zip(members, kinds, strict=True) if not amends), key=_sort_key)
        named = [m for m in initials if m.order.id == amendments[0].order.contract_order_id]
        candidates: list[OrderBundle | None] = [*named, *initials, None]
        initial = candidates[0]
        alone.extend(m for m in initials if m is not initial and m.order.id in in_run)
        in_this_run = initial is not None and initial.order.id in in_run
        contracts.append(Contract(contract_id, initial, amendments, in_this_run))
    return alone, contracts


@dataclass
class _Group:
    """Units of one contract line billed at one price."""

    price_key: str
    price: Desired
    quantity: int
    item: OrderItemRecord  # the line whose mapping values the phase item takes
    signature: str | None = None  # what the price bills (`_signature`), made when first compared

    def bills(self, signature: str, ctx: TranslateContext) -> bool:
        """Whether the group's price bills what `signature` says."""
        if self.signature is None:
            self.signature = _signature(self.price, ctx)
        return self.signature == signature


@dataclass
class ContractTranslation:
    contract_id: str
    main: Desired | None  # None: nothing could be built (the initial order failed or is missing)
    objects: list[Desired]
    line_prices: dict[str, str]
    applied: list[str]  # the amendments the schedule includes
    failures: dict[str, DataError] = field(default_factory=dict)  # order id -> error
    initial_translation: OrderTranslation | None = None


def _signature(price: Desired, ctx: TranslateContext) -> str:
    """What a price bills (its parameters but its metadata), as text: the same text, the same price. A price book
    entry's price without tiers is one set of parameters a run (`catalog.translate_line_price`), shared by every
    line billing it: its text is made once."""
    params = price.params
    if price.record.object_type != "PricebookEntry" or "tiers" in params:
        return _SIGNATURE_ENCODER.encode({k: v for k, v in params.items() if k != "metadata"})
    return ctx.once(
        "_signature", params, lambda: _SIGNATURE_ENCODER.encode({k: v for k, v in params.items() if k != "metadata"})
    )


def _signature_value(value: Any) -> str:
    return f"ref:{value.key}" if isinstance(value, Ref) else str(value)


# What `json.dumps(params, sort_keys=True, default=_signature_value)` makes (the same text), with one encoder for
# every signature rather than one each.
_SIGNATURE_ENCODER = json.JSONEncoder(sort_keys=True, default=_signature_value)


@dataclass
class _Interval:
    """A stretch of the contract with one set of quantities: one schedule phase."""

    start: dt.date
    phase: dict[str, Any]  # the phase's parameters (items included) without dates
    groups: dict[str, list[_Group]]  # root line id -> its units at each price
    stubs: list[dict[str, Any]] = field(default_factory=list)  # the prorated months its lines bill once at its start


class _Builder:
    """The contract as a timeline of intervals (one for a plain order, one per segment for an MDQ ramp); each
    amendment splits the interval it starts in and changes every interval from its start on (a segmented line
    only the intervals within its own dates)."""

    def __init__(self, initial: OrderBundle, translation: OrderTranslation, ctx: TranslateContext) -> None:
        self.ctx = ctx
        # Each line's charge and billing span, by line id, worked out once for the contract (its start and end
        # do not change; a line in error raises each time).
        self._charges: dict[str, LineCharge] = {}
        self._spans: dict[str, Billing] = {}
        self.initial = initial
        self.translation = translation
        self.objects: dict[str, Desired] = {o.key: o for o in translation.objects if o is not translation.main}
        self.line_prices = dict(translation.line_prices)
        params = translation.main.params
        self.currency = _schedule_currency(translation)
        self.start = dt.datetime.fromtimestamp(params["start_date"], dt.UTC).date()
        self.roots: dict[str, str] = {}
        lines = [i for i in initial.items if not i.skip and i.id in self.line_prices and self._charge(i).recurring]
        for item in lines:
            self.roots[item.id] = item.id
        self.end = self.start
        for phase in params["phases"]:
            self.end = add_months(self.end, int(phase["duration"]["interval_count"]))
        sync_start = ctx.migrated_before
        self.paid: dict[str, dt.date] = {}  # root line id -> the end of what the replaced system billed of it
        if sync_start is not None and is_migrated(initial.order, sync_start):
            for item in lines:  # the migration rule, line by line (an MDQ segment over its own dates)
                every = self._charge(item).interval_months
                self.paid[item.id] = resumes_on(self.start, self._billing(item), every, sync_start)
        self.intervals: list[_Interval] = []
        begin = self.start
        for phase in params["phases"]:
            covering = [i for i in lines if _covers(i, begin, self.start)]
            groups: dict[str, list[_Group]] = {}
            for item in covering:
                key = self.line_prices[item.id]
                quantity = whole_number(item.quantity, object_type="OrderItem", record_id=item.id,
                                        field="Quantity", what="quantity")  # fmt: skip
                groups[item.id] = [_Group(key, self.objects[key], quantity, item)]
            stubs = self._stubs(groups, begin)
            kept = {k: v for k, v in phase.items() if k != "duration"}
            others = [a for a in kept.pop("add_invoice_items", []) if a not in stubs]
            if others:
                kept["add_invoice_items"] = others
            self.intervals.append(_Interval(begin, kept, groups, stubs))
            begin = add_months(begin, int(phase["duration"]["interval_count"]))
        self.ends_at = self.end
        self.cancel = False
        self.terminated = False
        self.last_start = self.start
        self.adjustments: list[dict[str, Any]] = []  # one-time adjustments of the amendments applied
        # What the rounding adjustments settle so far (the initial order's, then each amendment's settlement); a
        # contract whose backdated past is not billed (Skip_Past_Initial_Invoices__c) gets none.
        self.rounds = not initial.order.skip_past_initial_invoices
        self.sold: list[tuple[OrderItemRecord, int]] = []  # the lines a rounding settlement covers, as sold
        self._add_sold(lines)
        self.rounded = sum(
            a["amount"] for a in translation.main.children.get("adjustments", []) if a["key"].startswith("rounding:")
        )

    def apply(self, amendment: OrderBundle, later: list[OrderBundle]) -> None:
        """Adds one amendment; raises DataError (and leaves the builder unchanged) when it cannot be applied."""
        paid = dict(self.paid)
        try:
            self._apply(amendment, later)
        except DataError:
            self.paid = paid
            raise
        self._add_sold(amendment.items)
        if self.rounds and not self.cancel and not self.paid:  # (migrated: the replaced system billed a part)
            self._settle_rounding(amendment.order.id)

    def _add_sold(self, items: Iterable[OrderItemRecord]) -> None:
        """The recurring lines billed at a flat licensed price (not usage, tiers or blocks), with their quantity."""
        for item in items:
            key = self.line_prices.get(item.id)
            charge = self._charge(item)
            if item.skip or key is None or not charge.recurring or charge.metered or charge.block:
                continue
            if key in self.objects and flat_licensed(self.objects[key].params):
                self.sold.append((item, int(item.quantity)))

    def _dated(self) -> list[tuple[_Interval, dt.date]]:
        """Each interval with where it ends: the next one's start, the last one's the contract's end."""
        ends = [interval.start for interval in self.intervals[1:]] + [self.ends_at]
        return list(zip(self.intervals, ends, strict=True))

    def _settle_rounding(self, order_id: str) -> None:
        """What CPQ sold on the contract as amended less what Stripe bills for it (`adjustments.contract_remainder`:
        every period of its prices, each rounded to the cent, its prorated charges and credits), less what earlier
        orders of the contract settled: one adjustment for the amendment, either sign, so the contract bills the
        orders' totals to the cent."""
        spans = [
            Span.of(interval.phase, interval.start, end, first=index == 0)
            for index, (interval, end) in enumerate(self._dated())
        ]
        ids = {item.id for item, _ in self.sold}
        once = [
            whole_minor(Decimal(str(a["price_data"]["unit_amount_decimal"])) * int(a["quantity"]))
            for interval in self.intervals
            for a in _one_time_items(interval)
            if "price_data" in a and a.get("metadata", {}).get("salesforce_order_item_id") in ids
        ]
        once += [
            a["amount"]
            for a in self.adjustments
            if a["key"].startswith("credit:") and a["metadata"]["salesforce_order_item_id"] in ids
        ]
        prices = {key: self.objects[key].params for key in {self.line_prices[item.id] for item, _ in self.sold}}
        total = contract_remainder(self.start, spans, prices, self.sold, once, self.currency)
        if total is None:
            return
        if total != self.rounded:
            what = "Rounding: the contract's totals as sold less what it bills to the cent"
            description = f"{what}, as amended by order {order_id}"
            metadata = {"salesforce_order_id": order_id}
            self.adjustments.append(
                adjustment(f"rounding:{order_id}", total - self.rounded, self.currency, description, metadata)
            )
            self.rounded = total

    def _apply(self, amendment: OrderBundle, later: list[OrderBundle]) -> None:
        order = amendment.order
        if self.terminated or self.cancel:
            raise DataError(
                "Order",
                order.id,
                "Type",
                "the contract was terminated by an earlier amendment; no later amendment can apply.",
                "remove this amendment or the termination.",
            )
        start = order_start(amendment)
        if start is None:
            raise DataError("Order", order.id, "SBQQ__Quote__r.SBQQ__StartDate__c", "the amendment has no start date.")
        if not self.start <= start < self.end:
            raise DataError(
                "Order",
                order.id,
                "SBQQ__Quote__r.SBQQ__StartDate__c",
                f"the amendment starts on {start}, outside the contract ({self.start} to {self.end}).",
            )
        if start < self.last_start:
            raise DataError(
                "Order",
                order.id,
                "SBQQ__Quote__r.SBQQ__StartDate__c",
                f"the amendment starts on {start}, before an earlier amendment of its contract ({self.last_start}).",
            )
        contract_end = self.end - dt.timedelta(days=1)
        if order.end_date is not None and order.end_date != contract_end:
            raise DataError(
                "Order",
                order.id,
                "EndDate",
                f"the amendment ends on {order.end_date} but its contract ends on {contract_end}; "
                "amendments must co-terminate with the initial order.",
                "set the amendment's end date to the contract's end date.",
            )
        if self.ctx.multi_currency and order.currency and order.currency.lower() != self.currency:
            raise DataError(
                "Order",
                order.id,
                "CurrencyIsoCode",
                f"the amendment is in {order.currency}, its contract in {self.currency.upper()}.",
            )
        # Copy on write: the builder's state is left as it is until the amendment is committed. Phases are never
        # changed in place (an amendment gives an interval a new phase), so the copies share them; the groups of the
        # intervals the amendment changes (their quantities) are copied.
        roots = dict(self.roots)
        intervals = [_Interval(iv.start, iv.phase, iv.groups, iv.stubs) for iv in self.intervals]
        self._paid_new_lines(amendment, start, intervals)
        at = max(i for i, iv in enumerate(intervals) if iv.start <= start)
        same_day = intervals[at].start == start
        if not same_day:
            source = intervals[at]
            intervals.insert(at + 1, _Interval(start, dict(source.phase), source.groups))
            at += 1
        affected = intervals[at:]
        for interval in affected:
            interval.groups = _own_groups(interval.groups)
        new_objects: dict[str, Desired] = {}
        line_prices: dict[str, str] = {}
        add_items: list[dict[str, Any]] = []
        credits: list[dict[str, Any]] = []
        ends: list[dt.date] = []  # where each line's current billing period ends (a termination idles to there)
        for item in amendment.items:
            if item.skip:
                continue
            product = amendment.products.get(item.product2_id)
            if product is None:
                raise DataError("OrderItem", item.id, "Product2Id", f"product {item.product2_id} was not found.")
            pbe = amendment.pricebook_entries.get(item.pricebook_entry_id or "")
            charge = self._charge(item)
            if (item.subscription_type or "").lower() == "evergreen":
                raise DataError("OrderItem", item.id, "SBQQ__SubscriptionType__c",
                                "evergreen lines cannot amend a termed contract.")  # fmt: skip
            prod = memoized(translate_product, product, self.ctx)
            new_objects.setdefault(prod.key, prod)
            price = translate_line_price(item, pbe, charge, self.currency, self.ctx)
            quantity = whole_number(item.quantity, object_type="OrderItem", record_id=item.id, field="Quantity",
                                    what="quantity")  # fmt: skip
            if not charge.recurring:
                if quantity < 0:
                    raise DataError("OrderItem", item.id, "Quantity",
                                    f"a one-time line cannot have a negative quantity ({quantity}).")  # fmt: skip
                new_objects.setdefault(price.key, price)
                line_prices[item.id] = price.key
                add_items.append({"price": Ref(price.key), "quantity": quantity,
                                  "metadata": {"salesforce_order_item_id": item.id}})  # fmt: skip
                continue
            if not item.segment_key and item.end_date is not None and item.end_date != contract_end:
                raise DataError(
                    "OrderItem",
                    item.id,
                    "EndDate",
                    f"the line ends on {item.end_date} but its contract ends on {contract_end}; "
                    "amendments must co-terminate with the initial order.",
                    "set the line's end date to the contract's end date.",
                )
            targets = [iv for iv in affected if _covers(item, iv.start, start)]
            if not targets:
                raise DataError(
                    "OrderItem",
                    item.id,
                    "ServiceDate",
                    f"the line's dates ({item.service_date} to {item.end_date}) match no period of the contract "
                    f"from {start} on.",
                )
            signature: str | None = None  # made when the line has units to compare it with
            revised = item.revised_order_product
            if revised:
                root = roots.get(revised)
                if root is None:
                    raise DataError(
                        "OrderItem",
                        item.id,
                        "SBQQ__RevisedOrderProduct__c",
                        f"the line revises order product {revised}, which is not a synced line of the contract's "
                        "earlier orders (a line skipped on the original order must be skipped here too).",
                    )
            else:
                root = item.id
                if quantity < 0:
                    raise DataError("OrderItem", item.id, "Quantity",
                                    f"a new line cannot have a negative quantity ({quantity}).")  # fmt: skip
            roots[item.id] = root
            receiving: _Group | None = None
            taken: list[tuple[_Group, int]] = []  # units removed, by the group they leave (the first target's)
            for target in targets:
                line_groups = target.groups.setdefault(root, [])
                total = sum(g.quantity for g in line_groups)
                if total + quantity < 0:
                    raise DataError(
                        "OrderItem",
                        item.id,
                        "Quantity",
                        f"the line removes {-quantity} units but the contract has only {total} of them.",
                        "correct the amendment's quantity.",
                    )
                if line_groups and signature is None:
                    signature = _signature(price, self.ctx)
                same = next((g for g in line_groups if signature is not None and g.bills(signature, self.ctx)), None)
                if quantity < 0:
                    removed = _remove(line_groups, same, -quantity)
                    taken = taken or removed
                    line_prices.setdefault(item.id, removed[0][0].price_key)
                    continue
                if same is None:
                    new_objects.setdefault(price.key, price)
                    same = _Group(price.key, price, 0, item, signature)
                    line_groups.append(same)
                same.quantity += quantity
                receiving = receiving or same
                line_prices.setdefault(item.id, same.price_key)
            if (receiving is None and not taken) or targets[0].start != start or charge.metered:
                continue
            # Off the line's billing-period boundary (or inside the periods billed before the sync started), the
            # units added bill the prorated time up to the boundary once (CPQ's amount) and recur from it; the
            # units removed were billed to it and the unused time is credited.
            boundary = self._billed_from(item, root, start)
            ends.append(boundary)
            billed_before = start < self.paid.get(root, start) and is_migrated(order, self.ctx.migrated_before)
            if boundary <= start or billed_before:
                continue  # on a boundary, or billed with its migrated contract by the system the sync replaces
            if quantity < 0:
                credits.append(self._credit(item, quantity, start, boundary, taken, product.name))
                continue
            if receiving is not None and self._billing(receiving.item).stub_months(start):
                continue  # the line's prorated months starting that day bill the added units too
            stub_months, stub_days = self._months_days(start, boundary)
            per_unit = self._stub(item, charge, stub_months, stub_days)
            if per_unit > 0:
                add_items.append(prorated_charge(item, per_unit, quantity, self.currency, stub_months, stub_days))
        rebuilt = [self._phase_items(iv.groups, iv.start) for iv in affected]
        if not any(rebuilt):
            if later:
                raise DataError(
                    "Order",
                    order.id,
                    "Type",
                    "a termination order is processing, but more amendments of its contract are queued "
                    f"({', '.join(b.order.id for b in later)}).",
                    "remove the later amendments or the termination.",
                )
            if add_items:  # a termination ends the schedule: no phase is left to bill them on
                lines = ", ".join(a["metadata"]["salesforce_order_item_id"] for a in add_items)
                raise DataError(
                    "Order",
                    order.id,
                    "OrderItems",
                    f"the termination also sells one-time lines ({lines}), which a terminated contract cannot bill.",
                    "sell them on an order of their own (it becomes a Stripe invoice).",
                )
            if start == self.start:  # cancelled: the schedule keeps its phases (a new one is created, then cancelled)
                self._commit(roots, self.intervals, new_objects, line_prices, [])
                self.cancel = True
            elif credits:
                # Off a billing boundary: the lines idle (quantity 0, no proration) to the last boundary they
                # reach, their current periods billed in full, and CPQ's credit for the unused time is given
                # (Stripe's own proration at the schedule's end would count seconds, not CPQ's months).
                idle = {**intervals[at].phase, "proration_behavior": "none",
                        "metadata": {**intervals[at].phase.get("metadata", {}), "salesforce_order_id": order.id},
                        "items": [{**i, "quantity": 0} for i in intervals[at].phase["items"]]}  # fmt: skip
                idle.pop("add_invoice_items", None)
                intervals[at] = _Interval(start, self.ctx.apply(Kind.PHASE, idle, order), {})
                self._commit(roots, intervals[: at + 1], new_objects, line_prices, credits)
                self.ends_at = max(ends)
            else:
                self._commit(roots, intervals[:at], new_objects, line_prices, [])
                self.ends_at = start
            self.terminated = True
            self.last_start = start
            return
        if not all(rebuilt):
            raise DataError(
                "Order",
                order.id,
                "OrderItems",
                "the amendment leaves part of the contract with no line; terminate the whole contract instead.",
            )
        first = affected[0]
        metadata = {**first.phase.get("metadata", {}), "salesforce_order_id": order.id}
        phase: dict[str, Any] = {"items": rebuilt[0], "proration_behavior": "none", "metadata": metadata}
        if add_items:
            phase["add_invoice_items"] = add_items
        phase = self.ctx.apply(Kind.PHASE, phase, order)
        if same_day:  # the new phase replaces the one starting that day, its one-time items carried over
            carried = [*first.phase.get("add_invoice_items", []), *phase.get("add_invoice_items", [])]
            if carried:
                phase["add_invoice_items"] = carried
            phase = {**first.phase, **phase}
        first.phase = phase
        for interval, items in zip(affected[1:], rebuilt[1:], strict=True):
            interval.phase = {**interval.phase, "items": items}
        for interval in affected:
            interval.stubs = self._stubs(interval.groups, interval.start)
            check_invoice_items(order.id, _one_time_items(interval))
        self._commit(roots, intervals, new_objects, line_prices, credits)
        self.last_start = start

    def _paid_new_lines(self, amendment: OrderBundle, start: dt.date, intervals: list[_Interval]) -> None:
        """A migrated amendment (activated before the sync start date) was billed by the replaced system from its
        start, its new lines included: each new line is at quantity 0 through what of it started before the sync
        start date (the migration rule, `migration.resumes_on`), a phase starting where it bills again."""
        sync_start = self.ctx.migrated_before
        if sync_start is None or not is_migrated(amendment.order, sync_start):
            return
        for item in amendment.items:
            if item.skip or item.revised_order_product or not self._charge(item).recurring:
                continue  # a revised line's units go by the line it revises
            every = self._charge(item).interval_months
            span = self._billing(item)
            begin = max(start, span.start)
            if begin >= span.end:
                continue
            day = resumes_on(self.start, billing(self.start, begin, span.end, every), every, sync_start)
            if day <= begin:
                continue
            self.paid[item.id] = day
            if day < self.end and all(iv.start != day for iv in intervals):
                at = max(i for i, iv in enumerate(intervals) if iv.start < day)
                source = intervals[at]
                phase = {k: v for k, v in source.phase.items() if k != "add_invoice_items"}
                intervals.insert(at + 1, _Interval(day, phase, _own_groups(source.groups)))

    def _charge(self, item: OrderItemRecord) -> LineCharge:
        charge = self._charges.get(item.id)
        if charge is None:
            charge = self._charges[item.id] = line_charge(item)
        return charge

    def _billing(self, item: OrderItemRecord) -> Billing:
        """How a line bills: over its segment's dates (an MDQ line) or the contract's, on its own periods."""
        span = self._spans.get(item.id)
        if span is None:
            begin, end = self.start, self.end
            if item.segment_key:
                begin = item.service_date or self.start
                end = item.end_date + dt.timedelta(days=1) if item.end_date else self.end
            span = self._spans[item.id] = billing(self.start, begin, end, self._charge(item).interval_months)
        return span

    def _billed_from(self, item: OrderItemRecord, root: str, start: dt.date) -> dt.date:
        """Where Stripe bills an amendment line's units recurring (or its span ends): the first boundary of its
        billing periods on or after `start`, and not before the end of the periods billed before the sync."""
        span = self._billing(item)
        boundary = billing(self.start, start, span.end, self._charge(item).interval_months).first
        return max(boundary, self.paid.get(root, boundary))

    def _months_days(self, start: dt.date, until: dt.date) -> tuple[int, int]:
        """Whole months and leftover days from `start` to `until` (a monthly anniversary of the contract's start):
        the days to the next anniversary, then whole months."""
        elapsed = months_between(self.start, start)
        months = months_between(self.start, until)
        if add_months(self.start, elapsed) == start:
            return months - elapsed, 0
        return months - elapsed - 1, (add_months(self.start, elapsed + 1) - start).days

    def _credit(
        self,
        item: OrderItemRecord,
        quantity: int,
        start: dt.date,
        boundary: dt.date,
        taken: list[tuple[_Group, int]],
        name: str | None,
    ) -> dict[str, Any]:
        """The credit for units removed off their billing boundary (they were billed to it): CPQ's TotalPrice for
        them (negative, the rest of their term) plus what Stripe no longer bills for them from the boundary on
        (whole periods at the price each unit left, and the prorated months after the last one), so the contract
        bills exactly what CPQ sold."""
        not_billed = Decimal(0)
        for group, units in taken:
            charge = self._charge(group.item)
            span = self._billing(group.item)
            unit = Decimal(str(self.objects[group.price_key].params.get("unit_amount_decimal", 0)))
            periods = months_between(boundary, span.last) // charge.interval_months if boundary < span.last else 0
            not_billed += units * unit * periods
            if boundary <= span.last < span.end:
                months = months_between(span.last, span.end)
                leftover = leftover_per_unit(group.item, charge, months, charge.term_months)
                not_billed += units * Decimal(decimal_string(minor_units(leftover, self.currency)))
        amount = total_price(item, quantity, self.currency) + whole_minor(not_billed)
        description = f"Credit: {-quantity} x {name or item.product2_id} from {start} to {boundary}, as CPQ prorated it"
        return adjustment(
            f"credit:{item.id}", amount, self.currency, description, {"salesforce_order_item_id": item.id}
        )

    def _stubs(self, groups: dict[str, list[_Group]], day: dt.date) -> list[dict[str, Any]]:
        """The prorated months the lines bill once in a phase starting on `day` (a term or segment that is not a
        whole number of billing periods: see `proration.Billing`), for the units they have then."""
        out = []
        for root, line_groups in groups.items():
            if day < self.paid.get(root, day):
                continue  # billed before the sync started
            for group in line_groups:
                charge = self._charge(group.item)
                if group.quantity <= 0 or charge.metered:
                    continue
                months = self._billing(group.item).stub_months(day)
                if months:
                    out.append(prorated_item(group.item, charge, months, charge.term_months, group.quantity,
                                             self.currency))  # fmt: skip
        return out

    def _stub(self, item: OrderItemRecord, charge: LineCharge, months: int, days: int) -> Decimal:
        """The per-unit prorated amount: whole months as CPQ computed them (checked against the prorate
        multiplier); the days only with the month+day precision, at the month's price over 365/12 days."""
        amount = leftover_per_unit(item, charge, months, charge.term_months) if months else Decimal(0)
        if days and self.ctx.proration_precision == "month+day":
            amount += item.unit_price / charge.term_months / (Decimal(365) / 12) * days
        return amount

    def _commit(
        self,
        roots: dict[str, str],
        intervals: list[_Interval],
        objects: dict[str, Desired],
        line_prices: dict[str, str],
        credits: list[dict[str, Any]],
    ) -> None:
        self.roots, self.intervals = roots, intervals
        self.adjustments.extend(credits)
        for key, obj in objects.items():
            self.objects.setdefault(key, obj)
        self.line_prices.update(line_prices)

    def _phase_items(self, groups: dict[str, list[_Group]], day: dt.date) -> list[dict[str, Any]]:
        """A phase's items from its lines' units; a line that does not bill recurring in the phase (its prorated
        months, or periods billed before the sync) stays at quantity 0."""
        items: dict[str, dict[str, Any]] = {}
        for root, line_groups in groups.items():
            for group in line_groups:
                if group.quantity <= 0:
                    continue
                bills = self._billing(group.item).bills(day) and day >= self.paid.get(root, day)
                quantity = group.quantity if bills else 0
                existing = items.get(group.price_key)
                if existing is not None:  # Stripe forbids a price twice in one phase: the lines bill together
                    existing["quantity"] += quantity
                    ids = existing["metadata"]["salesforce_order_item_id"]
                    existing["metadata"]["salesforce_order_item_id"] = f"{ids},{group.item.id}"[:500]
                    continue
                params = self.ctx.apply(Kind.PHASE_ITEM, {}, group.item)
                meta = {**params.get("metadata", {}), "salesforce_order_item_id": group.item.id}
                if group.item.segment_key:
                    if group.item.segment_index is not None:
                        meta["salesforce_segment_index"] = str(int(group.item.segment_index))
                    if group.item.segment_label:
                        meta["salesforce_segment_label"] = group.item.segment_label[:500]
                params.update(price=Ref(group.price_key), quantity=quantity, metadata=meta)
                items[group.price_key] = params
        return list(items.values())

    def schedule(self, applied: list[str]) -> Desired:
        main = self.translation.main
        memo: dict[int, Any] = {}  # the phases are rebuilt below: the rest is copied
        params = {key: [] if key == "phases" else _copied(value, memo) for key, value in main.params.items()}
        phases: list[dict[str, Any]] = []
        for interval, end in self._dated():
            phase = {**interval.phase, "start_date": utc_midnight(interval.start), "end_date": utc_midnight(end)}
            one_time = _one_time_items(interval)
            if one_time:
                phase["add_invoice_items"] = one_time
            phases.append(phase)
        params["phases"] = phases
        children = {**main.children, "amendments": applied}
        if self.adjustments:
            children["adjustments"] = [*main.children.get("adjustments", []), *self.adjustments]
        if self.cancel:
            children["cancel"] = True
        return Desired(
            key=main.key,
            kind=main.kind,
            record=main.record,
            params=params,
            known_id=main.known_id,
            known_hash=main.known_hash,
            primaries=set(main.primaries),
            children=children,
            also_records=[SfRef("Order", a) for a in applied],
        )


def _remove(groups: list[_Group], same: _Group | None, units: int) -> list[tuple[_Group, int]]:
    """Takes `units` away from a contract line's groups (the caller checked they hold that many): first from the
    group billing the removal's own price (`same`), then from the latest units added. Returns (group, units taken
    from it), in that order."""
    removed = []
    for group in [*([same] if same is not None else []), *(g for g in reversed(groups) if g is not same)]:
        take = min(units, max(group.quantity, 0))
        if take:
            group.quantity -= take
            removed.append((group, take))
            units -= take
        if not units:
            break
    return removed


def _one_time_items(interval: _Interval) -> list[dict[str, Any]]:
    """What a phase bills once at its start: its one-time lines and amendments' prorated charges, then the
    prorated months its lines bill for the units they have then (recomputed after each amendment)."""
    return [*interval.phase.get("add_invoice_items", []), *interval.stubs]


_SHARED: frozenset[type] = frozenset({str, int, float, bool, type(None), Decimal, dt.date, dt.datetime, Ref})


def _copied(value: Any, memo: dict[int, Any]) -> Any:
    """`copy.deepcopy(value)` of schedule parameters (dicts, lists and tuples over values never changed in place:
    shared, as deepcopy shares records), without deepcopy's general machinery, a few times faster; an object met
    twice is copied once (`memo`), as deepcopy does. Any other type goes to deepcopy itself."""
    kind = type(value)
    if kind in _SHARED:
        return value
    found = memo.get(id(value))
    if found is not None:
        return found
    if kind is dict:
        mapping: dict[Any, Any] = {}
        memo[id(value)] = mapping
        for key, item in value.items():  # a shared value (most are) is taken as it is, without a call
            mapping[key] = item if type(item) in _SHARED else _copied(item, memo)
        return mapping
    if kind is list:
        items: list[Any] = []
        memo[id(value)] = items
        for item in value:
            items.append(item if type(item) in _SHARED else _copied(item, memo))
        return items
    if kind is tuple:
        return tuple([_copied(item, memo) for item in value])
    return copy.deepcopy(value, memo)


def _own_groups(groups: dict[str, list[_Group]]) -> dict[str, list[_Group]]:
    """A copy of an interval's groups that an amendment can change (an interval's groups are its own: no group
    is shared between intervals)."""
    return {
        root: [_Group(g.price_key, g.price, g.quantity, g.item, g.signature) for g in line]
        for root, line in groups.items()
    }


def _covers(item: OrderItemRecord, day: dt.date, default_start: dt.date) -> bool:
    """Whether a line is in force on `day`: a segmented line within its own dates, any other from its start."""
    if not item.segment_key:
        return True
    begin = item.service_date or default_start
    end = item.end_date + dt.timedelta(days=1) if item.end_date else None
    return begin <= day and (end is None or day < end)


def _schedule_currency(translation: OrderTranslation) -> str:
    for obj in translation.objects:
        currency = obj.params.get("currency")
        if obj.key.startswith("price:") and isinstance(currency, str):
            return currency
    return "usd"


def translate_contract(contract: Contract, ctx: TranslateContext) -> ContractTranslation:
    """The contract's schedule with every amendment that can be applied, in order."""
    out = ContractTranslation(contract.contract_id, None, [], {}, [])
    initial = contract.initial
    if initial is None:
        for amendment in contract.amendments:
            out.failures[amendment.order.id] = DataError(
                "Order",
                amendment.order.id,
                "ContractId",
                f"the initial order of contract {contract.contract_id} "
                f"({amendment.order.contract_order_id or 'unknown'}) was not found among its activated orders.",
                "activate and sync the contract's initial order first.",
            )
        return out
    if not contract.initial_in_run and initial.order.stripe_id is None:
        for amendment in contract.amendments:
            out.failures[amendment.order.id] = DataError(
                "Order",
                amendment.order.id,
                "ContractId",
                f"the contract's initial order {initial.order.id} is not synced to Stripe.",
                f"sync order {initial.order.id} first (its Sync Record says why it was not).",
            )
        return out
    try:
        translation = translate_order(initial, ctx)
    except DataError as exc:
        for amendment in contract.amendments:
            out.failures[amendment.order.id] = DataError(
                "Order",
                amendment.order.id,
                "ContractId",
                f"the contract's initial order {initial.order.id} cannot be synced: {exc.problem}",
                f"fix order {initial.order.id} first.",
            )
        out.failures[initial.order.id] = exc
        return out
    out.initial_translation = translation
    if translation.main.kind is ObjectKind.SUBSCRIPTION:
        return _evergreen_contract(contract, initial, translation, out)
    if translation.main.kind is not ObjectKind.SUBSCRIPTION_SCHEDULE:
        for amendment in contract.amendments:
            out.failures[amendment.order.id] = DataError(
                "Order", amendment.order.id, "ContractId",
                f"the contract's initial order {initial.order.id} has no recurring lines to amend.",
            )  # fmt: skip
        return out
    builder = _Builder(initial, translation, ctx)
    for index, amendment in enumerate(contract.amendments):
        try:
            builder.apply(amendment, contract.amendments[index + 1 :])
        except DataError as exc:
            out.failures[amendment.order.id] = exc
            for later in contract.amendments[index + 1 :]:
                out.failures[later.order.id] = DataError(
                    "Order",
                    later.order.id,
                    "ContractId",
                    f"an earlier amendment of its contract, order {amendment.order.id}, cannot be synced.",
                    f"fix order {amendment.order.id} first (its Sync Record says why).",
                )
            break
        out.applied.append(amendment.order.id)
    if not out.applied:
        out.objects = list(translation.objects)
        out.main = translation.main
        out.line_prices = dict(translation.line_prices)
        return out
    out.main = builder.schedule(out.applied)
    drop_metered_quantities(out.main, builder.objects.values())
    out.objects = [*builder.objects.values(), out.main]
    out.line_prices = builder.line_prices
    return out


def _evergreen_contract(
    contract: Contract, initial: OrderBundle, translation: OrderTranslation, out: ContractTranslation
) -> ContractTranslation:
    """An evergreen subscription takes one kind of amendment: its cancellation (every line to 0)."""
    quantities = {i.id: i.quantity for i in initial.items if not i.skip and line_charge(i).recurring}
    roots = {i: i for i in quantities}
    out.objects, out.main, out.line_prices = list(translation.objects), translation.main, dict(translation.line_prices)
    cancelled: OrderBundle | None = None
    for amendment in contract.amendments:
        order = amendment.order
        if cancelled is not None:
            out.failures[order.id] = DataError(
                "Order", order.id, "Type",
                f"the evergreen subscription was cancelled by order {cancelled.order.id}; no later amendment applies.",
            )  # fmt: skip
            continue
        try:
            for item in amendment.items:
                if item.skip or not line_charge(item).recurring:
                    continue
                root = roots.get(item.revised_order_product or "")
                if root is None:
                    raise DataError(
                        "OrderItem", item.id, "SBQQ__RevisedOrderProduct__c",
                        "only cancellations of an evergreen subscription (every line to quantity 0) are supported; "
                        "this line adds a product.",
                        "sell the new product on its own order.",
                    )  # fmt: skip
                roots[item.id] = root
                quantities[root] += item.quantity
                if quantities[root] < 0:
                    raise DataError("OrderItem", item.id, "Quantity",
                                    "the line removes more units than the subscription has.")  # fmt: skip
            if any(q != 0 for q in quantities.values()):
                raise DataError(
                    "Order", order.id, "OrderItems",
                    "only cancellations of an evergreen subscription (every line to quantity 0) are supported.",
                    "cancel the subscription and sell the new quantities on a new order.",
                )  # fmt: skip
            start = order_start(amendment)
            if start is None:
                raise DataError(
                    "Order", order.id, "SBQQ__Quote__r.SBQQ__StartDate__c", "the amendment has no start date."
                )
        except DataError as exc:
            out.failures[order.id] = exc
            break
        cancelled = amendment
        out.applied.append(order.id)
        out.main = cancellation(translation.main, order, start)
        out.objects = [*translation.objects[:-1], out.main]
    return out
