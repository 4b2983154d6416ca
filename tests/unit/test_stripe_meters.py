"""Billing meters are found again in Stripe by event name (one paged list), only when something to write needs
them; through a real stripe.StripeClient on the sandbox Stripe account."""

from __future__ import annotations

from pathlib import Path

import stripe

from cpq_sync.desired import Desired, ObjectKind, Ref, SfRef
from cpq_sync.plan import Action, build_plan
from cpq_sync.sandbox import stripe as sandbox
from cpq_sync.stripe.meters import resolve_meters
from cpq_sync.translate.prices import meter_event_name

PRODUCTS = [f"01t0000000{n:05d}AAA" for n in range(130)]


def meter(product_id: str) -> Desired:
    params = {
        "display_name": "Usage",
        "event_name": meter_event_name(product_id),
        "default_aggregation": {"formula": "sum"},
    }
    return Desired(f"meter:{product_id}", ObjectKind.METER, SfRef("Product2", product_id), params)


def price(product_id: str, known: bool) -> Desired:
    params = {"currency": "usd", "recurring": {"meter": Ref(f"meter:{product_id}")}}
    desired = Desired(f"price:{product_id}", ObjectKind.PRICE, SfRef("PricebookEntry", product_id), params)
    if known:
        desired.known_id, desired.known_hash = "price_x", desired.content_hash
    return desired


def test_meters_are_found_across_pages_and_only_looked_up_when_needed(tmp_path: Path) -> None:
    client = sandbox.connect(tmp_path)
    existing = {}
    for product_id in PRODUCTS[:120]:  # more than one page of 100
        created = client.v1.billing.meters.create(
            {
                "display_name": "Usage",
                "event_name": meter_event_name(product_id),
                "default_aggregation": {"formula": "sum"},
            }
        )
        existing[product_id] = created.id
    last, new, unused = PRODUCTS[119], PRODUCTS[125], PRODUCTS[0]
    plan = build_plan(
        [
            (SfRef("Order", "a"), [meter(last), price(last, known=False)]),
            (SfRef("Order", "b"), [meter(new), price(new, known=False)]),
            (SfRef("Order", "c"), [meter(unused), price(unused, known=True)]),  # nothing new bills with it
        ]
    )
    sandbox.clear_request_log(tmp_path)

    calls = resolve_meters(client, plan)

    ops = plan.operations
    assert ops[f"meter:{last}"].action is Action.SKIP and ops[f"meter:{last}"].desired.known_id == existing[last]
    assert ops[f"meter:{new}"].action is Action.CREATE
    assert ops[f"meter:{unused}"].action is Action.SKIP and ops[f"meter:{unused}"].desired.known_id is None
    log = sandbox.request_log(tmp_path)
    assert calls == 2 == len(log) and all(r.method.upper() == "GET" for r in log)


def test_nothing_to_write_reads_nothing(tmp_path: Path) -> None:
    client: stripe.StripeClient = sandbox.connect(tmp_path)
    plan = build_plan([(SfRef("Order", "a"), [meter(PRODUCTS[0]), price(PRODUCTS[0], known=True)])])
    assert resolve_meters(client, plan) == 0
    assert sandbox.request_log(tmp_path) == []


def test_a_price_changed_back_and_forth_gets_a_new_price_each_time() -> None:
    from cpq_sync.stripe.apply import idempotency_key

    first, again = price(PRODUCTS[0], known=False), price(PRODUCTS[0], known=False)
    first.known_id, again.known_id = "price_B1", "price_A2"  # B replaced A1, then A2 replaced B1: now B again
    assert idempotency_key(first, Action.REPLACE) != idempotency_key(again, Action.REPLACE)
    assert idempotency_key(first, Action.REPLACE) == idempotency_key(first, Action.REPLACE)  # a rerun replays
