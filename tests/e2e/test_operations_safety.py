"""Concurrency, credentials and failure reporting of the sync on a Prefect server (the session's test server):
the writer slot, the server-wide Stripe rate limit, the Secret block, and a failed run's state message."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from cpq_sync.ops.credentials import BLOCK_NAME, apply_secret_blocks, load_secret_block, register_secret_block
from cpq_sync.ops.prefect_limits import WRITER_LIMIT, ensure_limits, stripe_request_gate, writer_slot
from cpq_sync.stripe.pacing import Pacer
from flows.sync import SyncParameters, sync_flow

pytestmark = pytest.mark.xdist_group("prefect")


def test_the_stripe_rate_holds_across_pacers_sharing_the_prefect_rate_limit(prefect_server: None) -> None:
    ensure_limits(stripe_requests_per_second=10)
    # Two pacers (two runs, two workers) each allowed 100 requests/s on their own; the shared gate holds both to 10/s.
    # One takes its slots one by one, the other in batches of 5 (as the sync does: fewer calls to the server).
    pacers = [Pacer(100, shared=stripe_request_gate), Pacer(100, shared=stripe_request_gate, shared_batch=5)]
    started = time.monotonic()

    def burst(pacer: Pacer) -> None:
        for _ in range(15):
            pacer.wait()

    threads = [threading.Thread(target=burst, args=(p,)) for p in pacers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    # 30 requests at 10/s with a burst of 10 slots: at least ~2 s, where the pacers alone need 0.15 s.
    assert elapsed >= 1.8, elapsed
    assert sum(p.requests for p in pacers) == 30


def test_the_pacer_works_without_a_prefect_server() -> None:
    pacer = Pacer(50)
    started = time.monotonic()
    for _ in range(10):
        pacer.wait()
    assert 0.15 <= time.monotonic() - started < 2
    assert pacer.requests == 10


def test_a_second_writer_waits_for_the_first(prefect_server: None) -> None:
    ensure_limits(stripe_requests_per_second=20)
    # Not an in-process attempt that times out: Prefect keeps retrying a timed-out acquisition in the background,
    # and that ghost would take the slot later and hold it for the rest of the session (the waiting itself is
    # tested with two real runs in test_hand_run_writer_slot.py).
    with writer_slot():
        assert _writer_slots_taken() == 1  # the only slot: another run waits
    with writer_slot(timeout_seconds=5):  # free again once the first run is done
        pass


def _writer_slots_taken() -> int:
    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(WRITER_LIMIT).active_slots


def test_credentials_from_the_secret_block_never_override_the_environment(
    prefect_server: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_placeholder")  # restored to what it was (unset) afterwards
    monkeypatch.delenv("STRIPE_API_KEY")
    monkeypatch.setenv("SALESFORCE_USERNAME", "from-env@example.com")
    register_secret_block({"STRIPE_API_KEY": "sk_test_fromblock", "SALESFORCE_USERNAME": "from-block@example.com"})
    assert load_secret_block() == {
        "STRIPE_API_KEY": "sk_test_fromblock",
        "SALESFORCE_USERNAME": "from-block@example.com",
    }
    assert apply_secret_blocks() == ["STRIPE_API_KEY"]
    assert os.environ["STRIPE_API_KEY"] == "sk_test_fromblock"
    assert os.environ["SALESFORCE_USERNAME"] == "from-env@example.com"
    del os.environ["STRIPE_API_KEY"]
    with pytest.raises(ValueError, match="not credential variables"):
        register_secret_block({"PATH": "/bin"})
    # The block's value is obfuscated when read back through the API (as the UI shows it).
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name(BLOCK_NAME, "secret", include_secrets=False)
    assert "sk_test_fromblock" not in str(document.data)
    register_secret_block({})  # leave no credentials for the other tests


def test_a_failed_run_names_the_failed_step_and_why(
    sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "preferences.yaml").write_text("stripe_requests_per_second: -3\n")
    monkeypatch.setenv("CPQ_SYNC_MAPPINGS_DIR", str(mappings))
    state = sync_flow(SyncParameters(), return_state=True)
    assert state.is_failed()
    assert "step 'prepare' failed" in (state.message or "")
    assert "stripe_requests_per_second" in (state.message or "")
