"""Deleting a customer, through a real stripe.StripeClient (sandbox, and Stripe test mode with STRIPE_API_KEY):
its subscriptions are canceled at once and its subscription schedules canceled, it is retrieved as a tombstone
{id, object, deleted: true}, and nothing can be created for it any more."""

# ruff: noqa: F811 - the tests take the imported fixtures as parameters
from __future__ import annotations

from typing import Any

import pytest
import stripe

# The billing contract's fixtures (the client with its clock, the account builder), shared rather than copied.
from tests.contract.test_stripe_billing import Account, account, client, now  # noqa: F401


def send_invoice() -> dict[str, Any]:
    return {"collection_method": "send_invoice", "days_until_due": 30}


def test_deleting_a_customer_cancels_its_subscriptions_and_schedules(
    client: stripe.StripeClient, account: Account, now: int
) -> None:
    customer = account.customer
    other = client.v1.customers.create(params={"name": "Staying Corp"}).id
    price = account.monthly(1500)
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": price, "quantity": 2}], **send_invoice()}  # type: ignore[typeddict-item]
    )
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": customer,
            "start_date": "now",
            "end_behavior": "cancel",
            "default_settings": {"collection_method": "send_invoice", "invoice_settings": {"days_until_due": 30}},
            "phases": [
                {"items": [{"price": price, "quantity": 1}], "duration": {"interval": "month", "interval_count": 12}}
            ],
        }
    )
    later = client.v1.subscription_schedules.create(  # not started yet: no subscription
        params={
            "customer": customer,
            "start_date": now + 30 * 86400,
            "end_behavior": "cancel",
            "default_settings": {"collection_method": "send_invoice", "invoice_settings": {"days_until_due": 30}},
            "phases": [
                {"items": [{"price": price, "quantity": 1}], "duration": {"interval": "month", "interval_count": 12}}
            ],
        }
    )
    assert later.status == "not_started"
    kept = client.v1.subscriptions.create(
        params={"customer": other, "items": [{"price": price, "quantity": 1}], **send_invoice()}  # type: ignore[typeddict-item]
    )

    deleted = client.v1.customers.delete(customer)
    assert (deleted.id, deleted.object, deleted.deleted) == (customer, "customer", True)

    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert ended.status == "canceled"
    assert ended.canceled_at is not None and ended.ended_at is not None
    assert ended.ended_at >= now
    scheduled = client.v1.subscriptions.retrieve(str(schedule.subscription))
    assert scheduled.status == "canceled"
    for sched_id in (schedule.id, later.id):
        sched = client.v1.subscription_schedules.retrieve(sched_id)
        assert sched.status == "canceled", sched_id
        assert sched.canceled_at is not None
    assert client.v1.subscriptions.retrieve(kept.id).status == "active"
    listed = client.v1.subscriptions.list(params={"customer": customer}).data
    assert listed == []  # canceled subscriptions leave the default list


def test_a_deleted_customer_is_a_tombstone_nothing_can_be_created_for(
    client: stripe.StripeClient, account: Account
) -> None:
    customer = account.customer
    price = account.monthly(900)
    client.v1.customers.delete(customer)

    assert client.v1.customers.retrieve(customer).to_dict() == {"id": customer, "object": "customer", "deleted": True}
    creates = (
        lambda: client.v1.subscriptions.create(
            params={"customer": customer, "items": [{"price": price}], **send_invoice()}  # type: ignore[typeddict-item]
        ),
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": customer,
                "start_date": "now",
                "phases": [{"items": [{"price": price}], "duration": {"interval": "month", "interval_count": 1}}],
            }
        ),
        lambda: client.v1.invoice_items.create(params={"customer": customer, "pricing": {"price": price}}),
    )
    for create in creates:
        with pytest.raises(stripe.InvalidRequestError) as info:
            create()
        assert info.value.code == "resource_missing"
        assert f"No such customer: '{customer}'" in str(info.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.customers.delete(customer)
    assert again.value.code == "resource_missing"
