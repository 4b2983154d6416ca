"""Paces Stripe requests to a rate instead of bouncing off Stripe's limit (one pacer shared by all threads)."""

from __future__ import annotations

import threading
import time


class Pacer:
    def __init__(self, requests_per_second: float) -> None:
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        self._interval = 1.0 / requests_per_second
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Blocks until this caller's slot; slots are handed out evenly spaced."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        delay = slot - now
        if delay > 0:
            time.sleep(delay)
