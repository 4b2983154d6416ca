"""The reliability tests share the end-to-end fixtures (one Prefect server per test process for this folder)."""

from tests.e2e.conftest import prefect_server, sandbox

__all__ = ["prefect_server", "sandbox"]
