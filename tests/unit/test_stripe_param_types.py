"""The strict checker of Stripe parameters (built on the SDK's TypedDicts) and the wire decoding it sees."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe.params as sp
from stripe._encode import _api_encode

from cpq_sync.sandbox.stripe.wire import decode
from cpq_sync.stripe.param_types import ParamError, check_params, field_type_at, params_type


def on_the_wire(params: dict[str, Any]) -> dict[str, Any]:
    """What the sandbox decodes from the SDK's own form encoding of ``params``."""
    return decode(urlencode(list(_api_encode(params))))


def error_for(method: str, path: str, params: dict[str, Any]) -> ParamError:
    with pytest.raises(ParamError) as info:
        check_params(method, path, on_the_wire(params))
    return info.value


def test_routes_map_to_the_sdk_params_types() -> None:
    assert params_type("POST", "/v1/customers") is sp.CustomerCreateParams
    assert params_type("POST", "/v1/customers/cus_123") is sp.CustomerUpdateParams
    assert params_type("GET", "/v1/customers/search") is sp.CustomerSearchParams
    assert params_type("POST", "/v1/subscription_schedules/{schedule}") is sp.SubscriptionScheduleUpdateParams
    assert params_type("POST", "/v1/billing/meters") is sp.billing.MeterCreateParams
    assert params_type("POST", "/v1/not_a_thing") is None


def test_wire_decoding_rebuilds_nested_lists_and_dicts() -> None:
    params = {
        "phases": [{"items": [{"price": "price_1", "quantity": 3}], "metadata": {"0": "zero"}}],
        "metadata": {"a": ""},
        "expand": ["customer"],
        "flag": True,
    }
    assert on_the_wire(params) == {
        "phases": [{"items": [{"price": "price_1", "quantity": "3"}], "metadata": {"0": "zero"}}],
        "metadata": {"a": ""},
        "expand": ["customer"],
        "flag": "true",
    }


def test_valid_nested_schedule_params_pass() -> None:
    check_params(
        "POST",
        "/v1/subscription_schedules",
        on_the_wire(
            {
                "customer": "cus_1",
                "start_date": "now",
                "end_behavior": "release",
                "default_settings": {
                    "collection_method": "send_invoice",
                    "invoice_settings": {"days_until_due": 30},
                },
                "phases": [
                    {
                        "items": [{"price": "price_1", "quantity": 2, "discounts": [{"coupon": "C"}]}],
                        "duration": {"interval": "month", "interval_count": 12},
                        "add_invoice_items": [{"price": "price_2", "quantity": 1}],
                        "proration_behavior": "none",
                        "metadata": {"k": "v"},
                    }
                ],
            }
        ),
    )


@pytest.mark.parametrize(
    ("method", "path", "params", "param", "message"),
    [
        (
            "POST",
            "/v1/subscription_schedules",
            {"phases": [{"items": [{"price": "p"}], "iterations": 12}]},
            "phases[0][iterations]",
            "Received unknown parameter: phases[0][iterations]",
        ),
        (
            "POST",
            "/v1/prices",
            {"currency": "usd", "recurring": {"interval": "month", "aggregate_usage": "sum"}},
            "recurring[aggregate_usage]",
            "Received unknown parameter: recurring[aggregate_usage]",
        ),
        (
            "POST",
            "/v1/subscriptions",
            {"customer": "c", "coupon": "X"},
            "coupon",
            "Received unknown parameter: coupon",
        ),
        (
            "POST",
            "/v1/prices",
            {"currency": "usd", "unit_amount": "ten"},
            "unit_amount",
            "Invalid integer: ten",
        ),
        ("POST", "/v1/prices", {"currency": "usd", "active": "yes"}, "active", "Invalid boolean: yes"),
        (
            "POST",
            "/v1/prices",
            {"currency": "usd", "unit_amount_decimal": "1.2.3"},
            "unit_amount_decimal",
            "Invalid decimal",
        ),
        ("POST", "/v1/prices", {"currency": "zzz"}, "currency", "Invalid currency: zzz"),
        ("POST", "/v1/prices", {"unit_amount": 5}, "currency", "Missing required param: currency."),
        (
            "POST",
            "/v1/prices",
            {"currency": "usd", "recurring": {"interval": "fortnight"}},
            "recurring[interval]",
            "Invalid interval: must be one of day, month, week, or year",
        ),
        (
            "POST",
            "/v1/subscription_schedules",
            {"phases": [{"items": [{"price": "p", "quantity": "two"}]}]},
            "phases[0][items][0][quantity]",
            "Invalid integer: two",
        ),
        ("POST", "/v1/subscription_schedules", {"phases": "x"}, "phases", "Invalid array"),
        ("POST", "/v1/customers", {"address": "Paris"}, "address", "Invalid object"),
        ("GET", "/v1/customers", {"limit": "many"}, "limit", "Invalid integer: many"),
    ],
)
def test_rejections_name_the_param_as_stripe_does(
    method: str, path: str, params: dict[str, Any], param: str, message: str
) -> None:
    error = error_for(method, path, params)
    assert error.param == param
    assert error.message.startswith(message)


