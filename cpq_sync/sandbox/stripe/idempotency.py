"""Idempotency keys with Stripe's semantics.

A POST with an ``Idempotency-Key`` is executed once: the same key with the same method, path and parameters
replays the first response (status and body); with anything else it is a 400 ``idempotency_error``. Results
are
saved once the endpoint started executing (validation errors of the strict checker are not saved, as at
Stripe).
Keys are kept 24 hours (of real time).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from cpq_sync.sandbox.stripe.errors import idempotency_conflict
from cpq_sync.sandbox.stripe.store import Store

RETENTION_SECONDS = 24 * 3600


@dataclass(frozen=True)
class SavedResponse:
    status: int
    body: str
    request_id: str


def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    canonical = json.dumps([method.upper(), path, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def lookup(store: Store, key: str, print_: str) -> SavedResponse | None:
    """The saved response for ``key``; idempotency_error when it served another request."""
    row = store.db.execute("SELECT fingerprint, status, body, at FROM idempotency WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    if float(row[3]) < time.time() - RETENTION_SECONDS:
        store.db.execute("DELETE FROM idempotency WHERE key = ?", (key,))
        return None
    if row[0] != print_:
        raise idempotency_conflict(key)
    saved = json.loads(row[2])
    return SavedResponse(int(row[1]), saved["body"], saved["request_id"])


def save(store: Store, key: str, print_: str, status: int, body: str, request_id: str) -> None:
    store.db.execute(
        "INSERT OR REPLACE INTO idempotency (key, fingerprint, status, body, at) VALUES (?, ?, ?, ?, ?)",
        (key, print_, status, json.dumps({"body": body, "request_id": request_id}), time.time()),
    )
