"""Stripe's value limits, the one table both the product's guards and the sandbox Stripe account read.

The SDK's parameter types carry no lengths or bounds; these come from Stripe's API reference (its OpenAPI
``maxLength`` / documented bounds). A text limit is keyed by the endpoint's collection (``/v1/customers``; the same
limit holds on create and update) and the parameter's dotted path inside the request, list indices left out:
``phases.description`` is ``phases[3][description]``. A nested hash that describes another object
(``product_data`` in a price, ``price_data`` in an item) takes that object's limits (:data:`NESTED_OBJECTS`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

TEXT_MAX: Final = 5000
"""Stripe's longest text for most string parameters; the exceptions are in :data:`TEXT_MAX_BY_PARAM`."""

TEXT_MAX_BY_PARAM: Final[dict[tuple[str, str], int]] = {
    ("/v1/customers", "name"): 256,
    ("/v1/customers", "phone"): 20,
    ("/v1/customers", "email"): 512,
    ("/v1/customers", "shipping.phone"): 20,
    ("/v1/products", "description"): 40_000,
    ("/v1/products", "statement_descriptor"): 22,
    ("/v1/products", "unit_label"): 12,
    ("/v1/prices", "lookup_key"): 200,
    ("/v1/coupons", "name"): 40,
    ("/v1/invoices", "description"): 1500,
    ("/v1/invoices", "number"): 26,
    ("/v1/invoices", "statement_descriptor"): 22,
    ("/v1/invoices", "custom_fields.name"): 40,
    ("/v1/invoices", "custom_fields.value"): 140,
    ("/v1/subscriptions", "description"): 500,
    ("/v1/subscription_schedules", "phases.description"): 500,
}
"""Text limits other than :data:`TEXT_MAX` (longer or shorter), by ``(collection path, dotted parameter path)``."""

NESTED_OBJECTS: Final[dict[str, str]] = {"product_data": "/v1/products", "price_data": "/v1/prices"}
"""Hashes that describe another object inline: their fields take that object's text limits."""

METADATA_KEYS_MAX: Final = 50
METADATA_KEY_MAX: Final = 40
METADATA_VALUE_MAX: Final = 500

MAX_AMOUNT: Final = 99_999_999
"""Stripe's largest amount (8 digits, 999,999.99 USD), in the currency's smallest unit."""
AMOUNT_PARAMS: Final = frozenset({"unit_amount", "amount"})
"""Integer amounts bounded by :data:`MAX_AMOUNT`, wherever they appear in a request."""
DECIMAL_AMOUNT_PARAMS: Final = frozenset({"unit_amount_decimal"})
"""Decimal amounts: below ``MAX_AMOUNT + 1`` and at most :data:`AMOUNT_DECIMAL_PLACES` decimal places."""
AMOUNT_DECIMAL_PLACES: Final = 12

MAX_INTERVAL_COUNT: Final[dict[str, int]] = {"day": 1095, "week": 156, "month": 36, "year": 3}
"""A recurring price bills at most every three years."""

IDEMPOTENCY_KEY_MAX: Final = 255


def collection(path: str) -> str:
    """``/v1/customers/{customer}`` or ``/v1/invoices/in_1/finalize`` -> ``/v1/customers``, ``/v1/invoices``."""
    return "/".join(path.split("/")[:3])


def text_max(endpoint: str, param_path: str) -> int:
    """The longest text Stripe takes for ``param_path`` (dotted, no list indices) in a request to ``endpoint``."""
    parts = param_path.split(".")
    for i in range(len(parts) - 2, -1, -1):
        nested = NESTED_OBJECTS.get(parts[i])
        if nested is not None:
            return TEXT_MAX_BY_PARAM.get((nested, ".".join(parts[i + 1 :])), TEXT_MAX)
    return TEXT_MAX_BY_PARAM.get((collection(endpoint), param_path), TEXT_MAX)


def amount_fits(amount: int | Decimal) -> bool:
    """Whether an amount in the smallest currency unit is within Stripe's 8 digits."""
    return amount <= MAX_AMOUNT if isinstance(amount, int) else amount < MAX_AMOUNT + 1
