"""Fault injection, deterministic from a seed: 429, 500/503, connection errors, timeouts after apply, latency
(steady, and spikes on some requests)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from pydantic import BaseModel, Field

from cpq_sync.sandbox.stripe.store import Store

_KEY = "faults"


class StripeFaults(BaseModel):
    """Faults the sandbox injects. Rates are probabilities per request (0..1)."""

    seed: int = 0
    latency_ms: float = Field(default=0, ge=0)
    latency_spike_rate: float = Field(default=0, ge=0, le=1)  # requests that wait latency_spike_ms more
    latency_spike_ms: float = Field(default=0, ge=0)
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    server_error_rate: float = Field(default=0, ge=0, le=1)
    connection_error_rate: float = Field(default=0, ge=0, le=1)
    timeout_after_apply_rate: float = Field(default=0, ge=0, le=1)


def save_faults(store: Store, faults: StripeFaults | None) -> None:
    store.set_state(_KEY, None if faults is None else faults.model_dump())


def load_faults(store: Store) -> StripeFaults | None:
    raw = store.get_state(_KEY)
    return None if raw is None else StripeFaults.model_validate(raw)


@dataclass
class Draws:
    """The outcome of one request's draws (made in a fixed order, so a seed replays the same faults)."""

    connection_error: bool
    server_error: int | None
    timeout_after_apply: bool
    latency_seconds: float = 0.0
    latency_spike: bool = False


class FaultDice:
    """Per-client random source; one :meth:`roll` per request attempt."""

    def __init__(self) -> None:
        self._rng: random.Random | None = None
        self._seed: int | None = None

    def roll(self, faults: StripeFaults) -> Draws:
        if self._rng is None or self._seed != faults.seed:
            self._rng = random.Random(faults.seed)
            self._seed = faults.seed
        rng = self._rng
        connection = rng.random() < faults.connection_error_rate
        server = rng.random() < faults.server_error_rate
        status = 503 if rng.random() < 0.5 else 500
        timeout = rng.random() < faults.timeout_after_apply_rate
        spike = bool(faults.latency_spike_rate) and rng.random() < faults.latency_spike_rate  # drawn only if asked
        latency = faults.latency_ms + (faults.latency_spike_ms if spike else 0)
        return Draws(connection, status if server else None, timeout, latency / 1000.0, spike)


def over_rate_limit(store: Store, per_second: float) -> bool:
    """Sliding one-second window shared by every process using the directory (call inside a transaction)."""
    now = time.time()
    conn = store.db
    conn.execute("DELETE FROM rate_window WHERE at < ?", (now - 1.0,))
    count = int(conn.execute("SELECT count(*) FROM rate_window").fetchone()[0])
    if count >= per_second:
        return True
    conn.execute("INSERT INTO rate_window (at) VALUES (?)", (now,))
    return False
