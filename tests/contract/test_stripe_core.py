"""Contract tests of the sandbox Stripe account's core, through a real ``stripe.StripeClient``.

Customers, products, prices, billing meters, coupons; strict parameters, errors, idempotency, search, paging,
faults and the request log. With ``STRIPE_API_KEY`` set (a test-mode key) the same tests run against Stripe;
sandbox-only assertions (request log, faults) are skipped there.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
import stripe

from cpq_sync.sandbox import stripe as sandbox
from cpq_sync.sandbox.stripe import StripeFaults
from cpq_sync.sandbox.stripe.store import Store
from tests.contract.conftest import LIVE_KEY

T = TypeVar("T")


@pytest.fixture
def client(live: bool, directory: Path) -> Iterator[stripe.StripeClient]:
    """The sandbox account, or Stripe test mode (the same assertions hold for both)."""
    if live:
        assert LIVE_KEY is not None
        yield stripe.StripeClient(api_key=LIVE_KEY, max_network_retries=2)
    else:
        yield sandbox.connect(directory)


@pytest.fixture
def sandbox_client(directory: Path) -> stripe.StripeClient:
    """For sandbox-only behaviour (request log, faults, show, processes): never Stripe."""
    return sandbox.connect(directory)


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own retry loop, without its half-second back-off."""
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.001)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.002)


def tag() -> str:
    """A unique marker, so runs (and live-mode accounts) do not see each other's objects."""
    return uuid.uuid4().hex[:12]


def eventually(check: Callable[[], T], live: bool, timeout: float = 90.0) -> T:
    """Stripe's search is eventually consistent (the sandbox's is immediate): poll in live mode."""
    deadline = time.monotonic() + (timeout if live else 0)
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(2)


def rejected(call: Callable[[], Any], error: type[stripe.StripeError] = stripe.InvalidRequestError) -> Any:
    with pytest.raises(error) as info:
        call()
    return info.value


def new_product(client: stripe.StripeClient, **extra: Any) -> stripe.Product:
    return client.v1.products.create(params={"name": f"Widget {tag()}", **extra})


# -- customers and metadata
def test_customer_has_stripe_shape_and_round_trips(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(
        params={
            "email": "ada@example.com",
            "name": "Ada",
            "phone": "+33 1 23 45 67 89",
            "description": "Analytical Engines Ltd",
            "address": {"line1": "1 rue de Rivoli", "city": "Paris", "postal_code": "75001", "country": "FR"},
            "shipping": {"name": "Ada", "address": {"line1": "2 quai", "city": "Lyon", "country": "FR"}},
            "metadata": {"salesforce_account_id": "001A"},
        }
    )
    assert customer.id.startswith("cus_")
    assert customer.object == "customer"
    assert customer.livemode is False
    assert isinstance(customer.created, int)
    assert customer.address is not None and customer.address.city == "Paris"
    assert customer.shipping is not None and customer.shipping.address.city == "Lyon"
    fetched = client.v1.customers.retrieve(customer.id)
    assert fetched.email == "ada@example.com"
    assert fetched.phone == "+33 1 23 45 67 89"
    assert fetched.metadata.to_dict() == {"salesforce_account_id": "001A"}


def test_deleted_customer_is_a_tombstone(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"name": "Gone"})
    deleted = client.v1.customers.delete(customer.id)
    assert (deleted.id, deleted.deleted) == (customer.id, True)
    again = client.v1.customers.retrieve(customer.id)
    assert again.to_dict().get("deleted") is True
    rejected(lambda: client.v1.customers.update(customer.id, params={"name": "Back"}))
    assert customer.id not in {c.id for c in client.v1.customers.list(params={"limit": 100}).data}


def test_metadata_merges_key_by_key_and_empty_string_removes(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"metadata": {"a": "1", "b": "2"}})
    updated = client.v1.customers.update(customer.id, params={"metadata": {"b": "", "c": "3"}})
    assert updated.metadata.to_dict() == {"a": "1", "c": "3"}
    cleared = client.v1.customers.update(customer.id, params={"metadata": ""})
    assert cleared.metadata.to_dict() == {}
    assert client.v1.customers.retrieve(customer.id).metadata.to_dict() == {}


