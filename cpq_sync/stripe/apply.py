"""Apply: runs a plan's operations against Stripe with the stripe SDK, each as soon as the objects it references
exist (no barrier between layers), exactly once.

Every create carries an idempotency key derived from the Salesforce record, the object kind and (for immutable
objects) the content hash, so a crash between a create and the write-back, followed by a rerun, gets the first
response replayed instead of a second object. When the key comes back with an idempotency error (the earlier
attempt sent other parameters, e.g. the data changed in between), the object is found through its
`salesforce_*` metadata and updated instead of being created again.
"""

from __future__ import annotations

import contextvars
import heapq
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import stripe

from cpq_sync.desired import Desired, ObjectKind, resolve_refs
from cpq_sync.plan import Action, Operation
from cpq_sync.stripe.pacing import Pacer

log = logging.getLogger(__name__)
NO_CREDIT = {"invoice_now": False, "prorate": False}  # a cancellation: no proration, no invoice

KEY_PREFIX = "cpqsync"
METADATA_ID = {
    ObjectKind.CUSTOMER: "salesforce_account_id",
    ObjectKind.PRODUCT: "salesforce_product_id",
    ObjectKind.SUBSCRIPTION_SCHEDULE: "salesforce_order_id",
    ObjectKind.SUBSCRIPTION: "salesforce_order_id",
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
    if action is Action.REPLACE:  # A -> B -> A -> B within a day must not replay the first (archived) B
        return f"{KEY_PREFIX}-{desired.kind.value}-{record}-replace-{desired.known_id}-{desired.content_hash}"
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
    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        pacer: Pacer,
        concurrency: int = 8,
        recover: bool = False,
        key_suffix: str = "",
    ) -> None:
        self.client = client
        self.pacer = pacer
        self.concurrency = concurrency
        self.recover = recover  # look objects up by metadata before creating them (after a crashed run)
        # Appended to every idempotency key: a repair (`cpq-sync reconcile --fix`) re-sends what a sync sent
        # earlier, and must not get that earlier response replayed (e.g. the create of a customer since deleted).
        self.key_suffix = key_suffix
        self.attempt = uuid.uuid4().hex[:12]  # this run's own keys for what recovery starts again

    def apply_one(self, op: Operation, ids: dict[str, str]) -> Outcome:
        """Applies one operation in the caller's thread (a repair of `cpq-sync reconcile --fix`); `ids` (key ->
        Stripe id) must hold every object it references."""
        return self._apply_one(op, ids)

    def run(self, operations: Iterable[Operation], ids: dict[str, str]) -> Iterator[tuple[Operation, Outcome]]:
        """Applies the operations that write, each once every operation it references (`desired.depends_on`) is done,
        and yields each with its outcome as it completes (in completion order). `ids` (key -> Stripe id) must hold
        the objects referenced but not written here (skipped operations); the new ids are added to it before any
        operation that references them starts. Ready operations start lower layers first (customers, products,
        then prices: they unlock the most), then in plan order, up to `concurrency` at once, so the pacer stays
        saturated without waiting for a whole layer to finish."""
        todo = [op for op in operations if op.action is not Action.SKIP]
        if not todo:
            return
        writing = {op.key for op in todo}
        waiting: dict[str, int] = {}  # key -> operations it waits for
        dependents: dict[str, list[tuple[int, Operation]]] = {}
        ready: list[tuple[int, int, Operation]] = []
        for index, op in enumerate(todo):
            needs = [k for k in op.desired.depends_on if k in writing and k != op.key]
            for key in needs:
                dependents.setdefault(key, []).append((index, op))
            if needs:
                waiting[op.key] = len(needs)
            else:
                heapq.heappush(ready, (op.desired.layer, index, op))
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo))) as pool:
            running: dict[Future[Outcome], Operation] = {}
            while ready or running:
                while ready and len(running) < self.concurrency:
                    _, _, op = heapq.heappop(ready)
                    # Each operation runs in its own copy of the caller's context (taken in the caller's thread),
                    # so its logs carry the caller's run (Prefect).
                    running[pool.submit(contextvars.copy_context().run, self._apply_one, op, ids)] = op
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    op = running.pop(future)
                    outcome = future.result()
                    if outcome.ok and outcome.stripe_id:
                        ids[op.key] = outcome.stripe_id
                    for index, dependent in dependents.pop(op.key, []):
                        waiting[dependent.key] -= 1
                        if waiting[dependent.key] == 0:
                            del waiting[dependent.key]
                            heapq.heappush(ready, (dependent.desired.layer, index, dependent))
                    yield op, outcome
                if not ready and not running and waiting:  # a reference cycle (no plan makes one): reported failed
                    for index, op in enumerate(todo):
                        if op.key in waiting:
                            heapq.heappush(ready, (op.desired.layer, index, op))
                    waiting.clear()

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
        options = {"idempotency_key": idempotency_key(desired, op.action) + self.key_suffix}
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
        if kind is ObjectKind.COUPON:  # immutable: a changed coupon is a new one (its key carries the hash)
            return self._call(v1.coupons.create, params, options)
        if kind is ObjectKind.METER:  # only created: an existing meter is found before the plan is applied
            return self._call(v1.billing.meters.create, params, options)
        if kind is ObjectKind.SUBSCRIPTION_SCHEDULE:
            return self._schedule(op, params, options)
        if kind is ObjectKind.SUBSCRIPTION:
            return self._subscription(op, params, ids, options)
        if kind is ObjectKind.INVOICE:
            return self._invoice(desired, params, ids)
        raise NotImplementedError(f"applying {kind.value} objects")

    def _schedule(self, op: Operation, params: dict[str, Any], options: Any) -> Any:
        """Create, or (for an amended contract) update the phases from the current one on, or cancel."""
        v1 = self.client.v1
        desired = op.desired
        cancel = bool(desired.children.get("cancel"))
        if op.action is Action.UPDATE and desired.known_id:
            if cancel:
                return self._cancel_schedule(desired.known_id, options)
            update: dict[str, Any] = {
                k: params[k] for k in ("phases", "end_behavior", "default_settings", "metadata") if k in params
            }
            update["proration_behavior"] = "none"
            try:
                updated = self._call(v1.subscription_schedules.update, desired.known_id, update, options)
            except stripe.InvalidRequestError as error:
                updated = self._backdated_update(desired.known_id, update, options, error)
            return self._adjust(desired, params, updated, made_before=True)
        create = {**params, "phases": [{k: v for k, v in p.items() if k != "start_date"} for p in params["phases"]]}
        schedule = self._create_or_recover(
            op, lambda: self._call(v1.subscription_schedules.create, create, options), create
        )
        if cancel and schedule.status != "canceled":  # (canceled: an interrupted run's, found in recovery)
            return self._cancel_schedule(schedule.id, {"idempotency_key": f"{options['idempotency_key']}-cancel"})
        return self._adjust(desired, params, schedule, made_before=self.recover)

    def _adjust(self, desired: Desired, params: dict[str, Any], schedule: Any, *, made_before: bool) -> Any:
        """The schedule's one-time adjustments (signed amounts: reduction credits, rounding remainders) as invoice
        items on its subscription, swept into its next invoice; each made once, whatever later runs do: when some
        may have been made before (an amended contract; a run after a crashed one), they are found again through
        their `salesforce_adjustment` metadata. A schedule this run created has none yet (a retry within the run
        is answered by the idempotency keys)."""
        adjustments = desired.children.get("adjustments") or []
        if not adjustments:
            return schedule
        v1 = self.client.v1
        made = set()
        if made_before:
            page = self._call(v1.invoice_items.list, {"customer": params["customer"], "limit": 100})
            for existing in page.auto_paging_iter():
                made.add((existing.metadata.to_dict() if existing.metadata else {}).get("salesforce_adjustment"))
        for adjustment in adjustments:
            if adjustment["key"] in made:
                continue
            item = {k: v for k, v in adjustment.items() if k != "key"}
            metadata = {**adjustment.get("metadata", {}), "salesforce_adjustment": adjustment["key"]}
            item.update(customer=params["customer"], discountable=False, metadata=metadata)
            if schedule.subscription:
                item["subscription"] = schedule.subscription
            key = {"idempotency_key": f"cpqsync-adjustment-{adjustment['key']}"}
            self._call(v1.invoice_items.create, item, key)
        return schedule

    def _subscription(self, op: Operation, params: dict[str, Any], ids: dict[str, str], options: Any) -> Any:
        """An evergreen order: the subscription, started as the order says against the clock (a past start is
        backdated, a future start anchors the billing cycle and bills nothing before it), its one-time lines as
        invoice items on it; a cancellation amendment cancels now or sets `cancel_at`."""
        v1 = self.client.v1
        desired = op.desired
        now = int(time.time())
        cancel_at = desired.children.get("cancel_at")
        if op.action is Action.UPDATE and desired.known_id:
            if cancel_at is None:
                return self._call(v1.subscriptions.retrieve, desired.known_id)
            if cancel_at <= now:
                return self._cancel_subscription(desired.known_id, options)
            update = {"cancel_at": cancel_at, "proration_behavior": "none"}
            return self._call(v1.subscriptions.update, desired.known_id, update, options)
        start = int(desired.children["start_date"])
        create = dict(params)
        if start < now - 86_400:
            create["backdate_start_date"] = start
        elif start > now:
            create["billing_cycle_anchor"] = start
        if cancel_at is not None and cancel_at > now:
            create["cancel_at"] = cancel_at
        subscription = self._create_or_recover(op, lambda: self._call(v1.subscriptions.create, create, options), create)
        base = options["idempotency_key"]
        billed = self._billed_lines(params["customer"]) if self.recover else set()
        for index, line in enumerate(desired.children.get("invoice_items", [])):
            if line.get("metadata", {}).get("salesforce_order_item_id") in billed:
                continue  # added by the interrupted run, whose idempotency keys may have expired
            item = {**resolve_refs(line, ids), "customer": params["customer"], "subscription": subscription.id}
            self._call(v1.invoice_items.create, item, {"idempotency_key": f"{base}-item-{index}"})
        if cancel_at is not None and cancel_at <= now:
            return self._cancel_subscription(subscription.id, {"idempotency_key": f"{base}-cancel"})
        return subscription

    def _billed_lines(self, customer: str) -> set[str]:
        """The order lines (`salesforce_order_item_id`) the customer's invoice items already bill."""
        page = self._call(self.client.v1.invoice_items.list, {"customer": customer, "limit": 100})
        return {
            str(item.metadata["salesforce_order_item_id"])
            for item in page.auto_paging_iter()
            if item.metadata is not None and "salesforce_order_item_id" in item.metadata
        }

    def _cancel_subscription(self, subscription_id: str, options: Any) -> Any:
        """Cancels now, without credit. Cancelling is a DELETE, which Stripe does not replay by idempotency key: when
        an interrupted run cancelled it already, the second cancel is refused and the cancelled subscription is the
        outcome."""
        v1 = self.client.v1
        try:
            return self._call(v1.subscriptions.cancel, subscription_id, NO_CREDIT, options)
        except stripe.InvalidRequestError:
            current = self._call(v1.subscriptions.retrieve, subscription_id)
            if current.status == "canceled":
                return current
            raise

    def _backdated_update(
        self, schedule_id: str, update: dict[str, Any], options: Any, error: stripe.InvalidRequestError
    ) -> Any:
        """Stripe refused the update of an amended contract's schedule. Past phases cannot change, and Stripe lets
        an update leave them out: first tried from the current phase's start on, with what the contract has in
        force then (the ended phases stay as Stripe holds them: a price replaced since, or boundaries an earlier
        amendment processed in current time put at the moment it synced). An amendment that starts in the past
        is then processed in current time, as the connector did: the phase boundaries between the current phase's
        start and now move to `now` (phases squeezed out by them are dropped, the later state wins), tried
        boundary by boundary. A termination that took effect in the past cancels the schedule now, without
        proration or invoice, as the connector did. The first error stands if nothing works."""
        v1 = self.client.v1
        schedule = self._call(v1.subscription_schedules.retrieve, schedule_id)
        current = schedule.current_phase
        phases: list[dict[str, Any]] = update["phases"]
        if current is None:
            raise error  # not started: no phase has ended, the refusal is about something else
        terminated = int(phases[-1]["end_date"]) < int(schedule.phases[-1].end_date)  # it ends the contract sooner
        cancel_key = {"idempotency_key": f"{options['idempotency_key']}-cancel"}
        live = [p for p in phases if int(p["end_date"]) > current.start_date]
        if not live or int(live[0]["start_date"]) > current.start_date:
            if terminated:
                return self._cancel_schedule(schedule_id, cancel_key)
            raise error
        first = {**live[0], "start_date": current.start_date}
        attempts = [[first, *live[1:]]] if [first, *live[1:]] != phases else []
        for squeezed in range(1, len(live)):
            tail = [{**p} for p in live[squeezed:]]
            tail[0]["start_date"] = "now"
            attempts.append([{**first, "end_date": "now"}, *tail])
        for number, attempt in enumerate(attempts, start=1):
            key = {"idempotency_key": f"{options['idempotency_key']}-current-{number}"}
            try:
                return self._call(v1.subscription_schedules.update, schedule_id, {**update, "phases": attempt}, key)
            except stripe.InvalidRequestError:
                continue
        if terminated:
            return self._cancel_schedule(schedule_id, cancel_key)
        raise error

    def _cancel_schedule(self, schedule_id: str, options: Any) -> Any:
        """Cancels now, without proration or invoice (as the connector cancelled)."""
        return self._call(self.client.v1.subscription_schedules.cancel, schedule_id, NO_CREDIT, options)

    def _create_or_recover(self, op: Operation, create: Callable[[], Any], params: dict[str, Any]) -> Any:
        if self.recover:
            existing = self._find_existing(op.desired, params)
            if existing is not None:
                return self._adopt(op, existing, params)
        try:
            return create()
        except stripe.IdempotencyError:
            existing = self._find_existing(op.desired, params)
            if existing is None:
                raise
            return self._adopt(op, existing, params)

    def _adopt(self, op: Operation, existing: Any, params: dict[str, Any]) -> Any:
        """An object an earlier, interrupted run created for this record: brought up to date, never duplicated."""
        log.info("%s was created by an earlier run (%s); using it", op.key, existing.id)
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
        listing = {
            ObjectKind.SUBSCRIPTION_SCHEDULE: v1.subscription_schedules.list,
            ObjectKind.SUBSCRIPTION: v1.subscriptions.list,
            ObjectKind.INVOICE: v1.invoices.list,
        }.get(desired.kind)
        if listing is not None:  # lists are consistent (search is not): by customer, then metadata
            filters: dict[str, Any] = {"customer": params["customer"], "limit": 100}
            if desired.kind is ObjectKind.SUBSCRIPTION:  # a subscription the earlier run cancelled is listed too
                filters["status"] = "all"
            page = self._call(listing, filters)
            for obj in page.auto_paging_iter():
                if obj.metadata is not None and obj.metadata.to_dict().get(field) == record_id:
                    return obj
        return None

    def _invoice(self, desired: Desired, params: dict[str, Any], ids: dict[str, str]) -> Any:
        """A one-time order: a draft invoice, its items attached to it (never swept from the customer's pending
        items), then finalized. Each step is idempotent on its own key."""
        v1 = self.client.v1
        base = idempotency_key(desired, Action.CREATE) + self.key_suffix
        if self.recover:
            existing = self._find_existing(desired, params)
            if existing is not None and existing.status != "draft":
                return existing
            if existing is not None:  # a draft an interrupted run left half-built: start it again
                self._call(v1.invoices.delete, existing.id)
            # With keys of this run: an interrupted run's keys would replay its draft, deleted now or by this step.
            base = f"{base}-{self.attempt}"
        invoice = self._call(v1.invoices.create, params, {"idempotency_key": base})
        for index, line in enumerate(desired.children["lines"]):
            line_params = {**resolve_refs(line, ids), "customer": params["customer"], "invoice": invoice.id}
            self._call(v1.invoice_items.create, line_params, {"idempotency_key": f"{base}-line-{index}"})
        return self._call(v1.invoices.finalize_invoice, invoice.id, None, {"idempotency_key": f"{base}-finalize"})
