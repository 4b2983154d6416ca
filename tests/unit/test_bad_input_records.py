"""The bad-input catalogue, pure cases: single records the org cannot hold or that arrive through other paths than the
e2e catalogue builds (a decimal term from a field of another scale, a line whose price book entry is gone, an account
name of 10,000 characters through a mapping), each with the exact message its Sync Record carries."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from cpq_sync.config import DEFAULT_MAPPINGS_DIR
from cpq_sync.errors import DataError
from cpq_sync.mapping.compile import compile_mappings
from cpq_sync.mapping.loader import load_mappings
from cpq_sync.records import OrderItemRecord, Product2Record
from cpq_sync.translate.catalog import translate_customer, translate_product
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.order import translate_order
from tests.unit.builders import line, one_time_line
from tests.unit.test_translate_order import ACCOUNT, ORDER, PBE_A, PBE_B, PROD_A, PROD_B, account, bundle

ITEM = "802000000000001AAA"
LONG_NAME = "N" * 10_000


def context(directory: Path, custom: str = "") -> TranslateContext:
    shutil.copy(DEFAULT_MAPPINGS_DIR / "default.yaml", directory / "default.yaml")
    if custom:
        (directory / "custom.yaml").write_text(custom, encoding="utf-8")
    return TranslateContext(mappings=compile_mappings(load_mappings(directory)))


def default_line(text: str, occurrence: int = 1) -> int:
    """The line of the `occurrence`-th `text` in the default mappings (where a message says to look)."""
    lines = (DEFAULT_MAPPINGS_DIR / "default.yaml").read_text(encoding="utf-8").splitlines()
    return [n for n, row in enumerate(lines, start=1) if row.strip() == text][occurrence - 1]


def seat(**values: Any) -> OrderItemRecord:
    return line(1, PROD_A, PBE_A, "10", "120", **values)


ORDER_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    (
        "decimal_line_term",
        {"sbqq__subscriptionterm__c": "12.5"},
        {},
        f"Data Error: OrderItem {ITEM}, field SBQQ__SubscriptionTerm__c: subscription term 12.5 is a decimal; Stripe "
        "needs a whole number. Fix: make the subscription term a whole number.",
    ),
    (
        "decimal_quote_term",
        {},
        {"sbqq__quote__r.sbqq__subscriptionterm__c": "11.5"},
        f"Data Error: Order {ORDER}, field SBQQ__Quote__r.SBQQ__SubscriptionTerm__c: subscription term 11.5 is a "
        "decimal; Stripe needs a whole number. Fix: make the subscription term a whole number.",
    ),
    (
        "missing_pricebook_entry",
        {"pricebookentryid": "01u000000000GONEAA"},
        {},
        f"Data Error: OrderItem {ITEM}, field PricebookEntryId: price book entry 01u000000000GONEAA was not found "
        "(deleted or inactive). Fix: re-price the order line from an active price book entry.",
    ),
    (
        "negative_term",
        {"sbqq__subscriptionterm__c": "-12"},
        {"sbqq__quote__r.sbqq__subscriptionterm__c": None},
        f"Data Error: OrderItem {ITEM}, field SBQQ__SubscriptionTerm__c: subscription term -12 must be positive.",
    ),
    (
        "unknown_frequency",
        {"sbqq__billingfrequency__c": "Biennial"},
        {},
        f"Data Error: OrderItem {ITEM}, field SBQQ__BillingFrequency__c: billing frequency 'Biennial' is not "
        "supported. Fix: use Monthly, Quarterly, Semiannual or Annual.",
    ),
    (
        "no_start_date",
        {},
        {"sbqq__quote__r.sbqq__startdate__c": None, "effectivedate": None},
        f"Data Error: Order {ORDER}, field SBQQ__Quote__r.SBQQ__StartDate__c: the order has no start date (neither "
        "the quote's start date nor EffectiveDate is set).",
    ),
]


@pytest.mark.parametrize(
    ("line_values", "order_values", "message"), [c[1:] for c in ORDER_CASES], ids=[c[0] for c in ORDER_CASES]
)
def test_a_bad_order_fails_with_its_exact_message(
    tmp_path: Path, line_values: dict[str, Any], order_values: dict[str, Any], message: str
) -> None:
    ctx = context(tmp_path)
    with pytest.raises(DataError) as err:
        translate_order(bundle([seat(**line_values)], **order_values), ctx)
    assert err.value.message == message


TOO_LONG = "cannot be mapped to Stripe customer.{}: the value is {} characters long and Stripe allows at most {}."
CUSTOMER_TEXT: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "account_name_of_10000_characters",
        "",
        {"name": LONG_NAME},
        f"field Name: {TOO_LONG.format('name', 10000, 256)} Fix: shorten the value in Salesforce, or change the "
        f"mapping at default.yaml, line {default_line('name: Name')}.",
    ),
    (
        "long_name_mapped_from_another_field",
        "field_mappings:\n  customer:\n    name: Legal_Name__c\n",
        {"legal_name__c": LONG_NAME},
        f"field Legal_Name__c: {TOO_LONG.format('name', 10000, 256)} Fix: shorten the value in Salesforce, or "
        "change the mapping at custom.yaml, line 3.",
    ),
    (
        "static_phone_too_long",
        "field_defaults:\n  customer:\n    phone: '+1 (555) 010-0000 ext. 12345'\n",
        {},
        f"field (static value in custom.yaml, line 3): {TOO_LONG.format('phone', 28, 20)} Fix: shorten the static "
        "value at custom.yaml, line 3.",
    ),
    (
        "email_over_512",
        "field_mappings:\n  customer:\n    email: Billing_Email__c\n",
        {"billing_email__c": "a" * 510 + "@x.io"},
        f"field Billing_Email__c: {TOO_LONG.format('email', 515, 512)} Fix: shorten the value in Salesforce, or "
        "change the mapping at custom.yaml, line 3.",
    ),
]


@pytest.mark.parametrize(
    ("custom", "values", "problem"), [c[1:] for c in CUSTOMER_TEXT], ids=[c[0] for c in CUSTOMER_TEXT]
)
def test_customer_text_longer_than_stripe_takes_is_refused_naming_the_field(
    tmp_path: Path, custom: str, values: dict[str, Any], problem: str
) -> None:
    with pytest.raises(DataError) as err:
        translate_customer(account(**values), context(tmp_path, custom))
    assert err.value.message == f"Data Error: Account {ACCOUNT}, {problem}"


def test_an_invoice_memo_longer_than_stripe_takes_fails_the_order(tmp_path: Path) -> None:
    ctx = context(tmp_path, "field_mappings:\n  invoice:\n    description: Description\n")
    setup = one_time_line(2, PROD_B, PBE_B, "1", "500")
    with pytest.raises(DataError) as err:
        translate_order(bundle([setup], description="memo " * 301), ctx)
    assert err.value.message == (
        f"Data Error: Order {ORDER}, field Description: cannot be mapped to Stripe invoice.description: the value "
        "is 1505 characters long and Stripe allows at most 1500. Fix: shorten the value in Salesforce, or change the "
        "mapping at custom.yaml, line 3."
    )


def test_a_name_of_256_emoji_fits_stripe(tmp_path: Path) -> None:
    """Stripe counts characters, not bytes: 256 emoji (1,024 bytes in UTF-8) are a valid name."""
    customer = translate_customer(account(name="🦄" * 256), context(tmp_path))
    assert customer.params["name"] == "🦄" * 256


def test_a_product_name_over_5000_characters_is_refused(tmp_path: Path) -> None:
    product = Product2Record.from_flat({"id": PROD_A, "name": "P" * 5001})
    with pytest.raises(DataError) as err:
        translate_product(product, context(tmp_path))
    assert err.value.message == (
        f"Data Error: Product2 {PROD_A}, field Name: cannot be mapped to Stripe product.name: the value is 5001 "
        "characters long and Stripe allows at most 5000. Fix: shorten the value in Salesforce, or change the mapping "
        f"at default.yaml, line {default_line('name: Name', 2)}."
    )


def test_a_metadata_value_over_500_characters_is_cut_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = context(tmp_path, "field_mappings:\n  customer:\n    metadata.notes: Description\n")
    notes = "é" * 501
    with caplog.at_level(logging.WARNING, logger="cpq_sync"):
        customer = translate_customer(account(description=notes), ctx)
    assert customer.params["metadata"]["notes"] == notes[:500]
    assert customer.params["description"] == notes[:350]
    assert [r.getMessage() for r in caplog.records] == [
        f"Account {ACCOUNT}, field Description: the value is 501 characters long; Stripe customer.description keeps "
        "its first 350.",
        f"Account {ACCOUNT}, field Description: the value is 501 characters long; Stripe customer.metadata.notes "
        "keeps its first 500.",
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"quantity": "ten"},
            f"Data Error: OrderItem {ITEM}, field quantity: Input should be a valid decimal (value 'ten').",
        ),
        (
            {"id": "802-short"},
            "Data Error: OrderItem 802-short, field id: String should have at least 15 characters (value '802-short').",
        ),
        (
            {"servicedate": "31/12/2024"},
            f"Data Error: OrderItem {ITEM}, field servicedate: Input should be a valid date or datetime, invalid "
            "character in year (value '31/12/2024').",
        ),
    ],
)
def test_a_record_of_the_wrong_shape_fails_at_the_boundary(row: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError) as err:
        seat(**row)
    assert err.value.message == message
