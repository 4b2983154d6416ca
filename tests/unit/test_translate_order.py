"""Translation tables: new orders into subscription schedules and invoices (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from cpq_sync.config import DEFAULT_MAPPINGS_DIR
from cpq_sync.desired import ObjectKind, Ref
from cpq_sync.errors import DataError
from cpq_sync.mapping.compile import compile_mappings
from cpq_sync.mapping.loader import load_mappings
from cpq_sync.records import AccountRecord, OrderItemRecord, OrderRecord, Product2Record
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.order import OrderBundle, translate_order
from tests.unit.builders import line, one_time_line, pbe

ACCOUNT = "001000000000001AAA"
ORDER = "801000000000001AAA"
PROD_A, PROD_B = "01t000000000001AAA", "01t000000000002AAA"
PBE_A, PBE_B = "01u000000000001AAA", "01u000000000002AAA"


@pytest.fixture(scope="module")
def ctx() -> TranslateContext:
    mappings = compile_mappings(load_mappings(DEFAULT_MAPPINGS_DIR))
    return TranslateContext(mappings=mappings, instance_url="https://example.my.salesforce.com")


def account(**values: Any) -> AccountRecord:
    row = {
        "id": ACCOUNT,
        "name": "Acme",
        "phone": "+1 555 0100",
        "billingstreet": "1 Main St",
        "billingcity": "Springfield",
        "billingcountry": "US",
        "shippingstreet": "2 Dock Rd",
        "shippingcity": "Springfield",
        **values,
    }
    return AccountRecord.from_flat(row)


def product(pid: str, name: str) -> Product2Record:
    return Product2Record.from_flat({"id": pid, "name": name, "sbqq__subscriptionterm__c": 1})


def order(**values: Any) -> OrderRecord:
    row = {
        "id": ORDER,
        "accountid": ACCOUNT,
        "status": "Activated",
        "type": "New",
        "effectivedate": "2022-01-01",
        "currencyisocode": "USD",
        "sbqq__paymentterm__c": "Net 30",
        "sbqq__quote__r.sbqq__startdate__c": "2022-01-01",
        "sbqq__quote__r.sbqq__subscriptionterm__c": 12,
        **values,
    }
    return OrderRecord.from_flat(row)


def bundle(items: list[OrderItemRecord], **order_values: Any) -> OrderBundle:
    return OrderBundle(
        order=order(**order_values),
        items=items,
        account=account(),
        products={PROD_A: product(PROD_A, "Seat"), PROD_B: product(PROD_B, "Setup")},
        pricebook_entries={PBE_A: pbe(PBE_A, PROD_A, "10"), PBE_B: pbe(PBE_B, PROD_B, "500", frequency=None)},
    )


def test_termed_order_becomes_a_schedule_with_one_phase(ctx: TranslateContext) -> None:
    # 10 units of a 10 USD/month product for 12 months: CPQ's UnitPrice covers the whole term (120).
    result = translate_order(bundle([line(1, PROD_A, PBE_A, "10", "120")]), ctx)
    schedule = result.main
    assert schedule.kind is ObjectKind.SUBSCRIPTION_SCHEDULE
    params = schedule.params
    assert params["start_date"] == int(dt.datetime(2022, 1, 1, tzinfo=dt.UTC).timestamp())
    assert params["end_behavior"] == "cancel"
    assert params["default_settings"] == {
        "collection_method": "send_invoice",
        "invoice_settings": {"days_until_due": 30},
    }
    (phase,) = params["phases"]
    assert phase["duration"] == {"interval": "month", "interval_count": 12}
    assert "iterations" not in phase
    assert phase["items"] == [
        {"price": Ref(f"price:{PBE_A}"), "quantity": 10, "metadata": {"salesforce_order_item_id": "802000000000001AAA"}}
    ]
    assert params["metadata"]["salesforce_order_id"] == ORDER
    assert params["metadata"]["salesforce_order_link"] == f"https://example.my.salesforce.com/{ORDER}"
    price = next(o for o in result.objects if o.key == f"price:{PBE_A}")
    assert price.params["unit_amount_decimal"] == "1000"
    assert price.params["recurring"] == {"interval": "month", "interval_count": 1, "usage_type": "licensed"}
    assert price.record.object_type == "PricebookEntry"


def test_discounted_line_gets_its_own_price(ctx: TranslateContext) -> None:
    result = translate_order(bundle([line(1, PROD_A, PBE_A, "10", "108")]), ctx)  # 10% off: 9.00 a month
    price = next(o for o in result.objects if o.kind is ObjectKind.PRICE)
    assert price.key == "price:802000000000001AAA"
    assert price.record.object_type == "OrderItem"
    assert price.params["unit_amount_decimal"] == "900"
    assert price.params["metadata"]["salesforce_order_item_id"] == "802000000000001AAA"


def test_customer_gets_address_shipping_and_metadata(ctx: TranslateContext) -> None:
    result = translate_order(bundle([line(1, PROD_A, PBE_A, "10", "120")]), ctx)
    customer = next(o for o in result.objects if o.kind is ObjectKind.CUSTOMER)
    assert customer.params["name"] == "Acme"
    assert customer.params["phone"] == "+1 555 0100"
    assert customer.params["address"] == {"line1": "1 Main St", "city": "Springfield", "country": "US"}
    assert customer.params["shipping"]["address"] == {"line1": "2 Dock Rd", "city": "Springfield"}
    assert customer.params["metadata"]["salesforce_account_id"] == ACCOUNT


def test_one_time_lines_are_invoice_items_of_the_first_phase(ctx: TranslateContext) -> None:
    setup = one_time_line(2, PROD_B, PBE_B, "1", "500")
    result = translate_order(bundle([line(1, PROD_A, PBE_A, "10", "120"), setup]), ctx)
    (phase,) = result.main.params["phases"]
    assert phase["add_invoice_items"] == [
        {"price": Ref(f"price:{PBE_B}"), "quantity": 1, "metadata": {"salesforce_order_item_id": setup.id}}
    ]
    one_time = next(o for o in result.objects if o.key == f"price:{PBE_B}")
    assert "recurring" not in one_time.params
    assert one_time.params["unit_amount_decimal"] == "50000"


def test_order_with_only_one_time_lines_is_an_invoice(ctx: TranslateContext) -> None:
    setup = line(
        2,
        PROD_B,
        PBE_B,
        "2",
        "500",
        sbqq__chargetype__c="One-Time",
        sbqq__billingfrequency__c=None,
        sbqq__subscriptionpricing__c=None,
        sbqq__subscriptionterm__c=None,
    )
    result = translate_order(bundle([setup]), ctx)
    assert result.main.kind is ObjectKind.INVOICE
    assert result.main.params["days_until_due"] == 30
    assert result.main.children["lines"][0]["quantity"] == 2


def test_skipped_lines_are_left_out(ctx: TranslateContext) -> None:
    skipped = line(2, PROD_A, PBE_A, "5", "60", skip_line_item__c=True)
    result = translate_order(bundle([line(1, PROD_A, PBE_A, "10", "120"), skipped]), ctx)
    assert result.skipped_lines == [skipped.id]
    assert result.main.params["phases"][0]["items"][0]["quantity"] == 10


def test_two_lines_with_the_same_price_bill_together(ctx: TranslateContext) -> None:
    result = translate_order(bundle([line(1, PROD_A, PBE_A, "10", "120"), line(2, PROD_A, PBE_A, "5", "120")]), ctx)
    (item,) = result.main.params["phases"][0]["items"]
    assert item["quantity"] == 15


@pytest.mark.parametrize(
    ("changes", "record", "field", "problem"),
    [
        (
            {"sbqq__billingfrequency__c": "Weekly"},
            "OrderItem 802000000000001AAA",
            "SBQQ__BillingFrequency__c",
            "billing frequency 'Weekly' is not supported",
        ),
        (
            {"quantity": "2.5"},
            "OrderItem 802000000000001AAA",
            "Quantity",
            "quantity 2.5 is a decimal; Stripe needs a whole number",
        ),
        (
            {"sbqq__subscriptionterm__c": "12.5"},
            "OrderItem 802000000000001AAA",
            "SBQQ__SubscriptionTerm__c",
            "subscription term 12.5 is a decimal",
        ),
        ({"unitprice": "-120"}, "OrderItem 802000000000001AAA", "UnitPrice", "negative price"),
        (
            {"pricebookentryid": "01u0000000000MISSING"[:18]},
            "OrderItem 802000000000001AAA",
            "PricebookEntryId",
            "was not found",
        ),
    ],
)
def test_bad_lines_fail_with_record_field_and_problem(
    ctx: TranslateContext, changes: dict[str, Any], record: str, field: str, problem: str
) -> None:
    with pytest.raises(DataError) as err:
        translate_order(bundle([line(1, PROD_A, PBE_A, "10", "120", **changes)]), ctx)
    assert f"{record}, field {field}:" in str(err.value)
    assert problem in str(err.value)


def test_an_amendment_without_a_contract_is_refused_clearly(ctx: TranslateContext) -> None:
    # Amendments sync through their contract (translate/contract.py); one with no contract cannot be placed.
    with pytest.raises(DataError, match="amendment order has no contract"):
        translate_order(bundle([line(1, PROD_A, PBE_A, "-4", "-44")], type="Amendment"), ctx)


def test_hash_is_stable_and_sensitive_to_content(ctx: TranslateContext) -> None:
    first = translate_order(bundle([line(1, PROD_A, PBE_A, "10", "120")]), ctx).main.content_hash
    again = translate_order(bundle([line(1, PROD_A, PBE_A, "10", "120")]), ctx).main.content_hash
    other = translate_order(bundle([line(1, PROD_A, PBE_A, "11", "120")]), ctx).main.content_hash
    assert first == again != other


def test_price_amount_matches_quantity_times_term(ctx: TranslateContext) -> None:
    # 3 units, 50 USD a quarter, 24 months: UnitPrice = 50 x 8 quarters = 400.
    item = line(1, PROD_A, PBE_A, "3", "400", sbqq__billingfrequency__c="Quarterly", sbqq__subscriptionterm__c=24)
    result = translate_order(bundle([item], **{"sbqq__quote__r.sbqq__subscriptionterm__c": 24}), ctx)
    price = next(o for o in result.objects if o.kind is ObjectKind.PRICE)
    assert price.params["recurring"]["interval_count"] == 3
    assert Decimal(price.params["unit_amount_decimal"]) == Decimal(5000)


def _freq(n: int, frequency: str, unit_price: str, term: int) -> OrderItemRecord:
    return line(n, PROD_A, PBE_A, "1", unit_price, sbqq__billingfrequency__c=frequency, sbqq__subscriptionterm__c=term)


@pytest.mark.parametrize(
    ("frequencies", "term", "intervals"),
    [
        (["Annual", "Quarterly", "Monthly"], 12, [12, 3, 1]),
        (["Annual", "Quarterly", "Monthly"], 24, [12, 3, 1]),
        (["Semiannual", "Monthly"], 18, [6, 1]),
        (["Quarterly", "Monthly"], 9, [3, 1]),
        (["Monthly"], 7, [1]),
    ],
)
def test_lines_billing_at_different_frequencies_share_one_flexible_schedule(
    ctx: TranslateContext, frequencies: list[str], term: int, intervals: list[int]
) -> None:
    items = [_freq(n, f, "1260", term) for n, f in enumerate(frequencies, 1)]
    result = translate_order(bundle(items, **{"sbqq__quote__r.sbqq__subscriptionterm__c": term}), ctx)
    params = result.main.params
    assert params["billing_mode"] == {"type": "flexible"}
    (phase,) = params["phases"]
    assert phase["duration"] == {"interval": "month", "interval_count": term}
    prices = {o.key: o.params for o in result.objects if o.kind is ObjectKind.PRICE}
    billed = [prices[item["price"].key]["recurring"]["interval_count"] for item in phase["items"]]
    assert billed == intervals
    # Each line's price is its share of the line's total for one of its own periods.
    amounts = [Decimal(prices[item["price"].key]["unit_amount_decimal"]) for item in phase["items"]]
    assert amounts == [Decimal(126000) * months / term for months in intervals]


def test_every_new_schedule_is_in_flexible_billing_mode(ctx: TranslateContext) -> None:
    result = translate_order(bundle([line(1, PROD_A, PBE_A, "10", "120")]), ctx)
    assert result.main.params["billing_mode"] == {"type": "flexible"}
