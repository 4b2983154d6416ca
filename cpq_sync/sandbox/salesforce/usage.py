"""Sessions and the daily API request count of the sandbox org (what ``Sforce-Limit-Info`` reports)."""

from __future__ import annotations

import hashlib

from cpq_sync.sandbox.salesforce import ids
from cpq_sync.sandbox.salesforce.errors import SalesforceError
from cpq_sync.sandbox.salesforce.faults import SalesforceFaults
from cpq_sync.sandbox.salesforce.store import OrgStore

ORG_ID = ids.make_id("00D", 1)[:15]


def _calls_today(store: OrgStore) -> tuple[str, int]:
    day = store.now().date().isoformat()
    conn = store.conn
    stored_day = store._meta_get(conn, "api_day")
    calls = int(store._meta_get(conn, "api_calls") or 0) if stored_day == day else 0
    return day, calls


def api_calls(store: OrgStore) -> int:
    """API calls counted so far today (the org clock's day)."""
    return _calls_today(store)[1]


def new_session(store: OrgStore) -> str:
    """Issue a fresh, valid session id (what logging in again gives)."""
    with store.transaction() as conn:
        number = store.next_counter(conn, "session")
        _, calls = _calls_today(store)
        token = hashlib.sha256(f"{store.path}:{number}".encode()).hexdigest()[:40]
        session_id = f"{ORG_ID}!{ids.base62(number, 6)}.{token}"
        conn.execute("INSERT INTO _sessions (session_id, issued_at_call) VALUES (?, ?)", (session_id, calls))
        return session_id


def admit_call(store: OrgStore, session_id: str | None, faults: SalesforceFaults) -> int:
    """Authenticate and count one API call; returns its number today.

    Raises 401 INVALID_SESSION_ID for an unknown or expired session and 403 REQUEST_LIMIT_EXCEEDED once
    the daily quota is used up (neither is counted).
    """
    with store.transaction() as conn:
        day, calls = _calls_today(store)
        row = (
            conn.execute("SELECT issued_at_call FROM _sessions WHERE session_id = ?", (session_id,)).fetchone()
            if session_id
            else None
        )
        expired = SalesforceError("INVALID_SESSION_ID", "Session expired or invalid", status=401)
        if row is None:
            raise expired
        if faults.expire_session_after_calls is not None:
            issued = int(row[0]) if int(row[0]) <= calls else 0  # a new day restarts the count
            if calls - issued >= faults.expire_session_after_calls:
                raise expired
        if calls >= faults.api_quota_max:
            raise SalesforceError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403)
        calls += 1
        store._meta_set(conn, "api_day", day)
        store._meta_set(conn, "api_calls", str(calls))
        return calls