@pytest.mark.parametrize(
    ("metadata", "param_prefix"),
    [
        ({f"k{i}": "v" for i in range(51)}, "metadata"),
        ({"k" * 41: "v"}, "metadata["),
        ({"k": "v" * 501}, "metadata[k]"),
    ],
    ids=["51-keys", "41-char-key", "501-char-value"],
)
def test_metadata_limits_are_enforced(client: stripe.StripeClient, metadata: dict[str, str], param_prefix: str) -> None:
    error = rejected(lambda: client.v1.customers.create(params={"metadata": metadata}))
    assert error.http_status == 400
    assert error.param.startswith(param_prefix)


def test_metadata_limit_counts_merged_keys_on_update(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"metadata": {f"a{i}": "v" for i in range(30)}})
    rejected(lambda: client.v1.customers.update(customer.id, params={"metadata": {f"b{i}": "v" for i in range(21)}}))
    assert len(client.v1.customers.retrieve(customer.id).metadata.to_dict()) == 30


def test_search_customers_by_metadata_with_paging(client: stripe.StripeClient, live: bool) -> None:
    marker = tag()
    ids = {
        client.v1.customers.create(params={"email": f"c{i}@example.com", "metadata": {"run": marker}}).id
        for i in range(5)
    }
    client.v1.customers.create(params={"metadata": {"run": "other"}})

    def all_pages() -> list[str]:
        seen: list[str] = []
        page: str | None = None
        while True:
            params: dict[str, Any] = {"query": f"metadata['run']:'{marker}'", "limit": 2}
            if page:
                params["page"] = page
            result = client.v1.customers.search(params=params)
            assert len(result.data) <= 2
            seen.extend(c.id for c in result.data)
            if not result.has_more:
                assert result.next_page is None
                return seen
            page = result.next_page

    found = eventually(lambda: _assert_equal_set(all_pages(), ids), live)
    assert len(found) == len(set(found)) == 5


def _assert_equal_set(found: list[str], expected: set[str]) -> list[str]:
    assert set(found) == expected
    return found


def test_search_with_and_or_and_field_equality(client: stripe.StripeClient, live: bool) -> None:
    marker = tag()
    a = client.v1.customers.create(params={"email": f"a-{marker}@example.com", "metadata": {"run": marker, "k": "a"}})
    b = client.v1.customers.create(params={"email": f"b-{marker}@example.com", "metadata": {"run": marker, "k": "b"}})

    def ids(query: str) -> set[str]:
        return {c.id for c in client.v1.customers.search(params={"query": query}).data}

    eventually(lambda: _assert_same(ids(f"metadata['run']:'{marker}' AND metadata['k']:'a'"), {a.id}), live)
    eventually(lambda: _assert_same(ids(f"metadata['k']:'a' AND metadata['run']:'{marker}' "), {a.id}), live)
    eventually(
        lambda: _assert_same(ids(f"email:'a-{marker}@example.com' OR email:'b-{marker}@example.com'"), {a.id, b.id}),
        live,
    )


def _assert_same(found: set[str], expected: set[str]) -> None:
    assert found == expected


def test_search_negation_and_substring(client: stripe.StripeClient, live: bool) -> None:
    marker = tag()
    kept = client.v1.customers.create(params={"name": f"Keep {marker}", "metadata": {"run": marker}})
    client.v1.customers.create(params={"name": f"Drop {marker}", "metadata": {"run": marker, "drop": "yes"}})

    def ids(query: str) -> set[str]:
        return {c.id for c in client.v1.customers.search(params={"query": query}).data}

    eventually(lambda: _assert_same(ids(f"metadata['run']:'{marker}' AND -metadata['drop']:'yes'"), {kept.id}), live)
    eventually(lambda: _assert_same(ids(f"name~'Keep {marker[:6]}'"), {kept.id}), live)


def test_search_rejects_what_it_does_not_understand(client: stripe.StripeClient) -> None:
    error = rejected(
        lambda: client.v1.customers.search(params={"query": "metadata['a']:'1' AND email:'x' OR name:'y'"})
    )
    assert error.param == "query"
    error = rejected(lambda: client.v1.customers.search(params={"query": "favourite_colour:'blue'"}))
    assert error.param == "query"


