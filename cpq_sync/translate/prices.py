"""Prices beyond a flat amount: metered usage on a billing meter, tiers from consumption schedules, block pricing,
and the one-currency-per-customer rule. Pure: no I/O, no clock.

Choices:
* A usage line (`SBQQ__ChargeType__c` Usage, or `SBQQ__BillingType__c` Arrears, as the connector maps it) bills
  through a metered price on one billing meter per product. The meter's `event_name` is derived from the product's
  Salesforce id, so it is found again in Stripe by that name (no Salesforce record holds its id).
* A consumption schedule becomes the tiers of the price: Slab -> graduated, Range -> volume; PerUnit rates are
  `unit_amount_decimal`, FlatFee rates `flat_amount_decimal`; an empty UpperBound is the open last tier (`inf`).
  `UpperBound` maps to `up_to` as is, as the connector does.
* Block pricing: CPQ's price is the price of the whole quantity range, so the line bills quantity 1 of a price
  whose amount is the block's (the line's own quantity only picked the block).
* A usage price is per unit used: CPQ's UnitPrice divided by its prorate multiplier (CPQ may multiply it by the
  term); the Salesforce quantity of a metered line is not sent (usage events decide).
* Only subscriptions hold a Stripe customer to one currency: a new subscription order in another currency than
  the customer's (its subscription orders already in Stripe, or the first one of the run) fails with a clear
  error; one-time orders (invoices) are free of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from cpq_sync.consumption import ConsumptionSchedule
from cpq_sync.desired import Desired, ObjectKind, SfRef
from cpq_sync.errors import DataError
from cpq_sync.records import OrderItemRecord, OrderRecord, PricebookEntryRecord, Product2Record
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.terms import decimal_string, minor_units

if TYPE_CHECKING:
    from cpq_sync.translate.order import OrderBundle, OrderTranslation

TIERS_MODE = {"slab": "graduated", "range": "volume"}
METER_EVENT_PREFIX = "salesforce_usage_"
METER_DISPLAY_NAME_MAX = 250


def meter_key(product_id: str) -> str:
    return f"meter:{product_id}"


def meter_event_name(product_id: str) -> str:
    """The meter's event name: what usage events carry, and how a later run finds the meter again."""
    return f"{METER_EVENT_PREFIX}{product_id}"


def is_metered(charge_type: str | None, billing_type: str | None) -> bool:
    """Usage lines, and lines billed in arrears, bill what was used: a metered price (the connector's rule)."""
    return (charge_type or "").strip().lower() == "usage" or (billing_type or "").strip().lower() == "arrears"


def is_block(pricing_method: str | None) -> bool:
    return (pricing_method or "").strip().lower() == "block"


def translate_meter(product: Product2Record, ctx: TranslateContext) -> Desired:
    """One billing meter per product, summing the usage events sent for it."""
    name = product.name or product.id
    return Desired(
        key=meter_key(product.id),
        kind=ObjectKind.METER,
        record=SfRef("Product2", product.id),
        params={
            "display_name": name[:METER_DISPLAY_NAME_MAX],
            "event_name": meter_event_name(product.id),
            "default_aggregation": {"formula": "sum"},
        },
    )


def product_schedule(
    record: OrderItemRecord | PricebookEntryRecord,
    schedules: Sequence[ConsumptionSchedule],
    currency: str,
    ctx: TranslateContext,
) -> ConsumptionSchedule | None:
    """The consumption schedule of the record's product (an order line's or a price book entry's): its active
    schedule in the price's currency, one at most."""
    matching = [
        s
        for s in schedules
        if s.record.is_active is not False
        and (not ctx.multi_currency or s.record.currency is None or ctx.currency(s.record.currency) == currency)
    ]
    if len(matching) > 1:
        raise DataError(
            record.OBJECT_TYPE,
            record.id,
            "Product2Id",
            f"product {record.product2_id} has more than one active consumption schedule in {currency.upper()} "
            f"({', '.join(s.id for s in matching)}); a price takes one set of tiers.",
            "deactivate or unlink all but one consumption schedule for this product and currency.",
        )
    return matching[0] if matching else None


def schedule_tiers(schedule: ConsumptionSchedule, currency: str, ctx: TranslateContext) -> dict[str, object]:
    """`consumption_tiers`, made once a run for each schedule and currency (every line billing a product with
    tiers needs them); the prices share them, as nothing changes them once made. A failure is not kept: it is
    raised each time."""
    return ctx.once(("consumption_tiers", currency), schedule, lambda: consumption_tiers(schedule, currency))


