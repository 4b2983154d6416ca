"""Contract tests of the sandbox Stripe account's billing side, through a real stripe.StripeClient.

Schedules, subscriptions, invoice items and invoices are driven exactly as the sync drives them. With
STRIPE_API_KEY set (a test-mode key) each test also runs against Stripe test mode (skipped, with the reason,
otherwise); the tests that need the sandbox clock or ``billing_preview`` run against the sandbox alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import stripe

from cpq_sync.sandbox import stripe as sandbox
from cpq_sync.sandbox.stripe.billing import PreviewInvoice, periods
from tests.contract.conftest import LIVE_KEY

# Sandbox-only tests (they need the sandbox clock or billing_preview) run against the sandbox alone.
sandbox_only = pytest.mark.parametrize("live", ["sandbox"], indirect=True)
NOW = datetime(2024, 7, 15, 12, tzinfo=UTC)


def ts(y: int, m: int, d: int, h: int = 0) -> int:
    return int(datetime(y, m, d, h, tzinfo=UTC).timestamp())


@pytest.fixture
def client(live: bool, directory: Path) -> Iterator[stripe.StripeClient]:
    """Stripe test mode, or the sandbox with its clock frozen at NOW."""
    if live:
        assert LIVE_KEY is not None
        yield stripe.StripeClient(api_key=LIVE_KEY, max_network_retries=2)
    else:
        sandbox.set_clock(directory, NOW)
        yield sandbox.connect(directory)


@pytest.fixture
def now(live: bool, client: stripe.StripeClient) -> int:
    """The account's current time: the frozen sandbox clock, or real time against Stripe."""
    return int(datetime.now(UTC).timestamp()) if live else int(NOW.timestamp())


