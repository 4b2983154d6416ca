"""Reliability fixtures: the two sandboxes in a temporary directory as the sync's target, paced for tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import CREDENTIAL_VARS


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh pair of sandboxes as the sync's target (no credentials in the environment, no Prefect)."""
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "sandbox"
    monkeypatch.setenv("CPQ_SYNC_SANDBOX", str(directory))
    return directory
