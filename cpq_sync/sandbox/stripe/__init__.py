"""The sandbox Stripe account: a stateful emulator behind a real ``stripe.StripeClient``.

``connect(directory)`` returns a real client whose HTTP client serves ``DIR/stripe.sqlite3``; the SDK encodes,
retries and parses exactly as against Stripe. Every request is checked strictly against the SDK's parameter
types
for its pinned API version (``cpq_sync.stripe.param_types``). Search is immediately consistent here (Stripe's
is
eventually consistent, within a minute): do not rely on that in the sync.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import stripe

from cpq_sync.sandbox.stripe import request_log as _request_log
from cpq_sync.sandbox.stripe.billing.preview import PreviewInvoice, PreviewLine, billing_preview
from cpq_sync.sandbox.stripe.clock import read_clock, write_clock
from cpq_sync.sandbox.stripe.faults import StripeFaults, save_faults
from cpq_sync.sandbox.stripe.http_client import SandboxHTTPClient
from cpq_sync.sandbox.stripe.keys import SANDBOX_KEY, add_api_key
from cpq_sync.sandbox.stripe.request_log import LoggedRequest
from cpq_sync.sandbox.stripe.store import Store

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "SANDBOX_KEY",
    "LoggedRequest",
    "PreviewInvoice",
    "PreviewLine",
    "SandboxHTTPClient",
    "StripeFaults",
    "add_api_key",
    "billing_preview",
    "clear_request_log",
    "connect",
    "expire_idempotency_keys",
    "now",
    "request_log",
    "reset",
    "set_clock",
    "set_faults",
    "show",
]

API_KEY = SANDBOX_KEY


def connect(
    directory: str | Path,
    *,
    faults: StripeFaults | None = None,
    max_network_retries: int = 2,
    api_key: str = SANDBOX_KEY,
) -> stripe.StripeClient:
    """A real ``stripe.StripeClient`` serving the account in ``directory`` (faults=None: from set_faults),
    authenticated with ``api_key``: the account's own key, or one registered with ``add_api_key``."""
    return stripe.StripeClient(
        api_key=api_key,
        http_client=SandboxHTTPClient(directory, faults),
        max_network_retries=max_network_retries,
    )


def set_faults(directory: str | Path, faults: StripeFaults | None) -> None:
    """Persist faults in the directory, for every client connected without explicit faults (any process)."""
    save_faults(Store(directory), faults)


def request_log(directory: str | Path) -> list[LoggedRequest]:
    return _request_log.read(Store(directory))


def clear_request_log(directory: str | Path) -> None:
    _request_log.clear(Store(directory))


def expire_idempotency_keys(directory: str | Path) -> None:
    """Forget every saved idempotency key, as Stripe does after 24 hours (tests of recovery after a long outage)."""
    store = Store(directory)
    with store.db:
        store.db.execute("DELETE FROM idempotency")


def set_clock(directory: str | Path, when: datetime | None) -> None:
    """Freeze the sandbox clock at ``when`` (aware), like a Stripe test clock; None: real time."""
    write_clock(Store(directory), when)


def now(directory: str | Path) -> datetime:
    return read_clock(Store(directory))


def reset(directory: str | Path) -> None:
    """Empty the account: objects, idempotency keys, request log, clock and faults."""
    Store(directory).reset()


def show(directory: str | Path, console: Console) -> None:
    from cpq_sync.sandbox.stripe.show import show_account

    show_account(Store(directory), console)
