"""The sync's steps as plain functions over a run context: prepare, extract, plan, apply (with the write-back of
Stripe ids and Sync Records while it runs) and finish. Prefect tasks wrap these one to one; nothing here imports
Prefect."""

from __future__ import annotations

import datetime as dt
import functools
import gc
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

import stripe

from cpq_sync import redact
from cpq_sync.config import Settings, Target
from cpq_sync.desired import NO_WRITE_BACK, Desired, SfRef
from cpq_sync.errors import DataError
from cpq_sync.mapping.compile import compile_mappings
from cpq_sync.mapping.loader import MappingSet, load_mappings
from cpq_sync.plan import Action, Failure, Operation, Plan, build_plan
from cpq_sync.salesforce.client import OrgClient, QuotaExceeded, login
from cpq_sync.salesforce.coupons import attach_coupons
from cpq_sync.salesforce.extract import (
    ID_CHUNK,
    Extracted,
    FieldLists,
    Window,
    apply_line_filters,
    extract_changed,
    extract_contract_orders,
    extract_orders,
    soql_string,
)
from cpq_sync.salesforce.filters import SyncFilters, named_fields
from cpq_sync.salesforce.pricing import (
    attach_consumption,
    attach_synced_currencies,
    extract_changed_pricebook_entries,
    org_is_multi_currency,
    single_currency_fields,
)
from cpq_sync.salesforce.state import (
    APPLY_MARKER_KEY,
    OrgDescribe,
    forget_describes,
    parse_watermark,
    read_states,
    write_state,
    write_watermark,
)
from cpq_sync.salesforce.write_back import (
    COLLECTION_SIZE,
    Status,
    StripeIdUpdate,
    SyncRecord,
    mark_resolved,
    open_errors,
    resolve_earlier_errors,
    upsert_sync_records,
    write_stripe_ids,
)
from cpq_sync.stripe.apply import Outcome, StripeApplier
from cpq_sync.stripe.client import stripe_client
from cpq_sync.stripe.meters import resolve_meters
from cpq_sync.stripe.pacing import Pacer, SharedGate
from cpq_sync.translate.catalog import pbe_price_objects, translate_customer, translate_product
from cpq_sync.translate.context import TranslateContext
from cpq_sync.translate.contract import group_contracts, translate_contract
from cpq_sync.translate.order import translate_order
from cpq_sync.translate.prices import currency_conflicts, kept_order_synced_prices, subscribes

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class Mode(StrEnum):
    INCREMENTAL = "incremental"
    FULL = "full"
    ORDERS = "orders"


@dataclass
class RunContext:
    settings: Settings
    org: OrgClient
    stripe: stripe.StripeClient
    mappings: MappingSet
    translate: TranslateContext
    fields: FieldLists
    filters: SyncFilters
    started_at: dt.datetime
    # The org's clock (the `Date` of the state's read) as the run starts: the window ends there and the watermark
    # moves there, so a quiet org is not read again. None when the org sends no `Date` (the local clock then).
    org_started_at: dt.datetime | None = None
    livemode: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    state: dict[str, str] = field(default_factory=dict)  # Stripe_Sync_State__c, read once a run (by prepare)
    request_gate: SharedGate | None = None  # a rate shared across runs and workers (e.g. Prefect's)
    stripe_requests: int = 0
    pacer: Pacer | None = None  # paces every request of `stripe` (set by prepare)
    planned_lines: int = 0  # order lines translated and planned: with timings["plan"], the lines/s figure
    # written while applying (by `apply_plan`), so `finish` does not write them again
    sync_records_written: set[SyncRecord] = field(default_factory=set)
    errors_resolved: set[str] = field(default_factory=set)

    def timed(self, step: str, started: float) -> None:
        self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - started


@dataclass
class RowResult:
    """One line of the run's report: what happened to one Stripe object or one failed record."""

    object_type: str
    record_id: str
    stripe_kind: str
    action: str
    stripe_id: str | None = None
    message: str = ""
    request_id: str | None = None


