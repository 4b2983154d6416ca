"""The sandbox Salesforce org: a faithful, stateful emulator behind a real ``simple_salesforce.Salesforce``.

State lives in ``DIR/salesforce.sqlite3`` (SQLite, WAL) so every process (CLI, Prefect worker, test) sees
the same org, and concurrent writers are safe. ``connect`` mounts a transport adapter that serves, under
``/services/data/vNN.0/``:

- ``query`` / ``queryAll`` with ``nextRecordsUrl`` paging (2,000 a page; ``page_size`` or the
  ``Sforce-Query-Options: batchSize`` hint lower it); cursors are snapshots kept in the database;
- a strict SOQL subset (``soql/``): anything else answers ``MALFORMED_QUERY``; unknown fields and objects
  ``INVALID_FIELD`` / ``INVALID_TYPE`` naming them;
- sObject create / retrieve / update / delete, upsert by external id (201 / 200 / 300), getUpdated and
  getDeleted, describe (global and per object), ``limits``;
- sObject Collections (create, retrieve, update, upsert, delete; 200 records, ``allOrNone``) and Composite
  (25 subrequests, at most 5 of them collections or queries, ``@{ref.field}`` references);
- Bulk API 2.0 query jobs (CSV pages with ``Sforce-Locator``; compound fields refused);
- ``Sforce-Limit-Info: api-usage=N/MAX`` on every answer; faults from :class:`SalesforceFaults`.

Writes are validated as a real org does (read-only and unknown fields, required fields, restricted
picklists, lengths and number ranges, references, unique external ids, price book rules, activated
orders) and stamp ``CreatedDate`` / ``LastModifiedDate`` / ``SystemModstamp`` from the org clock; deletes
go to the recycle bin (``IsDeleted``, seen by ``queryAll``). Routes it does not serve answer 404.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from simple_salesforce.api import Salesforce

from cpq_sync.sandbox.salesforce.adapter import SandboxAdapter
from cpq_sync.sandbox.salesforce.faults import SalesforceFaults, save_faults
from cpq_sync.sandbox.salesforce.seed import SeedSummary, seed_org
from cpq_sync.sandbox.salesforce.show import show as _show
from cpq_sync.sandbox.salesforce.store import OrgStore
from cpq_sync.sandbox.salesforce.usage import api_calls as _api_calls
from cpq_sync.sandbox.salesforce.usage import new_session as _new_session

if TYPE_CHECKING:
    import rich.console

INSTANCE_URL = "https://sandbox.my.salesforce.com"
API_VERSION = "59.0"

__all__ = [
    "API_VERSION",
    "INSTANCE_URL",
    "OrgStore",
    "SalesforceFaults",
    "SeedSummary",
    "api_calls",
    "connect",
    "new_session",
    "now",
    "reset",
    "seed_org",
    "set_clock",
    "set_faults",
    "show",
]


def connect(
    directory: str | Path,
    *,
    page_size: int | None = None,
    faults: SalesforceFaults | None = None,
    session_id: str | None = None,
) -> Salesforce:
    """A real simple-salesforce client logged in to the sandbox org stored in ``directory``.

    ``page_size`` lowers the query page (default 2,000); ``faults`` overrides the faults persisted in the
    directory by :func:`set_faults` for this client only; ``session_id`` uses that session (one
    :func:`new_session` issued; any other answers 401 INVALID_SESSION_ID) instead of a new one.
    """
    adapter = SandboxAdapter(directory, page_size=page_size, faults=faults)
    session = requests.Session()
    session.mount(INSTANCE_URL, adapter)
    return Salesforce(
        instance_url=INSTANCE_URL,
        session_id=session_id or _new_session(adapter.store),
        session=session,
        version=API_VERSION,
    )


def set_faults(directory: str | Path, faults: SalesforceFaults | None) -> None:
    """Persist the faults every client of this org meets (None clears them)."""
    save_faults(OrgStore.open(directory), faults)


def new_session(directory: str | Path) -> str:
    """Issue a fresh valid session id (re-authentication after a 401 INVALID_SESSION_ID)."""
    return _new_session(OrgStore.open(directory))


def set_clock(directory: str | Path, when: datetime | None) -> None:
    """Freeze the org clock at ``when`` (None: real time again); persisted so every process sees it."""
    OrgStore.open(directory).set_clock(when)


def now(directory: str | Path) -> datetime:
    """The org clock (UTC)."""
    return OrgStore.open(directory).now()


def reset(directory: str | Path) -> None:
    """Empty the org (records, cursors, Bulk jobs; ids restart); sessions, API usage, clock, faults stay."""
    OrgStore.open(directory).reset()


def api_calls(directory: str | Path) -> int:
    """API calls counted so far today (what ``Sforce-Limit-Info`` reports)."""
    return _api_calls(OrgStore.open(directory))


def show(directory: str | Path, console: rich.console.Console) -> None:
    """Print what the org holds as readable tables (counts and samples)."""
    _show(directory, console)
