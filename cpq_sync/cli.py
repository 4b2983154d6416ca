"""`cpq-sync`: run the sync, and look after the two sandboxes.

Exit codes of `sync`: 0 everything synced, 1 some records failed (their Sync Records say why), 2 configuration error.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cpq_sync.errors import ConfigError

app = typer.Typer(help="Keeps Stripe Billing in step with Salesforce CPQ.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The sandbox Salesforce org and sandbox Stripe account.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
console = Console()


def _sandbox_dir() -> Path:
    return Path(os.environ.get("CPQ_SYNC_SANDBOX", ".sandbox"))


@app.command()
def sync(
    full: Annotated[bool, typer.Option("--full", help="Full backfill from the sync start date.")] = False,
    order: Annotated[list[str] | None, typer.Option("--order", help="Sync this Order id (repeatable).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging (secrets are masked).")] = False,
) -> None:
    """Sync Salesforce CPQ into Stripe (incremental by default)."""
    _quiet_prefect(verbose)
    from cpq_sync import redact
    from cpq_sync.report import print_plan, print_summary
    from flows.sync import SyncParameters, sync_flow

    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)
    redact.install()
    try:
        report = sync_flow(SyncParameters(full=full, order_ids=list(order or []), dry_run=dry_run))
    except ConfigError as exc:
        console.print(f"[bold red]Configuration error:[/] {exc}")
        raise typer.Exit(2) from None
    if dry_run and report.plan is not None:
        print_plan(report.plan, console)
    print_summary(report, console)
    _where_to_look(report.run_url)
    if not report.ok:
        raise typer.Exit(1)


def _quiet_prefect(verbose: bool) -> None:
    """The CLI prints its own summary; Prefect's per-task lines are for the UI and --verbose."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "cpq_sync,stripe,simple_salesforce")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _where_to_look(run_url: str | None) -> None:
    if os.environ.get("PREFECT_API_URL") and run_url:
        console.print(f"This run in the Prefect UI: {run_url}")
    else:
        console.print(
            "This run used a temporary Prefect server. To watch runs in the Prefect UI, start one with "
            "[bold]uv run prefect server start[/] and run with "
            "[bold]PREFECT_API_URL=http://127.0.0.1:4200/api[/] (UI at http://127.0.0.1:4200)."
        )
    console.print("What the sandboxes hold now: [bold]uv run cpq-sync sandbox show[/]")


@sandbox_app.command("seed")
def sandbox_seed(
    orders: Annotated[int, typer.Option(help="How many orders (every kind is present from 40).")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same org.")] = 7,
) -> None:
    """Fill the sandbox org with a realistic CPQ company."""
    from cpq_sync.sandbox.salesforce import seed_org

    summary = seed_org(_sandbox_dir(), orders=orders, seed=seed)
    console.print(summary)


@sandbox_app.command("show")
def sandbox_show() -> None:
    """Print what the sandbox org and the sandbox Stripe account hold."""
    from cpq_sync.sandbox import salesforce, stripe

    salesforce.show(_sandbox_dir(), console)
    stripe.show(_sandbox_dir(), console)


@sandbox_app.command("reset")
def sandbox_reset() -> None:
    """Empty both sandboxes."""
    from cpq_sync.sandbox import salesforce, stripe

    salesforce.reset(_sandbox_dir())
    stripe.reset(_sandbox_dir())
    console.print(f"Emptied the sandboxes in {_sandbox_dir()}")


if __name__ == "__main__":
    app()
