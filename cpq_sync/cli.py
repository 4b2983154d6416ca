"""`cpq-sync`: run the sync, and look after the two sandboxes.

Exit codes of `sync`: 0 everything synced, 1 some records failed (their Sync Records say why), 2 configuration error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from cpq_sync.errors import ConfigError

if TYPE_CHECKING:
    from cpq_sync.config import SyncPreferences
    from cpq_sync.ops.live import LiveSync
    from cpq_sync.ops.stack import Stack

T = TypeVar("T")

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
    from flows.sync import SyncParameters, by_hand, sync_flow

    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)
    redact.install()
    try:
        with by_hand():
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


@app.command()
def reconcile(
    fix: Annotated[bool, typer.Option("--fix", help="Repair the drift: Stripe set back to Salesforce.")] = False,
    recreate_ended: Annotated[
        bool,
        typer.Option(
            "--recreate-ended",
            help="With --fix: recreate schedules cancelled or released in Stripe (billing from the order's start).",
        ),
    ] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON here.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging (secrets are masked).")] = False,
) -> None:
    """Compare Stripe with Salesforce for every synced record and print each difference with both values.

    Exit codes: 0 no drift (or all of it repaired by --fix), 1 drift found, 2 configuration or other error."""
    from cpq_sync import redact
    from cpq_sync.config import load_settings
    from cpq_sync.reconcile.render import print_report
    from cpq_sync.reconcile.run import run_reconcile

    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)
    _quiet_prefect(verbose)
    redact.install()
    if recreate_ended and not fix:
        console.print("[bold red]--recreate-ended only goes with --fix[/]")
        raise typer.Exit(2)
    try:
        report, _ = run_reconcile(load_settings(), fix=fix, recreate_ended=recreate_ended)
    except ConfigError as exc:
        console.print(f"[bold red]Configuration error:[/] {exc}")
        raise typer.Exit(2) from None
    except Exception as exc:
        console.print(f"[bold red]Reconcile failed:[/] {redact.redact(f'{type(exc).__name__}: {exc}', [])}")
        raise typer.Exit(2) from None
    if json_path is not None:
        json_path.write_text(report.model_dump_json(indent=2))
    print_report(report, console)
    raise typer.Exit(report.exit_code)


def _quiet_prefect(verbose: bool) -> None:
    """The CLI prints its own summary; Prefect's per-task lines are for the UI and --verbose."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "cpq_sync,stripe,simple_salesforce")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    for name in ("cpq_sync", "stripe", "simple_salesforce"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)


def _where_to_look(run_url: str | None) -> None:
    if os.environ.get("PREFECT_API_URL") and run_url:
        console.print(f"This run in the Prefect UI: {run_url}")
    else:
        console.print(
            "This run used a temporary Prefect server. To run the sync from the Prefect UI, start the local stack "
            "with [bold]uv run cpq-sync up[/] (UI at http://127.0.0.1:4200)."
        )
    console.print("What the sandboxes hold now: [bold]uv run cpq-sync sandbox show[/]")


def _stack(port: int | None = None) -> Stack:
    """The local stack in `<sandbox>/prefect`; its port is remembered there by `up` for `down` and `live`."""
    from cpq_sync.ops.stack import Stack

    sandbox = _sandbox_dir().resolve()
    home = sandbox / "prefect"
    remembered = home / "port"
    if port is None:
        port = int(remembered.read_text()) if remembered.exists() else 4200
    return Stack(home=home, port=port, extra_env={"CPQ_SYNC_SANDBOX": str(sandbox)})


def _api_url() -> str:
    """The server to talk to: PREFECT_API_URL, else the local stack of `cpq-sync up`."""
    return os.environ.get("PREFECT_API_URL") or _stack().api_url


