"""Paces Stripe requests to a rate instead of bouncing off Stripe's limit (one pacer shared by all threads).

The pacer spaces this process's requests evenly, a little under the configured rate (`HEADROOM`): requests leave
evenly spaced but reach Stripe with some jitter, and Stripe counts them in a sliding second, so pacing at exactly
the limit would see some answered 429 (each costing a retry and its back-off). A request also waits until the
requests sent in the last second are fewer than the pace allows, so threads held up together (e.g. by a garbage
collection) do not leave in a burst. Saturating the rate also takes
enough requests in flight: `in_flight` is rate x latency, so the appliers run at least that many at once.

Where several runs and workers share one Stripe account, a `SharedGate` (any callable that blocks until the caller
may send one request, e.g. a Prefect global rate limit, see `cpq_sync.ops.rate_limit`) holds the rate across all of
them; without one the library works on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

import stripe

HEADROOM = 0.97  # of the configured rate: 3% absorbs the jitter of when requests reach Stripe (30 ms a second)
STRIPE_LATENCY_SECONDS = 0.3  # a Stripe write's usual round trip, for sizing the requests in flight
# After a 429 (Stripe's limit is per account: other integrations spend it too) the pace drops by CUT, at most once a
# second and never under FLOOR of the rate, then climbs back by RECOVERY of the rate a second. Under 429s every
# second the pace still falls (by 3% a second net); a lone 429 (jitter) costs little (5% for 2.5 s).
CUT, FLOOR, RECOVERY = 0.95, 0.5, 0.02


class SharedGate(Protocol):
    def __call__(self, slots: int) -> None:
        """Blocks until `slots` more requests may be sent, counted across every process that shares the gate."""


class Pacer:
    """`shared_batch`: slots reserved from the shared gate per call (a call to a remote gate costs a round trip;
    a batch of a quarter second of requests keeps the rate while making few calls)."""

    def __init__(
        self,
        requests_per_second: float,
        *,
        shared: SharedGate | None = None,
        shared_batch: int = 1,
        headroom: float = HEADROOM,
    ) -> None:
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        if shared_batch < 1:
            raise ValueError("shared_batch must be at least 1")
        if not 0 < headroom <= 1:
            raise ValueError("headroom must be in (0, 1]")
        self.rate = requests_per_second * headroom
        self._pace = self.rate  # the rate slots are handed out at now: `rate`, or less after a 429
        self._next = self._updated = time.monotonic()
        self._cut_at = float("-inf")
        self._lock = threading.Lock()
        self._shared = shared
        self._shared_lock = threading.Lock()
        self._shared_batch = shared_batch
        self._reserved = 0
        self._held = threading.local()  # a slot taken by `wait` for this thread's next request
        self._sent: deque[float] = deque()  # when the requests of the last second were sent
        self.requests = 0

    def share(self, gate: SharedGate | None, batch: int = 1) -> None:
        """Holds this pacer to a rate shared across runs and workers too (e.g. Prefect's), `batch` slots a call."""
        if batch < 1:
            raise ValueError("shared_batch must be at least 1")
        with self._shared_lock:
            self._shared, self._shared_batch, self._reserved = gate, batch, 0

    def in_flight(self, latency_seconds: float = STRIPE_LATENCY_SECONDS) -> int:
        """Requests that must be in flight at once to keep the rate when each takes `latency_seconds`."""
        return max(1, math.ceil(self.rate * latency_seconds))

    def wait(self) -> None:
        """Blocks until this caller's slot, and holds it for this thread's next request: a paced transport
        (`PacedHTTPClient`) sends that request in it instead of taking a second slot."""
        self._take()
        self._held.slot = True

    def admit(self) -> None:
        """Called for every request a paced transport sends: in the slot this thread holds, or in a new one (the
        SDK's retries of a 429 or a 5xx, and requests no caller paced, are paced too). Then the request waits until
        the last second holds fewer than the pace allows (`_window`)."""
        if getattr(self._held, "slot", False):
            self._held.slot = False
        else:
            self._take()
        self._window()

    def _window(self) -> None:
        """Stripe counts requests in a sliding second. Slots are evenly spaced, but threads that were held up (a
        garbage collection, a busy interpreter, a slow DNS lookup) all send when they run again, and such a burst
        would be answered 429 whatever the average rate. So a request also waits until the sends of the last
        second are fewer than the pace plus one (what even spacing gives): bursts are smoothed where they
        form, which lets the pace run closer to the limit."""
        while True:
            with self._lock:
                now = time.monotonic()
                sent = self._sent
                while sent and sent[0] <= now - 1.0:
                    sent.popleft()
                if len(sent) < math.floor(self._pace) + 1:
                    sent.append(now)
                    return
                delay = sent[0] + 1.0 - now
            time.sleep(max(delay, 0.0005))

    @property
    def pace(self) -> float:
        with self._lock:
            self._recover(time.monotonic())
            return self._pace

    def throttled(self) -> None:
        """Stripe answered 429: slow down (the rate is shared with whatever else uses the account)."""
        with self._lock:
            now = time.monotonic()
            self._recover(now)
            if now - self._cut_at >= 1.0:
                self._pace = max(self.rate * FLOOR, self._pace * CUT)
                self._cut_at = now

    def _recover(self, now: float) -> None:
        self._pace = min(self.rate, self._pace + self.rate * RECOVERY * (now - self._updated))
        self._updated = now

    def _take(self) -> None:
        """Slots are handed out evenly spaced, then the shared gate (if any)."""
        with self._lock:
            now = time.monotonic()
            self._recover(now)
            slot = max(now, self._next)
            self._next = slot + 1.0 / self._pace
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


class PacedHTTPClient(stripe.HTTPClient):
    """The SDK's HTTP client, each request sent in a slot of the pacer (when one is set): the SDK runs its retries
    above `request`, so a retried 429 waits for its slot like any request instead of adding to the burst."""

    name = "paced"

    def __init__(self, inner: stripe.HTTPClient, pacer: Pacer | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.pacer = pacer

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        if self.pacer is None:
            return self.inner.request(method, url, headers, post_data, _usage=_usage)
        self.pacer.admit()
        response = self.inner.request(method, url, headers, post_data, _usage=_usage)
        if response[1] == 429:
            self.pacer.throttled()
        return response

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        if self.pacer is None:
            return self.inner.request_stream(method, url, headers, post_data, _usage=_usage)
        self.pacer.admit()
        response = self.inner.request_stream(method, url, headers, post_data, _usage=_usage)
        if response[1] == 429:
            self.pacer.throttled()
        return response

    def close(self) -> None:
        self.inner.close()  # type: ignore[no-untyped-call]
