"""Fixtures of the integration tests: the product's steps through the real clients on a fresh sandbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty sandbox directory the sync targets (never a real org or account: their variables are unset)."""
    for name in [n for n in os.environ if n.startswith(("SALESFORCE_", "STRIPE_"))]:
        monkeypatch.delenv(name)
    directory = tmp_path / "sandbox"
    monkeypatch.setenv("CPQ_SYNC_SANDBOX", str(directory))
    monkeypatch.setenv("CPQ_SYNC_STRIPE_REQUESTS_PER_SECOND", "2000")  # no latency or limit here: not timed
    yield directory
