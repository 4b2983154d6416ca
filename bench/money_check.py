"""Money check of a whole org: seeds the sandbox org, syncs it into the sandbox Stripe account, then compares every
subscription schedule's billing preview (the sandbox's, over the whole contract) with what CPQ sold on the orders it
bills (their lines' quantity x unit price), to the cent.

    uv run python bench/money_check.py [--orders 2000] [--seed 11] [--dir PATH] [--replay]

One full sync by default. With `--replay` the org's history is replayed as it happens in production: every order
goes back to Draft, then week by week (both sandboxes' clocks moved to that week) the orders starting within it are
activated and an incremental sync runs, so amendments update schedules that exist and have started, some with
phases that have ended. Evergreen orders are left out of the replay (they start against the machine's clock).

Schedules with discounts or Skip_Past_Initial_Invoices__c are left out (they bill less than the lines by design);
a schedule with usage lines is compared without them (usage bills what is metered, not CPQ's estimate; the sandbox
previews usage at 0: it does not count meter events). A rounding remainder made before its schedule's subscription
exists is an invoice item pending on the customer (Stripe adds it to the customer's next invoice): counted with
the schedule whose orders it names. Prints the failed orders, the count of exact and different schedules by kind
(one order or an amended contract; phases), and each difference with its schedule and orders.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--dir", type=Path, default=None, help="sandbox directory (a temporary one by default)")
    parser.add_argument("--replay", action="store_true", help="activate the orders week by week, clocks moved")
    parser.add_argument(
        "--late", type=int, default=0, help="replay: activate each order this many days after its start"
    )
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="money-check-"))
    os.environ["CPQ_SYNC_SANDBOX"] = str(directory)
    os.environ["CPQ_SYNC_STRIPE_REQUESTS_PER_SECOND"] = "500"  # the sandbox has no rate limit here

    from bench.sync_bench import sync_once
    from cpq_sync.sandbox import salesforce as sandbox_sf
    from cpq_sync.sync import Mode

    sandbox_sf.seed_org(directory, orders=args.orders, seed=args.seed)
    if args.replay:
        failed, last_writes = replay(directory, late_days=args.late)
        print(f"  a full run after the last week: {last_writes} Stripe writes (0 expected)")
    else:
        report, wall, _, _ = sync_once(Mode.FULL, dry_run=False)
        failed = {r.primary.id: r.message for r in report.failed}
        print(f"{args.orders} orders (seed {args.seed}) in {directory}: {len(report.synced_orders)} synced, "
              f"{len(failed)} failed, {wall:.0f} s")  # fmt: skip
    for order_id, message in sorted(failed.items()):
        print(f"  failed {order_id}: {message[:300]}")
    counts, different = compare(directory)
    for label, count in sorted(counts.items()):
        print(f"  {label:45s} {count}")
    for difference in different:
        print(f"  {difference}")


@dataclass(frozen=True)
class Difference:
    schedule: str
    status: str
    order_ids: list[str]
    sold: int
    billed: int

    def __str__(self) -> str:
        return (f"{self.schedule} ({self.status}) orders {', '.join(self.order_ids)}: sold {self.sold}, "
                f"billed {self.billed} ({self.billed - self.sold:+d})")  # fmt: skip


def compare(directory: Path) -> tuple[Counter[str], list[Difference]]:
    """Every schedule of the synced org: its billing preview against what its orders sold (see above). Returns the
    count of schedules by kind and outcome, and the differences."""
    from cpq_sync.ops import invariants
    from cpq_sync.sandbox.stripe import billing_preview

    sf, client = invariants.sandbox_clients(directory)
    top, _ = invariants.stripe_objects(client)
    soql = "SELECT Id, Stripe_ID__c, Skip_Past_Initial_Invoices__c FROM Order WHERE Stripe_ID__c != null"
    orders: defaultdict[str, list[str]] = defaultdict(list)
    skipped_past = set()
    for row in sf.query_all_iter(soql):
        orders[row["Stripe_ID__c"]].append(row["Id"])
        if row["Skip_Past_Initial_Invoices__c"]:
            skipped_past.add(row["Stripe_ID__c"])
    usage = {
        r["OrderId"] for r in sf.query_all_iter("SELECT OrderId FROM OrderItem WHERE SBQQ__ChargeType__c = 'Usage'")
    }
    pending = pending_on_customers(client, sf)
    counts: Counter[str] = Counter()
    different = []
    for stripe_id, order_ids in sorted(orders.items()):
        schedule = top.get(stripe_id)
        if not stripe_id.startswith("sub_sched_") or schedule is None:
            continue
        if stripe_id in skipped_past or invariants.has_discounts(schedule):
            counts["left out"] += 1
            continue
        metered = bool(usage & set(order_ids))
        kind = f"{'amended contract' if len(order_ids) > 1 else 'one order'}, {len(schedule.phases)} phase(s)"
        kind += ", usage lines" if metered else ""
        billed = sum(invoice.total for invoice in billing_preview(directory, stripe_id))
        billed += sum(pending.get(order_id, 0) for order_id in order_ids)
        sold = invariants.cents_sold(sf, *order_ids, usage=not metered)
        counts[f"{kind}: {'exact' if billed == sold else 'different'}"] += 1
        if billed != sold:
            different.append(Difference(stripe_id, schedule.status, order_ids, sold, billed))
    return counts, different


def pending_on_customers(client: Any, sf: Any) -> Counter[str]:
    """Invoice items pending on a customer (neither on an invoice nor on a subscription) by the order they bill
    for: a rounding remainder made before its schedule's subscription exists. Stripe adds them to the customer's
    next invoice; the sandbox's preview of a schedule does not, so they are counted here."""
    from cpq_sync.ops import invariants

    lines = {r["Id"]: r["OrderId"] for r in sf.query_all_iter("SELECT Id, OrderId FROM OrderItem")}
    out: Counter[str] = Counter()
    for item in client.v1.invoice_items.list({"limit": 100}).auto_paging_iter():
        if item.invoice or getattr(item, "subscription", None) or invariants.parent_subscription(item):
            continue
        metadata = item.metadata.to_dict() if item.metadata else {}
        order_id = metadata.get("salesforce_order_id") or lines.get(metadata.get("salesforce_order_item_id", ""))
        if order_id:
            out[order_id] += item.amount
    return out


