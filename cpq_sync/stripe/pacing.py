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
    def __call__(self) -> None:
        """Blocks until one more request may be sent, counted across every process that shares the gate."""


class Pacer:
    def __init__(self, requests_per_second: float, *, shared: SharedGate | None = None) -> None:
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        self._interval = 1.0 / requests_per_second
        self._next = time.monotonic()
        self._lock = threading.Lock()
        self._shared = shared
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
            self._shared()
