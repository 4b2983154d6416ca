"""What Stripe holds now: every object of the kinds the sync writes, read with paged lists (100 a request, paced
like the sync), then the few objects a list does not return (deleted customers, cancelled subscriptions) by id."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import stripe

from cpq_sync.desired import ObjectKind
from cpq_sync.stripe.pacing import Pacer

log = logging.getLogger(__name__)
PAGE = 100


@dataclass
class LiveState:
    """Stripe objects as plain dicts, by kind and id."""

    objects: dict[ObjectKind, dict[str, dict[str, Any]]] = field(default_factory=dict)
    requests: int = 0

    def get(self, kind: ObjectKind, stripe_id: str) -> dict[str, Any] | None:
        return self.objects.get(kind, {}).get(stripe_id)

    def of(self, kind: ObjectKind) -> Iterable[dict[str, Any]]:
        return self.objects.get(kind, {}).values()


def service(client: stripe.StripeClient, kind: ObjectKind) -> Any:
    """The SDK service of a kind (its `list`, `retrieve`, `update`)."""
    v1 = client.v1
    services: dict[ObjectKind, Any] = {
        ObjectKind.CUSTOMER: v1.customers,
        ObjectKind.PRODUCT: v1.products,
        ObjectKind.PRICE: v1.prices,
        ObjectKind.COUPON: v1.coupons,
        ObjectKind.METER: v1.billing.meters,
        ObjectKind.SUBSCRIPTION_SCHEDULE: v1.subscription_schedules,
        ObjectKind.SUBSCRIPTION: v1.subscriptions,
        ObjectKind.INVOICE: v1.invoices,
    }
    return services[kind]


LIST_PARAMS = {ObjectKind.SUBSCRIPTION: {"status": "all"}}  # cancelled subscriptions are left out otherwise


def read_live(
    client: stripe.StripeClient, pacer: Pacer, kinds: Iterable[ObjectKind], wanted: dict[ObjectKind, set[str]]
) -> LiveState:
    """Lists every object of `kinds`, then retrieves by id the `wanted` ones the lists did not return (a deleted
    customer comes back as `{"deleted": true}`; one Stripe no longer knows is left out)."""
    state = LiveState()
    for kind in kinds:
        lister, params = service(client, kind).list, LIST_PARAMS.get(kind, {})
        found: dict[str, dict[str, Any]] = {}
        after: str | None = None
        while True:
            pacer.wait()
            page = lister({**params, "limit": PAGE, **({"starting_after": after} if after else {})})
            state.requests += 1
            for obj in page.data:
                found[obj.id] = obj.to_dict()
            if not page.has_more or not page.data:
                break
            after = page.data[-1].id
        state.objects[kind] = found
    for kind, ids in wanted.items():
        retrieve = service(client, kind).retrieve
        known = state.objects.setdefault(kind, {})
        for stripe_id in sorted(ids - known.keys()):
            pacer.wait()
            state.requests += 1
            try:
                known[stripe_id] = retrieve(stripe_id).to_dict()
            except stripe.InvalidRequestError as exc:
                if exc.http_status != 404:
                    raise
    log.info("read %d Stripe objects in %d requests", sum(len(v) for v in state.objects.values()), state.requests)
    return state