@dataclass
class SyncReport:
    mode: Mode
    dry_run: bool
    started_at: dt.datetime
    orders_seen: int = 0
    rows: list[RowResult] = field(default_factory=list)
    synced_orders: list[str] = field(default_factory=list)
    failed: list[SyncRecord] = field(default_factory=list)
    stripe_writes: int = 0
    stripe_requests: int = 0
    salesforce_calls: int = 0
    duration_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    watermark: dt.datetime | None = None
    stopped_early: str | None = None
    plan: Plan | None = None
    run_url: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed and self.stopped_early is None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows:
            out[row.action] = out.get(row.action, 0) + 1
        return out


def prepare(settings: Settings, *, now: dt.datetime | None = None) -> RunContext:
    """Connects both sides and loads and validates the mappings and filters, before anything is written."""
    redact.install(settings.secret_values())
    org = OrgClient(lambda: login(settings), run_share_percent=settings.preferences.api_usage_ceiling_percent)
    if settings.target is Target.SANDBOX:
        _ensure_sandbox(settings, org)
    mappings = load_mappings(settings.runtime.mappings_dir)
    started_at = now or dt.datetime.now(dt.UTC)
    state = read_states(org)  # the run's one read of its state (watermark, apply marker, cached describes)
    org_started_at = org.server_time  # the org's clock as this run starts: the end of its window, its watermark
    describe = OrgDescribe(org, mappings, state, started_at, also=named_fields(settings.preferences.filters))
    compiled = compile_mappings(mappings, describe=describe)
    multi_currency = org_is_multi_currency(describe("Order"))
    filters = SyncFilters.from_preferences(settings.preferences.filters, describe=describe)
    describe.save()
    org.on_invalid_field = lambda: forget_describes(org)  # the org changed since its describes were cached
    for kind, problem in compiled.broken.items():
        log.error("mapping problem: %s (records that need a %s fail until it is fixed)", problem, kind.value)
    pacer = Pacer(settings.preferences.stripe_requests_per_second)  # every Stripe request of the run, retries too
    client = stripe_client(settings, pacer)
    return RunContext(
        settings=settings,
        org=org,
        stripe=client,
        mappings=mappings,
        translate=TranslateContext(
            mappings=compiled,
            default_currency=settings.preferences.default_currency,
            instance_url=org.instance_url,
            multi_currency=multi_currency,
            proration_precision=settings.preferences.proration_precision,
            migrated_before=(
                settings.preferences.sync_start_date if settings.preferences.migrate_orders_before_start_date else None
            ),
        ),
        fields=single_currency_fields(FieldLists.build(mappings, compiled.broken_entries), multi_currency),
        filters=filters,
        started_at=started_at,
        org_started_at=org_started_at,
        livemode=settings.stripe.livemode,
        state=state,
        pacer=pacer,
    )


def _ensure_sandbox(settings: Settings, org: OrgClient) -> None:
    """The sandboxes are seeded with the demo company on first use."""
    from cpq_sync.sandbox.salesforce import seed_org

    directory = settings.runtime.sandbox
    if org.call(lambda sf: sf.query("SELECT COUNT() FROM Order"))["totalSize"] == 0:
        log.info("seeding the sandbox org in %s with the demo company", directory)
        seed_org(directory)


def window_for(
    ctx: RunContext,
    mode: Mode,
    order_ids: tuple[str, ...] = (),
    *,
    account_ids: tuple[str, ...] = (),
    product_ids: tuple[str, ...] = (),
    pricebook_entry_ids: tuple[str, ...] = (),
) -> Window:
    prefs = ctx.settings.preferences
    start = None if prefs.migrate_orders_before_start_date else prefs.sync_start_date
    # The org's `Date` has whole seconds: everything modified before it was sent is modified before its second ends.
    until = ctx.started_at if ctx.org_started_at is None else ctx.org_started_at + dt.timedelta(seconds=1)
    if mode is Mode.ORDERS:
        extra_orders, extra_products = _orders_billing(ctx.org, pricebook_entry_ids)
        return Window(
            since=None,
            until=until,
            order_ids=tuple(dict.fromkeys((*order_ids, *extra_orders))),
            account_ids=account_ids,
            product_ids=tuple(dict.fromkeys((*product_ids, *extra_products))),
        )
    if mode is Mode.FULL:
        return Window(since=None, until=until, sync_start_date=start)
    watermark = parse_watermark(ctx.state)
    since = None if watermark is None else watermark - dt.timedelta(seconds=prefs.lookback_seconds)
    return Window(since=since, until=until, sync_start_date=start)


