"""Contract tests of the sandbox Stripe account's core, through a real stripe.StripeClient.

With STRIPE_API_KEY set (a test-mode key), the same tests run against Stripe; sandbox-only assertions (request
log, faults) are skipped there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from cpq_sync.sandbox import stripe as sandbox

LIVE_KEY = os.environ.get("STRIPE_API_KEY")


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "stripe"


@pytest.fixture
def client(directory: Path) -> Iterator[stripe.StripeClient]:
    if LIVE_KEY:
        yield stripe.StripeClient(api_key=LIVE_KEY, max_network_retries=2)
    else:
        yield sandbox.connect(directory)


sandbox_only = pytest.mark.skipif(bool(LIVE_KEY), reason="sandbox-only: request log and fault injection")


def tag() -> str:
    """A unique marker, so live-mode runs do not see each other's objects."""
    return uuid.uuid4().hex[:12]


def test_customer_create_has_stripe_shape(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(
        params={"email": "ada@example.com", "name": "Ada", "metadata": {"salesforce_account_id": "001A"}}
    )
    assert customer.id.startswith("cus_")
    assert customer.object == "customer"
    assert customer.livemode is False
    assert customer.email == "ada@example.com"
    assert customer.metadata.to_dict() == {"salesforce_account_id": "001A"}
    assert client.v1.customers.retrieve(customer.id).name == "Ada"
