"""The sandbox org's records on disk: one SQLite database per sandbox directory (WAL, many processes).

Each sObject is a table ``sf_<Name>`` with one column per field (compound address fields are assembled from
their components when read). Values are stored in a canonical form that sorts correctly in SQL:
datetimes as ``YYYY-MM-DDTHH:MM:SS.fff+0000`` (UTC), dates as ``YYYY-MM-DD``, checkboxes as 0/1.

Writes go through :meth:`OrgStore.create` / :meth:`update` / :meth:`delete` / :meth:`upsert` (REST
semantics: validation, read-only fields, required fields, picklists, references, unique external ids,
system fields bumped from the org clock) or through :meth:`insert_many` (the seed's fast path).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cpq_sync.sandbox.salesforce import ids, lifecycle
from cpq_sync.sandbox.salesforce.errors import SalesforceError, invalid_type
from cpq_sync.sandbox.salesforce.schema import FieldDef, Schema, SObjectDef, load_schema

DB_NAME = "salesforce.sqlite3"
SYSTEM_FIELDS = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)
_SYSTEM_LOWER = {f.lower() for f in SYSTEM_FIELDS}
ADDRESS_PARTS = ("Street", "City", "State", "PostalCode", "Country")
TEXT_TYPES = frozenset({"string", "textarea", "picklist", "multipicklist", "email", "phone", "url"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INTEGRATION_USER = {
    "Username": "integration@cpq-sync.sandbox",
    "LastName": "Integration",
    "FirstName": "Sync",
}

#: Auto-number fields and their display format (``{000}`` is the zero-padded counter).
AUTO_NUMBERS: dict[tuple[str, str], str] = {
    ("Order", "OrderNumber"): "{00000000}",
    ("Contract", "ContractNumber"): "{00000000}",
    ("OrderItem", "OrderItemNumber"): "{0000000000}",
    ("SBQQ__Quote__c", "Name"): "Q-{00000}",
    ("SBQQ__QuoteLine__c", "Name"): "QL-{0000000}",
    ("SBQQ__Subscription__c", "Name"): "SUB-{0000000}",
    ("Sync_Record__c", "Name"): "SR-{00000000}",
}
#: Master-detail children deleted with their parent (child object, field).
CASCADE_DELETE: dict[str, tuple[tuple[str, str], ...]] = {
    "Order": (("OrderItem", "OrderId"),),
    "Product2": (("PricebookEntry", "Product2Id"),),
    "SBQQ__Quote__c": (("SBQQ__QuoteLine__c", "SBQQ__Quote__c"),),
    "ConsumptionSchedule": (("ConsumptionRate", "ConsumptionScheduleId"),),
}
#: Child fields whose currency comes from the parent record.
CURRENCY_FROM_PARENT: dict[str, str] = {"OrderItem": "OrderId", "SBQQ__QuoteLine__c": "SBQQ__Quote__c"}
#: Opportunity stages that close it, and whether they win it.
CLOSED_STAGES = {"Closed Won": True, "Closed Lost": False}


def table(sobject: str) -> str:
    return f'"sf_{sobject}"'


def q(name: str) -> str:
    return f'"{name}"'


@functools.lru_cache(maxsize=1 << 16)
def format_datetime(value: datetime) -> str:
    """Canonical stored/returned form: ``2024-01-15T10:00:00.000+0000`` (UTC, milliseconds)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime:
    """Parse an ISO-8601 datetime with ``Z`` or an offset (naive means UTC)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def is_auto_number(sobject: str, fd: FieldDef) -> bool:
    return (sobject, fd.name) in AUTO_NUMBERS or (
        fd.name == "Name"
        and fd.type == "string"
        and not fd.createable
        and not fd.calculated
        and sobject not in ("User", "Contact", "PricebookEntry")
    )


def _auto_format(sobject: str, field: str, number: int) -> str:
    fmt = AUTO_NUMBERS.get((sobject, field), "{00000000}")
    match = re.search(r"\{(0+)\}", fmt)
    assert match is not None
    return fmt[: match.start()] + str(number).rjust(len(match.group(1)), "0") + fmt[match.end() :]


def column_type(fd: FieldDef) -> str | None:
    if fd.type == "address":
        return None
    if fd.type in ("boolean", "int"):
        return "INTEGER"
    if fd.type in NUMBER_TYPES:
        return "REAL"
    return "TEXT"


def stored_columns(sobj: SObjectDef) -> list[FieldDef]:
    return [f for f in sobj.fields.values() if f.type != "address"]


def to_json_value(fd: FieldDef, value: Any) -> Any:
    """A stored value as Salesforce's JSON returns it."""
    if value is None:
        return None
    if fd.type == "boolean":
        return bool(value)
    if fd.type == "int":
        return int(value)
    if fd.type in NUMBER_TYPES:
        return float(value)
    return value


def _json_type_error(fd: FieldDef, value: Any) -> SalesforceError:
    kind = {"boolean": "boolean", "int": "int", "date": "date", "datetime": "datetime"}.get(fd.type, "double")
    if fd.type in TEXT_TYPES or fd.type in ("id", "reference"):
        kind = "String"
    token = "VALUE_STRING" if isinstance(value, str) else type(value).__name__.upper()
    return SalesforceError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from {token} value {value} or request may be missing a "
        f"required field at [line:1, column:1] ({fd.name})",
    )


