"""Account -> Customer, Product2 -> Product, and the price rules (PricebookEntry or OrderItem -> Price)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, TypeVar

from cpq_sync.consumption import ConsumptionSchedule
from cpq_sync.desired import Desired, ObjectKind, Ref
from cpq_sync.errors import DataError
from cpq_sync.mapping.kinds import Kind
from cpq_sync.records import AccountRecord, OrderItemRecord, PricebookEntryRecord, Product2Record, SfModel
from cpq_sync.stripe.limits import MAX_AMOUNT, amount_fits
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.prices import (
    is_block,
    is_metered,
    meter_key,
    product_schedule,
    schedule_tiers,
    translate_meter,
)
from cpq_sync.translate.terms import (
    BILLING_FREQUENCY_MONTHS,
    billing_frequency_months,
    decimal_string,
    minor_units,
    whole_number,
)

SHIPPING_REQUIRES = ("address",)


def customer_key(account_id: str) -> str:
    return f"customer:{account_id}"


def product_key(product_id: str) -> str:
    return f"product:{product_id}"


R = TypeVar("R", bound=SfModel)


def memoized(translate: Callable[[R, TranslateContext], Desired], record: R, ctx: TranslateContext) -> Desired:
    """`translate(record, ctx)`, made once a run for each record (a customer is needed by each of its account's
    orders, a product by each line that bills it): every call gets the same Desired, which no translation changes
    (the plan gives it its primaries, see `plan.build_plan`). A failure is not kept: it is raised each time."""
    return ctx.once(translate.__name__, record, lambda: translate(record, ctx))


def translate_customer(account: AccountRecord, ctx: TranslateContext) -> Desired:
    params = ctx.apply(Kind.CUSTOMER, {}, account)
    shipping = params.get("shipping")
    # Stripe needs shipping.name and shipping.address together; a shipping block with no address is dropped.
    if isinstance(shipping, dict) and not shipping.get("address"):
        params.pop("shipping")
    elif isinstance(shipping, dict) and "name" not in shipping:
        shipping["name"] = account.name or account.id
    params["metadata"] = {**params.get("metadata", {}), **ctx.metadata("account", account.id)}
    return Desired.of(customer_key(account.id), ObjectKind.CUSTOMER, account, params)


def translate_product(product: Product2Record, ctx: TranslateContext) -> Desired:
    params = ctx.apply(Kind.PRODUCT, {}, product)
    if not params.get("name"):
        params["name"] = product.id  # Stripe requires a name; the connector created products even with no data
    params["metadata"] = {**params.get("metadata", {}), **ctx.metadata("product", product.id)}
    return Desired.of(product_key(product.id), ObjectKind.PRODUCT, product, params)


class LineCharge(NamedTuple):
    """How a line bills: recurring every `interval_months`, or once; metered (usage on a meter, no quantity) or
    block-priced (one block price, quantity 1). A named tuple (immutable, hashed and compared in C): every line's
    price is looked up by its charge."""

    recurring: bool
    interval_months: int
    term_months: int
    metered: bool = False
    block: bool = False


# The charges worked out so far, by the fields they are worked out from (a run has a few kinds of line, not one each).
_CHARGES: dict[tuple[object, ...], LineCharge] = {}


def line_charge(item: OrderItemRecord) -> LineCharge:
    """How the line bills, from its charge and billing types, pricing method, frequency and terms (see
    `_line_charge`), worked out once for each set of those values; a line in error raises each time."""
    key = (
        item.charge_type,
        item.billing_type,
        item.pricing_method,
        item.subscription_pricing is not None,
        item.billing_frequency,
        item.subscription_term,
        item.default_subscription_term,
    )
    try:
        known = _CHARGES.get(key)
    except TypeError:  # a value that cannot be hashed (a signalling NaN): worked out each time
        return _line_charge(item)
    if known is None:
        known = _CHARGES[key] = _line_charge(item)
    return known


def _line_charge(item: OrderItemRecord) -> LineCharge:
    charge_type = (item.charge_type or "").strip().lower()
    metered = is_metered(item.charge_type, item.billing_type)
    block = is_block(item.pricing_method)
    recurring = metered or charge_type == "recurring" or (charge_type == "" and item.subscription_pricing is not None)
    if not recurring:
        return LineCharge(False, 0, 0, block=block)
    months = billing_frequency_months(
        item.billing_frequency, object_type="OrderItem", record_id=item.id, field="SBQQ__BillingFrequency__c"
    )
    term_value = next(
        (t for t in (item.subscription_term, item.default_subscription_term) if t is not None), Decimal(12)
    )  # a term of 0 is an error below, never a reason to use the default term
    term = whole_number(
        term_value,
        object_type="OrderItem",
        record_id=item.id,
        field="SBQQ__SubscriptionTerm__c",
        what="subscription term",
    )
    if term <= 0:
        raise DataError(
            "OrderItem", item.id, "SBQQ__SubscriptionTerm__c", f"subscription term {term} must be positive."
        )
    return LineCharge(True, months, term, metered=metered, block=block)


def period_amount(item: OrderItemRecord, charge: LineCharge) -> Decimal:
    """The order line's price for one billing period. CPQ's UnitPrice covers the whole term (the price multiplier)."""
    if not charge.recurring:
        return item.unit_price
    if charge.metered:  # a usage price is per unit used; CPQ may have multiplied it by the term
        return item.unit_price / (item.prorate_multiplier or 1)
    return item.unit_price * charge.interval_months / charge.term_months


def pbe_period_amount(pbe: PricebookEntryRecord, charge: LineCharge) -> Decimal:
    """The price book entry's price for one billing period: its UnitPrice covers the product's default term."""
    if not charge.recurring or charge.metered:
        return pbe.unit_price
    default_term = pbe.product_default_term or Decimal(charge.interval_months)
    return pbe.unit_price * charge.interval_months / default_term


def _price_params(
    product_id: str,
    currency: str,
    amount: Decimal,
    charge: LineCharge,
    kind: Kind,
    record: PricebookEntryRecord | OrderItemRecord,
    ctx: TranslateContext,
    tiers: dict[str, object] | None = None,
) -> dict[str, object]:
    if amount < 0:
        raise DataError(
            record.OBJECT_TYPE,
            record.id,
            "UnitPrice",
            f"negative price {record.unit_price} cannot be a Stripe price.",
            "use a coupon for discounts, or make the price zero or positive.",
        )
    params: dict[str, object] = {"currency": currency, "product": Ref(product_key(product_id))}
    if tiers is not None:
        params.update(tiers)
    else:
        units = minor_units(amount, currency)
        if not amount_fits(units):
            raise DataError(
                record.OBJECT_TYPE,
                record.id,
                "UnitPrice",
                f"the price of one billing period, {amount.normalize():f} {currency.upper()}, is over what one Stripe "
                f"price holds ({MAX_AMOUNT} in the currency's smallest unit).",
                "bill the line more often (e.g. quarterly instead of annually), or split it into several lines.",
            )
        params["unit_amount_decimal"] = decimal_string(units)
    if charge.recurring:
        recurring: dict[str, object] = {"interval": "month", "interval_count": charge.interval_months}
        if charge.metered:
            recurring.update(usage_type="metered", meter=Ref(meter_key(product_id)))
        else:
            recurring["usage_type"] = "licensed"
        params["recurring"] = recurring
    return ctx.apply(kind, params, record)


def translate_line_price(
    item: OrderItemRecord,
    pbe: PricebookEntryRecord | None,
    charge: LineCharge,
    currency: str,
    ctx: TranslateContext,
    tiers: dict[str, object] | None = None,
) -> Desired:
    """The connector's price equality rule: the price book entry's price when the line bills exactly that,
    otherwise a price of the order line's own. `tiers` (from the product's consumption schedule) replace the
    amount: a tiered line bills the price book entry's price whenever it bills like it."""
    line_amount = period_amount(item, charge)
    entry = _entry_billing(pbe, charge, currency, ctx) if pbe is not None else None
    if pbe is not None and entry is not None and entry.bills_like:
        if entry.amount is None:
            entry.amount = pbe_period_amount(pbe, charge)
        if tiers is None and entry.units is None:
            entry.units = minor_units(entry.amount, currency)
        same = tiers is not None or entry.units == minor_units(line_amount, currency)
        if entry.same_currency and same:
            if tiers is not None:
                return _pbe_price(pbe, currency, entry.amount, charge, ctx, tiers)
            if entry.price is None:  # made once; a failure is not kept (raised each time)
                entry.price = _pbe_price(pbe, currency, entry.amount, charge, ctx, None)
            return entry.price
    params = _price_params(item.product2_id, currency, line_amount, charge, Kind.PRICE_ORDER_ITEM, item, ctx, tiers)
    params["metadata"] = {
        **params.get("metadata", {}),  # type: ignore[dict-item]
        **ctx.metadata("order_item", item.id),
        **ctx.metadata("product", item.product2_id),
    }
    return Desired.of(f"price:{item.id}", ObjectKind.PRICE, item, params)


