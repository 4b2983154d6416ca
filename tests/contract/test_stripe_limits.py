"""Stripe's value limits (text lengths, metadata, amounts, intervals, idempotency keys), through a real StripeClient.

Each over-the-limit case must be refused as Stripe refuses it: HTTP 400 ``invalid_request_error`` naming the
parameter, its message giving the limit; each case at the limit must be accepted (a sandbox stricter than Stripe
is as wrong as a laxer one). With ``STRIPE_API_KEY`` set the same table runs against Stripe test mode.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import stripe

from cpq_sync.sandbox import stripe as sandbox
from tests.contract.conftest import LIVE_KEY


@pytest.fixture
def client(live: bool, directory: Path) -> Iterator[stripe.StripeClient]:
    if live:
        assert LIVE_KEY is not None
        yield stripe.StripeClient(api_key=LIVE_KEY, max_network_retries=2)
    else:
        yield sandbox.connect(directory)


class Account:
    """The objects a case needs, made on first use."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.v1 = client.v1

    @cached_property
    def customer(self) -> str:
        return self.v1.customers.create(params={"name": "Acme"}).id

    @cached_property
    def product(self) -> str:
        return self.v1.products.create(params={"name": "Seat"}).id

    @cached_property
    def monthly_price(self) -> str:
        params: dict[str, Any] = {
            "product": self.product,
            "currency": "usd",
            "unit_amount": 1000,
            "recurring": {"interval": "month"},
        }
        return self.v1.prices.create(params=params).id  # type: ignore[arg-type]

    # -- one request per resource, with the params under test
    def customer_with(self, **params: Any) -> Any:
        return self.v1.customers.create(params=params)  # type: ignore[arg-type]

    def product_with(self, **params: Any) -> Any:
        merged: dict[str, Any] = {"name": "Seat", **params}
        return self.v1.products.create(params=merged)  # type: ignore[arg-type]

    def price_with(self, **params: Any) -> Any:
        base: dict[str, Any] = {"product": self.product, "currency": "usd"}
        if not {"unit_amount", "unit_amount_decimal", "tiers"} & params.keys():
            base["unit_amount"] = 100
        base.update(params)
        return self.v1.prices.create(params=base)  # type: ignore[arg-type]

    def coupon_with(self, **params: Any) -> Any:
        merged: dict[str, Any] = {"percent_off": 10, "duration": "once", **params}
        return self.v1.coupons.create(params=merged)  # type: ignore[arg-type]

    def invoice_with(self, **params: Any) -> Any:
        return self.v1.invoices.create(params={"customer": self.customer, **params})  # type: ignore[arg-type]

    def invoice_item_with(self, **params: Any) -> Any:
        base = {"customer": self.customer, "currency": "usd"}
        return self.v1.invoice_items.create(params={**base, **params})  # type: ignore[arg-type]

    def subscription_with(self, **params: Any) -> Any:
        base: dict[str, Any] = {"customer": self.customer, "collection_method": "send_invoice", "days_until_due": 30}
        if "items" not in params:
            base["items"] = [{"price": self.monthly_price}]
        return self.v1.subscriptions.create(params={**base, **params})  # type: ignore[arg-type]

    def schedule_with(self, **phase: Any) -> Any:
        params: dict[str, Any] = {
            "customer": self.customer,
            "start_date": "now",
            "phases": [
                {"items": [{"price": self.monthly_price}], "duration": {"interval": "month", "interval_count": 1}}
                | phase
            ],
        }
        return self.v1.subscription_schedules.create(params=params)  # type: ignore[arg-type]


@pytest.fixture
def account(client: stripe.StripeClient) -> Account:
    return Account(client)


@dataclass(frozen=True)
class Case:
    """``call(account, value)`` sends ``value`` in the parameter ``param``: ``over`` is refused, ``at`` accepted."""

    id: str
    call: Callable[[Account, Any], Any]
    param: str
    over: Any
    at: Any
    limit: str  # how the message gives the limit


def text(n: int, fill: str = "a") -> str:
    return fill * n


