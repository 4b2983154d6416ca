"""Contract tests of the sandbox Stripe account's billing modes and mixed-interval billing, through a real
stripe.StripeClient: ``billing_mode`` (default flexible for the pinned API version, classic refusing prices of
different intervals), item-level current periods, and ``billing_preview`` billing each item on its own interval
(aligned periods on one invoice, divergent ones on their own), for backdated and future starts, phase changes
and the schedule's end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import stripe

from cpq_sync.sandbox import stripe as sandbox
from cpq_sync.sandbox.stripe.billing import PreviewInvoice, periods

NOW = datetime(2024, 7, 15, 12, tzinfo=UTC)
ANNUAL, QUARTERLY, MONTHLY = 120000, 30000, 5000  # cents


def ts(y: int, m: int, d: int = 1) -> int:
    return int(datetime(y, m, d, tzinfo=UTC).timestamp())


@pytest.fixture
def client(directory: Path) -> Iterator[stripe.StripeClient]:
    sandbox.set_clock(directory, NOW)
    yield sandbox.connect(directory)


class Catalog:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client
        self.customer = client.v1.customers.create(params={"name": "Acme Corp"}).id
        self.annual = self.price(ANNUAL, "License", {"interval": "year"})
        self.quarterly = self.price(QUARTERLY, "Add-on", {"interval": "month", "interval_count": 3})
        self.monthly = self.price(MONTHLY, "Platform", {"interval": "month"})

    def price(self, amount: int, name: str, recurring: dict[str, Any]) -> str:
        product = self.client.v1.products.create(params={"name": name}).id
        params: dict[str, Any] = {"product": product, "currency": "usd", "unit_amount": amount, "recurring": recurring}
        return self.client.v1.prices.create(params=params).id  # type: ignore[arg-type]

    def subscription(self, **params: Any) -> Any:
        full: dict[str, Any] = {"customer": self.customer, **params}
        return self.client.v1.subscriptions.create(params=full)  # type: ignore[arg-type]

    def schedule(self, phases: list[dict[str, Any]], start: int | str, **extra: Any) -> Any:
        params: dict[str, Any] = {
            "customer": self.customer,
            "start_date": start,
            "end_behavior": "cancel",
            "phases": phases,
            **extra,
        }
        return self.client.v1.subscription_schedules.create(params=params)  # type: ignore[arg-type]

    def all_three(self, quantity: int = 1) -> list[dict[str, Any]]:
        return [
            {"price": self.annual, "quantity": quantity},
            {"price": self.quarterly, "quantity": quantity},
            {"price": self.monthly, "quantity": quantity},
        ]


@pytest.fixture
def cat(client: stripe.StripeClient) -> Catalog:
    return Catalog(client)


def months(n: int) -> dict[str, Any]:
    return {"interval": "month", "interval_count": n}


def preview(directory: Path, object_id: str) -> list[PreviewInvoice]:
    return sandbox.billing_preview(directory, object_id)


def by_month(invoices: list[PreviewInvoice]) -> list[tuple[str, int]]:
    return [(inv.period_start.date().isoformat()[:7], inv.total) for inv in invoices]


def expected_mixed(start: tuple[int, int], n: int, quantity: int = 1) -> list[tuple[str, int]]:
    """An annual, a quarterly and a monthly item from ``start`` for ``n`` whole months."""
    out = []
    for k in range(n):
        index = start[0] * 12 + start[1] - 1 + k
        total = MONTHLY + (QUARTERLY if k % 3 == 0 else 0) + (ANNUAL if k % 12 == 0 else 0)
        out.append((f"{index // 12}-{index % 12 + 1:02d}", total * quantity))
    return out


# -- billing_mode ---------------------------------------------------------------------------------------------


def test_new_schedules_and_subscriptions_default_to_flexible_billing_mode(
    client: stripe.StripeClient, cat: Catalog
) -> None:
    schedule = cat.schedule([{"items": [{"price": cat.monthly}], "duration": months(12)}], ts(2024, 7))
    assert schedule.billing_mode.type == "flexible"
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
    assert subscription.billing_mode.type == "flexible"
    classic = cat.schedule(
        [{"items": [{"price": cat.monthly}], "duration": months(12)}], ts(2024, 7), billing_mode={"type": "classic"}
    )
    assert classic.billing_mode.type == "classic"
    assert classic.billing_mode.flexible is None
    assert client.v1.subscriptions.retrieve(str(classic.subscription)).billing_mode.type == "classic"


def test_classic_mode_refuses_prices_of_different_intervals_and_flexible_mode_accepts_them(
    client: stripe.StripeClient, cat: Catalog
) -> None:
    phases = [{"items": cat.all_three(), "duration": months(12)}]
    with pytest.raises(stripe.InvalidRequestError) as refused:
        cat.schedule(phases, ts(2024, 7), billing_mode={"type": "classic"})
    assert refused.value.param == "phases[0][items][1][price]"
    assert "billing_mode[type]=flexible" in str(refused.value)
    with pytest.raises(stripe.InvalidRequestError):
        cat.subscription(items=cat.all_three(), billing_mode={"type": "classic"})
    schedule = cat.schedule(phases, ts(2024, 7), billing_mode={"type": "flexible"})
    assert [i.price for i in schedule.phases[0]["items"]] == [cat.annual, cat.quarterly, cat.monthly]
    assert cat.schedule(phases, ts(2024, 7)).billing_mode.type == "flexible"  # the default


def test_billing_mode_parameters_are_checked(client: stripe.StripeClient, cat: Catalog) -> None:
    phases = [{"items": [{"price": cat.monthly}], "duration": months(12)}]
    for bad, param in [
        ({"type": "hybrid"}, "billing_mode[type]"),
        ({"type": "classic", "flexible": {"proration_discounts": "included"}}, "billing_mode[flexible]"),
        ({"type": "flexible", "flexible": {"proration_discounts": "sometimes"}}, None),
    ]:
        with pytest.raises(stripe.InvalidRequestError) as info:
            cat.schedule(phases, ts(2024, 7), billing_mode=bad)
        if param:
            assert info.value.param == param
    # A mixed last phase must say how long it lasts (which interval it would last is not emulated).
    with pytest.raises(stripe.InvalidRequestError):
        cat.schedule([{"items": cat.all_three()}], ts(2024, 7))


# -- item-level periods ---------------------------------------------------------------------------------------


def test_each_item_has_its_own_current_period(client: stripe.StripeClient, cat: Catalog, directory: Path) -> None:
    schedule = cat.schedule([{"items": cat.all_three(), "duration": months(24)}], ts(2024, 1))
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
    current = {i.price.id: (i.current_period_start, i.current_period_end) for i in subscription["items"].data}
    assert current == {  # on Jul 15, 2024
        cat.annual: (ts(2024, 1), ts(2025, 1)),
        cat.quarterly: (ts(2024, 7), ts(2024, 10)),
        cat.monthly: (ts(2024, 7), ts(2024, 8)),
    }
    sandbox.set_clock(directory, datetime(2024, 11, 15, tzinfo=UTC))
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
    current = {i.price.id: (i.current_period_start, i.current_period_end) for i in subscription["items"].data}
    assert current[cat.quarterly] == (ts(2024, 10), ts(2025, 1))
    assert current[cat.monthly] == (ts(2024, 11), ts(2024, 12))
    sandbox.set_clock(directory, datetime(2025, 2, 2, tzinfo=UTC))
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
    current = {i.price.id: (i.current_period_start, i.current_period_end) for i in subscription["items"].data}
    assert current[cat.annual] == (ts(2025, 1), ts(2026, 1))
    assert current[cat.quarterly] == (ts(2025, 1), ts(2025, 4))


def test_a_standalone_mixed_subscription_bills_each_item_on_its_interval(
    client: stripe.StripeClient, cat: Catalog, directory: Path
) -> None:
    subscription = cat.subscription(
        items=cat.all_three(),
        backdate_start_date=ts(2024, 7),
        cancel_at=ts(2025, 7),
        collection_method="send_invoice",
        days_until_due=30,
    )
    ends = {i.price.id: i.current_period_end for i in subscription["items"].data}
    assert ends == {cat.annual: ts(2025, 7), cat.quarterly: ts(2024, 10), cat.monthly: ts(2024, 8)}
    assert by_month(preview(directory, subscription.id)) == expected_mixed((2024, 7), 12)


# -- billing_preview ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("term", [12, 24])
def test_aligned_periods_share_an_invoice_and_each_item_bills_on_its_interval(
    cat: Catalog, directory: Path, term: int
) -> None:
    schedule = cat.schedule([{"items": cat.all_three(2), "duration": months(term)}], ts(2024, 7))
    invoices = preview(directory, schedule.id)
    assert by_month(invoices) == expected_mixed((2024, 7), term, quantity=2)
    assert sum(inv.total for inv in invoices) == 2 * (ANNUAL * term // 12 + QUARTERLY * term // 3 + MONTHLY * term)
    first = invoices[0]
    assert sorted((line.price, line.period_end.date().isoformat()) for line in first.lines) == sorted(
        [(cat.annual, "2025-07-01"), (cat.quarterly, "2024-10-01"), (cat.monthly, "2024-08-01")]
    )
    assert [line.price for line in invoices[1].lines] == [cat.monthly]  # divergent: the monthly item alone


def test_backdated_and_future_starts(cat: Catalog, client: stripe.StripeClient, directory: Path) -> None:
    backdated = cat.schedule([{"items": cat.all_three(), "duration": months(12)}], ts(2024, 1))
    assert by_month(preview(directory, backdated.id)) == expected_mixed((2024, 1), 12)
    skipped = cat.schedule(
        [{"items": cat.all_three(), "duration": months(12), "proration_behavior": "none"}], ts(2024, 1)
    )
    # Created on Jul 15: only the periods still running then (and later ones) are billed.
    assert by_month(preview(directory, skipped.id)) == [
        ("2024-01", ANNUAL),
        ("2024-07", QUARTERLY + MONTHLY),
        *expected_mixed((2024, 7), 6)[1:],
    ]
    future = cat.schedule([{"items": cat.all_three(), "duration": months(12)}], ts(2024, 9, 15))
    assert client.v1.subscription_schedules.retrieve(future.id).status == "not_started"
    invoices = preview(directory, future.id)
    assert [inv.period_start.date().isoformat() for inv in invoices][:4] == [
        "2024-09-15",
        "2024-10-15",
        "2024-11-15",
        "2024-12-15",
    ]
    assert [inv.total for inv in invoices] == [total for _, total in expected_mixed((2024, 9), 12)]


def test_phase_change_on_a_boundary_keeps_the_annual_item_and_adds_a_quarterly_one(
    cat: Catalog, directory: Path
) -> None:
    schedule = cat.schedule(
        [
            {"items": [{"price": cat.annual}, {"price": cat.monthly}], "duration": months(6)},
            {
                "items": [{"price": cat.annual}, {"price": cat.monthly, "quantity": 2}, {"price": cat.quarterly}],
                "duration": months(6),
            },
        ],
        ts(2024, 7),
    )
    totals = [total for _, total in by_month(preview(directory, schedule.id))]
    assert totals == [
        ANNUAL + MONTHLY,
        *[MONTHLY] * 5,
        2 * MONTHLY + QUARTERLY,
        2 * MONTHLY,
        2 * MONTHLY,
        2 * MONTHLY + QUARTERLY,
        2 * MONTHLY,
        2 * MONTHLY,
    ]


def test_phase_change_mid_period_prorates_only_the_items_that_change(cat: Catalog, directory: Path) -> None:
    change = ts(2024, 8, 15)
    schedule = cat.schedule(
        [
            {"items": cat.all_three(), "end_date": change},
            {
                "items": [{"price": cat.annual, "quantity": 3}, {"price": cat.quarterly}, {"price": cat.monthly}],
                "end_date": ts(2025, 7),
            },
        ],
        ts(2024, 7),
    )
    invoices = preview(directory, schedule.id)
    share = periods.fraction(
        periods.from_timestamp(change),
        periods.from_timestamp(ts(2025, 7)),
        periods.from_timestamp(ts(2024, 7)),
        periods.from_timestamp(ts(2025, 7)),
    )
    prorations = [(line.quantity, line.amount) for inv in invoices for line in inv.lines if line.kind == "proration"]
    assert prorations == [(1, -round(ANNUAL * share)), (3, round(3 * ANNUAL * share))]
    september = invoices[2]
    assert september.period_start.date().isoformat() == "2024-09-01"  # the next invoice takes the prorations
    assert september.total == MONTHLY + round(3 * ANNUAL * share) - round(ANNUAL * share)
    assert sum(line.price == cat.annual and line.kind == "subscription" for i in invoices for line in i.lines) == 1


def test_the_schedule_end_prorates_the_items_it_cuts(cat: Catalog, directory: Path) -> None:
    schedule = cat.schedule([{"items": cat.all_three(), "duration": months(18)}], ts(2024, 7))
    invoices = preview(directory, schedule.id)
    annual = [line for inv in invoices for line in inv.lines if line.price == cat.annual]
    assert [line.amount for line in annual][:1] == [ANNUAL]
    cut = periods.fraction(
        periods.from_timestamp(ts(2025, 7)),
        periods.from_timestamp(ts(2026, 1)),
        periods.from_timestamp(ts(2025, 7)),
        periods.from_timestamp(ts(2026, 7)),
    )
    assert [line.amount for line in annual][1:] == [round(ANNUAL * cut)]
    assert annual[1].period_end.date().isoformat() == "2026-01-01"
    assert len(invoices) == 18


def test_one_time_items_and_discounts_on_a_mixed_schedule(
    client: stripe.StripeClient, cat: Catalog, directory: Path
) -> None:
    product = client.v1.products.create(params={"name": "Setup"}).id
    setup = client.v1.prices.create(params={"product": product, "currency": "usd", "unit_amount": 70000}).id
    tenth = client.v1.coupons.create(params={"percent_off": 10, "duration": "forever"}).id
    license_off = client.v1.coupons.create(params={"amount_off": 20000, "currency": "usd", "duration": "once"}).id
    items = cat.all_three()
    items[0]["discounts"] = [{"coupon": license_off}]
    schedule = cat.schedule(
        [
            {
                "items": items,
                "add_invoice_items": [{"price": setup}],
                "discounts": [{"coupon": tenth}],
                "duration": months(12),
            }
        ],
        ts(2024, 7),
    )
    invoices = preview(directory, schedule.id)
    first = invoices[0]
    assert sorted(line.kind for line in first.lines) == ["invoice_item", "subscription", "subscription", "subscription"]
    # The setup fee once; the license discounted once (its own coupon); 10% off every invoice after that.
    assert first.total == round((ANNUAL - 20000 + QUARTERLY + MONTHLY + 70000) * 0.9)
    assert [inv.total for inv in invoices[1:]] == [round(total * 0.9) for _, total in expected_mixed((2024, 7), 12)[1:]]


def test_always_invoice_puts_the_prorations_on_their_own_invoice(cat: Catalog, directory: Path) -> None:
    change = ts(2024, 8, 15)
    schedule = cat.schedule(
        [
            {"items": cat.all_three(), "end_date": change},
            {"items": cat.all_three(2), "end_date": ts(2025, 7), "proration_behavior": "always_invoice"},
        ],
        ts(2024, 7),
    )
    invoices = preview(directory, schedule.id)
    own = [inv for inv in invoices if inv.period_start.date().isoformat() == "2024-08-15"]
    (prorations,) = own
    assert {line.kind for line in prorations.lines} == {"proration"}
    # The annual and the quarterly item are mid-period, the monthly one too: six lines (credit and charge each).
    assert len(prorations.lines) == 6
    expected = 0
    for price, end, begin in [
        (ANNUAL, ts(2025, 7), ts(2024, 7)),
        (QUARTERLY, ts(2024, 10), ts(2024, 7)),
        (MONTHLY, ts(2024, 9), ts(2024, 8)),
    ]:
        share = periods.fraction(*(periods.from_timestamp(t) for t in (change, end, begin, end)))
        expected += round(2 * price * share) - round(price * share)  # the rest of each period, less the unused
    assert prorations.total == expected


def test_item_changes_on_a_mixed_subscription_are_refused_as_not_emulated(
    client: stripe.StripeClient, cat: Catalog
) -> None:
    mixed = cat.subscription(items=cat.all_three())
    with pytest.raises(stripe.InvalidRequestError, match="does not emulate"):
        client.v1.subscriptions.update(mixed.id, params={"items": [{"id": mixed["items"].data[0].id, "quantity": 2}]})
    single = cat.subscription(items=[{"price": cat.monthly}])
    with pytest.raises(stripe.InvalidRequestError, match="does not emulate"):
        client.v1.subscriptions.update(single.id, params={"items": [{"price": cat.annual}]})
    classic = cat.subscription(items=[{"price": cat.monthly}], billing_mode={"type": "classic"})
    with pytest.raises(stripe.InvalidRequestError, match="billing_mode"):
        client.v1.subscriptions.update(classic.id, params={"items": [{"price": cat.annual}]})


def test_an_open_ended_mixed_subscription_is_previewed_for_twelve_of_its_shortest_periods(
    client: stripe.StripeClient, cat: Catalog, directory: Path
) -> None:
    subscription = cat.subscription(items=cat.all_three(), backdate_start_date=ts(2024, 7))
    assert by_month(preview(directory, subscription.id)) == expected_mixed((2024, 7), 12)