class OrgStore:
    """Records of one sandbox org (a SQLite file in ``directory``); safe to share between threads and
    processes.
    """

    # Weak: a store (and its connections) lives as long as a client or caller holds it.
    _instances: weakref.WeakValueDictionary[Path, OrgStore] = weakref.WeakValueDictionary()
    _instances_lock = threading.Lock()

    def __init__(self, directory: str | Path, schema: Schema | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DB_NAME
        self.schema = schema or load_schema()
        self._local = threading.local()
        self._converters: dict[str, dict[str, tuple[str, Callable[[Any], Any]]]] = {}
        self._init_db()

    @classmethod
    def open(cls, directory: str | Path) -> OrgStore:
        """The (per-process cached) store of a sandbox directory."""
        key = Path(directory).resolve()
        with cls._instances_lock:
            store = cls._instances.get(key)
            if store is None or not store.path.exists():
                store = cls(key)
                cls._instances[key] = store
            return store

    # ------------------------------------------------------------------ connections and transactions

    @property
    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute("PRAGMA foreign_keys=OFF")
            conn.create_function("sf_includes", 2, _sf_includes, deterministic=True)
            self._local.conn = conn
            self._local.depth = 0
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``); nested calls become savepoints that roll back alone."""
        conn = self.conn
        depth: int = self._local.depth
        if depth == 0:
            conn.execute("BEGIN IMMEDIATE")
        else:
            conn.execute(f"SAVEPOINT sp{depth}")
        self._local.depth = depth + 1
        try:
            yield conn
        except BaseException:
            self._local.depth = depth
            if depth == 0:
                conn.execute("ROLLBACK")
            else:
                conn.execute(f"ROLLBACK TO sp{depth}")
                conn.execute(f"RELEASE sp{depth}")
            raise
        self._local.depth = depth
        if depth == 0:
            conn.execute("COMMIT")
        else:
            conn.execute(f"RELEASE sp{depth}")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement inside sees the same state."""
        conn = self.conn
        if self._local.depth:
            yield conn
            return
        conn.execute("BEGIN")
        self._local.depth = 1
        try:
            yield conn
        finally:
            self._local.depth = 0
            conn.execute("COMMIT")

    def _init_db(self) -> None:
        with self.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute("CREATE TABLE IF NOT EXISTS _counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _sessions (session_id TEXT PRIMARY KEY, issued_at_call INTEGER NOT NULL)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _cursors (cursor_id TEXT PRIMARY KEY, soql TEXT NOT NULL, "
                "include_deleted INTEGER NOT NULL, ids TEXT NOT NULL, total INTEGER NOT NULL, created REAL "
                "NOT NULL)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _bulk_jobs (job_id TEXT PRIMARY KEY, info TEXT NOT NULL, "
                "soql TEXT NOT NULL, include_deleted INTEGER NOT NULL, ids TEXT NOT NULL, total INTEGER NOT "
                "NULL)"
            )
            for sobj in self.schema.objects.values():
                self._ensure_table(conn, sobj)
            self._ensure_integration_user(conn)

    def _ensure_table(self, conn: sqlite3.Connection, sobj: SObjectDef) -> None:
        existing = {row[1].lower() for row in conn.execute(f"PRAGMA table_info({table(sobj.name)})")}
        cols = []
        for fd in stored_columns(sobj):
            if fd.name == "Id":
                continue
            decl = f"{q(fd.name)} {column_type(fd)}"
            if fd.type == "boolean":
                decl += f" NOT NULL DEFAULT {1 if fd.default_value else 0}"
            cols.append((fd.name, decl))
        if not existing:
            body = ", ".join(["rowid INTEGER PRIMARY KEY", '"Id" TEXT NOT NULL UNIQUE', *(d for _, d in cols)])
            conn.execute(f"CREATE TABLE {table(sobj.name)} ({body})")
        else:
            for name, decl in cols:
                if name.lower() not in existing:
                    conn.execute(f"ALTER TABLE {table(sobj.name)} ADD COLUMN {decl}")
        prefix = f"ix_{sobj.name}_"
        # The incremental-extraction cursor, covering the deleted flag, an order's status and the Id
        # tie-break: "changed since X" is answered from the index alone.
        stamp_columns = ['"SystemModstamp"', '"IsDeleted"']
        if "StatusCode" in sobj.fields:
            stamp_columns.append('"StatusCode"')
        stamp_columns.append('"Id"')
        conn.execute(f'DROP INDEX IF EXISTS "{prefix}SystemModstamp"')
        conn.execute(f'CREATE INDEX IF NOT EXISTS "{prefix}stamp" ON {table(sobj.name)}({", ".join(stamp_columns)})')
        for fd in stored_columns(sobj):
            if fd.type == "reference" and fd.name not in ("CreatedById", "LastModifiedById"):
                conn.execute(f'CREATE INDEX IF NOT EXISTS "{prefix}{fd.name}" ON {table(sobj.name)}({q(fd.name)})')
            elif fd.external_id or fd.unique:
                unique = "UNIQUE " if fd.unique else ""
                conn.execute(
                    f'CREATE {unique}INDEX IF NOT EXISTS "{prefix}{fd.name}" '
                    f"ON {table(sobj.name)}({q(fd.name)} COLLATE NOCASE)"
                )

    def _ensure_integration_user(self, conn: sqlite3.Connection) -> None:
        user = self.schema.sobject("User")
        if user is None or self._meta_get(conn, "integration_user"):
            return
        now = format_datetime(self._now(conn))
        user_id = self._allocate(conn, user, 1)[0]
        values: dict[str, Any] = {
            "Id": user_id,
            "IsDeleted": 0,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            "CreatedById": user_id,
            "LastModifiedById": user_id,
        }
        for name, value in INTEGRATION_USER.items():
            if user.field(name) is not None:
                values[name] = value
        self._fill_required_defaults(user, values)
        self._apply_computed(conn, user, values, None)
        self._insert_rows(conn, user, [values])
        self._meta_set(conn, "integration_user", user_id)

    def _fill_required_defaults(self, sobj: SObjectDef, values: dict[str, Any]) -> None:
        """Give the integration user's required fields plausible values (only used for that record)."""
        for fd in sobj.fields.values():
            if fd.name in values or fd.nillable or not fd.createable or fd.type == "boolean":
                continue
            if fd.picklist_values:
                values[fd.name] = fd.default_value or fd.picklist_values[0]
            elif fd.type in ("string", "email", "textarea", "phone", "url"):
                values[fd.name] = "integration@cpq-sync.sandbox" if fd.type == "email" else "sync"

    # ------------------------------------------------------------------ meta, clock, counters

    def _meta_get(self, conn: sqlite3.Connection, key: str) -> str | None:
        row = conn.execute("SELECT value FROM _meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _meta_set(self, conn: sqlite3.Connection, key: str, value: str | None) -> None:
        if value is None:
            conn.execute("DELETE FROM _meta WHERE key = ?", (key,))
        else:
            conn.execute("INSERT OR REPLACE INTO _meta (key, value) VALUES (?, ?)", (key, value))

    def meta_get(self, key: str) -> str | None:
        return self._meta_get(self.conn, key)

    def meta_set(self, key: str, value: str | None) -> None:
        with self.transaction() as conn:
            self._meta_set(conn, key, value)

    def _now(self, conn: sqlite3.Connection) -> datetime:
        frozen = self._meta_get(conn, "clock")
        return parse_datetime(frozen) if frozen else datetime.now(UTC)

    def now(self) -> datetime:
        """The org clock: the time set with :meth:`set_clock`, else the real time (UTC)."""
        return self._now(self.conn)

    def set_clock(self, when: datetime | None) -> None:
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        self.meta_set("clock", None if when is None else when.astimezone(UTC).isoformat())

    def next_counter(self, conn: sqlite3.Connection, name: str, n: int = 1) -> int:
        """Reserve ``n`` numbers of counter ``name``; returns the first (counters start at 1)."""
        row = conn.execute("SELECT value FROM _counters WHERE name = ?", (name,)).fetchone()
        start = (row[0] if row else 0) + 1
        conn.execute("INSERT OR REPLACE INTO _counters (name, value) VALUES (?, ?)", (name, start + n - 1))
        return int(start)

    def _allocate(self, conn: sqlite3.Connection, sobj: SObjectDef, n: int) -> list[str]:
        start = self.next_counter(conn, f"id:{sobj.key_prefix}", n)
        return [ids.make_id(sobj.key_prefix, start + i) for i in range(n)]

    def allocate_ids(self, sobject: str, n: int) -> list[str]:
        """Reserve ``n`` record ids of ``sobject`` (the seed uses them to build records that point at each
        other).
        """
        sobj = self.sobject(sobject)
        with self.transaction() as conn:
            return self._allocate(conn, sobj, n)

    @property
    def integration_user_id(self) -> str:
        value = self.meta_get("integration_user")
        assert value is not None
        return value

    # ------------------------------------------------------------------ schema helpers

    def sobject(self, name: str) -> SObjectDef:
        sobj = self.schema.sobject(name)
        if sobj is None:
            raise invalid_type(name)
        return sobj

    def sobject_of_id(self, record_id: str) -> SObjectDef | None:
        return self.schema.by_key_prefix(record_id[:3])

    # ------------------------------------------------------------------ value conversion

    def coerce(self, sobj: SObjectDef, fd: FieldDef, value: Any) -> Any:
        """A JSON/Python value as stored, validated against the field (raises SalesforceError)."""
        if value is None:
            return 0 if fd.type == "boolean" else None
        t = fd.type
        if t == "boolean":
            if isinstance(value, bool):
                return int(value)
            raise _json_type_error(fd, value)
        if t in NUMBER_TYPES:
            if isinstance(value, bool):
                raise _json_type_error(fd, value)
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise _json_type_error(fd, value) from None
            if not isinstance(value, int | float | Decimal):
                raise _json_type_error(fd, value)
            number = float(value)
            if fd.precision is not None:
                scale = fd.scale or 0
                if abs(number) >= 10 ** (fd.precision - scale):
                    raise SalesforceError(
                        "NUMBER_OUTSIDE_VALID_RANGE",
                        f"{fd.label}: value outside of valid range on numeric field: {value}",
                        fields=[fd.name],
                    )
                number = round(number, scale)
            return round(number) if t == "int" else number
        if t == "date":
            if isinstance(value, datetime):
                raise _json_type_error(fd, value)
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, str) and _DATE_RE.match(value):
                try:
                    return date.fromisoformat(value).isoformat()
                except ValueError:
                    pass
            raise _json_type_error(fd, value)
        if t == "datetime":
            if isinstance(value, datetime):
                return format_datetime(value)
            if isinstance(value, str):
                try:
                    return format_datetime(parse_datetime(value))
                except ValueError:
                    pass
            raise _json_type_error(fd, value)
        if t in ("id", "reference"):
            if not isinstance(value, str):
                raise _json_type_error(fd, value)
            if value == "":
                return None
            try:
                return ids.to_18(value)
            except ValueError:
                raise SalesforceError(
                    "MALFORMED_ID", f"{fd.label}: id value of incorrect type: {value}", fields=[fd.name]
                ) from None
        if not isinstance(value, str):
            raise _json_type_error(fd, value)
        if value == "":
            return None
        if fd.length is not None and len(value) > fd.length:
            raise SalesforceError(
                "STRING_TOO_LONG",
                f"{fd.label}: data value too large: {value[:40]} (max length={fd.length})",
                fields=[fd.name],
            )
        if t == "picklist" and fd.restricted_picklist and value not in fd.picklist_values:
            raise SalesforceError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{fd.label}: bad value for restricted picklist field: {value}",
                fields=[fd.name],
            )
        if t == "multipicklist":
            parts = [p for p in value.split(";") if p]
            if fd.restricted_picklist:
                for part in parts:
                    if part not in fd.picklist_values:
                        raise SalesforceError(
                            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            f"{fd.label}: bad value for restricted picklist field: {part}",
                            fields=[fd.name],
                        )
            return ";".join(parts)
        return value

    def _resolve_fields(
        self, sobj: SObjectDef, values: Mapping[str, Any], *, creating: bool, allow_system: bool = False
    ) -> dict[str, Any]:
        """Field names mapped to API names and values coerced; read-only fields rejected."""
        out: dict[str, Any] = {}
        readonly: list[str] = []
        for key, value in values.items():
            if key == "attributes":
                continue
            fd = sobj.field(key)
            if fd is None:
                raise SalesforceError("INVALID_FIELD", f"No such column '{key}' on sobject of type {sobj.name}")
            if allow_system:
                if fd.type != "address":
                    out[fd.name] = self.coerce(sobj, fd, value)
                continue
            if fd.name == "Id":
                if creating:
                    raise SalesforceError(
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        "Record ID: cannot specify Id in an insert call",
                        fields=["Id"],
                    )
                continue
            if not (fd.createable if creating else fd.updateable):
                readonly.append(fd.name)
                continue
            out[fd.name] = self.coerce(sobj, fd, value)
        if readonly:
            raise SalesforceError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(readonly)}. Please check the security settings "
                "of "
                "this field and verify that it is read/write for your profile or permission set.",
                fields=readonly,
            )
        return out

    def _check_required(self, sobj: SObjectDef, row: Mapping[str, Any]) -> None:
        missing = [
            fd.name
            for fd in sobj.fields.values()
            if not fd.nillable and fd.createable and fd.type != "boolean" and row.get(fd.name) is None
        ]
        if missing:
            raise SalesforceError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                fields=missing,
            )

    def _check_references(self, conn: sqlite3.Connection, sobj: SObjectDef, changes: Mapping[str, Any]) -> None:
        for name, value in changes.items():
            fd = sobj.fields[name]
            if fd.type != "reference" or value is None:
                continue
            target = self.sobject_of_id(value)
            if target is None or target.name not in fd.reference_to:
                raise SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"{fd.label}: id value of incorrect type: {value}",
                    fields=[name],
                )
            row = conn.execute(f'SELECT "IsDeleted" FROM {table(target.name)} WHERE "Id" = ?', (value,)).fetchone()
            if row is None:
                raise SalesforceError(
                    "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {value}", fields=[name]
                )
            if row[0]:
                raise SalesforceError("ENTITY_IS_DELETED", "entity is deleted", fields=[name])

    def _check_unique(
        self, conn: sqlite3.Connection, sobj: SObjectDef, changes: Mapping[str, Any], record_id: str | None
    ) -> None:
        for name, value in changes.items():
            fd = sobj.fields[name]
            if not fd.unique or value is None:
                continue
            row = conn.execute(
                f'SELECT "Id" FROM {table(sobj.name)} WHERE {q(name)} = ? COLLATE NOCASE AND "Id" IS NOT ?',
                (value, record_id),
            ).fetchone()
            if row is not None:
                raise SalesforceError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {name} duplicates value on record with id: {row[0]}",
                    fields=[name],
                )

    def _check_rules(self, conn: sqlite3.Connection, sobj: SObjectDef, row: Mapping[str, Any]) -> None:
        """Platform rules of price books and orders that a real org enforces on API writes."""
        if sobj.name == "PricebookEntry":
            book = conn.execute(
                'SELECT "IsStandard" FROM "sf_Pricebook2" WHERE "Id" = ?', (row["Pricebook2Id"],)
            ).fetchone()
            same = conn.execute(
                'SELECT "Id" FROM "sf_PricebookEntry" WHERE "Pricebook2Id" = ? AND "Product2Id" = ? '
                'AND "CurrencyIsoCode" IS ? AND "IsDeleted" = 0 AND "Id" IS NOT ?',
                (row["Pricebook2Id"], row["Product2Id"], row.get("CurrencyIsoCode"), row.get("Id")),
            ).fetchone()
            if same is not None:
                raise SalesforceError(
                    "DUPLICATE_VALUE", "This price definition already exists in this price book", fields=[]
                )
            if book is not None and not book[0]:
                standard = conn.execute(
                    'SELECT e."Id" FROM "sf_PricebookEntry" e JOIN "sf_Pricebook2" b ON b."Id" = '
                    'e."Pricebook2Id" '
                    'WHERE b."IsStandard" = 1 AND e."Product2Id" = ? AND e."CurrencyIsoCode" IS ? '
                    'AND e."IsDeleted" = 0',
                    (row["Product2Id"], row.get("CurrencyIsoCode")),
                ).fetchone()
                if standard is None:
                    raise SalesforceError(
                        "STANDARD_PRICE_NOT_DEFINED",
                        "Before creating a custom price, create a standard price.",
                    )
        if sobj.name == "OrderItem":
            found = conn.execute(
                'SELECT o."Pricebook2Id", o."CurrencyIsoCode", e."Pricebook2Id", e."CurrencyIsoCode" '
                'FROM "sf_Order" o, "sf_PricebookEntry" e WHERE o."Id" = ? AND e."Id" = ?',
                (row.get("OrderId"), row.get("PricebookEntryId")),
            ).fetchone()
            if found is not None and found[0] != found[2]:
                raise SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "field integrity exception: PricebookEntryId (pricebook entry is in a different "
                    "pricebook "
                    "than the one assigned to the order, or Order has no pricebook assigned)",
                    fields=["PricebookEntryId"],
                )
            if found is not None and found[1] != found[3]:
                raise SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "field integrity exception: PricebookEntryId (pricebook entry currency code does not "
                    "match "
                    "order currency code)",
                    fields=["PricebookEntryId"],
                )

    def _apply_computed(
        self,
        conn: sqlite3.Connection,
        sobj: SObjectDef,
        row: dict[str, Any],
        old: Mapping[str, Any] | None,
        cache: dict[tuple[str, str], Any] | None = None,
    ) -> None:
        """Formula-like fields the sandbox computes (on ``row``, the full new state of the record).

        ``cache`` memoises the parent look-ups across the rows of one insert_many.
        """
        name = sobj.name
        fields = sobj.fields

        def lookup(sql: str, key: str) -> Any:
            if cache is None:
                return conn.execute(sql, (key,)).fetchone()
            found = cache.get((sql, key), cache)
            if found is cache:
                found = cache[(sql, key)] = conn.execute(sql, (key,)).fetchone()
            return found

        if "StatusCode" in fields and "Status" in fields:
            status = row.get("Status")
            codes = fields["StatusCode"].picklist_values
            row["StatusCode"] = status if status in codes else ("InApproval" if status else None)
        if name == "OrderItem":
            qty, price = row.get("Quantity"), row.get("UnitPrice")
            row["TotalPrice"] = None if qty is None or price is None else round(qty * price, 2)
            if row.get("PricebookEntryId") and (row.get("Product2Id") is None or row.get("ListPrice") is None):
                pbe = lookup(
                    'SELECT "Product2Id", "UnitPrice" FROM "sf_PricebookEntry" WHERE "Id" = ?',
                    row["PricebookEntryId"],
                )
                if pbe is not None:
                    row.setdefault("Product2Id", pbe[0])
                    if row.get("Product2Id") is None:
                        row["Product2Id"] = pbe[0]
                    if row.get("ListPrice") is None:
                        row["ListPrice"] = pbe[1]
        if name in CURRENCY_FROM_PARENT and "CurrencyIsoCode" in fields:
            parent_field = CURRENCY_FROM_PARENT[name]
            parent = fields[parent_field].reference_to[0]
            if row.get(parent_field) and (old is None or row.get("CurrencyIsoCode") is None):
                found = lookup(f'SELECT "CurrencyIsoCode" FROM {table(parent)} WHERE "Id" = ?', row[parent_field])
                row["CurrencyIsoCode"] = found[0] if found else row.get("CurrencyIsoCode")
        if name in ("Contact", "User") and "Name" in fields:
            row["Name"] = " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p) or None
        if name == "PricebookEntry" and row.get("Product2Id"):
            product = lookup('SELECT "Name", "ProductCode" FROM "sf_Product2" WHERE "Id" = ?', row["Product2Id"])
            if product is not None:
                row["Name"] = product[0]
                if "ProductCode" in fields:
                    row["ProductCode"] = product[1]
        if name == "Opportunity" and "IsClosed" in fields:
            stage = row.get("StageName")
            row["IsClosed"] = int(stage in CLOSED_STAGES)
            row["IsWon"] = int(CLOSED_STAGES.get(str(stage), False))
        if name == "Contract" and "EndDate" in fields:
            start, term = row.get("StartDate"), row.get("ContractTerm")
            row["EndDate"] = (
                (add_months(date.fromisoformat(start), int(term)) - timedelta(days=1)).isoformat()
                if start and term
                else None
            )

    def _rollups(self, conn: sqlite3.Connection, sobj: SObjectDef, order_ids: Iterable[str], stamp: str) -> None:
        """Roll-up summaries on the parent; recalculating them bumps the parent's SystemModstamp."""
        if sobj.name != "OrderItem":
            return
        unique = sorted({i for i in order_ids if i})
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            conn.execute(
                'UPDATE "sf_Order" SET "TotalAmount" = (SELECT COALESCE(SUM(i."TotalPrice"), 0) FROM '
                '"sf_OrderItem" i '
                'WHERE i."OrderId" = "sf_Order"."Id" AND i."IsDeleted" = 0), "SystemModstamp" = ? '
                f'WHERE "Id" IN ({marks})',
                (stamp, *chunk),
            )

    # ------------------------------------------------------------------ reads

    def get(self, sobject: str, record_id: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
        """The stored record (field name -> stored value), or None."""
        sobj = self.sobject(sobject)
        conn = self.conn
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute(f'SELECT * FROM {table(sobj.name)} WHERE "Id" = ?', (record_id,)).fetchone()
        finally:
            conn.row_factory = None
        if row is None or (row["IsDeleted"] and not include_deleted):
            return None
        out = {k: row[k] for k in row.keys() if k != "rowid"}  # noqa: SIM118 - sqlite3.Row iterates values
        return out

    def record_json(self, sobj: SObjectDef, stored: Mapping[str, Any], version: str = "59.0") -> dict[str, Any]:
        """A whole stored record as REST returns it (``attributes`` first, address fields compound)."""
        out: dict[str, Any] = {
            "attributes": {
                "type": sobj.name,
                "url": f"/services/data/v{version}/sobjects/{sobj.name}/{stored['Id']}",
            }
        }
        for fd in sobj.fields.values():
            if fd.type == "address":
                out[fd.name] = address_json(fd.name, stored)
            else:
                out[fd.name] = to_json_value(fd, stored.get(fd.name))
        return out

    def find_by_field(self, sobject: str, field: str, value: Any, *, include_deleted: bool = False) -> list[str]:
        sobj = self.sobject(sobject)
        fd = sobj.field(field)
        if fd is None:
            raise SalesforceError("INVALID_FIELD", f"No such column '{field}' on sobject of type {sobj.name}")
        stored = self.coerce(sobj, fd, value)
        collate = " COLLATE NOCASE" if fd.type in TEXT_TYPES else ""
        deleted = "" if include_deleted else ' AND "IsDeleted" = 0'
        rows = self.conn.execute(
            f'SELECT "Id" FROM {table(sobj.name)} WHERE {q(fd.name)} = ?{collate}{deleted} ORDER BY rowid',
            (stored,),
        ).fetchall()
        return [r[0] for r in rows]

    def count(self, sobject: str, *, include_deleted: bool = False) -> int:
        sobj = self.sobject(sobject)
        where = "" if include_deleted else ' WHERE "IsDeleted" = 0'
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table(sobj.name)}{where}").fetchone()[0])

    # ------------------------------------------------------------------ REST-semantics writes

    def create(self, sobject: str, values: Mapping[str, Any]) -> str:
        """Insert one record as the REST API would (validated); returns its id."""
        sobj = self.sobject(sobject)
        changes = self._resolve_fields(sobj, values, creating=True)
        with self.transaction() as conn:
            row: dict[str, Any] = {}
            for fd in sobj.fields.values():
                if fd.createable and fd.default_value is not None and fd.type != "address":
                    row[fd.name] = self.coerce(sobj, fd, fd.default_value)
            row.update(changes)
            if "OwnerId" in sobj.fields and row.get("OwnerId") is None:
                row["OwnerId"] = self.integration_user_id
            self._check_required(sobj, row)
            self._check_references(conn, sobj, row)
            self._check_unique(conn, sobj, row, None)
            self._check_rules(conn, sobj, row)
            if sobj.name == "Order":
                lifecycle.check_new_order(row)
            elif sobj.name == "OrderItem":
                lifecycle.check_new_order_product(conn, row)
            record_id = self._allocate(conn, sobj, 1)[0]
            stamp = format_datetime(self._now(conn))
            user = self.integration_user_id
            row.update(
                {
                    "Id": record_id,
                    "IsDeleted": 0,
                    "CreatedDate": stamp,
                    "LastModifiedDate": stamp,
                    "SystemModstamp": stamp,
                    "CreatedById": user,
                    "LastModifiedById": user,
                }
            )
            self._apply_computed(conn, sobj, row, None)
            self._assign_auto_numbers(conn, sobj, [row])
            self._insert_rows(conn, sobj, [row])
            if sobj.name == "OrderItem":
                self._rollups(conn, sobj, [row["OrderId"]], stamp)
            return record_id

    def update(self, sobject: str, record_id: str, values: Mapping[str, Any]) -> None:
        """Update one record as the REST API would (validated; bumps LastModifiedDate and SystemModstamp)."""
        sobj = self.sobject(sobject)
        changes = self._resolve_fields(sobj, values, creating=False)
        with self.transaction() as conn:
            old = self._require_live(sobj, record_id)
            row = {**old, **changes}
            self._check_required(sobj, row)
            self._check_references(conn, sobj, changes)
            self._check_unique(conn, sobj, changes, record_id)
            self._check_rules(conn, sobj, row)
            stamp = format_datetime(self._now(conn))
            user = self.integration_user_id
            if sobj.name == "Order":
                lifecycle.before_order_update(conn, row, old, changes, user_id=user, stamp=stamp)
            row.update({"LastModifiedDate": stamp, "SystemModstamp": stamp, "LastModifiedById": user})
            self._apply_computed(conn, sobj, row, old)
            stamps = ("LastModifiedDate", "SystemModstamp", "LastModifiedById")  # written even when equal
            changed = {k: v for k, v in row.items() if k != "Id" and (k in changes or k in stamps or old.get(k) != v)}
            sets = ", ".join(f"{q(k)} = ?" for k in changed)
            conn.execute(f'UPDATE {table(sobj.name)} SET {sets} WHERE "Id" = ?', (*changed.values(), record_id))
            if sobj.name == "OrderItem":
                self._rollups(conn, sobj, [row["OrderId"]], stamp)

    def _require_live(self, sobj: SObjectDef, record_id: str) -> dict[str, Any]:
        try:
            full = ids.to_18(record_id)
        except ValueError:
            raise SalesforceError(
                "MALFORMED_ID",
                f"Provided external ID field does not exist or is not accessible: {record_id}",
                status=404,
            ) from None
        old = self.get(sobj.name, full, include_deleted=True)
        if old is None:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", status=404)
        if old["IsDeleted"]:
            raise SalesforceError("ENTITY_IS_DELETED", "entity is deleted", status=404)
        return old

    def delete(self, sobject: str, record_id: str) -> None:
        """Move a record (and its master-detail children) to the recycle bin: ``IsDeleted`` true, stamps
        bumped. What a real org refuses to delete is refused (see ``lifecycle.check_delete``).
        """
        sobj = self.sobject(sobject)
        with self.transaction() as conn:
            old = self._require_live(sobj, record_id)
            lifecycle.check_delete(conn, sobj.name, old)
            stamp = format_datetime(self._now(conn))
            self._soft_delete(conn, sobj, [old["Id"]], stamp)
            self._clear_lookups(conn, sobj, old["Id"], stamp)
            if sobj.name == "OrderItem":
                self._rollups(conn, sobj, [old["OrderId"]], stamp)

    def _clear_lookups(self, conn: sqlite3.Connection, sobj: SObjectDef, record_id: str, stamp: str) -> None:
        """Lookups to a deleted record are cleared on the records that still hold them (a system update)."""
        cascades = set(CASCADE_DELETE.get(sobj.name, ()))
        for other in self.schema.objects.values():
            for fd in other.fields.values():
                if (
                    fd.type != "reference"
                    or sobj.name not in fd.reference_to
                    or fd.name.lower() in _SYSTEM_LOWER
                    or (other.name, fd.name) in cascades
                ):
                    continue
                conn.execute(
                    f'UPDATE {table(other.name)} SET {q(fd.name)} = NULL, "SystemModstamp" = ? '
                    f'WHERE {q(fd.name)} = ? AND "IsDeleted" = 0',
                    (stamp, record_id),
                )

    def _soft_delete(self, conn: sqlite3.Connection, sobj: SObjectDef, record_ids: Sequence[str], stamp: str) -> None:
        for start in range(0, len(record_ids), 500):
            chunk = list(record_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            conn.execute(
                f'UPDATE {table(sobj.name)} SET "IsDeleted" = 1, "SystemModstamp" = ?, "LastModifiedDate" = '
                "? "
                f'WHERE "Id" IN ({marks}) AND "IsDeleted" = 0',
                (stamp, stamp, *chunk),
            )
            for child_name, field in CASCADE_DELETE.get(sobj.name, ()):
                child = self.schema.sobject(child_name)
                if child is None:
                    continue
                children = [
                    r[0]
                    for r in conn.execute(
                        f'SELECT "Id" FROM {table(child.name)} WHERE {q(field)} IN ({marks}) AND "IsDeleted" = 0',
                        chunk,
                    )
                ]
                if children:
                    self._soft_delete(conn, child, children, stamp)

    def upsert(self, sobject: str, field: str, value: str, values: Mapping[str, Any]) -> tuple[str, bool]:
        """Create or update the record whose external id ``field`` equals ``value``: (id, created).

        More than one match raises MULTIPLE_CHOICES (HTTP 300) listing the matching record URLs.
        """
        sobj = self.sobject(sobject)
        fd = sobj.field(field)
        if fd is None or not (fd.external_id or fd.name == "Id"):
            raise SalesforceError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field}",
                status=404,
            )
        body = dict(values)
        given = next((k for k in body if k.lower() == fd.name.lower()), None)
        if given is not None and body[given] != value:
            raise SalesforceError(
                "INVALID_FIELD",
                f"The value of the external ID field in the request body ({body[given]}) doesn't match the "
                f"value of the external ID field in the URL ({value})",
            )
        body.pop(given, None) if given else None
        with self.transaction():
            if fd.name == "Id":
                self.update(sobj.name, value, body)
                return ids.to_18(value), False
            matches = self.find_by_field(sobj.name, fd.name, value)
            if len(matches) > 1:
                raise SalesforceError(
                    "MULTIPLE_CHOICES",
                    json.dumps([f"/services/data/v59.0/sobjects/{sobj.name}/{m}" for m in matches]),
                    status=300,
                )
            if matches:
                self.update(sobj.name, matches[0], body)
                return matches[0], False
            return self.create(sobj.name, {**body, fd.name: value}), True

    # ------------------------------------------------------------------ bulk internal writes (the seed)

    def insert_many(self, sobject: str, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        """Insert many records at once (the seed's fast path, not REST): returns their ids in order.

        Rows may carry ``Id`` (from :meth:`allocate_ids`), system fields (``CreatedDate``,
        ``SystemModstamp``, ``IsDeleted``...) and read-only fields the seed computes; anything not given
        gets the store's value (ids, stamps from the org clock, defaults, computed fields, auto numbers).
        Field names, value types and restricted picklists are checked; references are not.
        """
        sobj = self.sobject(sobject)
        rows = list(rows)
        if not rows:
            return []
        with self.transaction() as conn:
            stamp = format_datetime(self._now(conn))
            user = self.integration_user_id
            need_ids = sum(1 for r in rows if not r.get("Id"))
            fresh = iter(self._allocate(conn, sobj, need_ids) if need_ids else [])
            defaults = {
                fd.name: self.coerce(sobj, fd, fd.default_value)
                for fd in sobj.fields.values()
                if fd.default_value is not None and fd.type not in ("address", "boolean") and fd.createable
            }
            prepared: list[dict[str, Any]] = []
            converters = self._converters.setdefault(sobj.name, {})
            base: dict[str, Any] = {"Id": None, **defaults, "IsDeleted": 0, "CreatedDate": stamp}
            base.update({"LastModifiedDate": None, "SystemModstamp": None, "CreatedById": user})
            base["LastModifiedById"] = user
            if "OwnerId" in sobj.fields:
                base["OwnerId"] = user
            computed = _has_computed(sobj)
            cache: dict[tuple[str, str], Any] = {}
            get = converters.get
            for raw in rows:
                row = base.copy()
                for key, value in raw.items():
                    entry = get(key)
                    if entry is None:
                        entry = converters[key] = self._bulk_converter(sobj, key)
                    if entry[0]:
                        row[entry[0]] = entry[1](value)
                if row["Id"] is None:
                    row["Id"] = next(fresh)
                if row["LastModifiedDate"] is None:
                    row["LastModifiedDate"] = row["CreatedDate"]
                if row["SystemModstamp"] is None:
                    row["SystemModstamp"] = row["LastModifiedDate"]
                if computed:
                    self._apply_computed(conn, sobj, row, None, cache)
                prepared.append(row)
            if sobj.name == "Order":
                for row in prepared:
                    lifecycle.check_new_order(row)
            self._assign_auto_numbers(conn, sobj, prepared)
            self._insert_rows(conn, sobj, prepared)
            if sobj.name == "OrderItem":
                self._rollups(conn, sobj, [r["OrderId"] for r in prepared], stamp)
            return [r["Id"] for r in prepared]

    def _bulk_converter(self, sobj: SObjectDef, key: str) -> tuple[str, Callable[[Any], Any]]:
        """The (field name, converter) of a key in insert_many rows, with fast paths for common values."""
        if key == "attributes":
            return "", _identity
        fd = sobj.field(key)
        if fd is None:
            raise SalesforceError("INVALID_FIELD", f"No such column '{key}' on sobject of type {sobj.name}")
        if fd.type == "address":
            return "", _identity
        slow = functools.partial(self.coerce, sobj, fd)
        t, length = fd.type, fd.length
        if t in TEXT_TYPES and not fd.restricted_picklist and t != "multipicklist":

            def text(value: Any) -> Any:
                if type(value) is str and value and (length is None or len(value) <= length):
                    return value
                return slow(value)

            return fd.name, text
        if t == "picklist" and fd.restricted_picklist:
            allowed = frozenset(fd.picklist_values)

            def choice(value: Any) -> Any:
                return value if type(value) is str and value in allowed else slow(value)

            return fd.name, choice
        if t == "datetime":

            def instant(value: Any) -> Any:
                return format_datetime(value) if type(value) is datetime else slow(value)

            return fd.name, instant
        if t in ("id", "reference"):

            def ref(value: Any) -> Any:
                if type(value) is str and len(value) == ids.ID_LENGTH:
                    return _checked_id(value)
                return slow(value)

            return fd.name, ref
        if t in NUMBER_TYPES and t != "int":
            limit = 10 ** ((fd.precision or 40) - (fd.scale or 0))
            scale = fd.scale if fd.scale is not None else 15

            def number(value: Any) -> Any:
                if (type(value) is float or type(value) is int) and -limit < value < limit:
                    return round(float(value), scale)
                return slow(value)

            return fd.name, number
        if t == "date":

            def day(value: Any) -> Any:
                return value.isoformat() if type(value) is date else slow(value)

            return fd.name, day
        if t == "boolean":

            def flag(value: Any) -> Any:
                return 1 if value is True else 0 if value is False or value is None else slow(value)

            return fd.name, flag
        return fd.name, slow

    def update_many(self, sobject: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Update many records by ``Id`` (seed fast path; may set system and read-only fields)."""
        sobj = self.sobject(sobject)
        with self.transaction() as conn:
            stamp = format_datetime(self._now(conn))
            touched_orders: list[str] = []
            for raw in rows:
                changes = self._resolve_fields(sobj, raw, creating=False, allow_system=True)
                record_id = changes.pop("Id", None) or raw.get("Id")
                if not record_id:
                    raise SalesforceError("MISSING_ARGUMENT", "Id not specified in an update call")
                old = self.get(sobj.name, record_id, include_deleted=True)
                if old is None:
                    raise SalesforceError("NOT_FOUND", f"no {sobj.name} with Id {record_id}", status=404)
                row = {**old, **changes}
                activating = row.get("Status") in lifecycle.ACTIVATED_STATUSES and old.get("StatusCode") != "Activated"
                if sobj.name == "Order" and activating:
                    lifecycle.check_activation(conn, old["Id"])
                row.setdefault("SystemModstamp", stamp)
                if "SystemModstamp" not in changes:
                    row["SystemModstamp"] = max(stamp, str(old["SystemModstamp"]))
                    if "LastModifiedDate" not in changes:
                        row["LastModifiedDate"] = row["SystemModstamp"]
                self._apply_computed(conn, sobj, row, old)
                changed = {k: v for k, v in row.items() if k != "Id" and old.get(k) != v}
                if changed:
                    sets = ", ".join(f"{q(k)} = ?" for k in changed)
                    conn.execute(f'UPDATE {table(sobj.name)} SET {sets} WHERE "Id" = ?', (*changed.values(), old["Id"]))
                if sobj.name == "OrderItem":
                    touched_orders.append(row["OrderId"])
            self._rollups(conn, sobj, touched_orders, stamp)

    def delete_many(self, sobject: str, record_ids: Sequence[str]) -> None:
        """Move records to the recycle bin (seed fast path)."""
        sobj = self.sobject(sobject)
        with self.transaction() as conn:
            stamp = format_datetime(self._now(conn))
            self._soft_delete(conn, sobj, list(record_ids), stamp)
            if sobj.name == "OrderItem" and record_ids:
                marks = ",".join("?" * len(record_ids))
                orders = [
                    r[0]
                    for r in conn.execute(
                        f'SELECT DISTINCT "OrderId" FROM "sf_OrderItem" WHERE "Id" IN ({marks})',
                        list(record_ids),
                    )
                ]
                self._rollups(conn, sobj, orders, stamp)

    def _assign_auto_numbers(self, conn: sqlite3.Connection, sobj: SObjectDef, rows: list[dict[str, Any]]) -> None:
        for fd in sobj.fields.values():
            if not is_auto_number(sobj.name, fd):
                continue
            todo = [r for r in rows if r.get(fd.name) is None]
            if not todo:
                continue
            start = self.next_counter(conn, f"auto:{sobj.name}.{fd.name}", len(todo))
            for i, row in enumerate(todo):
                row[fd.name] = _auto_format(sobj.name, fd.name, start + i)

    def _insert_rows(self, conn: sqlite3.Connection, sobj: SObjectDef, rows: list[dict[str, Any]]) -> None:
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for row in rows:  # every key is a stored field: rows are built from the schema
            groups.setdefault(tuple(row), []).append(tuple(row.values()))
        for keys, values in groups.items():
            cols = ", ".join(q(k) for k in keys)
            marks = ", ".join("?" * len(keys))
            try:
                conn.executemany(f"INSERT INTO {table(sobj.name)} ({cols}) VALUES ({marks})", values)
            except sqlite3.IntegrityError as exc:
                raise SalesforceError("DUPLICATE_VALUE", f"duplicate value found: {exc}") from exc

    # ------------------------------------------------------------------ whole org

    def reset(self) -> None:
        """Empty the org: every record, query cursor and Bulk job; ids and auto-numbers start again.

        Connections survive (sessions, today's API usage), as do the clock and the faults: they are the
        environment of the org, not its data. The integration user is recreated.
        """
        with self.transaction() as conn:
            for sobj in self.schema.objects.values():
                conn.execute(f"DELETE FROM {table(sobj.name)}")
            for name in ("_cursors", "_bulk_jobs"):
                conn.execute(f"DELETE FROM {name}")
            conn.execute("DELETE FROM _counters WHERE name != 'session'")
            conn.execute("DELETE FROM _meta WHERE key NOT IN ('clock', 'faults', 'api_day', 'api_calls')")
            self._ensure_integration_user(conn)


def address_json(field_name: str, stored: Mapping[str, Any]) -> dict[str, Any] | None:
    prefix = field_name.removesuffix("Address")
    parts = {p: stored.get(prefix + p) for p in ADDRESS_PARTS}
    if all(v is None for v in parts.values()):
        return None
    return {
        "city": parts["City"],
        "country": parts["Country"],
        "geocodeAccuracy": None,
        "latitude": None,
        "longitude": None,
        "postalCode": parts["PostalCode"],
        "state": parts["State"],
        "street": parts["Street"],
    }


def _has_computed(sobj: SObjectDef) -> bool:
    """Whether :meth:`OrgStore._apply_computed` computes anything on this object."""
    return ("StatusCode" in sobj.fields and "Status" in sobj.fields) or sobj.name in (
        "OrderItem",
        "Contact",
        "User",
        "PricebookEntry",
        "Opportunity",
        "Contract",
        *CURRENCY_FROM_PARENT,
    )


def _identity(value: Any) -> Any:
    return value


@functools.lru_cache(maxsize=1 << 17)
def _checked_id(value: str) -> str:
    try:
        return ids.to_18(value)
    except ValueError:
        raise SalesforceError("MALFORMED_ID", f"id value of incorrect type: {value}") from None


def _sf_includes(value: str | None, wanted: str) -> int:
    """INCLUDES for multi-select picklists: any of the ``;``-joined value sets is contained in ``value``."""
    if value is None:
        return 0
    have = {v.lower() for v in value.split(";")}
    for group in json.loads(wanted):
        if {g.lower() for g in group.split(";") if g} <= have:
            return 1
    return 0
