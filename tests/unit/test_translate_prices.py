"""Translation tables for prices beyond flat (metered, tiered, block) and currencies (pure, no I/O)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cpq_sync.consumption import ConsumptionRateRecord, ConsumptionSchedule, ConsumptionScheduleRecord
from cpq_sync.desired import ObjectKind, Ref
from cpq_sync.errors import DataError
from cpq_sync.records import OrderRecord, PricebookEntryRecord, Product2Record
from cpq_sync.translate.catalog import line_charge, pbe_price_objects
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.order import translate_order
from cpq_sync.translate.prices import consumption_tiers, currency_conflicts, product_schedule, subscribes
from tests.unit.test_translate_order import ACCOUNT, PBE_A, PROD_A, bundle, line
from tests.unit.test_translate_order import ctx as ctx  # the module's fixture

PROD_U, PBE_U = "01t000000000009AAA", "01u000000000009AAA"
SCHEDULE = "0sn000000000001AAA"


def rate(n: int, lower: int, upper: Any, price: str, method: str = "PerUnit") -> ConsumptionRateRecord:
    return ConsumptionRateRecord.from_flat(
        {
            "id": f"0sr00000000000{n}AAA",
            "lowerbound": lower,
            "upperbound": upper,
            "price": price,
            "pricingmethod": method,
        }
    )


def schedule(
    kind: str, *rates: ConsumptionRateRecord, currency: str = "USD", sid: str = SCHEDULE, active: bool = True
) -> ConsumptionSchedule:
    record = ConsumptionScheduleRecord.from_flat(
        {"id": sid, "type": kind, "currencyisocode": currency, "isactive": active}
    )
    return ConsumptionSchedule(record, tuple(rates))


SLAB = schedule("Slab", rate(1, 0, 1000, "0.10"), rate(2, 1000, 10000, "0.08"), rate(3, 10000, None, "0.05"))
RANGE = schedule("Range", rate(1, 0, 1000, "25", "FlatFee"), rate(2, 1000, None, "0.02"))


@pytest.mark.parametrize(
    ("sched", "currency", "expected"),
    [
        (
            SLAB,
            "usd",
            {
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "tiers": [
                    {"up_to": 1000, "unit_amount_decimal": "10"},
                    {"up_to": 10000, "unit_amount_decimal": "8"},
                    {"up_to": "inf", "unit_amount_decimal": "5"},
                ],
            },
        ),
        (
            RANGE,
            "usd",
            {
                "billing_scheme": "tiered",
                "tiers_mode": "volume",
                "tiers": [{"up_to": 1000, "flat_amount_decimal": "2500"}, {"up_to": "inf", "unit_amount_decimal": "2"}],
            },
        ),
        (  # zero-decimal currency: yen are not multiplied by 100
            schedule("Range", rate(1, 0, 10, "500", "FlatFee"), rate(2, 10, None, "30"), currency="JPY"),
            "jpy",
            {
                "billing_scheme": "tiered",
                "tiers_mode": "volume",
                "tiers": [{"up_to": 10, "flat_amount_decimal": "500"}, {"up_to": "inf", "unit_amount_decimal": "30"}],
            },
        ),
        (  # rates arrive in any order: sorted by lower bound, the open tier last
            schedule("Slab", rate(3, 100, None, "1"), rate(1, 0, 100, "2")),
            "usd",
            {
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "tiers": [{"up_to": 100, "unit_amount_decimal": "200"}, {"up_to": "inf", "unit_amount_decimal": "100"}],
            },
        ),
    ],
)
def test_consumption_schedules_become_tiers(
    sched: ConsumptionSchedule, currency: str, expected: dict[str, Any]
) -> None:
    assert consumption_tiers(sched, currency) == expected


@pytest.mark.parametrize(
    ("sched", "object_type", "field", "words"),
    [
        (schedule("Stairs", rate(1, 0, None, "1")), "ConsumptionSchedule", "Type", "Slab"),
        (schedule("Slab", rate(1, 0, "10.5", "1"), rate(2, 10, None, "1")), "ConsumptionRate", "UpperBound", "decimal"),
        (
            schedule("Slab", rate(1, 0, None, "1"), rate(2, 10, None, "1")),
            "ConsumptionRate",
            "UpperBound",
            "no upper bound",
        ),
        (
            schedule("Slab", rate(1, 0, 10, "1"), rate(2, 10, 20, "1")),
            "ConsumptionRate",
            "UpperBound",
            "open last tier",
        ),
        (schedule("Slab", rate(1, 0, None, "1", "Percent")), "ConsumptionRate", "PricingMethod", "PerUnit or FlatFee"),
        (schedule("Range"), "ConsumptionSchedule", "ConsumptionRates", "no consumption rates"),
    ],
)
def test_bad_consumption_schedules_are_clear_errors(
    sched: ConsumptionSchedule, object_type: str, field: str, words: str
) -> None:
    with pytest.raises(DataError) as err:
        consumption_tiers(sched, "usd")
    assert err.value.object_type == object_type and err.value.field == field
    assert words in err.value.message


def test_a_line_takes_the_one_active_schedule_in_its_currency(ctx: TranslateContext) -> None:
    item = line(1, PROD_U, PBE_U, "1", "0")
    eur = schedule("Slab", rate(1, 0, None, "1"), currency="EUR", sid="0sn000000000002AAA")
    old = schedule("Slab", rate(1, 0, None, "1"), sid="0sn000000000003AAA", active=False)
    assert product_schedule(item, [eur, SLAB, old], "usd", ctx) is SLAB
    assert product_schedule(item, [eur], "usd", ctx) is None
    with pytest.raises(DataError, match="more than one active consumption schedule") as err:
        product_schedule(item, [SLAB, RANGE], "usd", ctx)
    assert err.value.record_id == item.id


@pytest.mark.parametrize(
    ("values", "metered", "block", "recurring"),
    [
        ({"sbqq__chargetype__c": "Usage", "sbqq__billingtype__c": "Arrears"}, True, False, True),
        ({"sbqq__chargetype__c": "Recurring", "sbqq__billingtype__c": "Arrears"}, True, False, True),
        ({"sbqq__chargetype__c": "Recurring", "sbqq__billingtype__c": "Advance"}, False, False, True),
        ({"sbqq__pricingmethod__c": "Block"}, False, True, True),
        (
            {"sbqq__chargetype__c": "One-Time", "sbqq__billingfrequency__c": None, "sbqq__pricingmethod__c": "Block"},
            False,
            True,
            False,
        ),
    ],
)
def test_line_charge(values: dict[str, Any], metered: bool, block: bool, recurring: bool) -> None:
    charge = line_charge(line(1, PROD_A, PBE_A, "1", "12", **values))
    assert (charge.metered, charge.block, charge.recurring) == (metered, block, recurring)


def usage_pbe(price: str = "0.50", currency: str = "USD") -> PricebookEntryRecord:
    return PricebookEntryRecord.from_flat(
        {
            "id": PBE_U,
            "product2id": PROD_U,
            "unitprice": price,
            "currencyisocode": currency,
            "product2.sbqq__subscriptionterm__c": 1,
            "product2.sbqq__billingfrequency__c": "Monthly",
            "product2.sbqq__chargetype__c": "Usage",
            "product2.sbqq__billingtype__c": "Arrears",
        }
    )


def usage_bundle(unit_price: str = "6", tiers: ConsumptionSchedule | None = None, **line_values: Any) -> Any:
    usage = line(
        2,
        PROD_U,
        PBE_U,
        "1",
        unit_price,
        sbqq__chargetype__c="Usage",
        sbqq__billingtype__c="Arrears",
        sbqq__proratemultiplier__c=12,
        **line_values,
    )
    b = bundle([line(1, PROD_A, PBE_A, "10", "120"), usage])
    b.products[PROD_U] = Product2Record.from_flat({"id": PROD_U, "name": "API Calls"})
    b.pricebook_entries[PBE_U] = usage_pbe()
    if tiers is not None:
        b.consumption[PROD_U] = (tiers,)
    return b


def test_usage_line_bills_a_metered_price_on_the_products_meter_with_no_quantity(ctx: TranslateContext) -> None:
    # CPQ multiplied the 0.50 per-unit price by the 12-month term (UnitPrice 6, multiplier 12): 0.50 per unit.
    result = translate_order(usage_bundle(), ctx)
    (phase,) = result.main.params["phases"]
    items = {i["price"].key: i for i in phase["items"]}
    assert "quantity" not in items[f"price:{PBE_U}"] and items[f"price:{PBE_A}"]["quantity"] == 10
    meter = next(o for o in result.objects if o.kind is ObjectKind.METER)
    assert meter.key == f"meter:{PROD_U}"
    assert meter.params == {
        "display_name": "API Calls",
        "event_name": f"salesforce_usage_{PROD_U}",
        "default_aggregation": {"formula": "sum"},
    }
    price = next(o for o in result.objects if o.key == f"price:{PBE_U}")
    assert price.params["unit_amount_decimal"] == "50"
    assert price.params["recurring"] == {
        "interval": "month",
        "interval_count": 1,
        "usage_type": "metered",
        "meter": Ref(f"meter:{PROD_U}"),
    }
    assert price.depends_on == {f"product:{PROD_U}", f"meter:{PROD_U}"}


def test_tiered_usage_line_bills_the_schedule_tiers(ctx: TranslateContext) -> None:
    result = translate_order(usage_bundle(unit_price="0", tiers=SLAB), ctx)
    price = next(o for o in result.objects if o.key == f"price:{PBE_U}")
    assert price.params["billing_scheme"] == "tiered" and price.params["tiers_mode"] == "graduated"
    assert "unit_amount_decimal" not in price.params
    assert price.params["tiers"][-1] == {"up_to": "inf", "unit_amount_decimal": "5"}


def test_block_line_bills_its_block_once(ctx: TranslateContext) -> None:
    # 5 units picked the block; CPQ's UnitPrice is the block's price for the term.
    b = bundle([line(1, PROD_A, PBE_A, "5", "120", sbqq__pricingmethod__c="Block")])
    (phase,) = translate_order(b, ctx).main.params["phases"]
    (item,) = phase["items"]
    assert item["quantity"] == 1 and item["price"] == Ref(f"price:{PBE_A}")


@pytest.mark.parametrize("tiers", [None, SLAB])
def test_a_changed_price_book_entry_translates_to_the_same_price_as_through_its_lines(
    ctx: TranslateContext, tiers: ConsumptionSchedule | None
) -> None:
    """The entry's price planned on its own (incremental run) and through an order line must be the same object
    with the same hash, or every run would replace it."""
    b = usage_bundle(unit_price="0" if tiers else "6", tiers=tiers)
    b.pricebook_entries[PBE_U] = usage_pbe("0" if tiers else "0.50")
    via_line = next(o for o in translate_order(b, ctx).objects if o.key == f"price:{PBE_U}")
    own = pbe_price_objects(b.pricebook_entries[PBE_U], b.products[PROD_U], b.consumption, ctx)
    assert [o.kind for o in own] == [ObjectKind.PRODUCT, ObjectKind.METER, ObjectKind.PRICE]
    assert own[-1].key == via_line.key and own[-1].content_hash == via_line.content_hash


def new_order(oid: str, currency: str) -> OrderRecord:
    return OrderRecord.from_flat({"id": oid, "accountid": ACCOUNT, "currencyisocode": currency})


O1, O2, O3 = "801000000000011AAA", "801000000000012AAA", "801000000000013AAA"


@pytest.mark.parametrize(
    ("synced", "orders", "failing"),
    [
        ({}, [("USD", O1), ("USD", O2)], set()),
        ({}, [("USD", O1), ("EUR", O2), ("USD", O3)], {O2}),  # the run's first order sets the currency
        ({ACCOUNT: [(O3, "EUR")]}, [("USD", O1), ("EUR", O2)], {O1}),  # Stripe's currency comes first
        ({"001000000000002AAA": [(O3, "EUR")]}, [("USD", O1)], set()),  # another customer
    ],
)
def test_one_currency_per_customer(
    ctx: TranslateContext, synced: dict[str, list[tuple[str, str]]], orders: list[tuple[str, str]], failing: set[str]
) -> None:
    errors = currency_conflicts([(new_order(o, c), ACCOUNT) for c, o in orders], synced, ctx)
    assert set(errors) == failing
    for oid, err in errors.items():
        assert err.record_id == oid and err.field == "CurrencyIsoCode"


def test_orgs_without_multi_currency_use_the_default_currency() -> None:
    single = TranslateContext(default_currency="gbp", multi_currency=False)
    assert currency_conflicts([(new_order(O1, "USD"), ACCOUNT)], {ACCOUNT: [(O2, "EUR")]}, single) == {}
    assert single.currency("EUR") == "gbp"
    assert Decimal(consumption_tiers(SLAB, single.currency(None))["tiers"][0]["unit_amount_decimal"]) == 10  # type: ignore[index]


def test_orgs_without_multi_currency_query_no_currency_field() -> None:
    from cpq_sync.salesforce.extract import FieldLists
    from cpq_sync.salesforce.pricing import consumption_query, org_is_multi_currency, single_currency_fields

    assert org_is_multi_currency({"fields": [{"name": "Id"}, {"name": "CurrencyIsoCode"}]})
    assert not org_is_multi_currency({"fields": [{"name": "Id"}]})
    fields = FieldLists(
        account=["id", "currencyisocode"],
        product=["id"],
        pricebook_entry=["id", "currencyisocode", "product2.sbqq__chargetype__c"],
        order=["id", "currencyisocode", "account.currencyisocode"],
        order_item=["id", "currencyisocode"],
    )
    single = single_currency_fields(fields, multi_currency=False)
    assert single.order == ["id"] and single.pricebook_entry == ["id", "product2.sbqq__chargetype__c"]
    assert single_currency_fields(fields, multi_currency=True) is fields
    assert "CurrencyIsoCode" not in consumption_query(["01t000000000001AAA"], multi_currency=False)
    assert "CurrencyIsoCode" in consumption_query(["01t000000000001AAA"])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"sbqq__chargetype__c": "Recurring"}, True),
        ({"sbqq__chargetype__c": "Usage", "sbqq__billingtype__c": "Arrears"}, True),
        ({"sbqq__chargetype__c": "One-Time", "sbqq__subscriptionpricing__c": None}, False),
        ({"sbqq__chargetype__c": "Recurring", "skip_line_item__c": True}, False),  # a skipped line bills nothing
    ],
)
def test_only_orders_that_subscribe_hold_the_customer_to_a_currency(values: dict[str, Any], expected: bool) -> None:
    assert subscribes(bundle([line(1, PROD_A, PBE_A, "1", "12", **values)])) is expected
