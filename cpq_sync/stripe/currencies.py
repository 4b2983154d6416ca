"""Stripe's currency facts shared by the sync and the sandbox Stripe account."""

from __future__ import annotations

# ISO 4217 currencies Stripe treats as zero-decimal: amounts are in the currency itself, with no minor unit.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