def replay(directory: Path, *, late_days: int = 0) -> tuple[dict[str, str], int]:
    """The org's history replayed: every order back to Draft, then week by week (both sandboxes' clocks at that
    week's start) the orders starting within the week are activated and an incremental sync runs, as orders arrive
    in production (an amendment before its start: never backdated). Then a full run a day after the last week
    must write nothing, and the clocks go back to real time. Returns the orders that failed (and did not sync
    later), with their errors, and that last run's Stripe writes."""
    from bench.sync_bench import stripe_figures, sync_once
    from cpq_sync.ops import invariants
    from cpq_sync.sandbox import salesforce as sandbox_sf
    from cpq_sync.sandbox import stripe as sandbox_stripe
    from cpq_sync.sync import Mode

    sf, _ = invariants.sandbox_clients(directory)
    rows = list(sf.query_all_iter("SELECT Id, EffectiveDate, ContractId FROM Order WHERE Status = 'Activated'"))
    _set_status(sf, [r["Id"] for r in rows], "Draft")
    # Evergreen subscriptions are started against the machine's clock (`apply._subscription`), not the sandbox's:
    # left out of the replay (Draft), with their contracts' amendments.
    soql = "SELECT OrderId, Order.ContractId FROM OrderItem WHERE SBQQ__SubscriptionType__c = 'Evergreen'"
    evergreen = {(r["Order"] or {}).get("ContractId") or r["OrderId"] for r in sf.query_all_iter(soql)}
    starts = {r["Id"]: dt.date.fromisoformat(r["EffectiveDate"])
              for r in rows if r["Id"] not in evergreen and r["ContractId"] not in evergreen}  # fmt: skip
    week = min(starts.values()) - dt.timedelta(days=7)
    failed: dict[str, str] = {}
    runs = writes = 0
    while week <= max(starts.values()) + dt.timedelta(days=late_days):
        late = dt.timedelta(days=late_days)  # activated after the start: an amendment is backdated
        due = [i for i, start in starts.items() if week < start + late <= week + dt.timedelta(days=7)]
        if due:
            at = dt.datetime.combine(week, dt.time(12), dt.UTC)
            sandbox_sf.set_clock(directory, at)
            sandbox_stripe.set_clock(directory, at)
            _set_status(sf, due, "Activated")
            sandbox_sf.set_clock(directory, at + dt.timedelta(minutes=10))
            sandbox_stripe.clear_request_log(directory)
            report, _, _, _ = sync_once(Mode.INCREMENTAL, dry_run=False)
            failed.update({r.primary.id: r.message for r in report.failed})
            for order_id in report.synced_orders:
                failed.pop(order_id, None)
            writes += int(stripe_figures(directory)["stripe_writes"])
            runs += 1
        week += dt.timedelta(days=7)
    print(f"replayed {len(starts)} orders in {runs} weekly runs ({len(rows) - len(starts)} evergreen left out): "
          f"{writes} Stripe writes, {len(failed)} failed")  # fmt: skip
    last = dt.datetime.combine(week, dt.time(12), dt.UTC)
    sandbox_sf.set_clock(directory, last)
    sandbox_stripe.set_clock(directory, last)
    sandbox_stripe.clear_request_log(directory)
    sync_once(Mode.FULL, dry_run=False)
    last_writes = int(stripe_figures(directory)["stripe_writes"])
    sandbox_sf.set_clock(directory, None)
    sandbox_stripe.set_clock(directory, None)
    return failed, last_writes


def _set_status(sf: Any, order_ids: list[str], status: str) -> None:
    records = [{"attributes": {"type": "Order"}, "id": i, "Status": status} for i in order_ids]
    for n in range(0, len(records), 200):
        sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": records[n : n + 200]})


if __name__ == "__main__":
    main()
