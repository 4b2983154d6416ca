"""The pacer counts each request Stripe sees once (a caller's slot is used by its request, a retry takes a new one)
and slows down after a 429."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import stripe

from cpq_sync.stripe import pacing
from cpq_sync.stripe.pacing import PacedHTTPClient, Pacer


class Answers(stripe.HTTPClient):
    """A transport answering 429 to the first `limited` requests, then 200."""

    name = "answers"

    def __init__(self, limited: int) -> None:
        super().__init__()
        self.limited = limited
        self.sent = 0

    def request(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None, *, _usage: Any = None
    ) -> tuple[str, int, Mapping[str, str]]:
        self.sent += 1
        if self.sent <= self.limited:
            body = '{"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "slow down"}}'
            return body, 429, {"stripe-should-retry": "true"}  # what Stripe sends with a 429
        return '{"id": "cus_1", "object": "customer"}', 200, {}

    def close(self) -> None:
        pass


def test_a_paced_caller_and_the_transport_share_one_slot_and_a_retry_takes_another() -> None:
    pacer = Pacer(1000)
    transport = Answers(limited=2)
    client = stripe.StripeClient("sk_test_x", http_client=PacedHTTPClient(transport, pacer), max_network_retries=3)
    pacer.wait()  # the applier's slot, used by the first attempt
    customer = client.v1.customers.create({"name": "A"})
    assert customer.id == "cus_1"
    assert transport.sent == 3  # two 429s, then the answer
    assert pacer.requests == 3  # one slot per request Stripe saw, the retries' included
    assert pacer.pace < pacer.rate  # the 429s slowed it down


def test_after_a_429_the_pace_drops_once_a_second_at_most_then_climbs_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(pacing.time, "monotonic", lambda: clock[0])
    pacer = Pacer(100, headroom=1.0)
    cut = 100 * pacing.CUT
    pacer.throttled()
    pacer.throttled()  # the same burst: one cut
    assert pacer.pace == pytest.approx(cut)
    clock[0] += 1.0
    pacer.throttled()
    assert pacer.pace == pytest.approx((cut + 2) * pacing.CUT)  # climbed back 2 in the second, then cut again
    clock[0] += 60
    assert pacer.pace == 100  # back to the rate, never above


def test_threads_held_up_together_do_not_send_in_a_burst(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slots taken before a stall (e.g. a garbage collection) would all be sent when it ends; the last second's
    sends are capped at the pace (plus the one even spacing allows), so the rest wait for the window to move."""
    clock = [100.0]
    monkeypatch.setattr(pacing.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(pacing.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    pacer = Pacer(10, headroom=1.0)
    sent = []
    for _ in range(25):
        pacer._held.slot = True  # a slot reserved before the stall, already due
        pacer.admit()
        sent.append(clock[0])
    assert sent[:11] == [100.0] * 11
    assert all(later - earlier >= 1.0 for earlier, later in zip(sent, sent[11:], strict=False))
    assert max(sent) < 102.1


def test_an_unpaced_request_through_the_transport_takes_its_own_slot() -> None:
    pacer = Pacer(1000)
    client = stripe.StripeClient("sk_test_x", http_client=PacedHTTPClient(Answers(limited=0), pacer))
    client.v1.customers.create({"name": "A"})
    client.v1.customers.create({"name": "B"})
    assert pacer.requests == 2