@dataclass(slots=True)
class _EntryBilling:
    """A price book entry billed one way (a `LineCharge`) in one currency, worked out once a run as lines need it:
    whether its price bills that way at all (`_pbe_bills_like`, and in that currency), its period amount and minor
    units, and its price without tiers (every line billing the entry exactly gets that one Desired, as `memoized`
    gives)."""

    bills_like: bool
    same_currency: bool
    amount: Decimal | None = None
    units: Decimal | None = None
    price: Desired | None = None


def _entry_billing(
    pbe: PricebookEntryRecord, charge: LineCharge, currency: str, ctx: TranslateContext
) -> _EntryBilling:
    return ctx.once(
        ("_entry_billing", currency, charge),
        pbe,
        lambda: _EntryBilling(_pbe_bills_like(pbe, charge), ctx.currency(pbe.currency) == currency),
    )


def _pbe_price(
    pbe: PricebookEntryRecord,
    currency: str,
    amount: Decimal,
    charge: LineCharge,
    ctx: TranslateContext,
    tiers: dict[str, object] | None,
) -> Desired:
    params = _price_params(pbe.product2_id, currency, amount, charge, Kind.PRICE, pbe, ctx, tiers)
    params["metadata"] = {
        **params.get("metadata", {}),  # type: ignore[dict-item]
        **ctx.metadata("pricebook_entry", pbe.id),
        **ctx.metadata("product", pbe.product2_id),
    }
    return Desired.of(f"price:{pbe.id}", ObjectKind.PRICE, pbe, params)