# -- products
def test_product_with_given_id_update_and_archive(client: stripe.StripeClient) -> None:
    product_id = f"prod_test_{tag()}"
    product = client.v1.products.create(params={"id": product_id, "name": "Gizmo", "metadata": {"sf": "01t1"}})
    assert product.id == product_id
    assert product.active is True
    duplicate = rejected(lambda: client.v1.products.create(params={"id": product_id, "name": "Again"}))
    assert duplicate.code == "resource_already_exists"
    archived = client.v1.products.update(product_id, params={"active": False, "description": "old"})
    assert archived.active is False and archived.description == "old"
    assert client.v1.products.retrieve(product_id).active is False


def test_product_with_prices_cannot_be_deleted(client: stripe.StripeClient) -> None:
    product = new_product(client)
    client.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 100})
    rejected(lambda: client.v1.products.delete(product.id))
    empty = new_product(client)
    assert client.v1.products.delete(empty.id).deleted is True
    assert rejected(lambda: client.v1.products.retrieve(empty.id)).http_status == 404


# -- prices
def test_recurring_price_shape(client: stripe.StripeClient) -> None:
    product = new_product(client)
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 1250,
            "recurring": {"interval": "month", "interval_count": 3},
            "nickname": "Quarterly",
            "metadata": {"salesforce_pricebook_entry_id": "01u1"},
        }
    )
    assert price.id.startswith("price_")
    assert price.object == "price"
    assert price.type == "recurring"
    assert price.unit_amount == 1250
    assert price.unit_amount_decimal == Decimal("1250")
    assert price.billing_scheme == "per_unit"
    assert price.recurring is not None
    assert (price.recurring.interval, price.recurring.interval_count) == ("month", 3)
    assert price.recurring.usage_type == "licensed"
    assert price.product == product.id
    expanded = client.v1.prices.retrieve(price.id, params={"expand": ["product"]})
    assert isinstance(expanded.product, stripe.Product) and expanded.product.id == product.id


def test_one_time_price_with_decimal_amount(client: stripe.StripeClient) -> None:
    product = new_product(client)
    price = client.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount_decimal": "12.345"})
    assert price.type == "one_time"
    assert price.recurring is None
    assert price.unit_amount is None
    assert price.unit_amount_decimal == Decimal("12.345")


def test_price_with_product_data_creates_the_product(client: stripe.StripeClient) -> None:
    price = client.v1.prices.create(params={"product_data": {"name": "Inline"}, "currency": "usd", "unit_amount": 5})
    assert client.v1.products.retrieve(str(price.product)).name == "Inline"


def test_zero_decimal_currency_amounts_are_whole_units(client: stripe.StripeClient, live: bool) -> None:
    product = new_product(client)
    price = client.v1.prices.create(params={"product": product.id, "currency": "JPY", "unit_amount": 1500})
    assert price.currency == "jpy"
    assert price.unit_amount == 1500
    assert price.unit_amount_decimal == Decimal("1500")
    if not live:
        from cpq_sync.sandbox.stripe.resources.money import format_amount

        assert format_amount(1500, "jpy") == "1500 JPY"
        assert format_amount(1500, "usd") == "15.00 USD"


def test_tiered_price_returns_tiers_only_when_expanded(client: stripe.StripeClient) -> None:
    product = new_product(client)
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": [
                {"up_to": 10, "unit_amount": 1000},
                {"up_to": 100, "unit_amount_decimal": "850.5", "flat_amount": 500},
                {"up_to": "inf", "unit_amount": 700},
            ],
            "recurring": {"interval": "year"},
        }
    )
    assert price.billing_scheme == "tiered" and price.tiers_mode == "graduated"
    assert price.unit_amount is None
    assert "tiers" not in price
    tiers = client.v1.prices.retrieve(price.id, params={"expand": ["tiers"]}).tiers
    assert tiers is not None
    assert [t.up_to for t in tiers] == [10, 100, None]
    assert tiers[1].unit_amount_decimal == Decimal("850.5")
    assert tiers[1].flat_amount == 500


def test_tiered_price_needs_inf_last_tier(client: stripe.StripeClient) -> None:
    product = new_product(client)
    error = rejected(
        lambda: client.v1.prices.create(
            params={
                "product": product.id,
                "currency": "usd",
                "billing_scheme": "tiered",
                "tiers_mode": "volume",
                "tiers": [{"up_to": 10, "unit_amount": 100}, {"up_to": 20, "unit_amount": 50}],
            }
        )
    )
    assert error.param is not None and error.param.startswith("tiers")


