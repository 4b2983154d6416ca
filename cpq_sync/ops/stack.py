"""A local Prefect stack for users and tests: a server on loopback with its own PREFECT_HOME, the deployments of
`prefect.yaml` registered, and a process worker. Every process it starts is recorded in a PID file and `stop`
ends exactly those (checking first that each PID still runs the command that was started).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cpq_sync.config import REPO_ROOT

POOL = "cpq-sync"


class StackError(RuntimeError):
    pass


@dataclass
class Stack:
    """Where the stack lives (`home`: PREFECT_HOME, PID files and logs) and where it listens."""

    home: Path
    repo: Path = REPO_ROOT
    host: str = "127.0.0.1"
    port: int = 4200
    extra_env: dict[str, str] = field(default_factory=dict)
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment of every process of the stack (and of the CLI talking to it)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            {
                "PREFECT_HOME": str(self.home),
                "PREFECT_API_URL": self.api_url,
                "PREFECT_UI_URL": self.ui_url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_SERVER_API_HOST": self.host,
                "PREFECT_SERVER_API_PORT": str(self.port),
                "PREFECT_CLI_PROMPT": "false",
                "PREFECT_LOGGING_EXTRA_LOGGERS": "cpq_sync,stripe,simple_salesforce",
                "CPQ_SYNC_HOME": str(self.repo),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------------ processes

    def _pid_file(self, name: str) -> Path:
        return self.home / f"{name}.pid"

    def _spawn(self, name: str, args: list[str]) -> int:
        self.home.mkdir(parents=True, exist_ok=True)
        if self.running(name):
            raise StackError(f"the {name} is already running (PID file {self._pid_file(name)})")
        log = (self.home / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", *args],
            cwd=self.repo,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self._procs[name] = proc
        self._pid_file(name).write_text(json.dumps({"pid": proc.pid, "args": args}))
        return proc.pid

    def _recorded(self, name: str) -> int | None:
        path = self._pid_file(name)
        if not path.exists():
            return None
        pid = int(json.loads(path.read_text())["pid"])
        return pid if _is_ours(pid) else None

    def running(self, name: str) -> bool:
        return self._recorded(name) is not None

    def start_server(self, timeout: float = 120.0) -> int:
        pid = self._spawn("server", ["server", "start", "--host", self.host, "--port", str(self.port)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._procs["server"].poll() is not None:
                raise StackError(f"the Prefect server exited; see {self.home / 'server.log'}")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return pid
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise StackError(f"the Prefect server did not answer within {timeout:.0f}s; see {self.home / 'server.log'}")

    def prefect(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Runs a `prefect` CLI command against this stack."""
        result = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            cwd=self.repo,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise StackError(f"prefect {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def deploy(self) -> None:
        """Creates the process work pool and registers every deployment of prefect.yaml."""
        self.prefect("work-pool", "create", POOL, "--type", "process", "--overwrite")
        self.prefect("--no-prompt", "deploy", "--all")

    def start_worker(self, extra_args: tuple[str, ...] = ()) -> int:
        return self._spawn("worker", ["worker", "start", "--pool", POOL, "--type", "process", *extra_args])

    def stop(self, timeout: float = 20.0) -> list[int]:
        """Stops the worker, then the server, by their PID files; returns the PIDs stopped."""
        stopped = []
        for name in ("worker", "server"):
            pid = self._recorded(name)
            self._pid_file(name).unlink(missing_ok=True)
            if pid is None:
                continue
            _terminate(pid, timeout)
            proc = self._procs.pop(name, None)
            if proc is not None:
                proc.wait(timeout)
            stopped.append(pid)
        return stopped


def _is_ours(pid: int) -> bool:
    """The PID runs a `prefect` command of this Python (not a recycled PID)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    return b"prefect" in cmdline and any(part.endswith(b"python") or b"python3" in part for part in cmdline[:1])


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM to the process group the stack created (the process and the children it spawned), then SIGKILL."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not _alive(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