def _orders_billing(org: OrgClient, pricebook_entry_ids: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """A price book entry is synced through what it prices: its product, and the activated orders whose lines
    bill it (their prices are derived from the line, as the connector did)."""
    orders: list[str] = []
    products: list[str] = []
    ids = list(dict.fromkeys(pricebook_entry_ids))
    for n in range(0, len(ids), ID_CHUNK):
        in_list = ", ".join(soql_string(i) for i in ids[n : n + ID_CHUNK])
        for row in org.query_all_iter(f"SELECT Product2Id FROM PricebookEntry WHERE Id IN ({in_list})"):
            products.append(str(row["Product2Id"]))
        soql = f"SELECT OrderId FROM OrderItem WHERE PricebookEntryId IN ({in_list}) AND Order.Status = 'Activated'"
        for row in org.query_all_iter(soql):
            orders.append(str(row["OrderId"]))
    return list(dict.fromkeys(orders)), list(dict.fromkeys(products))


def _without_cycle_collection(step: Callable[P, R]) -> Callable[P, R]:
    """Extraction and planning allocate millions of small objects (records, desired objects), none of them in
    reference cycles worth collecting; the cyclic collector would rescan them over and over (a third of the time
    of a large run). Paused for the step, back on after it."""

    @functools.wraps(step)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return step(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return run


@_without_cycle_collection
def extract(ctx: RunContext, window: Window) -> Extracted:
    started = time.perf_counter()
    result = extract_orders(ctx.org, ctx.fields, window, ctx.filters)
    apply_line_filters(ctx.org, result, ctx.filters)
    attach_coupons(ctx.org, ctx.fields.coupon, result)
    extract_changed(ctx.org, ctx.fields, window, ctx.filters, result)
    extract_contract_orders(ctx.org, ctx.fields, result, ctx.filters)
    extract_changed_pricebook_entries(ctx.org, ctx.fields, window, ctx.filters, result)
    attach_consumption(ctx.org, result, multi_currency=ctx.translate.multi_currency)
    if ctx.translate.multi_currency:
        attach_synced_currencies(ctx.org, result)
    ctx.timed("extract", started)
    return result


@_without_cycle_collection
def make_plan(ctx: RunContext, extracted: Extracted) -> Plan:
    """Translates and plans in one pass: each record's desired objects are planned as soon as they are translated,
    so the copies of shared objects (a customer, product or price needed by many orders) are dropped at once.

    The order bundles are handed over to the plan: `extracted.bundles` and `extracted.contract_orders` are empty
    afterwards, each bundle let go of as soon as its operations are planned (a large run's records are as large as
    its plan). Nothing after the plan reads them."""
    started = time.perf_counter()
    lines = sum(len(b.items) for b in extracted.bundles)
    failures: list[Failure] = list(extracted.failures)
    line_prices: dict[str, str] = {}
    line_known: dict[str, tuple[str | None, str | None]] = {}
    plan = build_plan(_translated(ctx, extracted, failures, line_prices, line_known))
    plan.failures = failures
    plan.line_prices = line_prices
    plan.line_known = line_known
    resolve_meters(ctx.stripe, plan)
    ctx.timed("plan", started)
    ctx.planned_lines += lines
    return plan


def _translated(
    ctx: RunContext,
    extracted: Extracted,
    failures: list[Failure],
    line_prices: dict[str, str],
    line_known: dict[str, tuple[str | None, str | None]],
) -> Iterator[tuple[SfRef, list[Desired]]]:
    """Each primary record with the desired objects it needs; failures, line prices and what the lines hold in
    Salesforce are collected on the way."""
    bundles, extracted.bundles = extracted.bundles, []
    context, extracted.contract_orders = extracted.contract_orders, []
    new_orders = ((b.order, b.account.id) for b in bundles if b.order.stripe_id is None and subscribes(b))
    wrong_currency = currency_conflicts(new_orders, extracted.synced_currencies, ctx.translate)
    in_run = {b.order.id for b in bundles}
    alone, contracts = group_contracts(bundles, context)
    del bundles, context  # from here on `alone` and `contracts` hold each bundle once, until it is planned
    for bundle in _drained(alone):
        primary = SfRef("Order", bundle.order.id)
        try:
            if bundle.order.id in wrong_currency:
                raise wrong_currency[bundle.order.id]
            translation = translate_order(bundle, ctx.translate)
        except DataError as exc:
            failures.append(Failure(primary, exc))
            continue
        if bundle.order.stripe_id is not None:
            kept_order_synced_prices(translation)
        yield primary, translation.objects
        line_prices.update(translation.line_prices)
        for item in bundle.items:
            line_known[item.id] = (item.stripe_id, item.sync_hash)
    for contract in _drained(contracts):
        result = translate_contract(contract, ctx.translate)
        members = [b for b in (contract.initial, *contract.amendments) if b is not None]
        # The objects of the initial order's translation are needed by that order too, whichever order of the
        # contract they are planned for. Some are shared with other orders (`catalog.memoized`): the initial order
        # is added to them as they are planned, never when nothing of the contract is.
        initial = result.initial_translation
        for bundle in members:
            if bundle.order.id not in in_run:
                continue
            primary = SfRef("Order", bundle.order.id)
            error = wrong_currency.get(bundle.order.id) or result.failures.get(bundle.order.id)
            if error is not None:
                failures.append(Failure(primary, error))
                continue
            if result.main is not None:
                if initial is not None:
                    initial_primary = SfRef("Order", initial.order.id)
                    for obj in initial.objects:
                        obj.primaries.add(initial_primary)
                yield primary, result.objects
            line_known.update({i.id: (i.stripe_id, i.sync_hash) for i in bundle.items})
            line_prices.update({i.id: result.line_prices[i.id] for i in bundle.items if i.id in result.line_prices})
    for account in extracted.changed_accounts:
        primary = SfRef("Account", account.id)
        try:
            customer = translate_customer(account, ctx.translate)
        except DataError as exc:
            failures.append(Failure(primary, exc))
            continue
        yield primary, [customer]
    for product in extracted.changed_products:
        primary = SfRef("Product2", product.id)
        try:
            translated = translate_product(product, ctx.translate)
        except DataError as exc:
            failures.append(Failure(primary, exc))
            continue
        yield primary, [translated]
    for pbe, pbe_product in extracted.changed_pricebook_entries:
        primary = SfRef("PricebookEntry", pbe.id)
        try:
            prices = pbe_price_objects(pbe, pbe_product, extracted.consumption, ctx.translate)
        except DataError as exc:
            failures.append(Failure(primary, exc))
            continue
        yield primary, prices


def _drained(items: list[T]) -> Iterator[T]:
    """The items of `items` in order, each let go of by the list as it is handed out (the list ends empty)."""
    items.reverse()
    while items:
        yield items.pop()


def apply_plan(
    ctx: RunContext, plan: Plan, *, on_progress: Callable[[int, int], None] | None = None
) -> dict[str, Outcome]:
    """Applies the plan, each operation as soon as the objects it references exist (no barrier between layers, so
    Stripe's rate, not the slowest request of a layer, sets the pace). While it runs, one background writer puts the
    new Stripe ids into Salesforce in Collections of 200 as they come, and the Sync Records of the primary records
    whose objects are all done (after the ids they name); `finish` writes only what is left. A crash loses at most
    the ids not yet written (fewer than two Collections), whose creates are replayed by their idempotency keys."""
    prefs = ctx.settings.preferences
    # A marker left by a run that died while applying: its creates may be older than Stripe keeps idempotency
    # keys (24 h), so this run looks objects up by their metadata before creating them. Normal runs read nothing.
    recovering = bool(ctx.state.get(APPLY_MARKER_KEY))
    if recovering:
        log.warning("an earlier run stopped while applying to Stripe; this run checks for its objects first")
    batch = max(1, int(prefs.stripe_requests_per_second // 4))  # a quarter second of requests per shared call
    pacer = ctx.pacer or Pacer(prefs.stripe_requests_per_second)
    pacer.share(ctx.request_gate, batch)
    requests_before = pacer.requests
    concurrency = max(prefs.stripe_concurrency, pacer.in_flight())  # enough in flight to keep the rate
    applier = StripeApplier(ctx.stripe, pacer=pacer, concurrency=concurrency, recover=recovering)
    if plan.writes:
        write_state(ctx.org, APPLY_MARKER_KEY, ctx.started_at.isoformat())
    ids: dict[str, str] = {
        op.key: op.desired.known_id
        for op in plan.operations.values()
        if op.action is Action.SKIP and op.desired.known_id
    }
    outcomes: dict[str, Outcome] = {}
    progress = _Progress(len(plan.writes), on_progress)
    tracker = _Primaries(plan)
    writer = _WriteBack(ctx)
    # The plan and the records are long-lived: a full collection scanning them would stall every request thread at
    # once (and they would then leave in a burst, answered 429). Frozen while applying (process-wide; performance
    # only), back to the collector after.
    gc.freeze()
    try:
        writer.records([r for r in (_failure_record(f) for f in plan.failures)])
        for op in plan.operations.values():
            if op.action is Action.SKIP:
                outcome = outcomes[op.key] = Outcome(op.key, op.action, op.desired.known_id)
                writer.ids(_id_updates(plan, tracker, op, outcome))
        for op in plan.operations.values():
            if op.action is Action.SKIP:
                writer.records(tracker.done(op, outcomes))
        started = time.perf_counter()
        for op, outcome in applier.run(plan.operations.values(), ids):
            outcomes[op.key] = outcome
            writer.ids(_id_updates(plan, tracker, op, outcome))
            writer.records(tracker.done(op, outcomes))
            progress.step()
        ctx.timed("apply", started)
    finally:
        gc.unfreeze()
        started = time.perf_counter()
        writer.close()  # what is pending; a write-back that failed fails the step (its retries re-apply nothing)
        ctx.timed("write_back", started)
    progress.end()
    if plan.writes or recovering:
        write_state(ctx.org, APPLY_MARKER_KEY, None)
    ctx.stripe_requests += pacer.requests - requests_before
    return outcomes


class _Progress:
    """Reports progress at most once a second (and at the end): each report may be a call to Prefect's API."""

    def __init__(self, total: int, report: Callable[[int, int], None] | None) -> None:
        self.total, self.report, self.done, self.last = total, report, 0, time.monotonic()

    def step(self) -> None:
        self.done += 1
        if self.report is not None and time.monotonic() - self.last >= 1.0:
            self.last = time.monotonic()
            self.report(self.done, self.total)

    def end(self) -> None:
        if self.report is not None:
            self.report(self.done, self.total)


class _Primaries:
    """Which primary records have all their operations done (their Sync Record can be written), and which order
    lines bill each price."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.remaining = {primary: len(keys) for primary, keys in plan.primaries.items()}
        self.needed_by: dict[str, list[SfRef]] = {}
        for primary, keys in plan.primaries.items():
            for key in keys:
                self.needed_by.setdefault(key, []).append(primary)
        self.lines_by_price: dict[str, list[str]] = {}
        for item_id, key in plan.line_prices.items():
            self.lines_by_price.setdefault(key, []).append(item_id)

    def done(self, op: Operation, outcomes: dict[str, Outcome]) -> list[SyncRecord]:
        records = []
        for primary in self.needed_by.get(op.key, ()):
            self.remaining[primary] -= 1
            if self.remaining[primary] == 0:
                record = _primary_record(self.plan, primary, outcomes)
                if record is not None:
                    records.append(record)
        return records


def _id_updates(plan: Plan, primaries: _Primaries, op: Operation, outcome: Outcome) -> list[StripeIdUpdate]:
    """What one done operation writes back: its Stripe id and hash onto its records, and onto the order lines that
    bill it (a price) unless they hold them already."""
    if not outcome.ok or not outcome.stripe_id:
        return []
    updates: list[StripeIdUpdate] = []
    if op.action is not Action.SKIP and op.desired.kind not in NO_WRITE_BACK:
        # The other records first: the next run skips the object when its own record holds its id and hash, so that
        # record is written last (in the same Collection or a later one; they go out in order).
        updates.extend(StripeIdUpdate(r, outcome.stripe_id, op.content_hash) for r in op.desired.also_records)
        updates.append(StripeIdUpdate(op.desired.record, outcome.stripe_id, op.content_hash))
    target = (outcome.stripe_id, op.content_hash)
    for item_id in primaries.lines_by_price.get(op.key, ()):
        if plan.line_known.get(item_id) != target and op.desired.record.id != item_id:
            updates.append(StripeIdUpdate(SfRef("OrderItem", item_id), *target))
    return updates


class _WriteBack:
    """Salesforce writes made while Stripe is being applied, by one background thread, one call at a time and in
    order. Stripe ids go out in Collections of 200 as soon as 200 are pending; a Sync Record only once every id
    queued before it is written (a Success record never names an object whose id is not in Salesforce yet), in
    Collections of 200 too, then the earlier errors of the records that succeeded are resolved (the open errors read
    in one query, when a record first succeeds). `close` writes what is left and re-raises a failed call."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.queue: queue.SimpleQueue[tuple[str, list[Any]] | None] = queue.SimpleQueue()
        self.pending_ids: deque[tuple[int, StripeIdUpdate]] = deque()  # (sequence, update), written in this order
        self.pending_records: deque[tuple[int, SyncRecord]] = deque()  # (sequence of the last id before it, record)
        self.pending_resolve: list[str] = []  # primary ids that succeeded
        self.open_errors: dict[str, list[str]] | None = None  # primary id -> its earlier Error Sync Records
        self.pending_resolved: list[str] = []  # Error Sync Records to set Resolved
        self.sequence = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="write-back", daemon=True)
        self.thread.start()

    def ids(self, updates: list[StripeIdUpdate]) -> None:
        if updates:
            self.queue.put(("ids", updates))

    def records(self, records: list[SyncRecord]) -> None:
        if records:
            self.queue.put(("records", records))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                if self.error is not None:
                    continue  # a call failed: the step fails at close; nothing more is written
                kind, values = item
                if kind == "ids":
                    for update in values:
                        self.sequence += 1
                        self.pending_ids.append((self.sequence, update))
                else:
                    self.pending_records.extend((self.sequence, record) for record in values)
                self._flush(final=False)
            if self.error is None:
                self._flush(final=True)
        except BaseException as exc:  # re-raised by close, in the applying thread
            self.error = exc

    def _flush(self, *, final: bool) -> None:
        org = self.ctx.org
        # Strictly in the order queued (within a Collection the latest update of a record wins): once an update is
        # in Salesforce, every update queued before it is too.
        while len(self.pending_ids) >= COLLECTION_SIZE or (final and self.pending_ids):
            updates = [self.pending_ids.popleft()[1] for _ in range(min(COLLECTION_SIZE, len(self.pending_ids)))]
            write_stripe_ids(org, updates)
        first_pending = self.pending_ids[0][0] if self.pending_ids else None
        while True:
            released = list(
                itertools.takewhile(
                    lambda r: first_pending is None or r[0] < first_pending,
                    itertools.islice(self.pending_records, COLLECTION_SIZE),
                )
            )
            if not released or (len(released) < COLLECTION_SIZE and not final):
                break
            records = [record for _, record in released]
            upsert_sync_records(org, records, livemode=self.ctx.livemode)
            for _ in released:
                self.pending_records.popleft()
            self.ctx.sync_records_written.update(records)
            self.pending_resolve += [r.primary.id for r in records if r.status is Status.SUCCESS]
        if self.pending_resolve:
            if self.open_errors is None:  # read once, when a record first succeeds
                started = self.ctx.org_started_at
                self.open_errors = open_errors(org, before=started and started + dt.timedelta(seconds=1))
            for primary_id in self.pending_resolve:
                self.pending_resolved += self.open_errors.pop(primary_id, [])
            self.ctx.errors_resolved.update(self.pending_resolve)
            self.pending_resolve = []
        while len(self.pending_resolved) >= COLLECTION_SIZE or (final and self.pending_resolved):
            resolved, self.pending_resolved = (
                self.pending_resolved[:COLLECTION_SIZE],
                self.pending_resolved[COLLECTION_SIZE:],
            )
            mark_resolved(org, resolved)


def _failure_record(failure: Failure) -> SyncRecord:
    err = failure.error
    return SyncRecord(failure.primary, SfRef(err.object_type, err.record_id), Status.ERROR, err.message)


def _primary_record(plan: Plan, primary: SfRef, outcomes: dict[str, Outcome]) -> SyncRecord | None:
    """The Sync Record of a primary record once its operations are done: its first failure, or its main object's
    success; None when nothing was written for it."""
    ops = [plan.operations[k] for k in sorted(plan.primaries[primary])]
    failed = [(op, outcomes[op.key]) for op in ops if op.key in outcomes and not outcomes[op.key].ok]
    if failed:
        op, outcome = failed[0]
        return SyncRecord(
            primary,
            op.desired.record,
            Status.ERROR,
            f"{outcome.error} (while applying {op.desired.kind.value} for "
            f"{op.desired.record.object_type} {op.desired.record.id})",
            request_id=outcome.request_id,
        )
    main = next((op for op in ops if op.desired.record == primary or primary in op.desired.also_records), None)
    if main is None or all(op.action is Action.SKIP for op in ops):
        return None  # nothing was written for it: no Sync Record either
    outcome = outcomes[main.key]
    verb = {Action.CREATE: "Created", Action.UPDATE: "Updated", Action.REPLACE: "Replaced"}.get(main.action, "Synced")
    return SyncRecord(
        primary,
        primary,
        Status.SUCCESS,
        f"{verb} Stripe {main.desired.kind.value.replace('_', ' ')} {outcome.stripe_id}",
        request_id=outcome.request_id,
        stripe_object_id=outcome.stripe_id,
    )


def finish(
    ctx: RunContext, plan: Plan, outcomes: dict[str, Outcome], report: SyncReport, extracted: Extracted
) -> SyncReport:
    """Sync Records for every primary record that was written or failed (those `apply_plan` wrote already are not
    written again), then the earlier errors of the records that succeeded are resolved."""
    started = time.perf_counter()
    records: list[SyncRecord] = [_failure_record(f) for f in plan.failures]
    succeeded: list[str] = []
    for primary in plan.primaries:
        record = _primary_record(plan, primary, outcomes)
        if record is None:
            continue
        records.append(record)
        if record.status is Status.SUCCESS:
            succeeded.append(primary.id)
            if primary.object_type == "Order":
                report.synced_orders.append(primary.id)
    for record in records:
        if record.status is Status.ERROR:
            log.error("%s %s not synced: %s", record.primary.object_type, record.primary.id, record.message)
    unwritten = [r for r in records if r not in ctx.sync_records_written]
    if unwritten:
        upsert_sync_records(ctx.org, unwritten, livemode=ctx.livemode)
    unresolved = [i for i in succeeded if i not in ctx.errors_resolved]
    if unresolved:
        resolve_earlier_errors(ctx.org, unresolved)
    report.failed = [r for r in records if r.status is Status.ERROR]
    ctx.timed("write_back", started)
    return report


def advance_watermark(ctx: RunContext, mode: Mode, extracted: Extracted) -> dt.datetime | None:
    """Only after the write-back is durable: to the run's start by the org's clock (the end of the window it read;
    the next run reads again from the look-back before it, for records committed late), so in a quiet org the
    window moves past every change it read. Without the org's clock: the last change seen, never past the run's
    start. An incremental run that saw nothing keeps the watermark it started from (no call: its window, from that
    watermark to now, held no change)."""
    if mode is Mode.ORDERS:
        return None
    seen = extracted.orders_seen or extracted.changed_accounts or extracted.changed_products
    if mode is Mode.INCREMENTAL and not seen and not extracted.changed_pricebook_entries and not extracted.failures:
        kept = parse_watermark(ctx.state)
        if kept is not None:
            return kept
    if ctx.org_started_at is not None:
        new = ctx.org_started_at
    elif extracted.max_modstamp is None:
        new = ctx.started_at
    else:
        new = min(extracted.max_modstamp, ctx.started_at)
    if new != parse_watermark(ctx.state):  # an unchanged window gives the same watermark: nothing to write
        write_watermark(ctx.org, new)
    return new


def report_rows(plan: Plan, outcomes: dict[str, Outcome]) -> list[RowResult]:
    rows = []
    for op in plan.operations.values():
        outcome = outcomes.get(op.key)
        action = op.action.value
        message = op.reason
        if outcome is not None and not outcome.ok:
            action, message = "failed", outcome.error or ""
        rows.append(
            RowResult(
                object_type=op.desired.record.object_type,
                record_id=op.desired.record.id,
                stripe_kind=op.desired.kind.value,
                action=action,
                stripe_id=(outcome.stripe_id if outcome else None) or op.desired.known_id,
                message=message,
                request_id=outcome.request_id if outcome else None,
            )
        )
    for failure in plan.failures:
        rows.append(
            RowResult(
                object_type=failure.primary.object_type,
                record_id=failure.primary.id,
                stripe_kind="-",
                action="failed",
                message=failure.error.message,
            )
        )
    return rows


def run_direct(settings: Settings, mode: Mode = Mode.INCREMENTAL, order_ids: tuple[str, ...] = ()) -> SyncReport:
    """One whole run without Prefect (the fault matrix, the soak, benchmarks): the flow's steps in order. An
    exhausted API quota stops it cleanly, as in the flow: the watermark stays where it was and the report says so."""
    started = time.perf_counter()
    try:
        ctx = prepare(settings)
    except QuotaExceeded as exc:
        log.error("stopped early: %s", exc)
        return SyncReport(mode=mode, dry_run=False, started_at=dt.datetime.now(dt.UTC), stopped_early=str(exc))
    report = SyncReport(mode=mode, dry_run=False, started_at=ctx.started_at)
    try:
        window = window_for(ctx, mode, order_ids)
        extracted = extract(ctx, window)
        report.orders_seen = extracted.orders_seen
        plan = make_plan(ctx, extracted)
        outcomes = apply_plan(ctx, plan)
        report.stripe_writes = sum(1 for o in outcomes.values() if o.action is not Action.SKIP)
        report.rows = report_rows(plan, outcomes)
        finish(ctx, plan, outcomes, report, extracted)
        report.watermark = advance_watermark(ctx, mode, extracted)
        report.plan = plan
    except QuotaExceeded as exc:
        report.stopped_early = str(exc)
        log.error("stopped early: %s", exc)
    report.salesforce_calls = ctx.org.calls_used()
    report.stripe_requests = ctx.stripe_requests
    report.timings = dict(ctx.timings)
    report.duration_seconds = time.perf_counter() - started
    return report