class Account:
    """Small builders over the client (customer, products, prices, coupons)."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client
        self.customer = client.v1.customers.create(params={"name": "Acme Corp"}).id

    def price(self, amount: int, *, name: str = "Seat", currency: str = "usd", **extra: Any) -> str:
        product = self.client.v1.products.create(params={"name": name}).id
        params: dict[str, Any] = {"product": product, "currency": currency, "unit_amount": amount, **extra}
        return self.client.v1.prices.create(params=params).id  # type: ignore[arg-type]

    def monthly(self, amount: int, **extra: Any) -> str:
        return self.price(amount, recurring={"interval": "month"}, **extra)

    def coupon(self, **params: Any) -> str:
        return self.client.v1.coupons.create(params=params).id  # type: ignore[arg-type]


@pytest.fixture
def account(client: stripe.StripeClient) -> Account:
    return Account(client)


def invalid(call: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as info:
        call()
    return info.value


def preview(directory: Path, object_id: str, until: datetime | None = None) -> list[PreviewInvoice]:
    return sandbox.billing_preview(directory, object_id, until=until)  # type: ignore[no-any-return]


def month_after(start: int, n: int) -> int:
    return periods.to_timestamp(periods.add_months(periods.from_timestamp(start), n))


# -- schedules ----------------------------------------------------------------------------------------------


def test_twelve_month_schedule_with_monthly_items_and_a_one_time_item(
    client: stripe.StripeClient, account: Account, directory: Path, now: int, live: bool
) -> None:
    seat, support = account.monthly(1250), account.monthly(999, name="Support")
    setup = account.price(50000, name="Setup")
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": "now",
            "end_behavior": "cancel",
            "default_settings": {
                "collection_method": "send_invoice",
                "invoice_settings": {"days_until_due": 30},
            },
            "phases": [
                {
                    "items": [{"price": seat, "quantity": 4}, {"price": support, "quantity": 1}],
                    "add_invoice_items": [{"price": setup, "quantity": 1}],
                    "duration": {"interval": "month", "interval_count": 12},
                    "metadata": {"salesforce_order_id": "801A"},
                }
            ],
        }
    )
    assert schedule.id.startswith("sub_sched_")
    assert schedule.object == "subscription_schedule"
    assert schedule.status == "active"
    assert schedule.end_behavior == "cancel"
    phase = schedule.phases[0]
    assert phase.end_date == month_after(phase.start_date, 12)
    assert [(i.price, i.quantity) for i in phase["items"]] == [(seat, 4), (support, 1)]
    assert [(i.price, i.quantity) for i in phase.add_invoice_items] == [(setup, 1)]
    assert schedule.default_settings.invoice_settings.days_until_due == 30
    assert isinstance(schedule.subscription, str) and schedule.subscription.startswith("sub_")
    subscription = client.v1.subscriptions.retrieve(schedule.subscription)
    assert subscription.schedule == schedule.id
    assert subscription.collection_method == "send_invoice"
    assert subscription.days_until_due == 30
    assert subscription.metadata["salesforce_order_id"] == "801A"
    assert sorted((i.price.id, i.quantity) for i in subscription["items"].data) == sorted([(seat, 4), (support, 1)])
    items = client.v1.subscription_items.list(params={"subscription": subscription.id})
    assert {i.id for i in items.data} == {i.id for i in subscription["items"].data}
    assert client.v1.subscription_items.retrieve(items.data[0].id).subscription == subscription.id
    if live:
        return
    invoices = preview(directory, schedule.id)
    assert len(invoices) == 12
    assert invoices[0].total == 4 * 1250 + 999 + 50000
    assert [line.kind for line in invoices[0].lines] == ["subscription", "subscription", "invoice_item"]
    assert all(inv.total == 4 * 1250 + 999 for inv in invoices[1:])
    assert invoices[-1].period_end == periods.from_timestamp(month_after(now, 12))


@sandbox_only
def test_the_connectors_amendment_example_period_by_period(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    sandbox.set_clock(directory, datetime(2022, 1, 1, tzinfo=UTC))
    a, b = account.monthly(1000, name="A"), account.monthly(2000, name="B")
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": ts(2022, 1, 1),
            "end_behavior": "cancel",
            "phases": [{"items": [{"price": a, "quantity": 10}], "end_date": ts(2023, 1, 1)}],
        }
    )
    sandbox.set_clock(directory, datetime(2022, 1, 20, tzinfo=UTC))  # the amendment arrives in month 1 ...
    updated = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "phases": [
                {
                    "start_date": ts(2022, 1, 1),
                    "items": [{"price": a, "quantity": 10}],
                    "end_date": ts(2022, 2, 1),
                },
                {  # ... starting 2022-02-01: A -4, B +5
                    "items": [{"price": a, "quantity": 6}, {"price": b, "quantity": 5}],
                    "end_date": ts(2023, 1, 1),
                    "proration_behavior": "none",
                },
            ]
        },
    )
    assert [(p.start_date, p.end_date) for p in updated.phases] == [
        (ts(2022, 1, 1), ts(2022, 2, 1)),
        (ts(2022, 2, 1), ts(2023, 1, 1)),
    ]
    invoices = preview(directory, schedule.id)
    assert [(inv.period_start.date().isoformat(), inv.total) for inv in invoices] == [
        ("2022-01-01", 10000),
        *[(f"2022-{m:02d}-01", 6 * 1000 + 5 * 2000) for m in range(2, 13)],
    ]
    february = invoices[1]
    assert [(line.price, line.quantity, line.unit_amount_decimal, line.amount) for line in february.lines] == [
        (a, 6, 1000, 6000),
        (b, 5, 2000, 10000),
    ]
    assert all(line.kind == "subscription" for inv in invoices for line in inv.lines)
    # In month 2 the subscription bills the amended items.
    sandbox.set_clock(directory, datetime(2022, 2, 10, tzinfo=UTC))
    subscription = client.v1.subscriptions.retrieve(str(updated.subscription))
    assert sorted((i.price.id, i.quantity) for i in subscription["items"].data) == sorted([(a, 6), (b, 5)])
    assert {(i.current_period_start, i.current_period_end) for i in subscription["items"].data} == {
        (ts(2022, 2, 1), ts(2022, 3, 1))
    }
    assert client.v1.subscription_schedules.retrieve(schedule.id).current_phase.start_date == ts(2022, 2, 1)


def test_schedule_backdated_six_months_shows_the_current_phase(
    client: stripe.StripeClient, account: Account, now: int
) -> None:
    price = account.monthly(1000)
    start = month_after(now, -6)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": start,
            "end_behavior": "cancel",
            "phases": [
                {
                    "items": [{"price": price, "quantity": 1}],
                    "duration": {"interval": "month", "interval_count": 3},
                },
                {
                    "items": [{"price": price, "quantity": 2}],
                    "duration": {"interval": "month", "interval_count": 9},
                },
            ],
        }
    )
    assert schedule.status == "active"
    assert schedule.current_phase is not None
    assert schedule.current_phase.start_date == month_after(start, 3)
    assert schedule.current_phase.end_date == month_after(start, 12)
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
    assert subscription.start_date == start
    assert [i.quantity for i in subscription["items"].data] == [2]
    item = subscription["items"].data[0]
    assert item.current_period_start <= now < item.current_period_end


@sandbox_only
def test_backdated_periods_are_billed_unless_proration_behavior_is_none(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    price = account.monthly(1000)
    billed, skipped = (
        client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": ts(2024, 1, 15, 12),
                "phases": [{"items": [{"price": price}], "end_date": ts(2025, 1, 15, 12), "proration_behavior": pb}],
            }
        )
        for pb in ("create_prorations", "none")
    )
    assert len(preview(directory, billed.id)) == 12
    kept = preview(directory, skipped.id)
    # Clock 2024-07-15 12:00: the six ended periods are not billed, the one in progress is.
    assert kept[0].period_start.date().isoformat() == "2024-07-15"
    assert len(kept) == 6


@sandbox_only
def test_a_later_phase_without_prorations_still_bills_its_backdated_periods(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    """`phases[].proration_behavior` governs the transition into a phase; whether the time before creation is
    billed is the backdated start's, so the first phase's."""
    price = account.monthly(1000)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": ts(2024, 1, 15, 12),
            "phases": [
                {"items": [{"price": price, "quantity": 1}], "end_date": ts(2024, 3, 15, 12)},
                {"items": [{"price": price, "quantity": 2}], "end_date": ts(2025, 1, 15, 12),
                 "proration_behavior": "none"},
            ],
        }
    )  # fmt: skip
    billed = preview(directory, schedule.id)
    # Clock 2024-07-15 12:00: every period is billed, the four ended ones of the second phase included.
    assert [inv.total for inv in billed] == [1000, 1000] + [2000] * 10


@sandbox_only
def test_invoice_items_on_a_schedules_subscription_go_on_its_next_invoice(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    price = account.monthly(1000)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": ts(2024, 7, 1),
            "end_behavior": "cancel",
            "phases": [{"items": [{"price": price, "quantity": 1}], "end_date": ts(2024, 10, 1)}],
        }
    )
    credit = client.v1.invoice_items.create(
        params={"customer": account.customer, "subscription": str(schedule.subscription), "amount": -250,
                "currency": "usd", "discountable": False}
    )  # fmt: skip
    assert credit.amount == -250 and credit.parent is not None
    billed = preview(directory, schedule.id)
    # Clock 2024-07-15: July was invoiced on creation; the credit goes on August's invoice.
    assert [(inv.period_start.date().isoformat(), inv.total) for inv in billed] == [
        ("2024-07-01", 1000), ("2024-08-01", 750), ("2024-09-01", 1000)
    ]  # fmt: skip


@sandbox_only
def test_clock_moves_the_schedule_through_its_phases_to_completion(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    price = account.monthly(1000)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": ts(2024, 9, 1),
            "end_behavior": "cancel",
            "phases": [
                {"items": [{"price": price, "quantity": 1}], "end_date": ts(2024, 10, 1)},
                {"items": [{"price": price, "quantity": 3}], "end_date": ts(2025, 1, 1)},
            ],
        }
    )
    assert schedule.status == "not_started"
    assert schedule.subscription is None
    sandbox.set_clock(directory, datetime(2024, 9, 2, tzinfo=UTC))
    started = client.v1.subscription_schedules.retrieve(schedule.id)
    assert started.status == "active"
    subscription_id = str(started.subscription)
    assert client.v1.subscriptions.retrieve(subscription_id)["items"].data[0].quantity == 1
    sandbox.set_clock(directory, datetime(2024, 11, 5, tzinfo=UTC))
    assert client.v1.subscriptions.retrieve(subscription_id)["items"].data[0].quantity == 3
    sandbox.set_clock(directory, datetime(2025, 2, 1, tzinfo=UTC))
    ended = client.v1.subscription_schedules.retrieve(schedule.id)
    assert ended.status == "completed"
    assert ended.completed_at == ts(2025, 1, 1)
    subscription = client.v1.subscriptions.retrieve(subscription_id)
    assert subscription.status == "canceled"
    assert subscription.ended_at == ts(2025, 1, 1)
    error = invalid(lambda: client.v1.subscription_schedules.cancel(schedule.id))
    assert "completed" in error.user_message  # type: ignore[operator]


@sandbox_only
def test_end_behavior_release_lets_the_subscription_go_on(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    price = account.monthly(1000)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": "now",
            "end_behavior": "release",
            "phases": [{"items": [{"price": price, "quantity": 2}], "end_date": ts(2024, 10, 15, 12)}],
        }
    )
    sandbox.set_clock(directory, datetime(2024, 11, 1, tzinfo=UTC))
    released = client.v1.subscription_schedules.retrieve(schedule.id)
    assert released.status == "released"
    assert released.subscription is None
    assert released.released_subscription == schedule.subscription
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
    assert subscription.status == "active"
    assert subscription.schedule is None
    assert subscription["items"].data[0].quantity == 2
    assert subscription["items"].data[0].current_period_start == ts(2024, 10, 15, 12)


def test_release_and_cancel_through_the_api(client: stripe.StripeClient, account: Account) -> None:
    price = account.monthly(1000)

    def create() -> stripe.SubscriptionSchedule:
        return client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": "now",
                "phases": [{"items": [{"price": price}], "duration": {"interval": "month", "interval_count": 6}}],
            }
        )

    released = client.v1.subscription_schedules.release(create().id)
    assert released.status == "released"
    assert released.released_subscription is not None
    assert client.v1.subscriptions.retrieve(str(released.released_subscription)).status == "active"
    canceled = client.v1.subscription_schedules.cancel(create().id)
    assert canceled.status == "canceled"
    assert canceled.canceled_at is not None
    error = invalid(lambda: client.v1.subscription_schedules.release(canceled.id))
    assert "canceled" in str(error.user_message)


def test_list_schedules_by_customer(client: stripe.StripeClient, account: Account) -> None:
    price = account.monthly(1000)
    other = Account(client)
    mine = [
        client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": "now",
                "phases": [{"items": [{"price": price}]}],
            }
        ).id
        for _ in range(3)
    ]
    client.v1.subscription_schedules.create(
        params={"customer": other.customer, "start_date": "now", "phases": [{"items": [{"price": price}]}]}
    )
    listed = client.v1.subscription_schedules.list(params={"customer": account.customer, "limit": 2})
    assert [s.id for s in listed.data] == mine[::-1][:2]
    assert listed.has_more is True
    rest = client.v1.subscription_schedules.list(params={"customer": account.customer, "starting_after": mine[1]})
    assert [s.id for s in rest.data] == [mine[0]]


# -- what Stripe refuses ------------------------------------------------------------------------------------


def test_same_price_twice_in_a_phase_is_rejected(client: stripe.StripeClient, account: Account) -> None:
    price = account.monthly(1000)
    error = invalid(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": "now",
                "phases": [{"items": [{"price": price, "quantity": 1}, {"price": price, "quantity": 2}]}],
            }
        )
    )
    assert error.param is not None and error.param.startswith("phases[0][items]")


def test_phase_iterations_is_an_unknown_parameter(client: stripe.StripeClient, account: Account) -> None:
    price = account.monthly(1000)
    error = invalid(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": "now",
                "phases": [{"items": [{"price": price}], "iterations": 12}],  # type: ignore[typeddict-unknown-key]
            }
        )
    )
    assert error.param == "phases[0][iterations]"
    assert client.v1.subscription_schedules.list(params={"customer": account.customer}).data == []


def test_archived_price_is_rejected(client: stripe.StripeClient, account: Account) -> None:
    price = account.monthly(1000)
    client.v1.prices.update(price, params={"active": False})
    error = invalid(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": "now",
                "phases": [{"items": [{"price": price}]}],
            }
        )
    )
    assert error.param == "phases[0][items][0][price]"
    error = invalid(
        lambda: client.v1.subscriptions.create(params={"customer": account.customer, "items": [{"price": price}]})
    )
    assert error.param == "items[0][price]"


def test_prices_of_a_schedule_share_one_currency(client: stripe.StripeClient, account: Account) -> None:
    usd, eur = account.monthly(1000), account.monthly(900, currency="eur")
    error = invalid(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": "now",
                "phases": [{"items": [{"price": usd}, {"price": eur}]}],
            }
        )
    )
    assert error.param == "phases[0][items][1][price]"


def test_phases_must_be_contiguous_and_bounded(client: stripe.StripeClient, account: Account, now: int) -> None:
    price = account.monthly(1000)
    error = invalid(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": "now",
                "phases": [{"items": [{"price": price}]}, {"items": [{"price": price, "quantity": 2}]}],
            }
        )
    )
    assert error.param is not None and error.param.startswith("phases[0]")
    error = invalid(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": now + 86400,
                "phases": [{"items": [{"price": price}], "end_date": now}],
            }
        )
    )
    assert error.param is not None and error.param.startswith("phases[0]")


def test_at_most_twenty_one_time_items_per_phase(client: stripe.StripeClient, account: Account) -> None:
    recurring, one_time = account.monthly(1000), account.price(100, name="Fee")
    error = invalid(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": "now",
                "phases": [
                    {"items": [{"price": recurring}], "add_invoice_items": [{"price": one_time}] * 21},
                ],
            }
        )
    )
    assert error.param is not None and error.param.startswith("phases[0][add_invoice_items]")


@sandbox_only
def test_ended_phases_cannot_be_changed_by_update(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    price = account.monthly(1000)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": ts(2024, 1, 1),
            "phases": [
                {"items": [{"price": price, "quantity": 1}], "end_date": ts(2024, 3, 1)},
                {"items": [{"price": price, "quantity": 2}], "end_date": ts(2025, 1, 1)},
            ],
        }
    )
    changed_past = {
        "start_date": ts(2024, 1, 1),
        "items": [{"price": price, "quantity": 5}],
        "end_date": ts(2024, 3, 1),
    }
    current = {"items": [{"price": price, "quantity": 3}], "end_date": ts(2025, 1, 1)}
    error = invalid(
        lambda: client.v1.subscription_schedules.update(schedule.id, params={"phases": [changed_past, current]})
    )
    assert error.param == "phases[0]"
    moved = {"start_date": ts(2024, 4, 1), **current}
    error = invalid(lambda: client.v1.subscription_schedules.update(schedule.id, params={"phases": [moved]}))
    assert error.param == "phases[0][start_date]"
    # Passing the ended phase back unchanged, or leaving it out, is accepted.
    unchanged = {**changed_past, "items": [{"price": price, "quantity": 1}]}
    updated = client.v1.subscription_schedules.update(schedule.id, params={"phases": [unchanged, current]})
    assert [p["items"][0].quantity for p in updated.phases] == [1, 3]
    restated = {"start_date": ts(2024, 3, 1), **current, "items": [{"price": price, "quantity": 4}]}
    updated = client.v1.subscription_schedules.update(schedule.id, params={"phases": [restated]})
    assert [p["items"][0].quantity for p in updated.phases] == [1, 4]
    subscription = client.v1.subscriptions.retrieve(str(updated.subscription))
    assert subscription["items"].data[0].quantity == 4


# -- subscriptions ------------------------------------------------------------------------------------------


def test_subscription_with_discounts_and_the_removed_coupon_parameter(
    client: stripe.StripeClient, account: Account
) -> None:
    price = account.monthly(1000)
    coupon = account.coupon(percent_off=10, duration="forever")
    subscription = client.v1.subscriptions.create(
        params={
            "customer": account.customer,
            "items": [{"price": price, "quantity": 3}],
            "discounts": [{"coupon": coupon}],
            "collection_method": "send_invoice",
            "days_until_due": 15,
            "metadata": {"salesforce_order_id": "801B"},
        }
    )
    assert subscription.id.startswith("sub_")
    assert subscription.status == "active"
    assert len(subscription.discounts) == 1
    assert subscription.days_until_due == 15
    error = invalid(
        lambda: client.v1.subscriptions.create(
            params={"customer": account.customer, "items": [{"price": price}], "coupon": coupon}  # type: ignore[typeddict-unknown-key]
        )
    )
    assert error.param == "coupon"


def test_send_invoice_needs_days_until_due(client: stripe.StripeClient, account: Account) -> None:
    price = account.monthly(1000)
    error = invalid(
        lambda: client.v1.subscriptions.create(
            params={
                "customer": account.customer,
                "items": [{"price": price}],
                "collection_method": "send_invoice",
            }
        )
    )
    assert error.param == "days_until_due"


def test_subscription_update_list_search_and_cancel(
    client: stripe.StripeClient, account: Account, now: int, live: bool
) -> None:
    a, b = account.monthly(1000), account.monthly(2000, name="Other")
    subscription = client.v1.subscriptions.create(
        params={"customer": account.customer, "items": [{"price": a, "quantity": 1}], "metadata": {"k": "v1"}}
    )
    item = subscription["items"].data[0]
    updated = client.v1.subscriptions.update(
        subscription.id,
        params={
            "items": [{"id": item.id, "quantity": 4}, {"price": b, "quantity": 2}],
            "cancel_at": now + 90 * 86400,
            "metadata": {"k": "", "other": "x"},
        },
    )
    assert sorted((i.price.id, i.quantity) for i in updated["items"].data) == sorted([(a, 4), (b, 2)])
    assert next(i.id for i in updated["items"].data if i.price.id == a) == item.id
    assert updated.cancel_at == now + 90 * 86400
    assert updated.metadata.to_dict() == {"other": "x"}
    listed = client.v1.subscriptions.list(params={"customer": account.customer})
    assert [s.id for s in listed.data] == [subscription.id]
    if not live:  # Stripe's search is eventually consistent
        found = client.v1.subscriptions.search(params={"query": "metadata['other']:'x'"})
        assert [s.id for s in found.data] == [subscription.id]
    canceled = client.v1.subscriptions.cancel(subscription.id)
    assert canceled.status == "canceled"
    assert client.v1.subscriptions.list(params={"customer": account.customer}).data == []
    assert [
        s.id for s in client.v1.subscriptions.list(params={"customer": account.customer, "status": "canceled"}).data
    ] == [subscription.id]


@sandbox_only
def test_subscription_cancel_at_ends_it_when_the_clock_gets_there(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    price = account.monthly(1000)
    subscription = client.v1.subscriptions.create(
        params={"customer": account.customer, "items": [{"price": price}], "cancel_at": ts(2024, 9, 1)}
    )
    sandbox.set_clock(directory, datetime(2024, 8, 20, tzinfo=UTC))
    item = client.v1.subscriptions.retrieve(subscription.id)["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (ts(2024, 8, 15, 12), ts(2024, 9, 1))
    sandbox.set_clock(directory, datetime(2024, 9, 2, tzinfo=UTC))
    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert ended.status == "canceled"
    assert ended.ended_at == ts(2024, 9, 1)
    invoices = preview(directory, subscription.id)
    assert [inv.total for inv in invoices] == [
        1000,
        round(1000 * 16.5 / 31),
    ]  # Aug 15 12:00 .. Sep 1 of a 31-day period


# -- invoice items and invoices -----------------------------------------------------------------------------


def test_one_time_invoice_from_invoice_items_is_finalized(
    client: stripe.StripeClient, account: Account, live: bool, directory: Path
) -> None:
    fee = account.price(12345, name="Implementation")
    first = client.v1.invoice_items.create(
        params={"customer": account.customer, "pricing": {"price": fee}, "quantity": 2}
    )
    assert first.id.startswith("ii_")
    assert first.amount == 24690
    assert first.invoice is None
    product = client.v1.products.create(params={"name": "Training"}).id
    client.v1.invoice_items.create(
        params={
            "customer": account.customer,
            "price_data": {"currency": "usd", "product": product, "unit_amount_decimal": "999.5"},
            "quantity": 3,
        }
    )
    pending = client.v1.invoice_items.list(params={"customer": account.customer, "pending": True})
    assert len(pending.data) == 2
    empty = client.v1.invoices.create(params={"customer": account.customer, "auto_advance": False})
    assert empty.total == 0  # pending items are excluded by default since 2022-08-01
    client.v1.invoices.delete(empty.id)  # a draft may be deleted
    invoice = client.v1.invoices.create(
        params={
            "customer": account.customer,
            "pending_invoice_items_behavior": "include",
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "auto_advance": False,
            "discounts": [{"coupon": account.coupon(percent_off=10, duration="once")}],
        }
    )
    assert invoice.status == "draft"
    assert invoice.subtotal == 24690 + 2999  # 3 x 999.5 = 2998.5, rounded half up per line
    assert invoice.total == 24690 + 2999 - 2769  # 10% of 27689, rounded half up
    finalized = client.v1.invoices.finalize_invoice(invoice.id)
    assert finalized.status == "open"
    assert finalized.number
    assert finalized.hosted_invoice_url
    assert finalized.due_date is not None
    assert finalized.total == finalized.amount_due == 24690 + 2999 - 2769
    if not live:
        (previewed,) = preview(directory, invoice.id)
        assert (previewed.subtotal, previewed.discount_total, previewed.total) == (27689, 2769, 24920)
        assert [line.kind for line in previewed.lines] == ["invoice_item", "invoice_item"]
    assert client.v1.invoice_items.list(params={"customer": account.customer, "pending": True}).data == []
    assert client.v1.invoices.list(params={"customer": account.customer}).data[0].id == invoice.id
    error = invalid(lambda: client.v1.invoice_items.delete(first.id))
    assert error.http_status == 400


def test_invoice_item_delete_while_pending(client: stripe.StripeClient, account: Account) -> None:
    fee = account.price(500, name="Fee")
    item = client.v1.invoice_items.create(params={"customer": account.customer, "pricing": {"price": fee}})
    deleted = client.v1.invoice_items.delete(item.id)
    assert deleted.deleted is True
    assert client.v1.invoice_items.list(params={"customer": account.customer}).data == []


# -- billing preview: coupons and prorations ----------------------------------------------------------------


@sandbox_only
@pytest.mark.parametrize(
    ("coupon", "discounted_months"),
    [
        ({"percent_off": 25, "duration": "once"}, 1),
        ({"percent_off": 25, "duration": "repeating", "duration_in_months": 3}, 3),
        ({"percent_off": 25, "duration": "forever"}, 6),
    ],
)
def test_coupon_durations_in_the_preview(
    client: stripe.StripeClient,
    account: Account,
    directory: Path,
    coupon: dict[str, Any],
    discounted_months: int,
) -> None:
    price = account.monthly(1999)
    coupon_id = account.coupon(**coupon)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": "now",
            "phases": [
                {
                    "items": [{"price": price, "quantity": 2}],
                    "discounts": [{"coupon": coupon_id}],
                    "duration": {"interval": "month", "interval_count": 6},
                }
            ],
        }
    )
    invoices = preview(directory, schedule.id)
    discount = round(3998 * 0.25)  # 999.5 -> 1000, half up
    assert [inv.discount_total for inv in invoices] == [discount] * discounted_months + [0] * (6 - discounted_months)
    assert [inv.total for inv in invoices] == [3998 - inv.discount_total for inv in invoices]


@sandbox_only
def test_item_and_amount_off_discounts_in_the_preview(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    a, b = account.monthly(10000, name="A"), account.monthly(5000, name="B")
    item_coupon = account.coupon(percent_off=50, duration="forever")
    amount_coupon = account.coupon(amount_off=1500, currency="usd", duration="forever")
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": "now",
            "phases": [
                {
                    "items": [{"price": a, "discounts": [{"coupon": item_coupon}]}, {"price": b}],
                    "discounts": [{"coupon": amount_coupon}],
                    "duration": {"interval": "month", "interval_count": 1},
                }
            ],
        }
    )
    (invoice,) = preview(directory, schedule.id)
    assert invoice.subtotal == 15000
    assert invoice.discount_total == 5000 + 1500
    assert invoice.total == 8500
    assert sum(line.discounts for line in invoice.lines) == invoice.discount_total


@sandbox_only
def test_mid_period_phase_change_prorates_unless_proration_behavior_none(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    price = account.monthly(3100)
    invoices_by_behavior = {}
    for behavior in ("create_prorations", "none"):
        schedule = client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": ts(2024, 8, 1),
                "end_behavior": "cancel",
                "phases": [
                    {"items": [{"price": price, "quantity": 1}], "end_date": ts(2024, 8, 17)},
                    {
                        "items": [{"price": price, "quantity": 2}],
                        "end_date": ts(2024, 10, 1),
                        "proration_behavior": behavior,
                    },
                ],
            }
        )
        invoices_by_behavior[behavior] = preview(directory, schedule.id)
    prorated = invoices_by_behavior["create_prorations"]
    assert [inv.period_start.date().isoformat() for inv in prorated] == ["2024-08-01", "2024-09-01"]
    september = prorated[1]
    prorations = [line for line in september.lines if line.kind == "proration"]
    # 15 of August's 31 days remain after the 17th: -1 x 3100 x 15/31 and +2 x 3100 x 15/31.
    assert sorted(line.amount for line in prorations) == [-1500, 3000]
    assert september.total == 6200 + 1500
    plain = invoices_by_behavior["none"]
    assert [inv.total for inv in plain] == [3100, 6200]


@sandbox_only
def test_tiered_and_metered_prices_in_the_preview(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    product = client.v1.products.create(params={"name": "API"}).id
    tiered = client.v1.prices.create(
        params={
            "product": product,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": [
                {"up_to": 10, "unit_amount": 100, "flat_amount": 500},
                {"up_to": "inf", "unit_amount": 50},
            ],
        }
    ).id
    meter = client.v1.billing.meters.create(
        params={"display_name": "Calls", "event_name": "api_call", "default_aggregation": {"formula": "sum"}}
    ).id
    metered = client.v1.prices.create(
        params={
            "product": product,
            "currency": "usd",
            "unit_amount": 2,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter},
        }
    ).id
    error = invalid(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": "now",
                "phases": [{"items": [{"price": metered, "quantity": 3}]}],
            }
        )
    )
    assert error.param == "phases[0][items][0][quantity]"
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": "now",
            "phases": [
                {
                    "items": [{"price": tiered, "quantity": 15}, {"price": metered}],
                    "duration": {"interval": "month", "interval_count": 2},
                }
            ],
        }
    )
    invoices = preview(directory, schedule.id)
    assert [inv.total for inv in invoices] == [500 + 10 * 100 + 5 * 50] * 2
    assert [(line.price, line.quantity, line.amount) for line in invoices[0].lines][1] == (metered, 0, 0)


@sandbox_only
@pytest.mark.parametrize(("behavior", "billed_periods"), [("create_prorations", 12), ("none", 10)])
def test_backdated_subscription_preview(
    client: stripe.StripeClient, account: Account, directory: Path, behavior: str, billed_periods: int
) -> None:
    price = account.monthly(1000)
    subscription = client.v1.subscriptions.create(
        params={
            "customer": account.customer,
            "items": [{"price": price, "quantity": 2}],
            "backdate_start_date": ts(2024, 5, 1),
            "proration_behavior": behavior,  # type: ignore[typeddict-item]
        }
    )
    assert subscription.start_date == ts(2024, 5, 1)
    assert subscription["items"].data[0].current_period_start == ts(2024, 7, 1)
    invoices = preview(directory, subscription.id)
    # Twelve monthly periods from 2024-05-01; with proration_behavior=none May and June are not billed.
    assert len(invoices) == billed_periods
    assert invoices[0].period_start.date().isoformat() == ("2024-05-01" if billed_periods == 12 else "2024-07-01")
    assert {inv.total for inv in invoices} == {2000}


@sandbox_only
def test_future_billing_cycle_anchor_prorates_the_first_period(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    price = account.monthly(3100)
    subscription = client.v1.subscriptions.create(
        params={
            "customer": account.customer,
            "items": [{"price": price}],
            "billing_cycle_anchor": ts(2024, 8, 1),
            "cancel_at": ts(2024, 10, 1),
        }
    )
    item = subscription["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (ts(2024, 7, 15, 12), ts(2024, 8, 1))
    invoices = preview(directory, subscription.id)
    # 2024-07-15 12:00 .. 08-01 is 16.5 of July's 31 days.
    assert [inv.total for inv in invoices] == [round(3100 * 16.5 / 31), 3100, 3100]


@sandbox_only
def test_schedule_released_early_keeps_billing_the_phase_in_force(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    price = account.monthly(1000)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": ts(2024, 7, 1),
            "phases": [
                {"items": [{"price": price, "quantity": 1}], "end_date": ts(2024, 9, 1)},
                {"items": [{"price": price, "quantity": 5}], "end_date": ts(2025, 1, 1)},
            ],
        }
    )
    client.v1.subscription_schedules.release(schedule.id)
    invoices = preview(directory, schedule.id, until=datetime(2024, 12, 1, tzinfo=UTC))
    assert [inv.total for inv in invoices] == [1000] * 5


def test_invoice_for_a_subscriptions_pending_items(client: stripe.StripeClient, account: Account) -> None:
    price, fee = account.monthly(1000), account.price(700, name="Proration")
    subscription = client.v1.subscriptions.create(
        params={
            "customer": account.customer,
            "items": [{"price": price}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    client.v1.invoice_items.create(
        params={
            "customer": account.customer,
            "subscription": subscription.id,
            "pricing": {"price": fee},
            "quantity": 3,
            "metadata": {"salesforce_proration": "true"},
        }
    )
    invoice = client.v1.invoices.create(params={"customer": account.customer, "subscription": subscription.id})
    assert invoice.parent is not None and invoice.parent.subscription_details is not None
    assert invoice.parent.subscription_details.subscription == subscription.id
    assert [line.amount for line in invoice.lines.data] == [2100]
    assert invoice.collection_method == "send_invoice"
    finalized = client.v1.invoices.finalize_invoice(invoice.id)
    assert finalized.status == "open"
    assert finalized.amount_due == 2100
    listed = client.v1.invoices.list(params={"subscription": subscription.id})
    assert [i.id for i in listed.data] == [invoice.id]


def test_a_price_archived_after_use_stays_usable_on_its_schedule(
    client: stripe.StripeClient, account: Account, now: int
) -> None:
    # The connector archives order-line prices right after attaching them, then reuses them in amendments.
    price, other = account.monthly(1000), account.monthly(500, name="Add-on")
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": "now",
            "end_behavior": "cancel",
            "phases": [
                {
                    "items": [{"price": price, "quantity": 2}],
                    "duration": {"interval": "month", "interval_count": 12},
                }
            ],
        }
    )
    client.v1.prices.update(price, params={"active": False})
    phase = schedule.phases[0]
    amended = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "phases": [
                {
                    "start_date": phase.start_date,
                    "items": [{"price": price, "quantity": 2}],
                    "end_date": month_after(phase.start_date, 1),
                },
                {"items": [{"price": price, "quantity": 3}, {"price": other}], "end_date": phase.end_date},
            ]
        },
    )
    assert [len(p["items"]) for p in amended.phases] == [1, 2]
    error = invalid(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": "now",
                "phases": [{"items": [{"price": price}]}],
            }
        )
    )
    assert error.param == "phases[0][items][0][price]"
    subscription = client.v1.subscriptions.retrieve(str(amended.subscription))
    item = next(i for i in subscription["items"].data if i.price.id == price)
    updated = client.v1.subscriptions.update(subscription.id, params={"items": [{"id": item.id, "quantity": 4}]})
    assert next(i.quantity for i in updated["items"].data if i.price.id == price) == 4


@sandbox_only
def test_termination_ends_the_last_phase_now(client: stripe.StripeClient, account: Account, directory: Path) -> None:
    price = account.monthly(1000)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": ts(2024, 1, 1),
            "end_behavior": "cancel",
            "phases": [{"items": [{"price": price}], "end_date": ts(2025, 1, 1)}],
        }
    )
    start = schedule.phases[0].start_date
    error = invalid(
        lambda: client.v1.subscription_schedules.update(
            schedule.id,
            params={"phases": [{"start_date": start, "items": [{"price": price}], "end_date": ts(2024, 7, 1)}]},
        )
    )
    assert error.param == "phases[0][end_date]"
    ended = client.v1.subscription_schedules.update(
        schedule.id,
        params={"phases": [{"start_date": start, "items": [{"price": price}], "end_date": "now"}]},
    )
    assert ended.status == "completed"
    assert client.v1.subscriptions.retrieve(str(ended.subscription)).status == "canceled"
    invoices = preview(directory, schedule.id)
    # Billed Jan..Jun in full, then July 1 .. July 15 12:00 prorated (14.5 of 31 days).
    assert [inv.total for inv in invoices] == [1000] * 6 + [round(1000 * 14.5 / 31)]


@sandbox_only
def test_timeout_after_a_schedule_is_applied_creates_one_schedule_and_one_subscription(
    client: stripe.StripeClient, account: Account, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cpq_sync.sandbox.stripe import StripeFaults
    from cpq_sync.sandbox.stripe.store import Store

    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.001)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.002)
    price = account.monthly(1000)
    flaky = sandbox.connect(directory, faults=StripeFaults(timeout_after_apply_rate=1.0), max_network_retries=2)
    schedule = flaky.v1.subscription_schedules.create(
        params={"customer": account.customer, "start_date": "now", "phases": [{"items": [{"price": price}]}]}
    )
    store = Store(directory)
    assert store.count("subscription_schedule") == 1
    assert store.count("subscription") == 1
    assert client.v1.subscription_schedules.retrieve(schedule.id).subscription == schedule.subscription


def test_a_fully_redeemed_coupon_stays_on_its_schedule(client: stripe.StripeClient, account: Account) -> None:
    price = account.monthly(1000)
    coupon = account.coupon(percent_off=20, duration="forever", max_redemptions=1)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": "now",
            "phases": [
                {
                    "items": [{"price": price}],
                    "discounts": [{"coupon": coupon}],
                    "duration": {"interval": "month", "interval_count": 12},
                }
            ],
        }
    )
    assert client.v1.coupons.retrieve(coupon).times_redeemed == 1
    phase = schedule.phases[0]
    amended = client.v1.subscription_schedules.update(
        schedule.id,
        params={
            "phases": [
                {
                    "start_date": phase.start_date,
                    "items": [{"price": price, "quantity": 2}],
                    "discounts": [{"coupon": coupon}],
                    "end_date": phase.end_date,
                }
            ]
        },
    )
    assert amended.phases[0].discounts[0].coupon == coupon
    error = invalid(
        lambda: client.v1.subscription_schedules.create(
            params={
                "customer": account.customer,
                "start_date": "now",
                "phases": [{"items": [{"price": price}], "discounts": [{"coupon": coupon}]}],
            }
        )
    )
    assert error.param == "phases[0][discounts][0][coupon]"


def test_invoice_lines_paging_and_search(client: stripe.StripeClient, account: Account, live: bool) -> None:
    fees = [account.price(100 * (k + 1), name=f"Fee {k}") for k in range(3)]
    for fee in fees:
        client.v1.invoice_items.create(params={"customer": account.customer, "pricing": {"price": fee}})
    invoice = client.v1.invoices.create(
        params={
            "customer": account.customer,
            "pending_invoice_items_behavior": "include",
            "metadata": {"salesforce_order_id": f"801{account.customer[-8:]}"},
        }
    )
    first = client.v1.invoices.line_items.list(invoice.id, params={"limit": 2})
    assert len(first.data) == 2
    assert first.has_more is True
    rest = client.v1.invoices.line_items.list(invoice.id, params={"starting_after": first.data[-1].id})
    assert len(rest.data) == 1
    assert rest.has_more is False
    assert sorted(line.amount for line in [*first.data, *rest.data]) == [100, 200, 300]
    if not live:  # Stripe's search is eventually consistent
        found = client.v1.invoices.search(
            params={"query": f"metadata['salesforce_order_id']:'801{account.customer[-8:]}' AND status:'draft'"}
        )
        assert [i.id for i in found.data] == [invoice.id]


@sandbox_only
def test_a_discount_kept_across_phases_does_not_restart(
    client: stripe.StripeClient, account: Account, directory: Path
) -> None:
    price = account.monthly(1000)
    coupon = account.coupon(amount_off=100, currency="usd", duration="repeating", duration_in_months=3)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": ts(2024, 8, 1),
            "end_behavior": "cancel",
            "phases": [
                {"items": [{"price": price}], "discounts": [{"coupon": coupon}], "end_date": ts(2024, 10, 1)},
                {
                    "items": [{"price": price, "quantity": 2}],
                    "discounts": [{"coupon": coupon}],
                    "end_date": ts(2025, 2, 1),
                },
            ],
        }
    )
    invoices = preview(directory, schedule.id)
    assert [inv.discount_total for inv in invoices] == [100, 100, 100, 0, 0, 0]
    assert [inv.total for inv in invoices] == [900, 900, 1900, 2000, 2000, 2000]


@sandbox_only
@pytest.mark.parametrize("behavior", ["create_prorations", "none"])
def test_subscription_item_change_mid_period_prorates(
    client: stripe.StripeClient, account: Account, directory: Path, behavior: str
) -> None:
    price = account.monthly(1000)
    subscription = client.v1.subscriptions.create(
        params={"customer": account.customer, "items": [{"price": price, "quantity": 1}]}
    )
    sandbox.set_clock(directory, datetime(2024, 7, 31, tzinfo=UTC))  # 15.5 of the 31 days remain
    item = subscription["items"].data[0]
    client.v1.subscriptions.update(
        subscription.id,
        params={"items": [{"id": item.id, "quantity": 3}], "proration_behavior": behavior},  # type: ignore[typeddict-item]
    )
    pending = client.v1.invoice_items.list(params={"customer": account.customer, "pending": True}).data
    invoices = preview(directory, subscription.id, until=datetime(2024, 9, 15, 12, tzinfo=UTC))
    if behavior == "none":
        assert pending == []
        assert [inv.total for inv in invoices] == [1000, 3000]
        return
    assert sorted(i.amount for i in pending) == [-500, 1500]
    assert all(i.proration for i in pending)
    assert {(i.period.start, i.period.end) for i in pending} == {(ts(2024, 7, 31), ts(2024, 8, 15, 12))}
    # The prorations land on the next invoice (2024-08-15), after the July period billed at 1 seat.
    assert [inv.total for inv in invoices] == [1000, 3000 + 1000]
    assert sorted(line.kind for line in invoices[1].lines) == ["proration", "proration", "subscription"]


@sandbox_only
@pytest.mark.parametrize("how", ["phase_start", "yearly"])
def test_a_phase_that_resets_the_billing_cycle_credits_the_unused_time(
    client: stripe.StripeClient, account: Account, directory: Path, how: str
) -> None:
    monthly = account.monthly(3100)
    yearly = account.price(36000, name="Annual", recurring={"interval": "year"})
    second: dict[str, Any] = (
        {"items": [{"price": monthly}], "billing_cycle_anchor": "phase_start", "end_date": ts(2024, 10, 17)}
        if how == "phase_start"
        else {"items": [{"price": yearly}], "end_date": ts(2025, 8, 17)}
    )
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": ts(2024, 8, 1),
            "end_behavior": "cancel",
            "phases": [{"items": [{"price": monthly}], "end_date": ts(2024, 8, 17)}, second],
        }
    )
    invoices = preview(directory, schedule.id)
    # August billed in advance; at the 17th the cycle restarts and the unused 15/31 of August is credited.
    assert invoices[0].total == 3100
    assert invoices[1].period_start.date().isoformat() == "2024-08-17"
    assert [line.amount for line in invoices[1].lines if line.kind == "proration"] == [-1500]
    if how == "phase_start":
        assert [inv.total for inv in invoices] == [3100, 3100 - 1500, 3100]
    else:
        assert [inv.total for inv in invoices] == [3100, 36000 - 1500]
    sandbox.set_clock(directory, datetime(2024, 9, 1, tzinfo=UTC))
    started = client.v1.subscription_schedules.retrieve(schedule.id)
    subscription = client.v1.subscriptions.retrieve(str(started.subscription))
    assert subscription.billing_cycle_anchor == ts(2024, 8, 17)
    item = subscription["items"].data[0]
    expected_end = ts(2024, 9, 17) if how == "phase_start" else ts(2025, 8, 17)
    assert (item.current_period_start, item.current_period_end) == (ts(2024, 8, 17), expected_end)


def test_zero_decimal_currency_amounts(
    client: stripe.StripeClient, account: Account, live: bool, directory: Path
) -> None:
    yen = account.price(1500, name="Seat JP", currency="jpy", recurring={"interval": "month"})
    fee = account.price(333, name="Fee JP", currency="jpy")
    other = Account(client)
    item = client.v1.invoice_items.create(params={"customer": other.customer, "pricing": {"price": fee}, "quantity": 3})
    assert (item.currency, item.amount) == ("jpy", 999)
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": account.customer,
            "start_date": "now",
            "phases": [
                {
                    "items": [{"price": yen, "quantity": 3}],
                    "duration": {"interval": "month", "interval_count": 2},
                }
            ],
        }
    )
    assert schedule.phases[0].currency == "jpy"
    if not live:
        assert [(inv.currency, inv.total) for inv in preview(directory, schedule.id)] == [("jpy", 4500)] * 2
