"""Translation tables: CPQ picklists and terms to Stripe's vocabulary."""

from decimal import Decimal

import pytest

from cpq_sync.errors import DataError
from cpq_sync.translate.terms import (
    billing_frequency_months,
    decimal_string,
    minor_units,
    payment_term_days,
    whole_number,
)

KW = {"object_type": "OrderItem", "record_id": "802000000000001AAA", "field": "SBQQ__BillingFrequency__c"}


@pytest.mark.parametrize(
    ("value", "months"),
    [("Monthly", 1), ("Quarterly", 3), ("Semiannual", 6), ("Annual", 12), ("annual", 12), (None, 1), ("", 1)],
)
def test_billing_frequency_to_interval_count(value: str | None, months: int) -> None:
    assert billing_frequency_months(value, **KW) == months


@pytest.mark.parametrize("value", ["Weekly", "Invoice Plan", "Biennial", "Usage"])
def test_unsupported_billing_frequency_names_record_field_and_fix(value: str) -> None:
    with pytest.raises(DataError) as err:
        billing_frequency_months(value, **KW)
    message = str(err.value)
    assert message.startswith("Data Error: OrderItem 802000000000001AAA, field SBQQ__BillingFrequency__c:")
    assert repr(value) in message
    assert "Monthly, Quarterly, Semiannual or Annual" in message


@pytest.mark.parametrize(
    ("value", "days"),
    [
        ("Net 30", 30),
        ("Net-45", 45),
        ("net 15", 15),
        ("60", 60),
        (90, 90),
        (30.0, 30),
        ("Due on Receipt", 0),
        (None, None),
    ],
)
def test_payment_terms_to_days_until_due(value: object, days: int | None) -> None:
    assert payment_term_days(value, **KW) == days


@pytest.mark.parametrize("value", ["Net thirty", "2 weeks", 30.5, -1, "Net"])
def test_unsupported_payment_terms(value: object) -> None:
    with pytest.raises(DataError, match="unsupported payment term"):
        payment_term_days(value, **KW)


def test_decimal_quantity_is_an_error_not_rounded() -> None:
    assert whole_number(Decimal("10.0"), what="quantity", **KW) == 10
    with pytest.raises(DataError, match=r"quantity 2\.5 is a decimal; Stripe needs a whole number"):
        whole_number(Decimal("2.5"), what="quantity", **KW)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("10"), "usd", "1000"),
        (Decimal("10.005"), "usd", "1000.5"),
        (Decimal("1200") / 7, "eur", "17142.857142857143"),
        (Decimal("1500"), "jpy", "1500"),  # zero-decimal: not multiplied by 100
        (Decimal("0"), "usd", "0"),
    ],
)
def test_minor_units_with_twelve_decimal_places(amount: Decimal, currency: str, expected: str) -> None:
    assert decimal_string(minor_units(amount, currency)) == expected
