"""Paces Stripe requests to a rate instead of bouncing off Stripe's limit (one pacer shared by all threads).

The pacer spaces this process's requests evenly. Where several runs and workers share one Stripe account, a
`SharedGate` (any callable that blocks until the caller may send one request, e.g. a Prefect global rate limit,
see `cpq_sync.ops.rate_limit`) holds the rate across all of them; without one the library works on its own.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class SharedGate(Protocol):
    def __call__(self, slots: int) -> None:
        """Blocks until `slots` more requests may be sent, counted across every process that shares the gate."""


class Pacer:
    """`shared_batch`: slots reserved from the shared gate per call (a call to a remote gate costs a round trip;
    a batch of a quarter second of requests keeps the rate while making few calls)."""

    def __init__(self, requests_per_second: float, *, shared: SharedGate | None = None, shared_batch: int = 1) -> None:
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        if shared_batch < 1:
            raise ValueError("shared_batch must be at least 1")
        self._interval = 1.0 / requests_per_second
        self._next = time.monotonic()
        self._lock = threading.Lock()
        self._shared = shared
        self._shared_lock = threading.Lock()
        self._shared_batch = shared_batch
        self._reserved = 0
        self.requests = 0

    def wait(self) -> None:
        """Blocks until this caller's slot; slots are handed out evenly spaced, then the shared gate (if any)."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
            self.requests += 1
        delay = slot - now
        if delay > 0:
            time.sleep(delay)
        if self._shared is not None:
            with self._shared_lock:
                if self._reserved == 0:
                    self._shared(self._shared_batch)
                    self._reserved = self._shared_batch
                self._reserved -= 1