def test_transform_quantity(client: stripe.StripeClient) -> None:
    product = new_product(client)
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 999,
            "transform_quantity": {"divide_by": 1000, "round": "up"},
        }
    )
    assert price.transform_quantity is not None
    assert (price.transform_quantity.divide_by, price.transform_quantity.round) == (1000, "up")


def test_price_amounts_are_immutable(client: stripe.StripeClient) -> None:
    product = new_product(client)
    price = client.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 100})
    for params, param in [
        ({"unit_amount": 200}, "unit_amount"),
        ({"currency": "eur"}, "currency"),
        ({"recurring": {"interval": "month"}}, "recurring"),
    ]:
        error = rejected(lambda p=params: client.v1.prices.update(price.id, params=p))
        assert error.param == param
        assert "unknown parameter" in error.user_message
    assert client.v1.prices.retrieve(price.id).unit_amount == 100
    renamed = client.v1.prices.update(price.id, params={"nickname": "n", "metadata": {"k": "v"}})
    assert renamed.nickname == "n" and renamed.metadata.to_dict() == {"k": "v"}


def test_archived_prices_leave_active_lists(client: stripe.StripeClient) -> None:
    product = new_product(client)
    old = client.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 100})
    new = client.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 120})
    archived = client.v1.prices.update(old.id, params={"active": False})
    assert archived.active is False
    active = client.v1.prices.list(params={"product": product.id, "active": True})
    assert [p.id for p in active.data] == [new.id]
    every = client.v1.prices.list(params={"product": product.id})
    assert [p.id for p in every.data] == [new.id, old.id]


def test_metered_price_requires_a_meter(client: stripe.StripeClient) -> None:
    product = new_product(client)
    error = rejected(
        lambda: client.v1.prices.create(
            params={
                "product": product.id,
                "currency": "usd",
                "unit_amount": 5,
                "recurring": {"interval": "month", "usage_type": "metered"},
            }
        )
    )
    assert error.param == "recurring[meter]"
    meter = client.v1.billing.meters.create(
        params={
            "display_name": "API calls",
            "event_name": f"api_{tag()}",
            "default_aggregation": {"formula": "sum"},
        }
    )
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 5,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    assert price.recurring is not None and price.recurring.meter == meter.id
    assert price.recurring.usage_type == "metered"


def test_removed_aggregate_usage_is_an_unknown_parameter(client: stripe.StripeClient) -> None:
    product = new_product(client)
    error = rejected(
        lambda: client.v1.prices.create(
            params={
                "product": product.id,
                "currency": "usd",
                "unit_amount": 5,
                "recurring": {"interval": "month", "usage_type": "metered", "aggregate_usage": "sum"},
            }
        )
    )
    assert error.param == "recurring[aggregate_usage]"
    assert error.user_message.startswith("Received unknown parameter: recurring[aggregate_usage]")


def test_lookup_keys_are_unique_unless_transferred(client: stripe.StripeClient) -> None:
    product = new_product(client)
    key = f"widget_{tag()}"
    first = client.v1.prices.create(
        params={"product": product.id, "currency": "usd", "unit_amount": 1, "lookup_key": key}
    )
    error = rejected(
        lambda: client.v1.prices.create(
            params={"product": product.id, "currency": "usd", "unit_amount": 2, "lookup_key": key}
        )
    )
    assert error.param == "lookup_key"
    second = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 2,
            "lookup_key": key,
            "transfer_lookup_key": True,
        }
    )
    assert second.lookup_key == key
    assert client.v1.prices.retrieve(first.id).lookup_key is None
    assert [p.id for p in client.v1.prices.list(params={"lookup_keys": [key]}).data] == [second.id]


def test_search_prices_by_product(client: stripe.StripeClient, live: bool) -> None:
    product = new_product(client)
    ids = {
        client.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": n}).id
        for n in (1, 2, 3)
    }

    def found() -> None:
        result = client.v1.prices.search(params={"query": f"product:'{product.id}' AND active:'true'"})
        assert {p.id for p in result.data} == ids

    eventually(found, live)


