"""Money arithmetic of Stripe Billing: line amounts from prices, rounding, coupons.

Rounding rules (as Stripe applies them):

* Amounts are integers in the currency's minor unit (cents; yen for zero-decimal currencies such as JPY, whose
  ``unit_amount`` is already in whole yen). ``unit_amount_decimal`` may carry up to 12 decimal places.
* A line's amount is computed exactly (``unit_amount_decimal x quantity``, plus tier flat amounts)
  and rounded once, per line, to the minor unit, half up (half away from zero for credits).
* ``transform_quantity`` divides the quantity before pricing and rounds the result ``up`` or ``down``.
* Tiered prices: ``graduated`` prices each unit at the rate of the tier it falls in and adds the
  flat amount of every tier reached; ``volume`` prices all units at the rate of the tier the total quantity
  falls in, plus that tier's flat amount. A quantity of 0 reaches no tier and costs nothing.
* Coupons: ``percent_off`` discounts are computed first, on the amount still undiscounted, rounded half up;
  ``amount_off`` discounts (same currency as the invoice) follow and never take an amount below zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any


def round_minor(amount: Decimal | Fraction) -> int:
    """Round an exact amount to the minor unit, half away from zero (half up for positive amounts)."""
    if isinstance(amount, Fraction):
        amount = Decimal(amount.numerator) / Decimal(amount.denominator)
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def unit_amount_decimal(price: Mapping[str, Any]) -> Decimal:
    """Per-unit amount in minor units (``unit_amount_decimal`` wins over ``unit_amount``)."""
    dec = _dec(price.get("unit_amount_decimal"))
    if dec is None:
        dec = _dec(price.get("unit_amount"))
    return dec if dec is not None else Decimal(0)


def transformed_quantity(price: Mapping[str, Any], quantity: int) -> int:
    transform = price.get("transform_quantity")
    if not transform:
        return quantity
    divide_by = int(transform["divide_by"])
    rounding = ROUND_CEILING if transform.get("round") == "up" else ROUND_FLOOR
    return int((Decimal(quantity) / Decimal(divide_by)).to_integral_value(rounding=rounding))


def _tier_parts(tier: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    unit = _dec(tier.get("unit_amount_decimal"))
    if unit is None:
        unit = _dec(tier.get("unit_amount")) or Decimal(0)
    flat = _dec(tier.get("flat_amount_decimal"))
    if flat is None:
        flat = _dec(tier.get("flat_amount")) or Decimal(0)
    return unit, flat


def _up_to(tier: Mapping[str, Any]) -> int | None:
    up_to = tier.get("up_to")
    return None if up_to in (None, "inf") else int(up_to)


def exact_amount(price: Mapping[str, Any], quantity: int) -> Decimal:
    """The unrounded amount of ``quantity`` units of ``price`` for one full period, in minor units."""
    if price.get("billing_scheme") == "tiered":
        tiers: Sequence[Mapping[str, Any]] = price.get("tiers") or []
        if quantity <= 0:
            return Decimal(0)
        if price.get("tiers_mode") == "volume":
            for tier in tiers:
                limit = _up_to(tier)
                if limit is None or quantity <= limit:
                    unit, flat = _tier_parts(tier)
                    return unit * quantity + flat
            return Decimal(0)
        total = Decimal(0)
        floor = 0
        for tier in tiers:
            limit = _up_to(tier)
            unit, flat = _tier_parts(tier)
            top = quantity if limit is None else min(quantity, limit)
            if top > floor:
                total += unit * (top - floor) + flat
            if limit is None or quantity <= limit:
                break
            floor = limit
        return total
    return unit_amount_decimal(price) * transformed_quantity(price, quantity)


def line_amount(price: Mapping[str, Any], quantity: int, share: Fraction = Fraction(1)) -> int:
    """A line's amount in minor units: exact amount x ``share`` (a proration), rounded half up once."""
    exact = exact_amount(price, quantity)
    return round_minor(Fraction(exact) * share)


def effective_unit_amount(price: Mapping[str, Any], quantity: int) -> Decimal:
    """A line's unit amount: the price's, or amount / quantity for tiered prices."""
    if price.get("billing_scheme") == "tiered":
        if quantity <= 0:
            return Decimal(0)
        return (exact_amount(price, quantity) / quantity).normalize()
    return unit_amount_decimal(price)


def coupon_discount(coupon: Mapping[str, Any], base: int, currency: str) -> int:
    """The discount one coupon takes off ``base`` (>= 0); amount_off in another currency is refused."""
    if base <= 0:
        return 0
    percent = coupon.get("percent_off")
    if percent is not None:
        return min(base, round_minor(Decimal(str(percent)) * base / 100))
    amount_off = coupon.get("amount_off")
    if amount_off is not None:
        coupon_currency = str(coupon.get("currency") or "").lower()
        if coupon_currency != currency.lower():
            raise ValueError(f"coupon {coupon.get('id')} is in {coupon_currency}, the invoice in {currency}")
        return min(base, int(amount_off))
    return 0


def apply_coupons(coupons: Sequence[Mapping[str, Any]], base: int, currency: str) -> int:
    """Total discount of several coupons on ``base``: percent_off coupons first, then amount_off ones."""
    ordered = sorted(coupons, key=lambda c: 0 if c.get("percent_off") is not None else 1)
    remaining = base
    total = 0
    for coupon in ordered:
        off = coupon_discount(coupon, remaining, currency)
        total += off
        remaining -= off
    return total


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder; sums exactly to ``total``)."""
    positive = [max(0, w) for w in weights]
    whole = sum(positive)
    if whole <= 0 or total == 0:
        return [0] * len(weights)
    shares = [Fraction(total * w, whole) for w in positive]
    floors = [int(s) for s in shares]
    left = total - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: shares[i] - floors[i], reverse=True)
    for i in order[:left]:
        floors[i] += 1
    return floors
