"""Stripe's value limits on every request, read from the one table in :mod:`cpq_sync.stripe.limits`.

The strict checker only knows the SDK's types; Stripe also refuses text longer than a parameter takes, metadata
over its limits, amounts over 8 digits (or 12 decimal places), recurring intervals over three years, a negative
``days_until_due`` and idempotency keys outside 1-255 characters: a 400 ``invalid_request_error`` naming the
parameter, with Stripe's message. The HTTP client calls :func:`check_request` for every routed request before its
handler runs (and :func:`check_idempotency_key` before replaying a key).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from cpq_sync.sandbox.stripe.errors import StripeError, invalid_request
from cpq_sync.stripe.limits import (
    AMOUNT_DECIMAL_PLACES,
    AMOUNT_PARAMS,
    DECIMAL_AMOUNT_PARAMS,
    IDEMPOTENCY_KEY_MAX,
    MAX_AMOUNT,
    MAX_INTERVAL_COUNT,
    METADATA_KEY_MAX,
    METADATA_KEYS_MAX,
    METADATA_VALUE_MAX,
    amount_fits,
    text_max,
)


def check_idempotency_key(key: str | None) -> None:
    """Stripe takes keys of 1 to 255 characters."""
    if key is not None and not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX:
        raise invalid_request(
            f"Idempotent key length is {len(key)}, which is outside accepted lengths. Idempotent Keys must be "
            f"1-{IDEMPOTENCY_KEY_MAX} characters long. If you're looking for a decent generator, try using a UUID "
            "defined by IETF RFC 4122.",
            param="Idempotency-Key",
        )


def check_request(template: str, params: dict[str, Any]) -> None:
    """Raise the :class:`StripeError` Stripe answers when a value in ``params`` (decoded wire values) is over limits."""
    _walk(template, params, "", "")


def check_metadata(metadata: dict[str, Any], param: str) -> None:
    """One ``metadata`` hash of a request: keys, values and how many (``""`` values unset a key but still count)."""
    for key, value in metadata.items():
        key = str(key)
        where = f"{param}[{key}]"
        if "[" in key or "]" in key:
            raise invalid_request(f"Metadata keys may not contain square brackets: {key}", param=where)
        if len(key) > METADATA_KEY_MAX:
            raise invalid_request(
                f"Metadata keys can have up to {METADATA_KEY_MAX} characters; {key!r} has {len(key)}.", param=where
            )
        if isinstance(value, str) and len(value) > METADATA_VALUE_MAX:
            raise invalid_request(
                f"Metadata values can have up to {METADATA_VALUE_MAX} characters, but you passed in a value that is "
                f"{len(value)} characters.",
                param=where,
            )
    if len(metadata) > METADATA_KEYS_MAX:
        raise metadata_count_error(len(metadata), param)


def metadata_count_error(count: int, param: str) -> StripeError:
    return invalid_request(
        f"Invalid metadata: metadata can have up to {METADATA_KEYS_MAX} keys, but it would have {count}.", param=param
    )


def _walk(template: str, node: dict[str, Any], param: str, dotted: str) -> None:
    for key, value in node.items():
        name = f"{param}[{key}]" if param else str(key)
        path = f"{dotted}.{key}" if dotted else str(key)
        if key == "metadata" and isinstance(value, dict):
            check_metadata(value, name)
        elif isinstance(value, dict):
            _walk(template, value, name, path)
            if key == "recurring":
                _check_interval_count(value, name)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    _walk(template, item, f"{name}[{i}]", path)
                elif isinstance(item, str):
                    _check_text(template, item, f"{name}[{i}]", path)
        elif isinstance(value, str):
            _check_value(template, str(key), value, name, path)


def _check_value(template: str, key: str, value: str, name: str, path: str) -> None:
    if key in AMOUNT_PARAMS:
        _check_amount(value, name)
    elif key in DECIMAL_AMOUNT_PARAMS:
        _check_decimal_amount(value, name)
    elif key == "days_until_due":
        _check_days_until_due(value, name)
    _check_text(template, value, name, path)


def _check_text(template: str, value: str, name: str, path: str) -> None:
    limit = text_max(template, path)
    if len(value) > limit:
        shown = value if len(value) <= 20 else f"{value[:10]}...{value[-10:]}"
        raise invalid_request(f"Invalid string: {shown}; must be at most {limit} characters", param=name)


def _number(value: str) -> Decimal | None:
    """The wire value as a number, or None when it is not one (the handler then names the bad value)."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _check_amount(value: str, name: str) -> None:
    number = _number(value)
    if number is not None and number == number.to_integral_value() and not amount_fits(int(number)):
        raise invalid_request(f"Invalid integer: {value}; must be at most {MAX_AMOUNT}", param=name)


def _check_decimal_amount(value: str, name: str) -> None:
    number = _number(value)
    if number is None:
        return
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > AMOUNT_DECIMAL_PLACES:
        raise invalid_request(
            f"Invalid decimal: {value}; must have at most {AMOUNT_DECIMAL_PLACES} decimal places", param=name
        )
    if not amount_fits(number):
        raise invalid_request(f"Invalid decimal: {value}; must be less than {MAX_AMOUNT + 1}", param=name)


def _check_days_until_due(value: str, name: str) -> None:
    number = _number(value)
    if number is not None and number < 0:
        raise invalid_request("This value must be greater than or equal to 0.", param=name)


def _check_interval_count(recurring: dict[str, Any], name: str) -> None:
    interval = recurring.get("interval")
    count = _number(str(recurring.get("interval_count", "1")))
    limit = MAX_INTERVAL_COUNT.get(str(interval))
    if limit is None or count is None:
        return
    if count < 1:
        raise invalid_request("This value must be greater than or equal to 1.", param=f"{name}[interval_count]")
    if count > limit:
        raise invalid_request(
            f"Invalid {name}[interval_count]: the maximum for interval={interval} is {limit} (three years).",
            param=f"{name}[interval_count]",
        )