def pbe_charge(pbe: PricebookEntryRecord) -> LineCharge:
    """How a price book entry's price bills on its own (from its product): what an order line billing exactly
    like it would have."""
    charge_type = (pbe.product_charge_type or "").strip().lower()
    metered = is_metered(pbe.product_charge_type, pbe.product_billing_type)
    recurring = metered or charge_type == "recurring"
    if not recurring and (charge_type or pbe.product_billing_frequency is None):
        return LineCharge(False, 0, 0)
    months = billing_frequency_months(
        pbe.product_billing_frequency,
        object_type="PricebookEntry",
        record_id=pbe.id,
        field="Product2.SBQQ__BillingFrequency__c",
    )
    return LineCharge(True, months, months, metered=metered)


def translate_pbe_price(
    pbe: PricebookEntryRecord, currency: str, ctx: TranslateContext, tiers: dict[str, object] | None = None
) -> Desired:
    """A price book entry's price on its own (a changed entry already in Stripe): the same object, key and hash
    an order line billing exactly like it produces."""
    charge = pbe_charge(pbe)
    return _pbe_price(pbe, currency, pbe_period_amount(pbe, charge), charge, ctx, tiers)


def _pbe_bills_like(pbe: PricebookEntryRecord, charge: LineCharge) -> bool:
    """A price book entry's price is one fixed recurrence: its product's billing frequency (or one-time), metered
    when its product is a usage product."""
    if pbe.product_charge_type is not None and charge.metered != is_metered(
        pbe.product_charge_type, pbe.product_billing_type
    ):
        return False
    if not charge.recurring:
        return pbe.product_billing_frequency is None
    frequency = (pbe.product_billing_frequency or "monthly").strip().lower()
    return BILLING_FREQUENCY_MONTHS.get(frequency) == charge.interval_months


def pbe_price_objects(
    pbe: PricebookEntryRecord,
    product: Product2Record,
    consumption: Mapping[str, tuple[ConsumptionSchedule, ...]],
    ctx: TranslateContext,
) -> list[Desired]:
    """A changed price book entry already in Stripe: its product, its meter when metered, and its price (a new
    price when its data changed; the old one is archived, and schedules billing with it keep it)."""
    currency = ctx.currency(pbe.currency)
    schedule = product_schedule(pbe, consumption.get(pbe.product2_id, ()), currency, ctx)
    tiers = schedule_tiers(schedule, currency, ctx) if schedule is not None else None
    objects = [translate_product(product, ctx)]
    if pbe_charge(pbe).metered:
        objects.append(translate_meter(product, ctx))
    objects.append(translate_pbe_price(pbe, currency, ctx, tiers))
    return objects
