"""Translation tables: Quote_Stripe_Coupon__c records into Stripe coupons, and where they apply (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from cpq_sync.config import DEFAULT_MAPPINGS_DIR
from cpq_sync.desired import ObjectKind, Ref
from cpq_sync.errors import DataError
from cpq_sync.mapping.compile import compile_mappings
from cpq_sync.mapping.loader import load_mappings
from cpq_sync.plan import Action, decide
from cpq_sync.records import (
    AccountRecord,
    CouponRecord,
    OrderItemRecord,
    OrderRecord,
    Product2Record,
)
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.coupons import translate_coupon
from cpq_sync.translate.order import OrderBundle, translate_order
from tests.unit.builders import line, pbe

COUPON = "a0G000000000001AAA"
COUPON_2 = "a0G000000000002AAA"
ACCOUNT = "001000000000001AAA"
ORDER = "801000000000001AAA"
PROD_A, PROD_B, PROD_FEE = "01t000000000001AAA", "01t000000000002AAA", "01t000000000003AAA"
PBE_A, PBE_B, PBE_FEE = "01u000000000001AAA", "01u000000000002AAA", "01u000000000003AAA"


@pytest.fixture(scope="module")
def ctx() -> TranslateContext:
    mappings = compile_mappings(load_mappings(DEFAULT_MAPPINGS_DIR))
    return TranslateContext(mappings=mappings, instance_url="https://example.my.salesforce.com")


def coupon(cid: str = COUPON, **values: Any) -> CouponRecord:
    row = {
        "id": cid,
        "name": "WELCOME10-00001",
        "name__c": "Welcome 10%",
        "percent_off__c": 10,
        "duration__c": "forever",
        "currencyisocode": "USD",
        **values,
    }
    return CouponRecord.from_flat(row)


# --- one coupon -----------------------------------------------------------------------------------------------

VALID = [
    ({"percent_off__c": 10, "duration__c": "forever"}, {"percent_off": 10.0, "duration": "forever"}),
    ({"percent_off__c": 12.5, "duration__c": "once"}, {"percent_off": 12.5, "duration": "once"}),
    ({"percent_off__c": 100, "duration__c": "once"}, {"percent_off": 100.0, "duration": "once"}),
    (
        {"percent_off__c": None, "amount_off__c": 50, "duration__c": "repeating", "duration_in_months__c": 3},
        {"amount_off": 5000, "currency": "usd", "duration": "repeating", "duration_in_months": 3},
    ),
    (
        {"percent_off__c": None, "amount_off__c": 19.99, "duration__c": "Forever"},
        {"amount_off": 1999, "currency": "usd", "duration": "forever"},
    ),
    # months on a once / forever coupon mean nothing to Stripe (it refuses them there): left out
    (
        {"percent_off__c": 5, "duration__c": "forever", "duration_in_months__c": 6},
        {"percent_off": 5.0, "duration": "forever"},
    ),
    (
        {"percent_off__c": 15, "duration__c": "repeating", "duration_in_months__c": 3, "max_redemptions__c": 500},
        {"percent_off": 15.0, "duration": "repeating", "duration_in_months": 3, "max_redemptions": 500},
    ),
]


@pytest.mark.parametrize(("values", "expected"), VALID)
def test_valid_coupons(values: dict[str, Any], expected: dict[str, Any], ctx: TranslateContext) -> None:
    desired = translate_coupon(coupon(**values), "usd", ctx)
    assert desired.kind is ObjectKind.COUPON and desired.key == f"coupon:{COUPON}"
    assert desired.record.object_type == "Quote_Stripe_Coupon__c" and desired.record.id == COUPON
    params = dict(desired.params)
    assert params.pop("name") == "Welcome 10%"
    assert params.pop("metadata") == {
        "salesforce_coupon_id": COUPON,
        "salesforce_coupon_link": f"https://example.my.salesforce.com/{COUPON}",
    }
    assert params == expected


def test_zero_decimal_currency_amount_is_not_multiplied(ctx: TranslateContext) -> None:
    values = {"percent_off__c": None, "amount_off__c": 5000, "currencyisocode": "JPY"}
    assert translate_coupon(coupon(**values), "jpy", ctx).params["amount_off"] == 5000


def test_the_name_falls_back_to_the_record_name_and_is_cut_to_stripe_limit(ctx: TranslateContext) -> None:
    assert translate_coupon(coupon(name__c=None), "usd", ctx).params["name"] == "WELCOME10-00001"
    assert len(translate_coupon(coupon(name__c=None, name="X" * 80), "usd", ctx).params["name"]) == 40


INVALID = [
    ({"percent_off__c": 10, "amount_off__c": 5}, "Amount_Off__c", "both Percent_Off__c (10) and Amount_Off__c (5)"),
    ({"percent_off__c": None}, "Percent_Off__c", "neither Percent_Off__c nor Amount_Off__c is set"),
    ({"percent_off__c": 120}, "Percent_Off__c", "percent off 120 must be more than 0 and at most 100"),
    ({"percent_off__c": 0}, "Percent_Off__c", "percent off 0 must be more than 0"),
    ({"percent_off__c": None, "amount_off__c": -5}, "Amount_Off__c", "amount off -5 must be positive"),
    ({"duration__c": "repeating"}, "Duration_In_Months__c", "a repeating coupon needs its number of months"),
    (
        {"duration__c": "repeating", "duration_in_months__c": 2.5},
        "Duration_In_Months__c",
        "duration in months 2.5 is a decimal",
    ),
    ({"duration__c": "repeating", "duration_in_months__c": 0}, "Duration_In_Months__c", "must be positive"),
    ({"duration__c": None}, "Duration__c", "the duration is empty"),
    ({"duration__c": "weekly"}, "Duration__c", "duration 'weekly' is not supported"),
    ({"max_redemptions__c": 0}, "Max_Redemptions__c", "max redemptions 0 must be positive"),
    (
        {"percent_off__c": None, "amount_off__c": 50, "currencyisocode": "EUR"},
        "CurrencyIsoCode",
        "takes an amount off in EUR but the order is in USD",
    ),
    (
        {"percent_off__c": None, "amount_off__c": 50, "currencyisocode": None},
        "CurrencyIsoCode",
        "an amount-off coupon needs a currency",
    ),
]


@pytest.mark.parametrize(("values", "field", "problem"), INVALID)
def test_invalid_coupons_name_the_record_and_field(
    values: dict[str, Any], field: str, problem: str, ctx: TranslateContext
) -> None:
    with pytest.raises(DataError) as caught:
        translate_coupon(coupon(**values), "usd", ctx)
    err = caught.value
    assert (err.object_type, err.record_id, err.field) == ("Quote_Stripe_Coupon__c", COUPON, field)
    assert problem in err.message
    assert err.message.startswith(f"Data Error: Quote_Stripe_Coupon__c {COUPON}, field {field}: ")


def test_fractional_minor_units_are_an_error(ctx: TranslateContext) -> None:
    values = {"percent_off__c": None, "amount_off__c": 10.5, "currencyisocode": "JPY"}
    with pytest.raises(DataError, match="not a whole number of the currency's smallest unit"):
        translate_coupon(coupon(**values), "jpy", ctx)


def test_percent_coupons_ignore_their_currency(ctx: TranslateContext) -> None:
    assert "currency" not in translate_coupon(coupon(currencyisocode="EUR"), "usd", ctx).params


def test_a_single_currency_org_uses_the_default_currency(ctx: TranslateContext) -> None:
    single = TranslateContext(mappings=ctx.mappings, default_currency="gbp", multi_currency=False)
    values = {"percent_off__c": None, "amount_off__c": 20, "currencyisocode": None}
    assert translate_coupon(coupon(**values), "gbp", single).params["currency"] == "gbp"


def test_reused_while_unchanged_replaced_when_changed(ctx: TranslateContext) -> None:
    first = translate_coupon(coupon(), "usd", ctx)
    synced = coupon(stripe_id__c="XYZ123", stripe_sync_hash__c=first.content_hash)
    assert decide(translate_coupon(synced, "usd", ctx)).action is Action.SKIP
    changed = coupon(stripe_id__c="XYZ123", stripe_sync_hash__c=first.content_hash, percent_off__c=20)
    assert decide(translate_coupon(changed, "usd", ctx)).action is Action.REPLACE
    renamed = coupon(stripe_id__c="XYZ123", stripe_sync_hash__c=first.content_hash, name__c="Now 10%")
    assert decide(translate_coupon(renamed, "usd", ctx)).action is Action.REPLACE


# --- where coupons apply --------------------------------------------------------------------------------------


def _line(n: int, product_id: str, pbe_id: str, qty: int, unit_price: str, **values: Any) -> OrderItemRecord:
    return line(
        n, product_id, pbe_id, str(qty), unit_price, **{"sbqq__quoteline__c": f"a0B000000000{n:03d}AAA", **values}
    )


def _fee(n: int) -> OrderItemRecord:
    return _line(
        n,
        PROD_FEE,
        PBE_FEE,
        1,
        "500",
        sbqq__chargetype__c="One-Time",
        sbqq__billingfrequency__c=None,
        sbqq__subscriptionpricing__c=None,
        sbqq__subscriptionterm__c=None,
    )


def bundle(
    items: list[OrderItemRecord],
    quote: list[CouponRecord] | None = None,
    lines: dict[str, list[CouponRecord]] | None = None,
) -> OrderBundle:
    order = OrderRecord.from_flat(
        {
            "id": ORDER,
            "accountid": ACCOUNT,
            "type": "New",
            "effectivedate": "2022-01-01",
            "currencyisocode": "USD",
            "sbqq__quote__c": "a0A000000000001AAA",
        }
    )
    return OrderBundle(
        order=order,
        items=items,
        account=AccountRecord.from_flat({"id": ACCOUNT, "name": "Acme"}),
        products={p: Product2Record.from_flat({"id": p, "name": p}) for p in (PROD_A, PROD_B, PROD_FEE)},
        pricebook_entries={
            PBE_A: pbe(PBE_A, PROD_A, "10"),
            PBE_B: pbe(PBE_B, PROD_B, "20"),
            PBE_FEE: pbe(PBE_FEE, PROD_FEE, "500", None),
        },
        quote_coupons=quote or [],
        line_coupons=lines or {},
    )


AMOUNT_50 = {"percent_off__c": None, "amount_off__c": 50, "duration__c": "repeating", "duration_in_months__c": 3}


def test_order_coupons_become_phase_discounts_and_line_coupons_item_discounts(ctx: TranslateContext) -> None:
    a, b, fee = _line(1, PROD_A, PBE_A, 10, "120"), _line(2, PROD_B, PBE_B, 5, "240"), _fee(3)
    stacked = [coupon(), coupon(COUPON_2, **AMOUNT_50)]
    result = translate_order(bundle([a, b, fee], quote=stacked, lines={b.id: [coupon(COUPON_2, **AMOUNT_50)]}), ctx)
    (phase,) = result.main.params["phases"]
    assert phase["discounts"] == [{"coupon": Ref(f"coupon:{COUPON}")}, {"coupon": Ref(f"coupon:{COUPON_2}")}]
    by_line = {i["metadata"]["salesforce_order_item_id"]: i for i in phase["items"]}
    assert "discounts" not in by_line[a.id]
    assert by_line[b.id]["discounts"] == [{"coupon": Ref(f"coupon:{COUPON_2}")}]
    assert "discounts" not in phase["add_invoice_items"][0]
    coupons = [o for o in result.objects if o.kind is ObjectKind.COUPON]
    assert [c.key for c in coupons] == [f"coupon:{COUPON}", f"coupon:{COUPON_2}"]  # each once
    assert result.main.depends_on >= {f"coupon:{COUPON}", f"coupon:{COUPON_2}"}


def test_a_line_coupon_on_a_one_time_line_discounts_that_invoice_item(ctx: TranslateContext) -> None:
    a, fee = _line(1, PROD_A, PBE_A, 1, "120"), _fee(2)
    result = translate_order(bundle([a, fee], lines={fee.id: [coupon()]}), ctx)
    (phase,) = result.main.params["phases"]
    assert phase["add_invoice_items"][0]["discounts"] == [{"coupon": Ref(f"coupon:{COUPON}")}]
    assert "discounts" not in phase and "discounts" not in phase["items"][0]


def test_one_time_orders_carry_their_coupons_on_the_invoice_and_its_lines(ctx: TranslateContext) -> None:
    fee = _fee(1)
    result = translate_order(bundle([fee], quote=[coupon()], lines={fee.id: [coupon(COUPON_2)]}), ctx)
    assert result.main.kind is ObjectKind.INVOICE
    assert result.main.params["discounts"] == [{"coupon": Ref(f"coupon:{COUPON}")}]
    assert result.main.children["lines"][0]["discounts"] == [{"coupon": Ref(f"coupon:{COUPON_2}")}]


def test_no_coupons_leave_the_schedule_as_it_was(ctx: TranslateContext) -> None:
    a = _line(1, PROD_A, PBE_A, 1, "120")
    plain = translate_order(bundle([a]), ctx)
    assert "discounts" not in plain.main.params["phases"][0]
    assert [o.kind for o in plain.objects].count(ObjectKind.COUPON) == 0


def test_skipped_lines_leave_their_coupons_out(ctx: TranslateContext) -> None:
    a, b = _line(1, PROD_A, PBE_A, 1, "120"), _line(2, PROD_B, PBE_B, 1, "240", skip_line_item__c=True)
    result = translate_order(bundle([a, b], lines={b.id: [coupon(percent_off__c=500)]}), ctx)
    assert [o.kind for o in result.objects].count(ObjectKind.COUPON) == 0


def test_an_invalid_coupon_fails_the_order_naming_the_coupon(ctx: TranslateContext) -> None:
    a = _line(1, PROD_A, PBE_A, 1, "120")
    with pytest.raises(DataError) as caught:
        translate_order(bundle([a], quote=[coupon(duration__c="repeating")]), ctx)
    assert (caught.value.object_type, caught.value.record_id) == ("Quote_Stripe_Coupon__c", COUPON)


def test_lines_billed_as_one_item_must_share_their_coupons(ctx: TranslateContext) -> None:
    a1, a2 = _line(1, PROD_A, PBE_A, 2, "120"), _line(2, PROD_A, PBE_A, 3, "120")
    same = translate_order(bundle([a1, a2], lines={a1.id: [coupon()], a2.id: [coupon()]}), ctx)
    (item,) = same.main.params["phases"][0]["items"]
    assert item["quantity"] == 5 and item["discounts"] == [{"coupon": Ref(f"coupon:{COUPON}")}]
    with pytest.raises(DataError) as caught:
        translate_order(bundle([a1, a2], lines={a2.id: [coupon()]}), ctx)
    assert caught.value.field == "SBQQ__QuoteLine__c" and a1.id in caught.value.message


def test_custom_coupon_mappings_are_queried_and_applied(tmp_path: Any) -> None:
    from cpq_sync.salesforce.extract import FieldLists

    for name in ("default.yaml", "preferences.yaml"):
        (tmp_path / name).write_text((DEFAULT_MAPPINGS_DIR / name).read_text())
    (tmp_path / "custom.yaml").write_text(
        "field_defaults:\n  coupon:\n    metadata.source: Salesforce\n"
        "field_mappings:\n  coupon:\n    metadata.campaign: Campaign__r.Name\n"
    )
    mappings = load_mappings(tmp_path)
    fields = FieldLists.build(mappings)
    assert "campaign__r.name" in fields.coupon and "percent_off__c" in fields.coupon
    custom = TranslateContext(mappings=compile_mappings(mappings))
    params = translate_coupon(coupon(**{"campaign__r.name": "Spring"}), "usd", custom).params
    assert params["metadata"]["campaign"] == "Spring" and params["metadata"]["source"] == "Salesforce"
    assert params["metadata"]["salesforce_coupon_id"] == COUPON
