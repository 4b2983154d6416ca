"""Currencies: zero-decimal ones have no minor unit (an amount of 1000 JPY is ``unit_amount=1000``)."""

from __future__ import annotations

from decimal import Decimal

from cpq_sync.stripe.currencies import ZERO_DECIMAL_CURRENCIES


def minor_unit_exponent(currency: str) -> int:
    return 0 if currency.lower() in ZERO_DECIMAL_CURRENCIES else 2


def format_amount(amount: int, currency: str) -> str:
    """``1250, "usd"`` -> ``"12.50 USD"``; ``1000, "jpy"`` -> ``"1000 JPY"``."""
    exponent = minor_unit_exponent(currency)
    value = Decimal(amount).scaleb(-exponent)
    return f"{value:.{exponent}f} {currency.upper()}"