# -- billing meters and coupons
def test_meters_create_list_retrieve(client: stripe.StripeClient) -> None:
    event = f"seats_{tag()}"
    meter = client.v1.billing.meters.create(
        params={"display_name": "Seats", "event_name": event, "default_aggregation": {"formula": "count"}}
    )
    assert meter.id.startswith("mtr_") and meter.object == "billing.meter"
    assert meter.status == "active" and meter.default_aggregation.formula == "count"
    assert client.v1.billing.meters.retrieve(meter.id).event_name == event
    assert meter.id in {m.id for m in client.v1.billing.meters.list(params={"limit": 100}).data}
    rejected(
        lambda: client.v1.billing.meters.create(
            params={"display_name": "Again", "event_name": event, "default_aggregation": {"formula": "sum"}}
        )
    )


def test_coupons(client: stripe.StripeClient) -> None:
    percent = client.v1.coupons.create(
        params={"percent_off": 12.5, "duration": "repeating", "duration_in_months": 6, "name": "Intro"}
    )
    assert percent.object == "coupon" and percent.percent_off == 12.5 and percent.duration_in_months == 6
    assert len(percent.id) >= 8
    given = f"SUMMER{tag()}"
    amount = client.v1.coupons.create(
        params={"id": given, "amount_off": 500, "currency": "eur", "duration": "once", "max_redemptions": 3}
    )
    assert (amount.id, amount.amount_off, amount.currency, amount.max_redemptions) == (given, 500, "eur", 3)
    assert rejected(lambda: client.v1.coupons.create(params={"id": given, "percent_off": 5})).http_status == 400
    assert rejected(lambda: client.v1.coupons.create(params={"amount_off": 100})).param == "currency"
    rejected(lambda: client.v1.coupons.create(params={"percent_off": 10, "duration": "repeating"}))
    renamed = client.v1.coupons.update(given, params={"name": "Summer", "metadata": {"sf": "a0x"}})
    assert renamed.name == "Summer" and renamed.metadata.to_dict() == {"sf": "a0x"}
    error = rejected(lambda: client.v1.coupons.update(given, params={"percent_off": 20}))
    assert error.param == "percent_off"
    assert client.v1.coupons.retrieve(given).amount_off == 500


# -- lists
def test_list_paging_over_250_objects(client: stripe.StripeClient, live: bool) -> None:
    marker = tag()
    created = [client.v1.coupons.create(params={"percent_off": 1, "name": f"{marker}-{i}"}).id for i in range(250)]
    newest_first = list(reversed(created))
    mine = set(created)
    seen: list[str] = []
    pages = 0
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if after:
            params["starting_after"] = after
        page = client.v1.coupons.list(params=params)
        pages += 1
        assert len(page.data) <= 100
        seen.extend(c.id for c in page.data if c.id in mine)
        if not page.has_more or mine.issubset(seen):
            break
        after = page.data[-1].id
    assert seen == newest_first
    if not live:
        assert pages == 3
        assert client.v1.coupons.list().data[0].id == newest_first[0]
        assert len(client.v1.coupons.list().data) == 10
    back = client.v1.coupons.list(params={"ending_before": newest_first[100], "limit": 5})
    assert [c.id for c in back.data] == newest_first[95:100]
    assert back.has_more is True
    rejected(lambda: client.v1.coupons.list(params={"limit": 101}))


def test_sdk_auto_paging_walks_lists_and_searches(client: stripe.StripeClient, live: bool) -> None:
    product = new_product(client)
    ids = {
        client.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": n}).id
        for n in range(12)
    }
    listed = client.v1.prices.list(params={"product": product.id, "limit": 5}).auto_paging_iter()
    assert {p.id for p in listed} == ids

    def searched() -> None:
        pages = client.v1.prices.search(params={"query": f"product:'{product.id}'", "limit": 5})
        assert {p.id for p in pages.auto_paging_iter()} == ids

    eventually(searched, live)
    expanded = client.v1.prices.list(params={"product": product.id, "limit": 2, "expand": ["data.product"]})
    assert all(isinstance(p.product, stripe.Product) for p in expanded.data)


