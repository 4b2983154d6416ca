"""Every request the sandbox served, readable with ``request_log(directory)``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from cpq_sync.sandbox.stripe.store import Store


class LoggedRequest(BaseModel):
    at: datetime
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    status: int | None  # None: the client saw a connection error before any response
    request_id: str
    object_id: str | None
    fault: str | None  # rate_limit | server_error | connection_error | timeout_after_apply | latency_spike | None
    replayed: bool = False


def append(store: Store, entry: LoggedRequest) -> None:
    store.db.execute(
        "INSERT INTO request_log"
        " (at, method, path, params, idempotency_key, status, request_id, object_id, fault)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.at.isoformat(),
            entry.method,
            entry.path,
            json.dumps({"params": entry.params, "replayed": entry.replayed}),
            entry.idempotency_key,
            entry.status,
            entry.request_id,
            entry.object_id,
            entry.fault,
        ),
    )


def read(store: Store) -> list[LoggedRequest]:
    rows = store.db.execute(
        "SELECT at, method, path, params, idempotency_key, status, request_id, object_id, fault"
        " FROM request_log ORDER BY seq"
    ).fetchall()
    entries = []
    for row in rows:
        extra = json.loads(row[3])
        entries.append(
            LoggedRequest(
                at=datetime.fromisoformat(row[0]),
                method=row[1],
                path=row[2],
                params=extra["params"],
                idempotency_key=row[4],
                status=row[5],
                request_id=row[6],
                object_id=row[7],
                fault=row[8],
                replayed=extra["replayed"],
            )
        )
    return entries


def clear(store: Store) -> None:
    with store.transaction() as conn:
        conn.execute("DELETE FROM request_log")


def utcnow() -> datetime:
    return datetime.now(UTC)
