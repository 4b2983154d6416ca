"""The sandbox clock, persisted in the directory (like a Stripe test clock): ``None`` means real time."""

from __future__ import annotations

from datetime import UTC, datetime

from cpq_sync.sandbox.stripe.store import Store

_KEY = "clock"


def read_clock(store: Store) -> datetime:
    frozen = store.get_state(_KEY)
    if frozen is None:
        return datetime.now(UTC)
    return datetime.fromtimestamp(float(frozen), UTC)


def write_clock(store: Store, when: datetime | None) -> None:
    if when is not None and when.tzinfo is None:
        raise ValueError("set_clock needs an aware datetime (e.g. datetime(2026, 1, 1, tzinfo=UTC))")
    store.set_state(_KEY, None if when is None else when.timestamp())
