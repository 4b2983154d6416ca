"""One-time adjustments of a schedule: signed amounts Stripe bills once, on the subscription's next invoice, as
invoice items (`amount`, not discountable) the apply step creates once each (found again by their key).

Pure. Two rules use them:

* **Reduction credits**: an amendment that lowers a line's quantity off that line's billing boundary gets CPQ's
  negative prorated amount for the time to the boundary (the units removed were billed for the whole period).
* **Rounding remainder**: Stripe rounds each invoice line to the cent, so a line whose per-period amount is a
  fraction of a cent (TotalPrice 1000.00 over 12 periods: 83.333...) drifts from CPQ's TotalPrice over the term.
  The difference (CPQ's TotalPrice minus what the periods bill, rounded as Stripe rounds them) is settled once,
  on the schedule's first invoice after the sync, so Stripe bills exactly TotalPrice over the term.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cpq_sync.records import OrderItemRecord
from cpq_sync.translate.terms import minor_units

CENT = Decimal("0.01")


def adjustment(key: str, amount: int, currency: str, description: str, line_id: str) -> dict[str, Any]:
    """One adjustment: `amount` in minor units (negative: a credit)."""
    return {
        "key": key,
        "amount": amount,
        "currency": currency,
        "description": description[:500],
        "metadata": {"salesforce_order_item_id": line_id},
    }


def whole_minor_units(amount: Decimal, currency: str) -> int:
    return int(minor_units(amount, currency).quantize(Decimal(1), ROUND_HALF_UP))


def total_price(item: OrderItemRecord, quantity: int, currency: str) -> int:
    """CPQ's TotalPrice of a line (quantity x UnitPrice, stored to the cent) in minor units."""
    return whole_minor_units((item.unit_price * quantity).quantize(CENT, ROUND_HALF_UP), currency)


def rounding_remainder(
    lines: list[tuple[OrderItemRecord, int]], unit_amount: Decimal, periods: int, currency: str
) -> int:
    """CPQ's TotalPrice of `lines` (billed together on one phase item: one price, their quantities summed)
    minus what Stripe bills for them over `periods` periods (`unit_amount` minor units a unit, each invoice line
    rounded to the minor unit, half up)."""
    quantity = sum(q for _, q in lines)
    per_period = int((unit_amount * quantity).quantize(Decimal(1), ROUND_HALF_UP))
    return sum(total_price(item, q, currency) for item, q in lines) - per_period * periods


def rounding_adjustments(
    main_params: dict[str, Any],
    prices: dict[str, dict[str, Any]],
    lines: dict[str, OrderItemRecord],
    currency: str,
) -> list[dict[str, Any]]:
    """The rounding remainders of a one-phase schedule (a plain new order): per phase item billed a whole number
    of its periods at a flat price, with the lines' own quantities. Other shapes (prorated terms, ramps, tiers,
    blocks, usage, a skipped past) bill otherwise and get none."""
    phases = main_params.get("phases", [])
    if len(phases) != 1 or "duration" not in phases[0] or phases[0].get("proration_behavior") == "none":
        return []
    months = int(phases[0]["duration"]["interval_count"])
    out = []
    for item in phases[0]["items"]:
        price = prices.get(getattr(item.get("price"), "key", ""), {})
        recurring = price.get("recurring") or {}
        if "unit_amount_decimal" not in price or recurring.get("usage_type") != "licensed":
            continue
        ids = str(item["metadata"]["salesforce_order_item_id"]).split(",")
        if any(i not in lines for i in ids):
            continue
        pairs = [(lines[i], int(lines[i].quantity)) for i in ids]
        every = int(recurring["interval_count"])
        if months % every or item.get("quantity") != sum(q for _, q in pairs):
            continue
        remainder = rounding_remainder(pairs, Decimal(price["unit_amount_decimal"]), months // every, currency)
        if remainder:
            out.append(
                adjustment(
                    f"rounding:{ids[0]}",
                    remainder,
                    currency,
                    "Rounding: the term's total as sold (TotalPrice) less its periods billed to the cent",
                    ids[0],
                )
            )
    return out