def consumption_tiers(schedule: ConsumptionSchedule, currency: str) -> dict[str, object]:
    """A consumption schedule as Stripe price parameters: billing_scheme, tiers_mode and tiers."""
    record = schedule.record
    mode = TIERS_MODE.get((record.type or "").strip().lower())
    if mode is None:
        raise DataError(
            "ConsumptionSchedule",
            record.id,
            "Type",
            f"schedule type {record.type!r} is not supported.",
            "use Slab (graduated tiers) or Range (volume tiers).",
        )
    if not schedule.rates:
        raise DataError("ConsumptionSchedule", record.id, "ConsumptionRates", "the schedule has no consumption rates.")
    rates = sorted(schedule.rates, key=lambda r: (r.lower_bound or Decimal(0), r.upper_bound is None))
    tiers: list[dict[str, object]] = []
    open_rates = [r for r in rates if r.upper_bound is None]
    if len(open_rates) > 1:
        raise DataError(
            "ConsumptionRate",
            open_rates[1].id,
            "UpperBound",
            f"the schedule {record.id} has {len(open_rates)} rates with no upper bound; only the last may be open.",
            "give every rate but the last an upper bound.",
        )
    if not open_rates:
        raise DataError(
            "ConsumptionRate",
            rates[-1].id,
            "UpperBound",
            f"the schedule {record.id} has no open last tier (a rate with an empty upper bound).",
            "clear the upper bound of the highest rate.",
        )
    for index, rate in enumerate(rates):
        upper = rate.upper_bound
        if upper is None:
            if index != len(rates) - 1:
                raise DataError(
                    "ConsumptionRate",
                    rate.id,
                    "UpperBound",
                    "a rate with no upper bound must be the highest one.",
                    "give this rate an upper bound, or make it the last rate.",
                )
            up_to: object = "inf"
        elif upper != upper.to_integral_value():
            raise DataError(
                "ConsumptionRate",
                rate.id,
                "UpperBound",
                f"upper bound {upper} is a decimal; Stripe tiers need whole numbers.",
                "make the upper bound a whole number.",
            )
        else:
            up_to = int(upper)
        if rate.price is None:
            raise DataError("ConsumptionRate", rate.id, "Price", "the rate has no price.")
        amount = decimal_string(minor_units(rate.price, currency))
        method = (rate.pricing_method or "").strip().lower()
        if method == "perunit":
            tiers.append({"up_to": up_to, "unit_amount_decimal": amount})
        elif method == "flatfee":
            tiers.append({"up_to": up_to, "flat_amount_decimal": amount})
        else:
            raise DataError(
                "ConsumptionRate",
                rate.id,
                "PricingMethod",
                f"pricing method {rate.pricing_method!r} is not supported.",
                "use PerUnit or FlatFee.",
            )
    return {"billing_scheme": "tiered", "tiers_mode": mode, "tiers": tiers}


@dataclass(frozen=True)
class CurrencySeen:
    """Where a customer's currency was first seen: an order already in Stripe, or one earlier in this run."""

    currency: str
    order_id: str
    in_stripe: bool


def subscribes(bundle: OrderBundle) -> bool:
    """Whether the order becomes a subscription (a recurring or usage line): only subscriptions hold a Stripe
    customer to one currency; one-time invoices may be in any currency."""
    for item in bundle.items:
        if item.skip:
            continue
        charge = (item.charge_type or "").strip().lower()
        if charge in ("recurring", "usage") or is_metered(item.charge_type, item.billing_type):
            return True
        if charge == "" and item.subscription_pricing is not None:
            return True
    return False


def currency_conflicts(
    orders: Iterable[tuple[OrderRecord, str]],
    synced: Mapping[str, Sequence[tuple[str, str]]],
    ctx: TranslateContext,
) -> dict[str, DataError]:
    """Stripe allows one currency per customer's subscriptions. `orders`: the run's new subscription orders with
    their account id, in sync order; `synced`: account id -> [(order id, currency)] of its subscription orders
    already in Stripe. Returns order id -> error for each new order whose currency differs from the one its
    customer already bills in (in Stripe first, then the first order of the run)."""
    seen: dict[str, CurrencySeen] = {}
    for account_id, known in synced.items():
        for order_id, code in known:
            seen.setdefault(account_id, CurrencySeen(ctx.currency(code), order_id, True))
    errors: dict[str, DataError] = {}
    for order, account_id in orders:
        currency = ctx.currency(order.currency)
        first = seen.get(account_id)
        if first is None:
            seen[account_id] = CurrencySeen(currency, order.id, False)
            continue
        if first.currency != currency:
            where = "already in Stripe" if first.in_stripe else "synced earlier in this run"
            errors[order.id] = DataError(
                "Order",
                order.id,
                "CurrencyIsoCode",
                f"the order is in {currency.upper()} but account {account_id}'s Stripe customer bills in "
                f"{first.currency.upper()} (order {first.order_id}, {where}); Stripe allows one currency per "
                "customer.",
                f"sell to this account in {first.currency.upper()}, or use a separate account for {currency.upper()}.",
            )
    return errors


def kept_order_synced_prices(translation: OrderTranslation) -> None:
    """An order already in Stripe keeps the prices its schedule was built with: its own order-line prices are not
    planned again (a later change to the price book entry would otherwise turn them into new prices for nothing).
    Price changes reach Stripe through the price book entry (a new price, the old one archived) and amendments."""
    own = {d.key for d in translation.objects if d.kind is ObjectKind.PRICE and d.record.object_type == "OrderItem"}
    translation.objects = [d for d in translation.objects if d.key not in own]
    translation.line_prices = {k: v for k, v in translation.line_prices.items() if v not in own}
