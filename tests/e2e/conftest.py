"""End-to-end fixtures: the two sandboxes in a temporary directory, one Prefect server for the whole session."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CREDENTIAL_VARS = [
    name
    for name in os.environ
    if name.startswith(("SALESFORCE_", "STRIPE_")) or name in ("CPQ_SYNC_SANDBOX", "CPQ_SYNC_MAPPINGS_DIR")
]


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server (API and database) shared by every end-to-end test of this process."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def free_writer_slot(request: pytest.FixtureRequest) -> None:
    """Each test that uses the Prefect server starts with the writer slot free. A run SIGKILLed by a crash test
    keeps its leased slot; a real server's lease reaper frees it within the lease (60 s), the test server runs no
    reaper, so the slot is freed here."""
    if "prefect_server" not in request.fixturenames:
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    from cpq_sync.ops.prefect_limits import WRITER_LIMIT

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
        client.update_global_concurrency_limit(WRITER_LIMIT, GlobalConcurrencyLimitUpdate(active_slots=0))


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: None) -> Path:
    """A fresh pair of sandboxes as the sync's target (no credentials in the environment)."""
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "sandbox"
    monkeypatch.setenv("CPQ_SYNC_SANDBOX", str(directory))
    return directory
