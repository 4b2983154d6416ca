"""CPQ picklists and terms turned into Stripe's vocabulary: billing frequency, payment terms, money units."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from cpq_sync.errors import DataError
from cpq_sync.stripe.currencies import ZERO_DECIMAL_CURRENCIES
from cpq_sync.stripe.limits import AMOUNT_DECIMAL_PLACES

BILLING_FREQUENCY_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}

_MINOR_UNIT_QUANTUM = Decimal(1).scaleb(-AMOUNT_DECIMAL_PLACES)
_NET_TERM = re.compile(r"^\s*net[\s\-]*(\d+)\s*$", re.IGNORECASE)


def billing_frequency_months(value: object, *, object_type: str, record_id: str, field: str) -> int:
    """Monthly 1, Quarterly 3, Semiannual 6, Annual 12; empty falls back to monthly as the connector did."""
    if value is None or value == "":
        return 1
    months = BILLING_FREQUENCY_MONTHS.get(str(value).strip().lower())
    if months is None:
        raise DataError(
            object_type,
            record_id,
            field,
            f"billing frequency {value!r} is not supported.",
            "use Monthly, Quarterly, Semiannual or Annual.",
        )
    return months


# The days of each payment term text read so far (a run has a few terms, not one per order).
_TERM_DAYS: dict[str, int] = {}


def payment_term_days(value: object, *, object_type: str, record_id: str, field: str) -> int | None:
    """`Net 30`, `Net-30`, `30`, 30, 30.0 -> 30; `Due on Receipt` -> 0; empty -> None. A text is read once; a
    value in error raises each time."""
    if type(value) is str:
        days = _TERM_DAYS.get(value)
        if days is None:
            days = _payment_term_days(value, object_type=object_type, record_id=record_id, field=field)
            if days is None:
                return None
            _TERM_DAYS[value] = days
        return days
    return _payment_term_days(value, object_type=object_type, record_id=record_id, field=field)


def _payment_term_days(value: object, *, object_type: str, record_id: str, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if float(value).is_integer() and value >= 0:
            return int(value)
    else:
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        match = _NET_TERM.match(text)
        if match:
            return int(match.group(1))
        if text.lower() == "due on receipt":
            return 0
    raise DataError(
        object_type,
        record_id,
        field,
        f"unsupported payment term {value!r} for days_until_due.",
        "use a whole number of days, 'Net 30' style terms or 'Due on Receipt'.",
    )


def whole_number(value: object, *, object_type: str, record_id: str, field: str, what: str) -> int:
    """A quantity or a term must be a whole number; a decimal is a data error, never silently rounded."""
    if type(value) is int:  # a whole number already (a mapped quantity)
        return value
    if type(value) is Decimal:  # most values (records' numbers are Decimals): its text would parse back to itself
        number = value
    else:
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise DataError(object_type, record_id, field, f"{what} {value!r} is not a number.") from None
    if number != number.to_integral_value():
        raise DataError(
            object_type,
            record_id,
            field,
            f"{what} {value} is a decimal; Stripe needs a whole number.",
            f"make the {what} a whole number.",
        )
    return int(number)


def minor_units(amount: Decimal, currency: str) -> Decimal:
    """Major units (Salesforce) -> minor units (Stripe): cents, or the amount itself for zero-decimal currencies."""
    scaled = amount if currency.lower() in ZERO_DECIMAL_CURRENCIES else amount * 100
    return scaled.quantize(_MINOR_UNIT_QUANTUM, rounding=ROUND_HALF_UP)


def decimal_string(value: Decimal) -> str:
    """Stripe's `*_decimal` fields: plain notation, no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")
