"""Fixtures shared by the contract modules of the sandbox Stripe account."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

LIVE_KEY = os.environ.get("STRIPE_API_KEY")


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "stripe"


@pytest.fixture(params=["sandbox", "stripe-test-mode"])
def live(request: pytest.FixtureRequest) -> bool:
    """Each contract test runs against the sandbox and, with STRIPE_API_KEY set, against Stripe test mode."""
    if request.param == "stripe-test-mode" and not LIVE_KEY:
        pytest.skip("STRIPE_API_KEY is not set: set a Stripe test-mode key to run the contract against Stripe too")
    return bool(request.param == "stripe-test-mode")