def email(n: int) -> str:
    domain = "@example.com"
    return "a" * (n - len(domain)) + domain


CASES = [
    Case("customer.name", lambda a, v: a.customer_with(name=v), "name", text(257), text(256), "256 characters"),
    Case("customer.phone", lambda a, v: a.customer_with(phone=v), "phone", text(21, "1"), text(20, "1"), "20"),
    Case("customer.email", lambda a, v: a.customer_with(email=v), "email", email(513), email(512), "512"),
    Case(
        "customer.description",
        lambda a, v: a.customer_with(description=v),
        "description",
        text(5001),
        text(5000),
        "5000",
    ),
    Case(
        "customer.address.line1",
        lambda a, v: a.customer_with(address={"line1": v, "country": "US"}),
        "address[line1]",
        text(5001),
        text(5000),
        "5000",
    ),
    Case("product.name", lambda a, v: a.product_with(name=v), "name", text(5001), text(5000), "5000"),
    Case(
        "product.description",
        lambda a, v: a.product_with(description=v),
        "description",
        text(40_001),
        text(40_000),
        "40000",
    ),
    Case(
        "product.statement_descriptor",
        lambda a, v: a.product_with(statement_descriptor=v),
        "statement_descriptor",
        text(23, "A"),
        text(22, "A"),
        "22",
    ),
    Case("product.unit_label", lambda a, v: a.product_with(unit_label=v), "unit_label", text(13), text(12), "12"),
    Case("price.nickname", lambda a, v: a.price_with(nickname=v), "nickname", text(5001), text(5000), "5000"),
    Case(
        "price.lookup_key",
        lambda a, v: a.price_with(lookup_key=v + uuid.uuid4().hex[:8]),
        "lookup_key",
        text(193),
        text(192),
        "200",
    ),
    Case(
        "price.product_data.statement_descriptor",
        lambda a, v: a.v1.prices.create(
            params={"currency": "usd", "unit_amount": 100, "product_data": {"name": "Seat", "statement_descriptor": v}}
        ),
        "product_data[statement_descriptor]",
        text(23, "A"),
        text(22, "A"),
        "22",
    ),
    Case("coupon.name", lambda a, v: a.coupon_with(name=v), "name", text(41), text(40), "40"),
    Case(
        "invoice.description",
        lambda a, v: a.invoice_with(description=v),
        "description",
        text(1501),
        text(1500),
        "1500",
    ),
    Case(
        "subscription.description",
        lambda a, v: a.subscription_with(description=v),
        "description",
        text(501),
        text(500),
        "500",
    ),
    Case(
        "schedule.phases.description",
        lambda a, v: a.schedule_with(description=v),
        "phases[0][description]",
        text(501),
        text(500),
        "500",
    ),
    Case(
        "invoiceitem.description",
        lambda a, v: a.invoice_item_with(amount=100, description=v),
        "description",
        text(5001),
        text(5000),
        "5000",
    ),
    # -- amounts: 8 digits, 12 decimal places
    Case(
        "price.unit_amount",
        lambda a, v: a.price_with(unit_amount=v),
        "unit_amount",
        100_000_000,
        99_999_999,
        "99999999",
    ),
    Case(
        "price.unit_amount_decimal",
        lambda a, v: a.price_with(unit_amount_decimal=v),
        "unit_amount_decimal",
        "100000000",
        "99999999.999999999999",
        "100000000",
    ),
    Case(
        "price.unit_amount_decimal.places",
        lambda a, v: a.price_with(unit_amount_decimal=v),
        "unit_amount_decimal",
        "1.0000000000001",
        "1.000000000001",
        "12 decimal places",
    ),
    Case(
        "price.tiers.unit_amount",
        lambda a, v: a.price_with(
            recurring={"interval": "month"},
            billing_scheme="tiered",
            tiers_mode="graduated",
            tiers=[{"up_to": 10, "unit_amount": v}, {"up_to": "inf", "unit_amount": 1}],
        ),
        "tiers[0][unit_amount]",
        100_000_000,
        99_999_999,
        "99999999",
    ),
    Case(
        "invoiceitem.amount",
        lambda a, v: a.invoice_item_with(amount=v),
        "amount",
        100_000_000,
        99_999_999,
        "99999999",
    ),
    Case(
        "invoiceitem.price_data.unit_amount",
        lambda a, v: a.invoice_item_with(price_data={"currency": "usd", "product": a.product, "unit_amount": v}),
        "price_data[unit_amount]",
        100_000_000,
        99_999_999,
        "99999999",
    ),
    # -- intervals and terms
    Case(
        "price.recurring.interval_count",
        lambda a, v: a.price_with(recurring={"interval": "month", "interval_count": v}),
        "recurring[interval_count]",
        37,
        36,
        "36",
    ),
    Case(
        "price.recurring.interval_count.year",
        lambda a, v: a.price_with(recurring={"interval": "year", "interval_count": v}),
        "recurring[interval_count]",
        4,
        3,
        "3",
    ),
    Case(
        "price.recurring.interval_count.zero",
        lambda a, v: a.price_with(recurring={"interval": "day", "interval_count": v}),
        "recurring[interval_count]",
        0,
        1,
        "1",
    ),
    Case(
        "subscription.days_until_due",
        lambda a, v: a.subscription_with(days_until_due=v),
        "days_until_due",
        -1,
        0,
        "0",
    ),
    # -- metadata: 50 keys, keys of 40 characters without brackets, values of 500
    Case(
        "metadata.keys",
        lambda a, v: a.customer_with(metadata={f"k{i}": "v" for i in range(v)}),
        "metadata",
        51,
        50,
        "50",
    ),
    Case(
        "metadata.key",
        lambda a, v: a.customer_with(metadata={v: "v"}),
        f"metadata[{text(41, 'k')}]",
        text(41, "k"),
        text(40, "k"),
        "40",
    ),
    Case(
        "metadata.value",
        lambda a, v: a.product_with(metadata={"note": v}),
        "metadata[note]",
        text(501),
        text(500),
        "500",
    ),
    Case(
        "phases.metadata.value",
        lambda a, v: a.schedule_with(metadata={"note": v}),
        "phases[0][metadata][note]",
        text(501),
        text(500),
        "500",
    ),
    Case(
        "product_data.metadata.key",
        lambda a, v: a.v1.prices.create(
            params={"currency": "usd", "unit_amount": 100, "product_data": {"name": "Seat", "metadata": {v: "v"}}}
        ),
        f"product_data[metadata][{text(41, 'k')}]",
        text(41, "k"),
        text(40, "k"),
        "40",
    ),
    # -- idempotency keys
    Case(
        "idempotency_key",
        lambda a, v: a.v1.customers.create(params={"name": "Acme"}, options={"idempotency_key": v}),
        "Idempotency-Key",
        text(256, "k"),
        text(255, "k"),
        "255",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_over_the_limit_is_refused_naming_the_param(account: Account, case: Case) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        case.call(account, case.over)
    error = info.value
    assert error.http_status == 400
    assert error.error is not None and error.error.type == "invalid_request_error"
    assert error.param == case.param
    assert case.limit in (error.user_message or "")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_at_the_limit_is_accepted(account: Account, case: Case) -> None:
    assert case.call(account, case.at).id


def test_long_text_is_shown_abbreviated_in_the_message(account: Account) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        account.customer_with(name="A" * 10 + "b" * 300 + "C" * 10)
    assert info.value.user_message == "Invalid string: AAAAAAAAAA...CCCCCCCCCC; must be at most 256 characters"


def test_a_refused_request_creates_nothing(client: stripe.StripeClient, account: Account) -> None:
    marker = uuid.uuid4().hex
    with pytest.raises(stripe.InvalidRequestError):
        account.customer_with(name=text(257), email=f"{marker}@example.com")
    assert not [c for c in client.v1.customers.list(params={"email": f"{marker}@example.com"}).data]