@app.command()
def up(
    demo: Annotated[bool, typer.Option(help="Run one sync of the demo company and print its summary.")] = True,
    port: Annotated[int, typer.Option(help="Port of the Prefect server and UI on 127.0.0.1.")] = 4200,
) -> None:
    """Start a local Prefect stack: server (UI at http://127.0.0.1:4200), deployments, Secret block, worker."""
    from cpq_sync.ops.credentials import credentials_from
    from cpq_sync.ops.runs import PrefectApi
    from cpq_sync.ops.stack import StackError

    _quiet_prefect(False)
    stack = _stack()
    if not stack.running("server"):
        stack = _stack(port)
    if stack.running("server"):
        console.print(f"The local stack is already running: Prefect UI at [bold]{stack.ui_url}[/] ({stack.home}).")
        return
    try:
        console.print(f"Starting the Prefect server (PREFECT_HOME={stack.home}) ...")
        stack.start_server()
        (stack.home / "port").write_text(str(stack.port))
        console.print("Registering the deployments of prefect.yaml ...")
        stack.deploy()
        values = credentials_from(os.environ)
        if values:
            _with_api(stack.api_url, lambda: _register(values))
        interval = _preferences().live_sync_interval_seconds
        _with_api(stack.api_url, lambda: _set_live(None, interval))
        stack.start_worker()
    except StackError as exc:
        console.print(f"[bold red]{exc}[/]")
        stack.stop()
        raise typer.Exit(2) from None
    console.print(f"Prefect UI: [bold]{stack.ui_url}[/] (Deployments: incremental, full-backfill, sync-orders, ...)")
    console.print(f"Logs and PID files: {stack.home}; stop everything with [bold]uv run cpq-sync down[/]")
    console.print("Live sync is off: [bold]uv run cpq-sync live on[/] (or the schedule toggle of `incremental`).")
    if demo:
        api = PrefectApi(stack.api_url)
        console.print("Running one sync of the demo company (deployment full-backfill) ...")
        result = api.run("sync/full-backfill", {}, timeout=600)
        console.print(f"Run {result.state}: {stack.ui_url}/runs/flow-run/{result.id}")
        if result.message and result.state != "COMPLETED":
            console.print(result.message)
        console.print(result.summary)


@app.command()
def down() -> None:
    """Stop exactly the processes `cpq-sync up` started (by their PID files)."""
    stopped = _stack().stop()
    console.print(f"Stopped {len(stopped)} processes: {', '.join(map(str, stopped)) or 'none were running'}")


@app.command()
def live(
    switch: Annotated[str, typer.Argument(help="on | off | status")],
    interval: Annotated[int | None, typer.Option(help="Seconds between runs (default: the preference).")] = None,
) -> None:
    """Turn live syncing on or off: the active flag of the `incremental` deployment's schedule."""
    if switch not in ("on", "off", "status"):
        console.print("[bold red]live takes on, off or status[/]")
        raise typer.Exit(2)
    active = None if switch == "status" else switch == "on"
    if active and interval is None:
        interval = _preferences().live_sync_interval_seconds
    state = _with_api(_api_url(), lambda: _set_live(active, interval))
    every = f" every {state.interval_seconds:.0f}s" if state.interval_seconds else ""
    console.print(f"Live sync is {'on' if state.active else 'off'}{every}.")


@app.command()
def configure() -> None:
    """Store the credentials of this environment (SALESFORCE_*, STRIPE_API_KEY) in the Prefect Secret block
    `cpq-sync-credentials` of the current server, for workers without them in their environment."""
    from cpq_sync.ops.credentials import BLOCK_NAME, credentials_from

    values = credentials_from(os.environ)
    if not values:
        console.print("[bold red]No SALESFORCE_* or STRIPE_API_KEY variable in this environment: nothing to store.[/]")
        raise typer.Exit(2)
    names = _with_api(_api_url(), lambda: _register(values))
    console.print(f"Stored {', '.join(names)} in the Secret block {BLOCK_NAME} (values are not printed).")


def _register(values: dict[str, str]) -> list[str]:
    from cpq_sync.ops.credentials import register_secret_block

    return register_secret_block(values)


def _set_live(active: bool | None, interval: int | None) -> LiveSync:
    from cpq_sync.ops.live import set_live_sync

    return set_live_sync(active, interval_seconds=interval)


def _preferences() -> SyncPreferences:
    from cpq_sync.config import RuntimeSettings, load_preferences

    return load_preferences(RuntimeSettings().mappings_dir)


def _with_api(url: str, fn: Callable[[], T]) -> T:
    import httpx
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with temporary_settings({PREFECT_API_URL: url}):
            return fn()
    except httpx.ConnectError:
        console.print(
            f"[bold red]No Prefect server at {url}[/]: start the local stack with [bold]uv run cpq-sync up[/], "
            "or set PREFECT_API_URL."
        )
        raise typer.Exit(2) from None


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
