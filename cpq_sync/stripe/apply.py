"""Apply: runs a plan's operations against Stripe with the stripe SDK, layer by layer, exactly once.

Every create carries an idempotency key derived from the Salesforce record, the object kind and (for immutable
objects) the content hash, so a crash between a create and the write-back, followed by a rerun, gets the first
response replayed instead of a second object. When the key comes back with an idempotency error (the earlier
attempt sent other parameters, e.g. the data changed in between), the object is found through its
`salesforce_*` metadata and updated instead of being created again.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import stripe

from cpq_sync.desired import Desired, ObjectKind, resolve_refs
from cpq_sync.plan import Action, Operation
from cpq_sync.stripe.pacing import Pacer

log = logging.getLogger(__name__)

KEY_PREFIX = "cpqsync"
METADATA_ID = {
    ObjectKind.CUSTOMER: "salesforce_account_id",
    ObjectKind.PRODUCT: "salesforce_product_id",
    ObjectKind.SUBSCRIPTION_SCHEDULE: "salesforce_order_id",
    ObjectKind.INVOICE: "salesforce_order_id",
}


@dataclass
class Outcome:
    key: str
    action: Action
    stripe_id: str | None = None
    request_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def idempotency_key(desired: Desired, action: Action) -> str:
    record = desired.record.id
    if desired.kind in (ObjectKind.PRICE, ObjectKind.COUPON) or action is not Action.CREATE:
        return f"{KEY_PREFIX}-{desired.kind.value}-{record}-{action.value}-{desired.content_hash}"
    return f"{KEY_PREFIX}-{desired.kind.value}-{record}-create"


def _request_id(obj: Any) -> str | None:
    response = getattr(obj, "last_response", None)
    return getattr(response, "request_id", None)


def describe_stripe_error(exc: stripe.StripeError) -> str:
    """A Stripe error as the user reads it: type, message, parameter and request id (never the key)."""
    param = getattr(exc, "param", None)
    text = f"Stripe Error: {exc.user_message or str(exc._message or exc)}"
    if param:
        text += f" (parameter {param})"
    if exc.request_id:
        text += f" [request {exc.request_id}]"
    return text


class StripeApplier:
    def __init__(self, client: stripe.StripeClient, *, pacer: Pacer, concurrency: int = 8) -> None:
        self.client = client
        self.pacer = pacer
        self.concurrency = concurrency

    def run_layer(self, operations: list[Operation], ids: dict[str, str]) -> list[Outcome]:
        """Applies one layer; `ids` (key -> Stripe id) must hold every object this layer references."""
        todo = [op for op in operations if op.action is not Action.SKIP]
        outcomes = [Outcome(op.key, op.action, op.desired.known_id) for op in operations if op.action is Action.SKIP]
        if not todo:
            return outcomes
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo))) as pool:
            # Each operation runs in its own copy of the caller's context (taken here, in the caller's thread), so
            # its logs carry the caller's run (Prefect).
            contexts = [contextvars.copy_context() for _ in todo]
            outcomes.extend(pool.map(lambda c, op: c.run(self._apply_one, op, ids), contexts, todo))
        return outcomes

    def _apply_one(self, op: Operation, ids: dict[str, str]) -> Outcome:
        desired = op.desired
        missing = sorted(k for k in desired.depends_on if k not in ids)
        if missing:
            return Outcome(op.key, op.action, error=f"not applied: it needs {', '.join(missing)}, which failed")
        try:
            params = resolve_refs(desired.params, ids)
            obj = self._dispatch(op, params, ids)
            return Outcome(op.key, op.action, obj.id, _request_id(obj))
        except stripe.StripeError as exc:
            log.warning("%s %s failed: %s", op.action.value, op.key, describe_stripe_error(exc))
            return Outcome(op.key, op.action, error=describe_stripe_error(exc), request_id=exc.request_id)

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.pacer.wait()
        return fn(*args, **kwargs)

    def _dispatch(self, op: Operation, params: dict[str, Any], ids: dict[str, str]) -> Any:
        desired = op.desired
        v1 = self.client.v1
        options = {"idempotency_key": idempotency_key(desired, op.action)}
        kind = desired.kind
        if kind is ObjectKind.CUSTOMER:
            if op.action is Action.UPDATE:
                return self._call(v1.customers.update, desired.known_id, params, options)
            return self._create_or_recover(op, lambda: self._call(v1.customers.create, params, options), params)
        if kind is ObjectKind.PRODUCT:
            if op.action is Action.UPDATE:
                return self._call(v1.products.update, desired.known_id, params, options)
            return self._create_or_recover(op, lambda: self._call(v1.products.create, params, options), params)
        if kind is ObjectKind.PRICE:
            price = self._call(v1.prices.create, params, options)
            if op.action is Action.REPLACE and desired.known_id and desired.known_id != price.id:
                self._call(
                    v1.prices.update,
                    desired.known_id,
                    {"active": False},
                    {"idempotency_key": f"{KEY_PREFIX}-archive-{desired.known_id}"},
                )
            return price
        if kind is ObjectKind.SUBSCRIPTION_SCHEDULE:
            return self._create_or_recover(
                op, lambda: self._call(v1.subscription_schedules.create, params, options), params
            )
        if kind is ObjectKind.INVOICE:
            return self._invoice(desired, params, ids)
        raise NotImplementedError(f"applying {kind.value} objects")

    def _create_or_recover(self, op: Operation, create: Callable[[], Any], params: dict[str, Any]) -> Any:
        try:
            return create()
        except stripe.IdempotencyError:
            existing = self._find_existing(op.desired, params)
            if existing is None:
                raise
            log.info("%s was created by an earlier run (%s); updating it instead", op.key, existing.id)
            if op.desired.kind is ObjectKind.CUSTOMER:
                return self._call(self.client.v1.customers.update, existing.id, params)
            if op.desired.kind is ObjectKind.PRODUCT:
                return self._call(self.client.v1.products.update, existing.id, params)
            return existing

    def _find_existing(self, desired: Desired, params: dict[str, Any]) -> Any:
        """Finds the object an earlier, interrupted run created for this record (through its metadata)."""
        field = METADATA_ID[desired.kind]
        record_id = desired.record.id
        v1 = self.client.v1
        query = f"metadata['{field}']:'{record_id}'"
        if desired.kind is ObjectKind.CUSTOMER:
            found = self._call(v1.customers.search, {"query": query, "limit": 1})
            return found.data[0] if found.data else None
        if desired.kind is ObjectKind.PRODUCT:
            found = self._call(v1.products.search, {"query": query, "limit": 1})
            return found.data[0] if found.data else None
        if desired.kind is ObjectKind.SUBSCRIPTION_SCHEDULE:
            page = self._call(v1.subscription_schedules.list, {"customer": params["customer"], "limit": 100})
            for schedule in page.auto_paging_iter():
                if (schedule.metadata or {}).get(field) == record_id:
                    return schedule
        return None

    def _invoice(self, desired: Desired, params: dict[str, Any], ids: dict[str, str]) -> Any:
        """A one-time order: a draft invoice, its items attached to it (never swept from the customer's pending
        items), then finalized. Each step is idempotent on its own key."""
        v1 = self.client.v1
        base = idempotency_key(desired, Action.CREATE)
        invoice = self._call(v1.invoices.create, params, {"idempotency_key": base})
        for index, line in enumerate(desired.children["lines"]):
            line_params = {**resolve_refs(line, ids), "customer": params["customer"], "invoice": invoice.id}
            self._call(v1.invoice_items.create, line_params, {"idempotency_key": f"{base}-line-{index}"})
        return self._call(v1.invoices.finalize_invoice, invoice.id, None, {"idempotency_key": f"{base}-finalize"})
