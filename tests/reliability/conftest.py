"""Reliability fixtures: the two sandboxes in a temporary directory as the sync's target, without Prefect (tests
that need the Prefect server ask for `prefect_server`: one per test process, shared with the end-to-end tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import CREDENTIAL_VARS, free_writer_slot, prefect_server
from tests.reliability.matrix import Trial, table


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh pair of sandboxes as the sync's target (no credentials in the environment, no Prefect)."""
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "sandbox"
    monkeypatch.setenv("CPQ_SYNC_SANDBOX", str(directory))
    return directory


__all__ = ["fault_matrix", "free_writer_slot", "prefect_server", "sandbox"]

_TRIALS: list[Trial] = []


@pytest.fixture(scope="session")
def fault_matrix() -> list[Trial]:
    """The fault matrix's trials of this session, printed in the terminal summary."""
    return _TRIALS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _TRIALS:
        terminalreporter.write_sep("=", "fault matrix")
        terminalreporter.write_line(table(_TRIALS))