# -- strictness and errors
def test_unknown_and_mistyped_parameters_are_rejected(client: stripe.StripeClient) -> None:
    error = rejected(lambda: client.v1.customers.create(params={"favourite_colour": "blue"}))
    assert (error.http_status, error.param) == (400, "favourite_colour")
    assert error.user_message.startswith("Received unknown parameter: favourite_colour")
    product = new_product(client)
    error = rejected(
        lambda: client.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": "ten"})
    )
    assert error.param == "unit_amount"
    error = rejected(
        lambda: client.v1.prices.create(
            params={
                "product": product.id,
                "currency": "usd",
                "unit_amount": 1,
                "recurring": {"interval": "fortnight"},
            }
        )
    )
    assert error.param == "recurring[interval]"


def test_removed_schedule_iterations_and_subscription_coupon_are_rejected(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create()
    product = new_product(client)
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 100,
            "recurring": {"interval": "month"},
        }
    )
    error = rejected(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": customer.id,
                "start_date": "now",
                "phases": [{"items": [{"price": price.id}], "iterations": 12}],
            }
        )
    )
    assert error.param == "phases[0][iterations]"
    assert error.user_message.startswith("Received unknown parameter: phases[0][iterations]")
    error = rejected(
        lambda: client.v1.subscriptions.create(
            params={"customer": customer.id, "items": [{"price": price.id}], "coupon": "X"}
        )
    )
    assert error.param == "coupon"


def test_missing_object_is_404_resource_missing(client: stripe.StripeClient) -> None:
    error = rejected(lambda: client.v1.customers.retrieve("cus_doesnotexist"))
    assert (error.http_status, error.code) == (404, "resource_missing")
    assert "cus_doesnotexist" in error.user_message
    error = rejected(
        lambda: client.v1.prices.create(params={"product": "prod_nope", "currency": "usd", "unit_amount": 1})
    )
    assert (error.http_status, error.code, error.param) == (400, "resource_missing", "product")


def test_unsupported_endpoint_is_404_saying_so(sandbox_client: stripe.StripeClient) -> None:
    error = rejected(lambda: sandbox_client.v1.refunds.create(params={"charge": "ch_123"}))
    assert error.http_status == 404
    assert "does not emulate" in error.user_message


def test_parameter_stripe_accepts_but_sandbox_does_not_emulate_is_refused(
    sandbox_client: stripe.StripeClient,
) -> None:
    error = rejected(lambda: sandbox_client.v1.customers.create(params={"tax_exempt": "exempt"}))
    assert error.param == "tax_exempt"
    assert "does not emulate" in error.user_message


# -- idempotency
def test_idempotent_replay_returns_the_first_response(client: stripe.StripeClient, live: bool, directory: Path) -> None:
    key = f"create-customer-{tag()}"
    marker = tag()
    first = client.v1.customers.create(params={"metadata": {"run": marker}}, options={"idempotency_key": key})
    second = client.v1.customers.create(params={"metadata": {"run": marker}}, options={"idempotency_key": key})
    assert second.id == first.id
    assert second.last_response is not None
    assert second.last_response.headers.get("Idempotent-Replayed") == "true"
    assert first.last_response is not None
    assert second.last_response.headers.get("Original-Request") == first.last_response.request_id
    if not live:
        assert sandbox_count(directory, "customer") == 1


def test_idempotency_key_reused_with_other_params_is_an_error(client: stripe.StripeClient) -> None:
    key = f"create-customer-{tag()}"
    client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": key})
    error = rejected(
        lambda: client.v1.customers.create(params={"name": "B"}, options={"idempotency_key": key}),
        stripe.IdempotencyError,
    )
    assert "same parameters" in error.user_message


def sandbox_count(directory: Path, object_type: str) -> int:
    return Store(directory).count(object_type)


# -- faults and the request log (sandbox only)
def test_request_log_records_every_request(sandbox_client: stripe.StripeClient, directory: Path) -> None:
    customer = sandbox_client.v1.customers.create(params={"name": "Logged"}, options={"idempotency_key": "log-1"})
    sandbox_client.v1.customers.retrieve(customer.id)
    rejected(lambda: sandbox_client.v1.customers.retrieve("cus_missing"))
    log = sandbox.request_log(directory)
    assert [(e.method, e.path, e.status) for e in log] == [
        ("POST", "/v1/customers", 200),
        ("GET", f"/v1/customers/{customer.id}", 200),
        ("GET", "/v1/customers/cus_missing", 404),
    ]
    assert log[0].params == {"name": "Logged"}
    assert log[0].idempotency_key == "log-1"
    assert log[0].object_id == customer.id
    assert log[0].request_id.startswith("req_")
    assert customer.last_response is not None and customer.last_response.request_id == log[0].request_id
    assert all(e.fault is None for e in log)
    sandbox.clear_request_log(directory)
    assert sandbox.request_log(directory) == []


