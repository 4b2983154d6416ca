"""The account's state on disk: ``DIR/stripe.sqlite3`` (SQLite, WAL, busy timeout, one transaction per
request).

Objects are JSON documents keyed by ``(object, id)`` with an insertion sequence ``seq`` and ``created``; lists
are
newest first (``created`` desc, then ``seq`` desc). Fields a list filter or a search needs are copied into the
indexed ``attrs`` table: every ``metadata`` key (as ``metadata.<key>``) and the fields registered with
:func:`register_index` for the object type (``register_index("subscription", "customer")``). Values are stored
as
strings (booleans as ``true``/``false``); ``None`` is not indexed.

A :class:`Store` holds one connection per thread, so one client can be used from several threads and several
processes can share the directory.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JSONObject = dict[str, Any]
Extractor = Callable[[JSONObject], "str | None"]

_INDEXES: dict[str, dict[str, Extractor]] = {}
_UNSELECTIVE: dict[str, set[str]] = {}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    object TEXT NOT NULL,
    id TEXT NOT NULL,
    created INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (object, id)
);
CREATE INDEX IF NOT EXISTS objects_by_created ON objects (object, created, seq);
CREATE INDEX IF NOT EXISTS objects_by_id ON objects (id);
CREATE TABLE IF NOT EXISTS attrs (
    seq INTEGER NOT NULL,
    object TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attrs_lookup ON attrs (object, key, value, seq);
CREATE INDEX IF NOT EXISTS attrs_row ON attrs (seq, key, value);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS request_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    params TEXT NOT NULL,
    idempotency_key TEXT,
    status INTEGER,
    request_id TEXT NOT NULL,
    object_id TEXT,
    fault TEXT
);
CREATE TABLE IF NOT EXISTS rate_window (at REAL NOT NULL);
"""

_TABLES = ("objects", "attrs", "state", "idempotency", "request_log", "rate_window")


def register_index(object_type: str, name: str, extractor: Extractor | None = None, *, selective: bool = True) -> None:
    """Index ``name`` of ``object_type`` objects for list filters and search.

    Without an extractor the top-level field of that name is indexed (booleans as "true"/"false"; an expanded
    object as its id). An extractor may compute a value (e.g. invoice items' ``pending``). Pass
    ``selective=False`` for fields with few distinct values (``status``, ``active``, ``currency``): filters on
    them are then checked row by row instead of driving the query.
    """
    _INDEXES.setdefault(object_type, {})[name] = extractor or _top_level(name)
    if not selective:
        _UNSELECTIVE.setdefault(object_type, set()).add(name)


def is_selective(object_type: str, key: str) -> bool:
    return key not in _UNSELECTIVE.get(object_type, set())


def indexed_fields(object_type: str) -> list[str]:
    return sorted(_INDEXES.get(object_type, {}))


def _top_level(name: str) -> Extractor:
    def extract(obj: JSONObject) -> str | None:
        return index_value(obj.get(name))

    return extract


