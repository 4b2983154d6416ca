"""`cpq-sync up` (the README's first command) and `cpq-sync down`, as a user runs them, on a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.xdist_group("prefect-stack"), pytest.mark.slow]


def _cli(env: dict[str, str], *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cpq_sync.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_up_runs_the_demo_sync_on_a_local_stack_and_down_stops_what_it_started(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SALESFORCE_", "STRIPE_", "CPQ_SYNC_"))}
    env["CPQ_SYNC_SANDBOX"] = str(tmp_path / ".sandbox")
    env["COLUMNS"] = "200"
    home = tmp_path / ".sandbox" / "prefect"
    pids: list[int] = []
    try:
        up = _cli(env, "up", "--port", str(port))
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"Prefect UI: http://127.0.0.1:{port}" in up.stdout
        assert "Run COMPLETED" in up.stdout and f"http://127.0.0.1:{port}/runs/flow-run/" in up.stdout
        assert "cpq-stripe-sync: full sync" in up.stdout and "orders read" in up.stdout
        pids = [json.loads((home / f"{name}.pid").read_text())["pid"] for name in ("server", "worker")]
        assert all(Path(f"/proc/{pid}").exists() for pid in pids)

        status = _cli(env, "live", "status", timeout=120)
        assert "Live sync is off every 60s" in status.stdout, status.stdout + status.stderr
    finally:
        down = _cli(env, "down", timeout=120)
    assert down.returncode == 0 and "Stopped 2 processes" in down.stdout, down.stdout + down.stderr
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    assert not (home / "server.pid").exists() and not (home / "worker.pid").exists()