def test_rate_limit_429_is_retried_by_the_sdk_then_raised(directory: Path, fast_retries: None) -> None:
    limited = sandbox.connect(directory, faults=StripeFaults(rate_limit_per_second=2), max_network_retries=1)
    limited.v1.customers.create()
    limited.v1.customers.create()
    rejected(lambda: limited.v1.customers.create(), stripe.RateLimitError)
    statuses = [e.status for e in sandbox.request_log(directory)]
    assert statuses == [200, 200, 429, 429]  # the SDK retried once, within the same second
    assert sandbox_count(directory, "customer") == 2


def test_rate_limit_clears_after_the_window(directory: Path) -> None:
    limited = sandbox.connect(directory, faults=StripeFaults(rate_limit_per_second=1), max_network_retries=3)
    limited.v1.customers.create()
    limited.v1.customers.create()  # 429 first, then the SDK's back-off outlasts the one-second window
    log = sandbox.request_log(directory)
    assert log[1].status == 429 and log[1].fault == "rate_limit"
    assert log[-1].status == 200
    assert sandbox_count(directory, "customer") == 2


def test_server_errors_are_retried_and_surface_as_api_errors(directory: Path, fast_retries: None) -> None:
    failing = sandbox.connect(directory, faults=StripeFaults(server_error_rate=1.0), max_network_retries=2)
    rejected(lambda: failing.v1.customers.create(), stripe.APIError)
    log = sandbox.request_log(directory)
    assert len(log) == 3 and {e.status for e in log} <= {500, 503}
    assert {e.fault for e in log} == {"server_error"}
    assert sandbox_count(directory, "customer") == 0


def test_seeded_server_errors_are_deterministic(tmp_path: Path, fast_retries: None) -> None:
    def outcomes(run: str) -> list[int | None]:
        directory = tmp_path / run
        flaky = sandbox.connect(directory, faults=StripeFaults(seed=7, server_error_rate=0.5), max_network_retries=0)
        for _ in range(12):
            with contextlib.suppress(stripe.APIError):
                flaky.v1.customers.create()
        return [e.status for e in sandbox.request_log(directory)]

    first = outcomes("a")
    assert first == outcomes("b")
    assert 200 in first and any(s in (500, 503) for s in first)


def test_connection_error_before_apply_stores_nothing(directory: Path, fast_retries: None) -> None:
    broken = sandbox.connect(directory, faults=StripeFaults(connection_error_rate=1.0), max_network_retries=2)
    rejected(lambda: broken.v1.customers.create(params={"name": "never"}), stripe.APIConnectionError)
    assert sandbox_count(directory, "customer") == 0
    log = sandbox.request_log(directory)
    assert [(e.status, e.fault) for e in log] == [(None, "connection_error")] * 3
    assert len({e.idempotency_key for e in log}) == 1  # the SDK retried with its own key


def test_timeout_after_apply_then_sdk_retry_creates_exactly_one_object(directory: Path, fast_retries: None) -> None:
    flaky = sandbox.connect(directory, faults=StripeFaults(timeout_after_apply_rate=1.0), max_network_retries=2)
    customer = flaky.v1.customers.create(params={"name": "Once"})
    assert sandbox_count(directory, "customer") == 1
    log = sandbox.request_log(directory)
    assert [(e.status, e.fault, e.replayed) for e in log] == [
        (None, "timeout_after_apply", False),
        (200, None, True),
    ]
    assert log[0].idempotency_key == log[1].idempotency_key
    assert log[0].object_id == log[1].object_id == customer.id


def test_faults_set_for_the_directory_reach_other_clients(directory: Path, fast_retries: None) -> None:
    sandbox.set_faults(directory, StripeFaults(connection_error_rate=1.0))
    other = sandbox.connect(directory, max_network_retries=0)
    rejected(lambda: other.v1.customers.list(), stripe.APIConnectionError)
    sandbox.set_faults(directory, None)
    assert other.v1.customers.list().data == []