def index_value(value: Any) -> str | None:
    """How a field's value is written into the index (and how a filter value must be written to match it)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        inner = value.get("id")
        return None if inner is None else str(inner)
    if isinstance(value, (list, tuple)):
        return None
    return str(value)


@dataclass(frozen=True)
class Condition:
    """A SQL condition over the ``o`` alias of ``objects`` with its arguments (built by listing/search)."""

    sql: str
    args: tuple[Any, ...] = ()

    @staticmethod
    def attr(object_type: str, key: str, value: str) -> Condition:
        """``key = value``. A selective field drives the query through the attrs index; a low-cardinality one
        (``active``, ``status``...) is checked row by row while walking objects newest first, so a page stops
        after ``limit`` matches instead of collecting every match."""
        if is_selective(object_type, key):
            return Condition(
                "o.seq IN (SELECT seq FROM attrs WHERE object = ? AND key = ? AND value = ?)",
                (object_type, key, value),
            )
        return Condition(
            "EXISTS (SELECT 1 FROM attrs a WHERE a.seq = o.seq AND a.key = ? AND a.value = ?)", (key, value)
        )

    @staticmethod
    def attr_like(object_type: str, key: str, pattern: str) -> Condition:
        """``key LIKE pattern`` (with ``\\`` as the escape character), checked row by row."""
        return Condition(
            "EXISTS (SELECT 1 FROM attrs a WHERE a.seq = o.seq AND a.key = ? AND a.value LIKE ? ESCAPE '\\')",
            (key, pattern),
        )

    @staticmethod
    def all_of(parts: list[Condition]) -> Condition:
        return Condition(" AND ".join(f"({p.sql})" for p in parts), tuple(a for p in parts for a in p.args))

    @staticmethod
    def any_of(parts: list[Condition]) -> Condition:
        return Condition(" OR ".join(f"({p.sql})" for p in parts), tuple(a for p in parts for a in p.args))

    def negated(self) -> Condition:
        return Condition(f"NOT ({self.sql})", self.args)


@dataclass(frozen=True)
class Cursor:
    """A position in newest-first order."""

    created: int
    seq: int


@dataclass
class Page:
    data: list[JSONObject] = field(default_factory=list)
    has_more: bool = False
    last: Cursor | None = None


class Store:
    """The SQLite store of one sandbox directory."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "stripe.sqlite3"
        self._local = threading.local()
        with self.transaction():
            pass

    # -- connection and transactions -------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)
            self._local.conn = conn
            self._local.depth = 0
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE); nested calls join the outer one."""
        conn = self._connection()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield conn
            finally:
                self._local.depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
        finally:
            self._local.depth = 0

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @property
    def db(self) -> sqlite3.Connection:
        return self._connection()

    # -- objects
    def get(self, object_type: str, object_id: str) -> JSONObject | None:
        row = self.db.execute(
            "SELECT data FROM objects WHERE object = ? AND id = ?", (object_type, object_id)
        ).fetchone()
        return None if row is None else _load(row[0])

    def get_any(self, object_id: str) -> JSONObject | None:
        """The object with this id, whatever its type (used by ``expand``)."""
        row = self.db.execute("SELECT data FROM objects WHERE id = ? LIMIT 1", (object_id,)).fetchone()
        return None if row is None else _load(row[0])

    def exists(self, object_type: str, object_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM objects WHERE object = ? AND id = ?", (object_type, object_id)).fetchone()
        return row is not None

    def insert(self, obj: JSONObject) -> None:
        """Store a new object (it must carry ``id``, ``object`` and ``created``)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO objects (object, id, created, data) VALUES (?, ?, ?, ?)",
                (obj["object"], obj["id"], int(obj["created"]), json.dumps(obj, separators=(",", ":"))),
            )
            self._index(conn, int(cur.lastrowid or 0), obj)

    def insert_many(self, objects: list[JSONObject]) -> None:
        with self.transaction():
            for obj in objects:
                self.insert(obj)

    def save(self, obj: JSONObject) -> None:
        """Replace a stored object (same ``object`` and ``id``), refreshing its index rows."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT seq FROM objects WHERE object = ? AND id = ?", (obj["object"], obj["id"])
            ).fetchone()
            if row is None:
                self.insert(obj)
                return
            seq = int(row[0])
            conn.execute("UPDATE objects SET data = ? WHERE seq = ?", (json.dumps(obj, separators=(",", ":")), seq))
            conn.execute("DELETE FROM attrs WHERE seq = ?", (seq,))
            self._index(conn, seq, obj)

    def delete(self, object_type: str, object_id: str) -> None:
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT seq FROM objects WHERE object = ? AND id = ?", (object_type, object_id)
            ).fetchone()
            if row is not None:
                conn.execute("DELETE FROM attrs WHERE seq = ?", (row[0],))
                conn.execute("DELETE FROM objects WHERE seq = ?", (row[0],))

    def _index(self, conn: sqlite3.Connection, seq: int, obj: JSONObject) -> None:
        object_type = obj["object"]
        rows: list[tuple[int, str, str, str]] = []
        for name, extract in _INDEXES.get(object_type, {}).items():
            value = extract(obj)
            if value is not None:
                rows.append((seq, object_type, name, value))
        metadata = obj.get("metadata") or {}
        for key, value in metadata.items():
            rows.append((seq, object_type, f"metadata.{key}", str(value)))
        if rows:
            conn.executemany("INSERT INTO attrs (seq, object, key, value) VALUES (?, ?, ?, ?)", rows)

    def cursor_of(self, object_type: str, object_id: str) -> Cursor | None:
        row = self.db.execute(
            "SELECT created, seq FROM objects WHERE object = ? AND id = ?", (object_type, object_id)
        ).fetchone()
        return None if row is None else Cursor(int(row[0]), int(row[1]))

    def page(
        self,
        object_type: str,
        *,
        condition: Condition | None = None,
        limit: int = 10,
        after: Cursor | None = None,
        before: Cursor | None = None,
    ) -> Page:
        """Newest first; ``after``: objects older than the cursor; ``before``: newer ones (closest first)."""
        where = ["o.object = ?"]
        args: list[Any] = [object_type]
        if condition is not None:
            where.append(f"({condition.sql})")
            args.extend(condition.args)
        order = "DESC"
        if after is not None:
            where.append("(o.created < ? OR (o.created = ? AND o.seq < ?))")
            args.extend([after.created, after.created, after.seq])
        elif before is not None:
            where.append("(o.created > ? OR (o.created = ? AND o.seq > ?))")
            args.extend([before.created, before.created, before.seq])
            order = "ASC"
        sql = (
            f"SELECT o.data, o.created, o.seq FROM objects o WHERE {' AND '.join(where)} "
            f"ORDER BY o.created {order}, o.seq {order} LIMIT ?"
        )
        rows = self.db.execute(sql, (*args, limit + 1)).fetchall()
        has_more = len(rows) > limit
        rows = rows[:limit]
        if order == "ASC":
            rows.reverse()
        data = [_load(r[0]) for r in rows]
        last = Cursor(int(rows[-1][1]), int(rows[-1][2])) if rows else None
        return Page(data=data, has_more=has_more, last=last)

    def all(self, object_type: str, condition: Condition | None = None) -> list[JSONObject]:
        """Every object of a type, newest first (for small internal scans, not for request paths at scale)."""
        sql = "SELECT o.data FROM objects o WHERE o.object = ?"
        args: list[Any] = [object_type]
        if condition is not None:
            sql += f" AND ({condition.sql})"
            args.extend(condition.args)
        sql += " ORDER BY o.created DESC, o.seq DESC"
        return [_load(r[0]) for r in self.db.execute(sql, args).fetchall()]

    def count(self, object_type: str | None = None) -> int:
        if object_type is None:
            return int(self.db.execute("SELECT count(*) FROM objects").fetchone()[0])
        return int(self.db.execute("SELECT count(*) FROM objects WHERE object = ?", (object_type,)).fetchone()[0])

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT object, count(*) FROM objects GROUP BY object ORDER BY object").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    # -- small persisted settings (clock, faults, ...) -------------------------------------------------------
    def get_state(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_state(self, key: str, value: Any) -> None:
        with self.transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM state WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT INTO state (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value)),
                )

    def reset(self) -> None:
        with self.transaction() as conn:
            for table in _TABLES:
                conn.execute(f"DELETE FROM {table}")


def _load(data: str) -> JSONObject:
    loaded: JSONObject = json.loads(data)
    return loaded


def merge_filters(object_type: str, filters: Mapping[str, str]) -> Condition | None:
    """Equality filters on indexed fields, as one condition (None when there is none)."""
    parts = [Condition.attr(object_type, k, v) for k, v in filters.items()]
    if not parts:
        return None
    return Condition.all_of(parts)
