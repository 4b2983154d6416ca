"""The drift of one Stripe object, field by field, and what --fix chooses to do about it (tables of cases)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cpq_sync.desired import ObjectKind
from cpq_sync.reconcile.diff import UNKNOWN, FieldDiff, Problem, diff_object, diff_values, phase_bounds
from cpq_sync.reconcile.findings import FixAction, choose_action, find_orphans
from cpq_sync.reconcile.live import LiveState
from cpq_sync.translate.dates import utc_midnight

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
START = utc_midnight(dt.date(2026, 1, 15))
MID = utc_midnight(dt.date(2026, 7, 15))
END = utc_midnight(dt.date(2027, 1, 15))


@pytest.mark.parametrize(
    ("expected", "actual", "diffs"),
    [
        ({"name": "Acme"}, {"name": "Acme"}, []),
        ({"name": "Acme"}, {"name": "Acme Corp"}, [FieldDiff("name", "Acme", "Acme Corp")]),
        ({"email": "a@x.com"}, {"email": None}, [FieldDiff("email", "a@x.com", None)]),
        ({"description": ""}, {"description": None}, []),  # Stripe stores an empty string as null
        ({"unit_amount_decimal": "1250"}, {"unit_amount_decimal": "1250.000"}, []),
        (
            {"unit_amount_decimal": "1250"},
            {"unit_amount_decimal": "1300"},
            [FieldDiff("unit_amount_decimal", "1250", "1300")],
        ),
        (
            {"tiers": [{"up_to": "inf", "unit_amount_decimal": "5"}]},
            {"tiers": [{"up_to": None, "unit_amount_decimal": "5"}]},
            [],
        ),
        (
            {"tiers": [{"up_to": 10}]},
            {"tiers": [{"up_to": 10}, {"up_to": None}]},
            [FieldDiff("tiers", [{"up_to": 10}], [{"up_to": 10}, {"up_to": None}])],
        ),
        (
            {"address": {"city": "Oslo"}},
            {"address": {"city": "Bergen", "line2": None}},
            [FieldDiff("address.city", "Oslo", "Bergen")],
        ),
        ({"start_date": 5}, {"name": "not returned by Stripe"}, []),  # a create-only parameter: not compared
        (
            {"metadata": {"salesforce_account_id": "001A"}},
            {"metadata": {}},
            [FieldDiff("metadata.salesforce_account_id", "001A", None)],
        ),
        ({"metadata": {"k": "v"}}, {"metadata": {"k": "v", "added_by_hand": "x"}}, []),  # only our keys
        ({"product": UNKNOWN}, {"product": "prod_1"}, []),  # an unresolved reference is never compared
        ({"active": True}, {"active": False}, [FieldDiff("active", True, False)]),
        ({"quantity": 1}, {"quantity": True}, [FieldDiff("quantity", 1, True)]),
    ],
)
def test_field_by_field(expected: dict[str, Any], actual: dict[str, Any], diffs: list[FieldDiff]) -> None:
    assert diff_values(expected, actual) == diffs


def schedule(items: list[dict[str, Any]], *, phases: int = 1) -> dict[str, Any]:
    if phases == 1:
        return {
            "start_date": START,
            "phases": [{"items": items, "duration": {"interval": "month", "interval_count": 12}}],
        }
    return {
        "start_date": START,
        "phases": [
            {"items": items, "start_date": START, "end_date": MID},
            {"items": items, "start_date": MID, "end_date": END},
        ],
    }


def live_schedule(
    items: list[dict[str, Any]], *, status: str = "active", bounds: list[tuple[int, int]] | None = None
) -> dict[str, Any]:
    return {
        "id": "sub_sched_1",
        "status": status,
        "phases": [{"start_date": s, "end_date": e, "items": items} for s, e in (bounds or [(START, END)])],
    }


def item(line: str, price: str, quantity: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"price": price, "metadata": {"salesforce_order_item_id": line}}
    if quantity is not None:
        out["quantity"] = quantity
    return out


def test_phase_bounds_from_durations_and_from_dates() -> None:
    assert phase_bounds(schedule([])) == [(START, END)]
    assert phase_bounds(schedule([], phases=2)) == [(START, MID), (MID, END)]


@pytest.mark.parametrize(
    ("live_items", "expected"),
    [
        ([item("802A", "price_1", 5)], []),
        ([item("802A", "price_1", 7)], [FieldDiff("phases[0].items[802A].quantity", 5, 7)]),
        # someone pointed the line at another price in the dashboard
        ([item("802A", "price_2", 5)], [FieldDiff("phases[0].items[802A].price", "price_1", "price_2")]),
        ([], [FieldDiff("phases[0].items[802A]", "price price_1 x 5", None, Problem.MISSING)]),
        (
            [item("802A", "price_1", 5), {"price": {"id": "price_9"}, "quantity": 1, "metadata": {}}],
            [FieldDiff("phases[0].items[price_9]", None, "price price_9 x 1")],
        ),
    ],
)
def test_schedule_items_are_matched_by_order_line(live_items: list[dict[str, Any]], expected: list[FieldDiff]) -> None:
    desired = schedule([item("802A", "price_1", 5)])
    assert diff_object(ObjectKind.SUBSCRIPTION_SCHEDULE, desired, live_schedule(live_items), now=NOW) == expected


def test_ended_phases_are_history_and_a_moved_start_is_not_drift() -> None:
    # An amendment from May 15 processed on May 31 (in current time): Stripe's boundary is May 31, not May 15.
    amended = utc_midnight(dt.date(2026, 5, 15))
    processed = utc_midnight(dt.date(2026, 5, 31))
    items = [item("802A", "price_1", 5)]
    desired = {
        "start_date": START,
        "phases": [
            {"items": [item("802A", "price_1", 3)], "start_date": START, "end_date": amended},
            {"items": items, "start_date": amended, "end_date": END},
        ],
    }
    live = live_schedule(items, bounds=[(START, processed), (processed, END)])
    live["phases"][0]["items"] = [item("802A", "price_1", 99)]  # history: that phase has ended
    assert diff_object(ObjectKind.SUBSCRIPTION_SCHEDULE, desired, live, now=NOW) == []
    live["phases"][1]["items"] = [item("802A", "price_1", 6)]
    assert diff_object(ObjectKind.SUBSCRIPTION_SCHEDULE, desired, live, now=NOW) == [
        FieldDiff("phases[1].items[802A].quantity", 5, 6)
    ]


def test_a_phase_missing_in_stripe_is_reported_with_the_dates() -> None:
    desired = schedule([item("802A", "price_1", 5)], phases=2)
    live = live_schedule([item("802A", "price_1", 5)], bounds=[(START, MID)])
    assert diff_object(ObjectKind.SUBSCRIPTION_SCHEDULE, desired, live, now=NOW) == [
        FieldDiff("phases[1].end_date", "2027-01-15", "2026-07-15")
    ]


@pytest.mark.parametrize(
    ("kind", "live", "cancelled", "expected"),
    [
        (ObjectKind.CUSTOMER, None, False, [FieldDiff("(object)", "exists", "not found", Problem.MISSING)]),
        (
            ObjectKind.CUSTOMER,
            {"id": "cus_1", "deleted": True},
            False,
            [FieldDiff("(object)", "exists", "deleted", Problem.MISSING)],
        ),
        (
            ObjectKind.PRICE,
            {"id": "price_1", "active": False},
            False,
            [FieldDiff("active", True, False, Problem.ARCHIVED)],
        ),
        (
            ObjectKind.SUBSCRIPTION_SCHEDULE,
            live_schedule([], status="canceled"),
            False,
            [FieldDiff("status", "active", "canceled", Problem.ENDED)],
        ),
        (
            ObjectKind.SUBSCRIPTION_SCHEDULE,
            live_schedule([], status="released"),
            False,
            [FieldDiff("status", "active", "released", Problem.ENDED)],
        ),
        (ObjectKind.SUBSCRIPTION_SCHEDULE, live_schedule([], status="canceled"), True, []),  # Salesforce cancelled it
        (
            ObjectKind.INVOICE,
            {"id": "in_1", "status": "void"},
            False,
            [FieldDiff("status", "active", "void", Problem.ENDED)],
        ),
    ],
)
def test_the_state_of_the_object(
    kind: ObjectKind, live: dict[str, Any] | None, cancelled: bool, expected: list[FieldDiff]
) -> None:
    params: dict[str, Any] = {"phases": []} if kind is ObjectKind.SUBSCRIPTION_SCHEDULE else {}
    assert diff_object(kind, params, live, now=NOW, cancelled=cancelled) == expected


def test_subscription_items_compare_the_expanded_price() -> None:
    desired = {"customer": "cus_1", "items": [item("802A", "price_1", 3)], "proration_behavior": "none"}
    live = {
        "customer": "cus_1",
        "status": "active",
        "items": {"data": [{**item("802A", "price_1", 4), "price": {"id": "price_1"}}]},
    }
    assert diff_object(ObjectKind.SUBSCRIPTION, desired, live, now=NOW) == [FieldDiff("items[802A].quantity", 3, 4)]


CHANGED = Problem.CHANGED


@pytest.mark.parametrize(
    ("kind", "diffs", "recreate_ended", "action"),
    [
        (ObjectKind.CUSTOMER, [FieldDiff("email", "a@x", "b@x")], False, FixAction.UPDATE),
        (ObjectKind.CUSTOMER, [FieldDiff("(object)", "exists", "deleted", Problem.MISSING)], False, FixAction.RECREATE),
        (ObjectKind.PRODUCT, [FieldDiff("active", True, False, Problem.ARCHIVED)], False, FixAction.REACTIVATE),
        (
            ObjectKind.PRODUCT,
            [FieldDiff("active", True, False, Problem.ARCHIVED), FieldDiff("name", "a", "b")],
            False,
            FixAction.UPDATE,
        ),
        (ObjectKind.PRICE, [FieldDiff("active", True, False, Problem.ARCHIVED)], False, FixAction.REACTIVATE),
        (ObjectKind.PRICE, [FieldDiff("metadata.salesforce_product_id", "01t", "x")], False, FixAction.METADATA),
        (ObjectKind.PRICE, [FieldDiff("(object)", "exists", "not found", Problem.MISSING)], False, FixAction.NONE),
        (
            ObjectKind.SUBSCRIPTION_SCHEDULE,
            [FieldDiff("phases[0].items[802A].quantity", 5, 7)],
            False,
            FixAction.PHASES,
        ),
        (
            ObjectKind.SUBSCRIPTION_SCHEDULE,
            [FieldDiff("metadata.salesforce_order_id", "801", None)],
            False,
            FixAction.METADATA,
        ),
        (ObjectKind.SUBSCRIPTION_SCHEDULE, [FieldDiff("customer", "cus_new", "cus_old")], False, FixAction.NONE),
        (
            ObjectKind.SUBSCRIPTION_SCHEDULE,
            [FieldDiff("status", "active", "canceled", Problem.ENDED)],
            False,
            FixAction.NONE,
        ),
        (
            ObjectKind.SUBSCRIPTION_SCHEDULE,
            [FieldDiff("status", "active", "canceled", Problem.ENDED)],
            True,
            FixAction.RECREATE_ENDED,
        ),
        (ObjectKind.INVOICE, [FieldDiff("status", "active", "void", Problem.ENDED)], False, FixAction.NONE),
        (ObjectKind.SUBSCRIPTION, [FieldDiff("cancel_at", 1800000000, None)], False, FixAction.UPDATE),
        (ObjectKind.SUBSCRIPTION, [FieldDiff("metadata.salesforce_order_id", "801", None)], False, FixAction.METADATA),
        (ObjectKind.SUBSCRIPTION, [FieldDiff("items[802A].quantity", 3, 4)], False, FixAction.NONE),
    ],
)
def test_what_fix_does(kind: ObjectKind, diffs: list[FieldDiff], recreate_ended: bool, action: FixAction) -> None:
    assert choose_action(kind, diffs, recreate_ended=recreate_ended) is action


def test_orphans_are_live_objects_with_salesforce_metadata_that_nothing_references() -> None:
    live = LiveState(
        objects={
            ObjectKind.CUSTOMER: {
                "cus_ok": {"id": "cus_ok", "metadata": {"salesforce_account_id": "001A"}},
                "cus_orphan": {"id": "cus_orphan", "metadata": {"salesforce_account_id": "001B"}},
                "cus_other": {"id": "cus_other", "metadata": {"crm": "hubspot"}},
            },
            ObjectKind.PRICE: {
                "price_old": {"id": "price_old", "active": False, "metadata": {"salesforce_product_id": "01t"}}
            },
            ObjectKind.SUBSCRIPTION_SCHEDULE: {
                "sub_sched_done": {
                    "id": "sub_sched_done",
                    "status": "canceled",
                    "metadata": {"salesforce_order_id": "801"},
                },
                "sub_sched_x": {
                    "id": "sub_sched_x",
                    "status": "active",
                    "subscription": "sub_1",
                    "metadata": {"salesforce_order_id": "802"},
                },
            },
            ObjectKind.SUBSCRIPTION: {
                "sub_1": {
                    "id": "sub_1",
                    "status": "active",
                    "schedule": "sub_sched_x",
                    "metadata": {"salesforce_order_id": "802"},
                },
            },
        }
    )
    found = find_orphans(live, referenced={"cus_ok"})
    assert [(f.stripe_id, f.diffs[0].stripe) for f in found] == [("cus_orphan", "001B"), ("sub_sched_x", "802")]
    assert all(f.diffs[0].problem is Problem.ORPHAN and f.desired is None for f in found)
