"""Driving deployments through the Prefect server's REST API, as the UI's buttons do: create a run of a deployment,
wait for its final state, read its artifacts; toggle a deployment's schedule."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


@dataclass
class RunResult:
    id: str
    state: str
    message: str | None
    artifacts: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return str(self.artifacts.get("sync-summary") or self.artifacts.get("prune-summary") or "")


class PrefectApi:
    def __init__(self, api_url: str, timeout: float = 30.0) -> None:
        self.http = httpx.Client(base_url=api_url.rstrip("/"), timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, retried while the server is busy (503 from a locked SQLite database, 429)."""
        for attempt in range(6):
            response = self.http.request(method, path, **kwargs)
            if response.status_code not in (429, 503):
                return response
            time.sleep(0.5 * 2**attempt)
        return response

    def _ok(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise RuntimeError(
                f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
            )
        return response.json() if response.content else None

    def deployment(self, name: str) -> dict[str, Any]:
        """`name` is `<flow>/<deployment>`, e.g. `sync-orders/sync-orders`."""
        result: dict[str, Any] = self._ok(self._send("GET", f"/deployments/name/{name}"))
        return result

    def create_run(self, deployment: str, parameters: dict[str, Any] | None = None) -> str:
        found = self.deployment(deployment)
        body = {"parameters": parameters or {}, "state": {"type": "SCHEDULED"}}
        return str(self._ok(self._send("POST", f"/deployments/{found['id']}/create_flow_run", json=body))["id"])

    def flow_run(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._ok(self._send("GET", f"/flow_runs/{run_id}"))
        return result

    def runs_of(self, deployment: str) -> list[dict[str, Any]]:
        found = self.deployment(deployment)
        body = {"flow_runs": {"deployment_id": {"any_": [found["id"]]}}, "sort": "EXPECTED_START_TIME_DESC"}
        result: list[dict[str, Any]] = self._ok(self._send("POST", "/flow_runs/filter", json=body))
        return result

    def artifacts(self, run_id: str) -> dict[str, Any]:
        body = {"artifacts": {"flow_run_id": {"any_": [run_id]}}}
        rows = self._ok(self._send("POST", "/artifacts/filter", json=body))
        return {str(a["key"]): a["data"] for a in rows if a.get("key")}

    def logs(self, run_id: str) -> list[dict[str, Any]]:
        body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC", "limit": 200}
        result: list[dict[str, Any]] = self._ok(self._send("POST", "/logs/filter", json=body))
        return result

    def wait(self, run_id: str, timeout: float = 300.0) -> RunResult:
        deadline = time.monotonic() + timeout
        while True:
            state = self.flow_run(run_id)["state"]
            if state["type"] in FINAL:
                return RunResult(run_id, state["type"], state.get("message"), self.artifacts(run_id))
            if time.monotonic() > deadline:
                raise TimeoutError(f"flow run {run_id} still {state['type']} after {timeout:.0f}s")
            time.sleep(0.5)

    def run(self, deployment: str, parameters: dict[str, Any] | None = None, timeout: float = 300.0) -> RunResult:
        return self.wait(self.create_run(deployment, parameters), timeout)

    def set_schedule_active(self, deployment: str, active: bool) -> None:
        """What the UI's schedule toggle does."""
        found = self.deployment(deployment)
        for schedule in found["schedules"]:
            self._ok(
                self._send("PATCH", f"/deployments/{found['id']}/schedules/{schedule['id']}", json={"active": active})
            )