def test_unset_with_empty_string_where_the_types_allow_it() -> None:
    check_params("POST", "/v1/customers/cus_1", {"metadata": "", "description": "", "address": ""})


def test_native_python_values_are_accepted_too() -> None:
    check_params("POST", "/v1/prices", {"currency": "usd", "unit_amount_decimal": Decimal("1.5"), "active": True})


def test_operation_without_params_type_rejects_any_param() -> None:
    with pytest.raises(ParamError) as info:
        check_params("POST", "/v1/not_a_thing", {"x": "1"})
    assert info.value.param == "x"


def test_field_type_at_walks_dotted_paths() -> None:
    schedule = sp.SubscriptionScheduleCreateParams
    assert field_type_at(schedule, "default_settings.invoice_settings.days_until_due") is int
    assert field_type_at(schedule, "phases.items.quantity") is int
    assert field_type_at(schedule, "metadata.salesforce_order_id") is str
    assert field_type_at(sp.PriceCreateParams, "unit_amount_decimal") is Decimal
    with pytest.raises(ParamError) as info:
        field_type_at(schedule, "phases.iterations")
    assert info.value.param == "phases[iterations]"
    with pytest.raises(ParamError):
        field_type_at(schedule, "customer.name")


def test_open_enums_follow_the_kept_list() -> None:
    check_params("POST", "/v1/subscription_schedules", {"end_behavior": "cancel"})
    error = error_for("POST", "/v1/subscription_schedules", {"end_behavior": "renew"})
    assert (error.param, error.message) == (
        "end_behavior",
        "Invalid end_behavior: must be one of cancel or release",
    )
    error = error_for("POST", "/v1/coupons", {"percent_off": 5, "duration": "sometimes"})
    assert error.param == "duration"


def test_kept_open_enum_values_are_known_to_the_sdk() -> None:
    """Every kept value appears among the SDK's literals for that field somewhere (a typo would not)."""
    from typing import Literal, get_args, get_origin

    from cpq_sync.stripe.param_types import OPEN_ENUM_VALUES, typed_dict_hints

    literals: dict[str, set[str]] = {}
    for typed_dict in (
        sp.SubscriptionScheduleCreateParams,
        sp.SubscriptionScheduleCreateParamsPhase,
        sp.SubscriptionScheduleCreateParamsDefaultSettings,
        sp.PriceCreateParams,
        sp.PriceCreateParamsRecurring,
        sp.PriceCreateParamsTransformQuantity,
        sp.CouponCreateParams,
        sp.billing.MeterCreateParamsDefaultAggregation,
    ):
        for name, annotation in typed_dict_hints(typed_dict).items():
            for member in get_args(annotation):
                if get_origin(member) is Literal:
                    literals.setdefault(name, set()).update(str(v) for v in get_args(member))
    for name, values in OPEN_ENUM_VALUES.items():
        assert values <= literals.get(name, set()), name
