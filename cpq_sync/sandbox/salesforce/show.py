"""``cpq-sync sandbox show``: what the sandbox org holds, as rich tables (counts, then a sample of orders)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from cpq_sync.sandbox.salesforce.store import OrgStore, table

ORDERS_SHOWN = 20

_ORDERS_SQL = f"""
SELECT o."OrderNumber", a."Name", o."Status", o."Type", o."EffectiveDate", q."SBQQ__SubscriptionTerm__c",
       (SELECT COUNT(*) FROM {table("OrderItem")} i WHERE i."OrderId" = o."Id" AND i."IsDeleted" = 0),
       o."TotalAmount", o."CurrencyIsoCode", o."Stripe_ID__c", o."Description"
FROM {table("Order")} o
LEFT JOIN {table("Account")} a ON a."Id" = o."AccountId"
LEFT JOIN {table("SBQQ__Quote__c")} q ON q."Id" = o."SBQQ__Quote__c"
WHERE o."IsDeleted" = 0
ORDER BY o."OrderNumber"
LIMIT ?
"""


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def show(directory: str | Path, console: Console, *, limit: int = ORDERS_SHOWN) -> None:
    """Print the number of records per object (live and in the recycle bin), then the first orders."""
    store = OrgStore.open(directory)
    counts = Table(title=f"Sandbox Salesforce org in {Path(directory)}  (clock {store.now():%Y-%m-%d %H:%M} UTC)")
    counts.add_column("Object")
    counts.add_column("Records", justify="right")
    counts.add_column("In recycle bin", justify="right")
    with store.snapshot() as conn:
        for name in sorted(store.schema.objects):
            live, deleted = conn.execute(
                f'SELECT COALESCE(SUM("IsDeleted" = 0), 0), COALESCE(SUM("IsDeleted" = 1), 0) FROM {table(name)}'
            ).fetchone()
            if live or deleted:
                counts.add_row(name, f"{live:,}", f"{deleted:,}" if deleted else "")
        total_orders = conn.execute(f'SELECT COUNT(*) FROM {table("Order")} WHERE "IsDeleted" = 0').fetchone()[0]
        rows = conn.execute(_ORDERS_SQL, (limit,)).fetchall()
    console.print(counts)
    if not total_orders:
        console.print("No orders: seed the org with `cpq-sync sandbox seed`.")
        return
    orders = Table(title=f"Orders ({total_orders:,})")
    for column, justify in (
        ("Number", "left"),
        ("Account", "left"),
        ("Status", "left"),
        ("Type", "left"),
        ("Kind", "left"),
        ("Start", "left"),
        ("Term", "right"),
        ("Lines", "right"),
        ("Total", "right"),
        ("Currency", "left"),
        ("Stripe_ID__c", "left"),
    ):
        orders.add_column(column, justify=justify)  # type: ignore[arg-type]
    for number, account, status, type_, start, term, lines, total, currency, stripe_id, description in rows:
        kind = description.removeprefix("kind: ") if description and description.startswith("kind: ") else ""
        orders.add_row(
            number,
            account or "",
            status,
            type_ or "",
            kind,
            start,
            "evergreen" if term is None and kind.startswith("evergreen") else ("" if term is None else f"{term:g} mo"),
            str(lines),
            _money(total),
            currency or "",
            stripe_id or "",
        )
    console.print(orders)
    if total_orders > len(rows):
        console.print(f"... and {total_orders - len(rows):,} more orders")
