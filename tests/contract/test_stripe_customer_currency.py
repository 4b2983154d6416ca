"""Contract test of the sandbox Stripe account: a customer bills subscriptions in one currency (through a real
stripe.StripeClient). The first subscription or schedule sets `customer.currency`; one in another currency is
refused, as at Stripe."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import stripe

from cpq_sync.sandbox import stripe as sandbox

NOW = datetime(2024, 7, 15, 12, tzinfo=UTC)


def test_a_customer_bills_subscriptions_in_one_currency(tmp_path: Path) -> None:
    sandbox.set_clock(tmp_path, NOW)
    client = sandbox.connect(tmp_path)
    v1 = client.v1
    product = v1.products.create({"name": "Seats"})
    prices = {
        cur: v1.prices.create(
            {"product": product.id, "currency": cur, "unit_amount": 1000, "recurring": {"interval": "month"}}
        )
        for cur in ("usd", "eur")
    }
    customer = v1.customers.create({"name": "Acme"})
    other = v1.customers.create({"name": "Apex"})
    assert customer.currency is None
    start = int(NOW.timestamp())

    def schedule(who: str, cur: str) -> stripe.SubscriptionSchedule:
        return v1.subscription_schedules.create(
            {
                "customer": who,
                "start_date": start,
                "phases": [
                    {
                        "items": [{"price": prices[cur].id, "quantity": 1}],
                        "duration": {"interval": "month", "interval_count": 12},
                    }
                ],
            }
        )

    schedule(customer.id, "usd")
    assert v1.customers.retrieve(customer.id).currency == "usd"
    schedule(customer.id, "usd")  # the same currency again is fine
    with pytest.raises(stripe.InvalidRequestError, match="cannot combine currencies") as err:
        schedule(customer.id, "eur")
    assert "usd" in str(err.value)
    with pytest.raises(stripe.InvalidRequestError, match="cannot combine currencies"):
        v1.subscriptions.create({"customer": customer.id, "items": [{"price": prices["eur"].id}]})
    # Another customer is free to bill in EUR; a refused request left nothing behind.
    schedule(other.id, "eur")
    assert v1.customers.retrieve(other.id).currency == "eur"
    assert len(v1.subscription_schedules.list({"customer": customer.id}).data) == 2
