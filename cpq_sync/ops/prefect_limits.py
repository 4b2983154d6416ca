"""Prefect global concurrency limits that keep runs and workers out of each other's way.

- `cpq-sync-writer` (1 slot): held by a sync run from its extraction to its last write-back, so two runs never work
  on the same order at once. One slot rather than one limit per order: the orders of an incremental run are only
  known after extraction, and the run's plan (create, update or skip, from the Stripe ids read at extraction) must
  not go stale under another run's writes. Stripe's request rate is the bottleneck and is shared anyway, so
  serialising the writers costs little. A run by hand (`cpq-sync sync`) takes it too whenever the server is shared
  (`server_is_shared`), so it never races a scheduled run. Dry runs read only and do not take it.
- `cpq-sync-stripe-requests` (a rate limit: slots decay at the Stripe request rate): one slot per Stripe request,
  so the rate holds across every run and worker of the server (`rate_limit`). The library's own `Pacer` still
  spaces each process's requests; this gate is plugged into it through `SharedGate`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.concurrency.sync import concurrency, rate_limit
from prefect.exceptions import ObjectNotFound
from prefect.settings import get_current_settings

log = logging.getLogger(__name__)

WRITER_LIMIT = "cpq-sync-writer"
STRIPE_RATE_LIMIT = "cpq-sync-stripe-requests"


def ensure_limits(stripe_requests_per_second: float) -> None:
    """Creates (or re-sizes) the two limits on the current Prefect server; idempotent."""
    rate = max(1, round(stripe_requests_per_second))
    wanted: dict[str, dict[str, Any]] = {
        WRITER_LIMIT: {"limit": 1, "slot_decay_per_second": 0.0},
        STRIPE_RATE_LIMIT: {"limit": rate, "slot_decay_per_second": float(stripe_requests_per_second)},
    }
    with get_client(sync_client=True) as client:
        for name, spec in wanted.items():
            try:
                current = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, active=True, **spec))
                continue
            if current.limit != spec["limit"] or current.slot_decay_per_second != spec["slot_decay_per_second"]:
                client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(**spec))


# The slot is leased, and the lease renewed while the run holds it: a run killed outright (SIGKILL, a lost worker)
# blocks the others for at most this long, not until someone frees the slot by hand.
WRITER_LEASE_SECONDS = 60.0  # the server's minimum


@contextmanager
def writer_slot(timeout_seconds: float | None = None) -> Iterator[None]:
    """The one writer slot; waits while another run holds it."""
    with concurrency(
        WRITER_LIMIT,
        occupy=1,
        timeout_seconds=timeout_seconds,
        lease_duration=WRITER_LEASE_SECONDS,
        strict=True,
        raise_on_lease_renewal_failure=False,
    ):
        yield


def server_is_shared() -> bool:
    """Whether runs talk to a Prefect server other processes can reach (PREFECT_API_URL set: the local stack, a
    team's server, Prefect Cloud), rather than to a temporary server of their own process."""
    return get_current_settings().api.url is not None


def stripe_request_gate(slots: int = 1) -> None:
    """A `SharedGate`: blocks until the server-wide Stripe request rate allows `slots` more requests."""
    rate_limit(STRIPE_RATE_LIMIT, occupy=slots, strict=True)