def test_state_is_shared_by_clients_and_reset_empties_it(directory: Path) -> None:
    one = sandbox.connect(directory)
    two = sandbox.connect(directory)
    customer = one.v1.customers.create(params={"name": "Shared"})
    assert two.v1.customers.retrieve(customer.id).name == "Shared"
    sandbox.reset(directory)
    rejected(lambda: two.v1.customers.retrieve(customer.id))


def test_show_prints_counts_and_rows(sandbox_client: stripe.StripeClient, directory: Path) -> None:
    from rich.console import Console

    customer = sandbox_client.v1.customers.create(params={"email": "shown@example.com"})
    product = new_product(sandbox_client)
    sandbox_client.v1.prices.create(params={"product": product.id, "currency": "jpy", "unit_amount": 1500})
    console = Console(record=True, width=200)
    sandbox.show(directory, console)
    text = console.export_text()
    assert customer.id in text and "shown@example.com" in text
    assert product.id in text
    assert "1500 JPY" in text


_WRITER = """
import sys
from cpq_sync.sandbox import stripe as sandbox
client = sandbox.connect(sys.argv[1])
for i in range(15):
    client.v1.customers.create(params={"metadata": {"writer": "child"}})
"""


def test_two_processes_share_the_account(sandbox_client: stripe.StripeClient, directory: Path) -> None:
    import subprocess
    import sys

    sandbox_client.v1.customers.list()  # create the store before the child starts
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(directory)])
    for _ in range(15):
        sandbox_client.v1.customers.create(params={"metadata": {"writer": "parent"}})
    assert child.wait(timeout=30) == 0
    found = sandbox_client.v1.customers.search(params={"query": "metadata['writer']:'child'", "limit": 100})
    assert len(found.data) == 15
    assert sandbox_count(directory, "customer") == 30


def test_one_client_used_from_several_threads(sandbox_client: stripe.StripeClient, directory: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(lambda i: sandbox_client.v1.customers.create(params={"name": f"T{i}"}).id, range(40)))
    assert len(set(ids)) == 40
    assert sandbox_count(directory, "customer") == 40
    assert len(sandbox.request_log(directory)) == 40


def test_created_filters_follow_the_sandbox_clock(sandbox_client: stripe.StripeClient, directory: Path) -> None:
    from datetime import UTC, datetime

    sandbox.set_clock(directory, datetime(2026, 1, 1, tzinfo=UTC))
    old = sandbox_client.v1.customers.create(params={"name": "old"})
    sandbox.set_clock(directory, datetime(2026, 6, 1, tzinfo=UTC))
    new = sandbox_client.v1.customers.create(params={"name": "new"})
    assert new.created - old.created == int(
        (datetime(2026, 6, 1, tzinfo=UTC) - datetime(2026, 1, 1, tzinfo=UTC)).total_seconds()
    )
    march = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
    assert [c.id for c in sandbox_client.v1.customers.list(params={"created": {"gte": march}}).data] == [new.id]
    assert [c.id for c in sandbox_client.v1.customers.list(params={"created": {"lt": march}}).data] == [old.id]
    found = sandbox_client.v1.customers.search(params={"query": f"created<{march} AND name:'old'"})
    assert [c.id for c in found.data] == [old.id]


def test_request_log_keeps_params_as_sent(sandbox_client: stripe.StripeClient, directory: Path) -> None:
    product = new_product(sandbox_client)
    price = sandbox_client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "billing_scheme": "tiered",
            "tiers_mode": "volume",
            "tiers": [{"up_to": "inf", "unit_amount": 100}],
            "expand": ["tiers"],
        }
    )
    assert price.tiers is not None
    logged = sandbox.request_log(directory)[-1]
    assert logged.params["expand"] == ["tiers"]
    assert logged.params["tiers"] == [{"up_to": "inf", "unit_amount": "100"}]


def test_latency_fault_delays_each_request(directory: Path) -> None:
    slow = sandbox.connect(directory, faults=StripeFaults(latency_ms=40))
    start = time.perf_counter()
    slow.v1.customers.list()
    slow.v1.customers.list()
    assert time.perf_counter() - start >= 0.08
