"""The fewest Stripe writes the Salesforce data needs, computed from the org's records alone (never from the sync's
plan), and the 1% change the benchmark makes between two incremental runs.

A full sync of the orders that can be synced (activated, with lines, not failed: a failed order has an Error Sync
Record naming it) needs one Stripe write per:
- distinct customer (the orders' accounts), product (the lines' products), billing meter (products of usage lines);
- price, by the connector's rule the sync keeps: a line billing exactly its price book entry's price (same currency,
  recurrence, and amount a billing period, or the product's consumption schedule whose tiers replace the amount)
  shares the entry's price, any other line has its own; an amendment line taking units away needs none (they leave
  prices the contract has: the removal's own amount a period first, then the latest added). `distinct_prices` is
  the stricter count where all lines billing the same share one price;
- distinct coupon (associated with the orders' quotes or quote lines);
- contract: one subscription schedule, its amendments folded in (a full sync sees them all);
- evergreen order: one subscription, one invoice item per one-time line, and a cancellation when its cancellation
  amendment's date has passed;
- one-time order: one invoice, one invoice item per line, and its finalization;
- adjustment (a signed one-time invoice item, made once): a credit for each amendment line taking units away off
  that line's billing boundary (CPQ prorated the units removed; Stripe billed the whole period), and rounding
  remainders (not for a contract skipping its past invoices): a new order needs one for each of its prices whose
  periods, each rounded to the cent, do not add up to the price's exact amount over its term; each amendment needs
  one when it changes the contract's total remainder (quantities per price period by period, an amendment's units
  counted from their line's first billing boundary on or after its start; block-priced lines left out).
After a change, the minimum is what the change needs (`change_orders`: an account's billing city, one customer
update each).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from simple_salesforce.api import Salesforce

from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from cpq_sync.translate.adjustments import whole_minor
from cpq_sync.translate.dates import add_months, months_between

FREQUENCY_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}


@dataclass
class Minimum:
    by_kind: Counter[str] = field(default_factory=Counter)
    distinct_prices: int = 0  # prices if every line billing the same amount shared one (the connector's rule does not)

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


def _rows(sf: Salesforce, soql: str) -> list[dict[str, Any]]:
    return [dict(r) for r in sf.query_all(soql)["records"]]


def _cents(value: Decimal) -> int:
    return int((value * 100).quantize(Decimal(1)))


def _unit_amount(value: Decimal) -> Decimal:
    """A price's amount as Stripe holds it (`unit_amount_decimal`: cents with up to 12 decimal places). Two lines
    whose amounts a period differ below the cent (an amendment's UnitPrice that CPQ prorated and rounded) bill
    different cents at a quantity above one, so they need different prices to bill what CPQ sold."""
    return (value * 100).quantize(Decimal(1).scaleb(-12))


def _connector_price(line: dict[str, Any], currency: str, tiered: set[str], pbes: dict[str, dict[str, Any]]) -> str:
    """The connector's price rule: a line billing exactly its price book entry's price (same currency, recurrence
    and amount a period) bills with the entry's price; any other line has a price of its own."""
    pbe = pbes.get(line.get("PricebookEntryId") or "")
    if pbe is None or (pbe.get("CurrencyIsoCode") or currency).lower() != currency.lower():
        return line["Id"]
    product = pbe.get("Product2") or {}
    identity = _price_identity(line, currency, tiered)
    frequency = product.get("SBQQ__BillingFrequency__c")
    months = identity[2]
    if months == 0:
        if frequency is not None:
            return line["Id"]
        amount = Decimal(str(pbe["UnitPrice"]))
    else:
        if FREQUENCY_MONTHS.get((frequency or "monthly").lower()) != months:
            return line["Id"]
        if identity[3]:  # metered
            amount = Decimal(str(pbe["UnitPrice"]))
        else:
            default_term = Decimal(str(product.get("SBQQ__SubscriptionTerm__c") or months))
            amount = Decimal(str(pbe["UnitPrice"])) * months / default_term
    if identity[4] == "tiers" or _unit_amount(amount) == identity[4]:
        return pbe["Id"]
    return line["Id"]


def _price_identity(line: dict[str, Any], currency: str, tiered: set[str]) -> tuple[object, ...]:
    """What makes two lines bill with the same Stripe price."""
    product = line["Product2Id"]
    charge = (line.get("SBQQ__ChargeType__c") or "").lower()
    metered = charge == "usage" or (line.get("SBQQ__BillingType__c") or "").lower() == "arrears"
    unit = Decimal(str(line["UnitPrice"]))
    if not (metered or charge == "recurring"):
        return (product, currency, 0, False, "tiers" if product in tiered else _unit_amount(unit))
    months = FREQUENCY_MONTHS[(line.get("SBQQ__BillingFrequency__c") or "monthly").lower()]
    if product in tiered:
        return (product, currency, months, metered, "tiers")
    if metered:
        amount = unit / Decimal(str(line.get("SBQQ__ProrateMultiplier__c") or 1))
    else:
        term = Decimal(str(line.get("SBQQ__SubscriptionTerm__c") or line.get("SBQQ__DefaultSubscriptionTerm__c") or 12))
        amount = unit * months / term
    return (product, currency, months, metered, _unit_amount(amount))


def _is_one_time(line: dict[str, Any]) -> bool:
    charge = (line.get("SBQQ__ChargeType__c") or "").lower()
    return charge not in ("recurring", "usage") and (line.get("SBQQ__BillingType__c") or "").lower() != "arrears"


def minimum_writes(directory: Path) -> Minimum:
    """The minimum for a full sync of the org in `directory`."""
    sf = sandbox_sf.connect(directory)
    failed = {
        r["Primary_Record_ID__c"]
        for r in _rows(
            sf,
            "SELECT Primary_Record_ID__c FROM Sync_Record__c WHERE Resolution_Status__c = 'Error' "
            "AND Primary_Object_Type__c = 'Order'",
        )
    }
    orders = {
        r["Id"]: r
        for r in _rows(
            sf,
            "SELECT Id, AccountId, Type, ContractId, CurrencyIsoCode, EffectiveDate, Skip_Past_Initial_Invoices__c "
            "FROM Order "
            "WHERE Status = 'Activated'",
        )
        if r["Id"] not in failed
    }
    lines = [
        r
        for r in _rows(
            sf,
            "SELECT Id, OrderId, Product2Id, PricebookEntryId, UnitPrice, Quantity, SBQQ__RevisedOrderProduct__c, "
            "SBQQ__ChargeType__c, SBQQ__BillingType__c, "
            "SBQQ__BillingFrequency__c, SBQQ__SubscriptionTerm__c, SBQQ__DefaultSubscriptionTerm__c, "
            "SBQQ__ProrateMultiplier__c, SBQQ__SubscriptionType__c, SBQQ__QuoteLine__c, Skip_Line_Item__c, "
            "SBQQ__SegmentIndex__c, SBQQ__PricingMethod__c, ServiceDate, EndDate "
            "FROM OrderItem WHERE Order.Status = 'Activated'",
        )
        if r["OrderId"] in orders and not r.get("Skip_Line_Item__c")
    ]
    by_order: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_order.setdefault(line["OrderId"], []).append(line)
    orders = {k: v for k, v in orders.items() if k in by_order}
    tiered = {r["ProductId"] for r in _rows(sf, "SELECT ProductId FROM ProductConsumptionSchedule")}
    minimum = Minimum()
    kinds = minimum.by_kind
    kinds["customer"] = len({o["AccountId"] for o in orders.values()})
    kinds["product"] = len({line["Product2Id"] for line in lines})
    kinds["billing_meter"] = len({line["Product2Id"] for line in lines if not _is_one_time(line)
                                  and (line.get("SBQQ__ChargeType__c") or "").lower() != "recurring"})  # fmt: skip
    pbes = {
        r["Id"]: r
        for r in _rows(
            sf,
            "SELECT Id, UnitPrice, CurrencyIsoCode, Product2.SBQQ__BillingFrequency__c, "
            "Product2.SBQQ__SubscriptionTerm__c FROM PricebookEntry",
        )
    }
    # An amendment's line taking units away bills nothing new (they leave at the price they were sold at); one adding
    # units at the same amount a period as the line it revises joins that line's price.
    currency_of = {line["Id"]: orders[line["OrderId"]]["CurrencyIsoCode"] for line in lines}
    by_id = {line["Id"]: line for line in lines}
    price_of: dict[str, str] = {}
    for line in sorted(lines, key=lambda x: bool(x.get("SBQQ__RevisedOrderProduct__c"))):
        revised = by_id.get(line.get("SBQQ__RevisedOrderProduct__c") or "")
        if line.get("SBQQ__RevisedOrderProduct__c") and line["Quantity"] < 0:
            continue
        if (
            revised is not None
            and revised["Id"] in price_of
            and _price_identity(line, currency_of[line["Id"]], tiered)
            == _price_identity(revised, currency_of[revised["Id"]], tiered)
        ):
            price_of[line["Id"]] = price_of[revised["Id"]]
        else:
            price_of[line["Id"]] = _connector_price(line, currency_of[line["Id"]], tiered, pbes)
    kinds["price"] = len(set(price_of.values()))
    minimum.distinct_prices = len(
        {_price_identity(line, orders[line["OrderId"]]["CurrencyIsoCode"], tiered) for line in lines}
    )
    coupon_links = _rows(sf, "SELECT Quote__c, Quote_Stripe_Coupon__c FROM Quote_Stripe_Coupon_Association__c")
    line_links = _rows(sf, "SELECT Quote_Line__c, Quote_Stripe_Coupon__c FROM Quote_Line_Stripe_Coupon_Association__c")
    quote_of_order = {
        r["Id"]: r.get("SBQQ__Quote__c")
        for r in _rows(sf, "SELECT Id, SBQQ__Quote__c FROM Order WHERE Status = 'Activated'")
        if r["Id"] in orders
    }
    used_quotes = {q for q in quote_of_order.values() if q}
    used_lines = {line.get("SBQQ__QuoteLine__c") for line in lines} - {None}
    coupons = {r["Quote_Stripe_Coupon__c"] for r in coupon_links if r["Quote__c"] in used_quotes}
    coupons |= {r["Quote_Stripe_Coupon__c"] for r in line_links if r["Quote_Line__c"] in used_lines}
    kinds["coupon"] = len(coupons - {None})
    today = dt.datetime.now(dt.UTC).date()
    families: dict[str, list[dict[str, Any]]] = {}
    for order in orders.values():
        families.setdefault(order.get("ContractId") or order["Id"], []).append(order)
    for members in families.values():
        initial = [o for o in members if (o.get("Type") or "").lower() != "amendment"]
        amendments = [o for o in members if (o.get("Type") or "").lower() == "amendment"]
        for order in initial or members[:1]:
            order_lines = by_order[order["Id"]]
            one_time = [line for line in order_lines if _is_one_time(line)]
            evergreen = any(
                (line.get("SBQQ__SubscriptionType__c") or "").lower() == "evergreen" for line in order_lines
            )
            if len(one_time) == len(order_lines):
                kinds["invoice"] += 2 + len(one_time)  # the invoice, its items, finalizing it
            elif evergreen:
                kinds["subscription"] += 1 + len(one_time)
                passed = [a for a in amendments if dt.date.fromisoformat(a["EffectiveDate"]) <= today]
                kinds["subscription"] += 1 if passed else 0
            else:
                kinds["subscription_schedule"] += 1
                if not order.get("Skip_Past_Initial_Invoices__c"):  # a skipped past bills less
                    kinds["adjustment"] += _roundings(order, amendments, by_order, by_id, price_of, tiered)
                start = dt.date.fromisoformat(order["EffectiveDate"])
                for amendment in amendments:
                    begins = dt.date.fromisoformat(amendment["EffectiveDate"])
                    kinds["adjustment"] += sum(
                        _off_boundary(start, begins, line) for line in by_order[amendment["Id"]] if line["Quantity"] < 0
                    )
    if not kinds["adjustment"]:
        del kinds["adjustment"]
    return minimum


def _months(line: dict[str, Any]) -> int:
    return FREQUENCY_MONTHS[(line.get("SBQQ__BillingFrequency__c") or "monthly").lower()]


def _off_boundary(start: dt.date, begins: dt.date, line: dict[str, Any]) -> bool:
    """Whether an amendment starting on `begins` falls inside a billing period of `line` (periods from `start`)."""
    months = (begins.year - start.year) * 12 + begins.month - start.month
    return begins.day != start.day or months % _months(line) != 0


def _roundings(
    order: dict[str, Any],
    amendments: list[dict[str, Any]],
    by_order: dict[str, list[dict[str, Any]]],
    by_id: dict[str, dict[str, Any]],
    price_of: dict[str, str],
    tiered: set[str],
) -> int:
    """The rounding remainders a contract needs: one per price of its initial order whose periods, each rounded to
    the cent, miss the price's exact amount over them; then one per amendment that changes the contract's total
    remainder. None when an amendment on the contract's first day cancels it (nothing is billed).

    Each line of the contract holds its units by price, in the order they were added: units added at the amount a
    period of units the line holds join them, others bill at their own price; units taken away leave the price
    at the removal's own amount a period first, then the latest added."""
    start = dt.date.fromisoformat(order["EffectiveDate"])
    currency = order["CurrencyIsoCode"]
    prices: dict[str, _Billed] = {}
    identity_of: dict[str, tuple[object, ...]] = {}
    held: dict[str, list[list[Any]]] = {}  # a line of the initial order: [price, units] as added
    for line in by_order[order["Id"]]:
        if _licensed(line, tiered):
            key = price_of[line["Id"]]
            identity_of[key] = _price_identity(line, currency, tiered)
            prices.setdefault(key, _Billed(line, start)).changes.append((start, int(line["Quantity"])))
            held.setdefault(line["Id"], []).append([key, int(line["Quantity"])])
    needed = sum(b.remainder() != 0 for b in prices.values())
    settled = sum(b.remainder() for b in prices.values())
    # Amended, the contract settles what CPQ sold on its lines (their TotalPrice) less what Stripe bills for them:
    # each period rounded, and once, the prorated time of units added off their boundary and the credit for
    # units removed off it (CPQ's TotalPrice for them plus what Stripe no longer bills, rounded once).
    sold = sum(_cents(_total(line)) for line in by_order[order["Id"]] if _licensed(line, tiered))
    once = 0
    for amendment in sorted(amendments, key=lambda a: a["EffectiveDate"]):
        begins = dt.date.fromisoformat(amendment["EffectiveDate"])
        for line in by_order[amendment["Id"]]:
            if not _licensed(line, tiered):
                continue
            root = line
            while root.get("SBQQ__RevisedOrderProduct__c") in by_id:
                root = by_id[root["SBQQ__RevisedOrderProduct__c"]]
            groups = held.setdefault(root["Id"], [])
            identity = _price_identity(line, currency, tiered)
            same = next((g for g in groups if identity_of[g[0]] == identity), None)
            quantity = int(line["Quantity"])
            sold += _cents(_total(line))
            boundary = _Billed(line, start).first_boundary(begins)
            if quantity > 0:
                if same is None:
                    same = [price_of[line["Id"]], 0]
                    identity_of[same[0]] = identity
                    groups.append(same)
                same[1] += quantity
                prices.setdefault(same[0], _Billed(line, start)).changes.append((boundary, quantity))
                if boundary > begins:
                    months = months_between(begins, boundary)
                    term = int(line.get("SBQQ__SubscriptionTerm__c") or 12)
                    per_unit = Decimal(str(line["UnitPrice"])) * 100 * months / term
                    once += whole_minor(per_unit * quantity)
                continue
            not_billed, units = Decimal(0), -quantity
            for group in [*([same] if same else []), *(g for g in reversed(groups) if g is not same)]:
                take = min(units, max(group[1], 0))
                group[1] -= take
                units -= take
                billed = prices[group[0]]
                billed.changes.append((boundary, -take))
                not_billed += take * billed.unit * len([b for b in billed.boundaries() if b >= boundary])
            if boundary > begins:
                once += _cents(_total(line)) + whole_minor(not_billed)
        if begins == start and all(b.quantity(start) == 0 for b in prices.values()):
            return 0  # cancelled
        now = sold - sum(b.rounded() for b in prices.values()) - once
        needed += now != settled
        settled = now
    return needed


def _total(line: dict[str, Any]) -> Decimal:
    return Decimal(str(line["Quantity"])) * Decimal(str(line["UnitPrice"]))


class _Billed:
    """One price of a contract: its amount a period (cents), its periods (from the contract's start, within its
    line's dates, whole periods only) and the changes to its quantity (from a date on)."""

    def __init__(self, line: dict[str, Any], start: dt.date) -> None:
        self.start, self.every = start, _months(line)
        term = int(line.get("SBQQ__SubscriptionTerm__c") or line.get("SBQQ__DefaultSubscriptionTerm__c") or 12)
        self.unit = Decimal(str(line["UnitPrice"])) * 100 * self.every / term
        self.begins = dt.date.fromisoformat(line["ServiceDate"]) if line.get("ServiceDate") else start
        self.ends = add_months(self.begins, term)
        self.changes: list[tuple[dt.date, int]] = []

    def boundaries(self) -> list[dt.date]:
        out, k = [], 0
        while (day := add_months(self.start, k * self.every)) < self.ends:
            if day >= self.begins and add_months(self.start, (k + 1) * self.every) <= self.ends:
                out.append(day)
            k += 1
        return out

    def first_boundary(self, day: dt.date) -> dt.date:
        return next((b for b in self.boundaries() if b >= day), self.ends)

    def quantity(self, day: dt.date) -> int:
        return sum(q for since, q in self.changes if since <= day)

    def rounded(self) -> int:
        """What Stripe bills over the periods: each period rounded to the cent."""
        return sum(whole_minor(self.unit * self.quantity(d)) for d in self.boundaries())

    def remainder(self) -> int:
        exact = sum((self.unit * self.quantity(day) for day in self.boundaries()), Decimal(0))
        return whole_minor(exact) - self.rounded()


def _licensed(line: dict[str, Any], tiered: set[str]) -> bool:
    """A recurring line billed in advance at a flat price a unit (a rounding remainder applies to it; a block-priced
    line bills its block, not quantity x UnitPrice)."""
    charge = (line.get("SBQQ__ChargeType__c") or "").lower()
    arrears = (line.get("SBQQ__BillingType__c") or "").lower() == "arrears"
    block = (line.get("SBQQ__PricingMethod__c") or "").strip().lower() == "block"
    return charge == "recurring" and not arrears and not block and line["Product2Id"] not in tiered


def change_orders(directory: Path, *, percent: float) -> int:
    """Changes the billing city of the accounts of `percent`% of the synced orders (a change a user makes and the
    sync must carry to Stripe: one customer update per account); returns how many accounts changed."""
    sf = sandbox_sf.connect(directory)
    synced = _rows(sf, "SELECT AccountId FROM Order WHERE Stripe_ID__c != null ORDER BY Id")
    count = max(1, round(len(synced) * percent / 100))
    accounts = list(dict.fromkeys(r["AccountId"] for r in synced[:: max(1, len(synced) // count)][:count]))
    records = [
        {"attributes": {"type": "Account"}, "id": a, "BillingCity": f"Changed {n}"} for n, a in enumerate(accounts)
    ]
    for n in range(0, len(records), 200):
        sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": records[n : n + 200]})
    return len(accounts)


def minimum_after_change(changed_accounts: int) -> Minimum:
    return Minimum(Counter({"customer": changed_accounts} if changed_accounts else {}))


def write_kind(request: sandbox_stripe.LoggedRequest) -> str:
    """The object a Stripe write creates or changes, named as the minimum's kinds (an invoice item: its invoice's or
    subscription's)."""
    resource = request.path.split("/")[2]
    if resource == "invoiceitems" and "salesforce_adjustment" in (request.params.get("metadata") or {}):
        return "adjustment"
    if resource == "invoiceitems":
        return "subscription" if request.params.get("subscription") else "invoice"
    return {"billing": "billing_meter", "subscription_schedules": "subscription_schedule"}.get(
        resource, resource.removesuffix("s")
    )
