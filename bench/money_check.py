"""Money check of a whole org: seeds the sandbox org, runs a full sync into the sandbox Stripe account, then compares
every subscription schedule's billing preview (the sandbox's, over the whole contract) with what CPQ sold on the
orders it bills (their lines' quantity x unit price), to the cent.

    uv run python bench/money_check.py [--orders 2000] [--seed 11] [--dir PATH]

Schedules with discounts or Skip_Past_Initial_Invoices__c are left out (they bill less than the lines by design);
a schedule with usage lines is compared without them (usage bills what is metered, not CPQ's estimate; the sandbox
previews usage at 0: it does not count meter events). Prints the count of exact and different schedules
by kind (one order or an amended contract; phases) and each difference with its schedule and orders. A schedule
that starts in the future shows its rounding remainder missing: the item is pending on the customer until the
subscription exists, and the sandbox's preview of the schedule leaves it out (README, "Rounding remainder").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--dir", type=Path, default=None, help="sandbox directory (a temporary one by default)")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="money-check-"))
    os.environ["CPQ_SYNC_SANDBOX"] = str(directory)

    from bench.sync_bench import sync_once
    from cpq_sync.ops import invariants
    from cpq_sync.sandbox import salesforce as sandbox_sf
    from cpq_sync.sandbox.stripe import billing_preview
    from cpq_sync.sync import Mode

    sandbox_sf.seed_org(directory, orders=args.orders, seed=args.seed)
    report, wall, _, _ = sync_once(Mode.FULL, dry_run=False)
    print(f"{args.orders} orders (seed {args.seed}) in {directory}: {len(report.synced_orders)} synced, "
          f"{len(report.failed)} failed, {wall:.0f} s")  # fmt: skip
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
        sold = invariants.cents_sold(sf, *order_ids, usage=not metered)
        counts[f"{kind}: {'exact' if billed == sold else 'different'}"] += 1
        if billed != sold:
            different.append((stripe_id, schedule.status, order_ids, sold, billed))
    for label, count in sorted(counts.items()):
        print(f"  {label:45s} {count}")
    for stripe_id, status, order_ids, sold, billed in different:
        print(
            f"  {stripe_id} ({status}) orders {', '.join(order_ids)}: sold {sold}, billed {billed} ({billed - sold:+d})"
        )


if __name__ == "__main__":
    main()
