"""Contract of the sandbox Stripe account's API keys, through a real ``stripe.StripeClient``: unknown keys answer
401 with the key masked, restricted keys (rk_test_) reach only the resources they were granted (403 naming the
missing permission, in Stripe's words), and the account never stores a key in clear."""

from __future__ import annotations

from pathlib import Path

import pytest
import stripe

from cpq_sync.sandbox import stripe as sandbox

RESTRICTED = "rk_test_51KeyContractRestrictedAbCdEfGhIjKl"


def test_unknown_key_is_refused_with_the_key_masked(directory: Path) -> None:
    client = sandbox.connect(directory, api_key="sk_test_51NeverRegisteredKeyXyZ0987")
    with pytest.raises(stripe.AuthenticationError) as caught:
        client.v1.customers.list()
    assert caught.value.http_status == 401
    assert str(caught.value.user_message) == "Invalid API Key provided: sk_test_" + "*" * 23 + "0987"
    assert "NeverRegistered" not in str(caught.value)


def test_registered_secret_key_reaches_everything(directory: Path) -> None:
    key = "sk_test_51RegisteredSecretKey000001"
    sandbox.add_api_key(directory, key)
    client = sandbox.connect(directory, api_key=key)
    customer = client.v1.customers.create({"name": "Acme"})
    assert client.v1.products.list().data == []
    assert client.v1.customers.retrieve(customer.id).name == "Acme"


def test_restricted_key_reaches_only_what_it_was_granted(directory: Path) -> None:
    sandbox.add_api_key(directory, RESTRICTED, {"customer": "write", "product": "read"})
    client = sandbox.connect(directory, api_key=RESTRICTED)
    customer = client.v1.customers.create({"name": "Acme"})  # write
    assert client.v1.customers.retrieve(customer.id).id == customer.id  # write includes read
    assert client.v1.products.list().data == []  # read

    with pytest.raises(stripe.PermissionError) as caught:
        client.v1.products.create({"name": "Widget"})
    assert caught.value.http_status == 403
    assert caught.value.user_message == (
        "The provided key 'rk_test_" + "*" * 31 + "IjKl' does not have the required permissions for "
        "this endpoint on account 'acct_1SandboxCpqSync'. Having the 'rak_product_write' permission would allow "
        "this request to continue."
    )
    with pytest.raises(stripe.PermissionError, match="'rak_plan_read' permission"):
        client.v1.prices.list()
    with pytest.raises(stripe.PermissionError, match="'rak_subscription_schedule_write' permission"):
        client.v1.subscription_schedules.create({"customer": customer.id, "start_date": "now"})
    assert [r.status for r in sandbox.request_log(directory)][-3:] == [403, 403, 403]
    assert sandbox.connect(directory).v1.products.list().data == []  # nothing was created by the refused call


def test_refused_request_does_not_consume_its_idempotency_key(directory: Path) -> None:
    sandbox.add_api_key(directory, RESTRICTED, {"customer": "read"})
    options: stripe.RequestOptions = {"idempotency_key": "create-acme"}
    with pytest.raises(stripe.PermissionError):
        sandbox.connect(directory, api_key=RESTRICTED).v1.customers.create({"name": "Acme"}, options)
    created = sandbox.connect(directory).v1.customers.create({"name": "Acme"}, options)
    assert created.name == "Acme"


def test_keys_are_checked_when_registered(directory: Path) -> None:
    with pytest.raises(ValueError, match="test-mode account"):
        sandbox.add_api_key(directory, "rk_live_51Abc", {"customer": "read"})
    with pytest.raises(ValueError, match="unknown permissions \\['customers'\\]"):
        sandbox.add_api_key(directory, RESTRICTED, {"customers": "read"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="needs its permissions"):
        sandbox.add_api_key(directory, RESTRICTED)
    with pytest.raises(ValueError, match="access must be 'read' or 'write'"):
        sandbox.add_api_key(directory, RESTRICTED, {"customer": "admin"})  # type: ignore[dict-item]


def test_the_account_stores_no_key_in_clear(directory: Path) -> None:
    sandbox.add_api_key(directory, RESTRICTED, {"customer": "write"})
    sandbox.connect(directory, api_key=RESTRICTED).v1.customers.create({"name": "Acme"})
    for path in directory.rglob("*"):
        if path.is_file():
            assert b"KeyContractRestricted" not in path.read_bytes(), path
