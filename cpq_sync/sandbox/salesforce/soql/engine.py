"""SOQL evaluation: a parsed query is compiled to SQL over the store's tables (filters, ordering, limits,
parent paths as LEFT JOINs, semi-joins as sub-selects), so even 100k-row objects answer quickly.

A query runs in two steps, as a real org's cursor does: the matching ids are selected once (the snapshot
kept by the cursor), then records are fetched page by page, with their parent fields and child subqueries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import cached_property
from typing import Any

from cpq_sync.sandbox.salesforce import ids
from cpq_sync.sandbox.salesforce.errors import SalesforceError, invalid_type, malformed
from cpq_sync.sandbox.salesforce.schema import FieldDef, SObjectDef
from cpq_sync.sandbox.salesforce.soql.dates import date_range
from cpq_sync.sandbox.salesforce.soql.parser import (
    BoolOp,
    Comparison,
    Condition,
    CountItem,
    FieldPath,
    Literal,
    Not,
    Query,
    like_pattern,
    parse,
)
from cpq_sync.sandbox.salesforce.store import (
    ADDRESS_PARTS,
    TEXT_TYPES,
    OrgStore,
    address_json,
    format_datetime,
    parse_datetime,
    q,
    table,
    to_json_value,
)

_SOAP_TYPES = {
    "boolean": "boolean",
    "int": "int",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "date": "date",
    "datetime": "dateTime",
    "id": "id",
    "reference": "id",
}
_CHUNK = 5000
_JSON_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "boolean": bool,
    "int": int,
    "double": float,
    "currency": float,
    "percent": float,
}
#: Marks the column of a range comparison; replaced by "" (index usable) or "+" (index disabled) at run time.
RANGE_MARK = "/*range*/"
PROBE_MIN_ROWS = 5000


def _has_semi_join(cond: Condition) -> bool:
    if isinstance(cond, Comparison):
        return cond.subquery is not None
    if isinstance(cond, Not):
        return _has_semi_join(cond.item)
    return any(_has_semi_join(c) for c in cond.items)


def _not_filterable(fd: FieldDef) -> bool:
    return fd.type == "address" or (fd.type == "textarea" and (fd.length or 0) > 255)


@dataclass
class Resolved:
    rels: tuple[tuple[str, str, SObjectDef], ...]  # (relationship name, alias, parent object) from the base
    alias: str
    fd: FieldDef

    @property
    def column(self) -> str:
        return f"{self.alias}.{q(self.fd.name)}"

    @property
    def key(self) -> tuple[str, ...]:
        return (*(r[0].lower() for r in self.rels), self.fd.name.lower())


class Scope:
    """One FROM object and the parent joins its field paths need."""

    def __init__(self, sobj: SObjectDef, alias: str, compiler: Compiler) -> None:
        self.sobj = sobj
        self.alias = alias
        self.compiler = compiler
        self.joins: dict[tuple[str, ...], tuple[str, str, SObjectDef]] = {}  # lower rel path -> (name, alias, obj)
        self.join_sql: list[str] = []

    def resolve(self, path: FieldPath) -> Resolved:
        parts = list(path.parts)
        if len(parts) > 1 and parts[0].lower() == self.sobj.name.lower() and self.sobj.relationship(parts[0]) is None:
            parts = parts[1:]  # "SELECT Account.Name FROM Account" names the object itself
        sobj, alias = self.sobj, self.alias
        rels: list[tuple[str, str, SObjectDef]] = []
        lower_path: tuple[str, ...] = ()
        for part in parts[:-1]:
            ref = sobj.relationship(part)
            if ref is None or not ref.reference_to:
                raise SalesforceError(
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{part}' in field path. If you are attempting to use a "
                    "custom "
                    "relationship, be sure to append the '__r' after the custom relationship name. Please "
                    "reference "
                    "your WSDL or the describe call for the appropriate names.",
                )
            lower_path = (*lower_path, part.lower())
            joined = self.joins.get(lower_path)
            if joined is None:
                parent = self.compiler.schema.sobject(ref.reference_to[0])
                assert parent is not None
                parent_alias = self.compiler.new_alias()
                assert ref.relationship_name is not None
                joined = (ref.relationship_name, parent_alias, parent)
                self.joins[lower_path] = joined
                self.join_sql.append(
                    f'LEFT JOIN {table(parent.name)} {parent_alias} ON {parent_alias}."Id" = {alias}.{q(ref.name)}'
                )
            rels.append(joined)
            _, alias, sobj = joined
        fd = sobj.field(parts[-1])
        if fd is None:
            raise SalesforceError(
                "INVALID_FIELD",
                f"No such column '{parts[-1]}' on entity '{sobj.name}'. If you are attempting to use a "
                "custom field, "
                "be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
                "describe call for the appropriate names.",
            )
        return Resolved(tuple(rels), alias, fd)

    @property
    def from_sql(self) -> str:
        return " ".join([f"{table(self.sobj.name)} {self.alias}", *self.join_sql])


@dataclass
class FieldOut:
    resolved: Resolved
    columns: list[int]  # indexes in the row (5 for an address)
    rel_id_columns: list[int]  # index of each parent's Id column


@dataclass
class ChildOut:
    name: str  # canonical child relationship name
    fk: str  # the child's field pointing at the parent
    plan: Plan


@dataclass
class Plan:
    query: Query
    scope: Scope
    count_only: bool = False
    outputs: list[FieldOut | ChildOut] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    where_sql: str = "1"
    where_params: list[Any] = field(default_factory=list)
    order_sql: str = ""
    version: str = "59.0"
    probe: tuple[str, Any] | None = None  # counts rows matching the first range term (index-only)

    @property
    def sobj(self) -> SObjectDef:
        return self.scope.sobj

    def column_index(self, expr: str) -> int:
        try:
            return self.columns.index(expr)
        except ValueError:
            self.columns.append(expr)
            return len(self.columns) - 1

    @cached_property
    def url_prefix(self) -> str:
        return f"/services/data/v{self.version}/sobjects/{self.sobj.name}/"

    @cached_property
    def simple_outputs(self) -> list[tuple[str, int, Callable[[Any], Any] | None] | None]:
        """For each output that is a plain field of the queried object: (name, column, JSON converter)."""
        simple: list[tuple[str, int, Callable[[Any], Any] | None] | None] = []
        for out in self.outputs:
            if isinstance(out, FieldOut) and not out.resolved.rels and out.resolved.fd.type != "address":
                fd = out.resolved.fd
                convert = _JSON_CONVERTERS.get(fd.type)
                simple.append((fd.name, out.columns[0], convert))
            else:
                simple.append(None)
        return simple

    @property
    def has_children(self) -> bool:
        return any(isinstance(o, ChildOut) for o in self.outputs)


class Compiler:
    def __init__(self, store: OrgStore, now: datetime, version: str) -> None:
        self.store = store
        self.schema = store.schema
        self.today = now.astimezone(UTC).date()
        self.version = version
        self._aliases = 0
        self.ranges: list[tuple[str, str, Any, str]] = []  # range terms: (column, op, value, collation)

    def new_alias(self) -> str:
        self._aliases += 1
        return f"t{self._aliases}"

    def sobject(self, name: str) -> SObjectDef:
        sobj = self.schema.sobject(name)
        if sobj is None:
            raise invalid_type(name)
        return sobj

    # ------------------------------------------------------------------ query

    def plan(self, query: Query, sobj: SObjectDef | None = None) -> Plan:
        scope = Scope(sobj or self.sobject(query.sobject), self.new_alias(), self)
        plan = Plan(query=query, scope=scope, version=self.version)
        plan.column_index(f'{scope.alias}."Id"')
        if any(isinstance(item, CountItem) for item in query.select):
            if len(query.select) != 1:
                raise malformed("COUNT() must be the only element in the SELECT list")
            plan.count_only = True
            if query.order_by:
                raise malformed("ORDER BY is not supported with COUNT()")
        seen: set[tuple[str, ...]] = set()
        for item in query.select:
            if isinstance(item, CountItem):
                continue
            if isinstance(item, Query):
                plan.outputs.append(self.child(item, scope.sobj, seen))
                continue
            resolved = scope.resolve(item)
            if resolved.key in seen:
                raise malformed(f"duplicate field selected: {item.text}")
            seen.add(resolved.key)
            if resolved.fd.type == "address":
                prefix = resolved.fd.name.removesuffix("Address")
                cols = [plan.column_index(f"{resolved.alias}.{q(prefix + p)}") for p in ADDRESS_PARTS]
            else:
                cols = [plan.column_index(resolved.column)]
            rel_ids = [plan.column_index(f'{alias}."Id"') for _, alias, _ in resolved.rels]
            plan.outputs.append(FieldOut(resolved, cols, rel_ids))
        if query.where is not None:
            first_range = len(self.ranges)
            plan.where_sql = self.condition(query.where, scope, plan.where_params, allow_semi=True)
            own = [r for r in self.ranges[first_range:] if r[0].startswith(f"{scope.alias}.")]
            if own:
                col, op, value, collate = own[0]
                column = col.split(".", 1)[1]
                plan.probe = (
                    f"SELECT count(*) FROM (SELECT 1 FROM {table(scope.sobj.name)} "
                    f"WHERE {column} {op} ?{collate} LIMIT ?)",
                    value,
                )
        order = []
        for key in query.order_by:
            resolved = scope.resolve(key.path)
            fd = resolved.fd
            if _not_filterable(fd) or fd.type == "multipicklist":
                raise SalesforceError("INVALID_FIELD", f"field '{fd.name}' can not be sorted in a query call")
            collate = " COLLATE NOCASE" if fd.type in TEXT_TYPES else ""
            direction = "DESC" if key.descending else "ASC"
            nulls = "LAST" if key.nulls_last else "FIRST"
            order.append(f"{RANGE_MARK}{resolved.column}{collate} {direction} NULLS {nulls}")
        order.append(f"{scope.alias}.rowid")
        plan.order_sql = ", ".join(order)
        if query.offset is not None and query.offset > 2000:
            raise SalesforceError("NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")
        return plan

    def child(self, sub: Query, parent: SObjectDef, seen: set[tuple[str, ...]]) -> ChildOut:
        rel = next(
            (c for c in parent.child_relationships if c.relationship_name.lower() == sub.sobject.lower()),
            None,
        )
        if rel is None:
            raise SalesforceError(
                "INVALID_TYPE",
                f"Didn't understand relationship '{sub.sobject}' in FROM part of query call. If you are "
                "attempting to "
                "use a custom relationship, be sure to append the '__r' after the custom relationship name. "
                "Please "
                "reference your WSDL or the describe call for the appropriate names.",
            )
        if ("child", rel.relationship_name.lower()) in seen:
            raise malformed(f"duplicate field selected: {rel.relationship_name}")
        seen.add(("child", rel.relationship_name.lower()))
        if any(isinstance(i, CountItem) for i in sub.select):
            raise malformed("COUNT() is not allowed in a child relationship subquery")
        child_plan = self.plan(sub, self.sobject(rel.child_sobject))
        return ChildOut(rel.relationship_name, rel.field, child_plan)

    # ------------------------------------------------------------------ WHERE

    def condition(self, cond: Condition, scope: Scope, params: list[Any], *, allow_semi: bool) -> str:
        if isinstance(cond, BoolOp):
            if cond.op == "OR" and any(_has_semi_join(c) for c in cond.items):
                raise malformed("Semi join sub-selects are not allowed with the 'OR' operator")
            parts = [self.condition(c, scope, params, allow_semi=allow_semi) for c in cond.items]
            return "(" + f" {cond.op} ".join(parts) + ")"
        if isinstance(cond, Not):
            # SOQL comparisons are never unknown: a null compares false, so NOT of it is true.
            return f"(NOT COALESCE({self.condition(cond.item, scope, params, allow_semi=allow_semi)}, 0))"
        return self.comparison(cond, scope, params, allow_semi=allow_semi)

    def comparison(self, cmp: Comparison, scope: Scope, params: list[Any], *, allow_semi: bool) -> str:
        resolved = scope.resolve(cmp.path)
        fd, col = resolved.fd, resolved.column
        if _not_filterable(fd):
            raise SalesforceError("INVALID_FIELD", f"field '{fd.name}' can not be filtered in query call")
        if cmp.subquery is not None:
            if not allow_semi:
                raise malformed("Nesting of semi join sub-selects is not supported")
            return self.semi_join(cmp, resolved, params, scope.sobj)
        if cmp.op in ("INCLUDES", "EXCLUDES"):
            if fd.type != "multipicklist":
                raise SalesforceError(
                    "INVALID_FIELD",
                    f"{cmp.op} operator is only valid on multi-select picklist fields: {fd.name}",
                )
            import json

            params.append(json.dumps([str(v.value) for v in cmp.values]))
            if cmp.op == "INCLUDES":
                return f"sf_includes({col}, ?) = 1"
            return f"({col} IS NULL OR sf_includes({col}, ?) = 0)"
        if cmp.op == "LIKE":
            if fd.type not in TEXT_TYPES or fd.type == "multipicklist":
                raise SalesforceError(
                    "INVALID_FIELD",
                    f"invalid operator on {_SOAP_TYPES.get(fd.type, fd.type)} field: {fd.name}",
                )
            params.append(like_pattern(cmp.values[0].raw))
            return f"{col} LIKE ? ESCAPE '\\'"
        if cmp.op in ("IN", "NOT IN"):
            op = "=" if cmp.op == "IN" else "!="
            parts = [self.simple(fd, col, op, v, params) for v in cmp.values]
            return "(" + (" OR " if op == "=" else " AND ").join(parts) + ")"
        return self.simple(fd, col, cmp.op, cmp.values[0], params)

    def simple(self, fd: FieldDef, col: str, op: str, lit: Literal, params: list[Any]) -> str:
        if lit.kind == "null":
            if op == "=":
                return f"{col} IS NULL"
            if op == "!=":
                return f"{col} IS NOT NULL"
            return "0"
        if lit.kind == "date_literal":
            if fd.type not in ("date", "datetime"):
                raise self.type_error(fd, lit)
            start, end = date_range(str(lit.value), lit.n, self.today)
            lo, hi = (self.day_bound(fd, start), self.day_bound(fd, end))
            if op == "=":
                params.extend([lo, hi])
                self.ranges.append((col, ">=", lo, ""))
                return f"({RANGE_MARK}{col} >= ? AND {RANGE_MARK}{col} < ?)"
            if op == "!=":
                params.extend([lo, hi])
                return f"({col} IS NULL OR {col} < ? OR {col} >= ?)"
            bound = {"<": lo, "<=": hi, ">": hi, ">=": lo}[op]
            params.append(bound)
            sql_op = {"<": "<", "<=": "<", ">": ">=", ">=": ">="}[op]
            self.ranges.append((col, sql_op, bound, ""))
            return f"{RANGE_MARK}{col} {sql_op} ?"
        value = self.value(fd, lit)
        collate = " COLLATE NOCASE" if fd.type in TEXT_TYPES else ""
        params.append(value)
        if op == "=":
            return f"{col} = ?{collate}"
        if op == "!=":
            return f"({col} IS NULL OR {col} <> ?{collate})"
        self.ranges.append((col, op, value, collate))
        return f"{RANGE_MARK}{col} {op} ?{collate}"

    def day_bound(self, fd: FieldDef, day: date) -> str:
        if fd.type == "date":
            return day.isoformat()
        return format_datetime(datetime.combine(day, time(), UTC))

    def type_error(self, fd: FieldDef, lit: Literal) -> SalesforceError:
        kind = _SOAP_TYPES.get(fd.type, "string")
        quoted = "be enclosed" if kind in ("string", "id") else "not be enclosed"
        return SalesforceError(
            "INVALID_FIELD",
            f"value of filter criterion for field '{fd.name}' must be of type {kind} and should {quoted} in quotes",
        )

    def value(self, fd: FieldDef, lit: Literal) -> Any:
        t = fd.type
        if t in ("id", "reference"):
            if lit.kind != "string":
                raise self.type_error(fd, lit)
            text = str(lit.value)
            try:
                return ids.to_18(text)
            except ValueError:
                raise SalesforceError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {text}") from None
        if t in TEXT_TYPES:
            if lit.kind != "string":
                raise self.type_error(fd, lit)
            return lit.value
        if t == "boolean":
            if lit.kind != "boolean":
                raise self.type_error(fd, lit)
            return int(bool(lit.value))
        if t in ("int", "double", "currency", "percent"):
            if lit.kind != "number":
                raise self.type_error(fd, lit)
            return lit.value
        if t == "date":
            if lit.kind != "date":
                raise self.type_error(fd, lit)
            try:
                return date.fromisoformat(str(lit.value)).isoformat()
            except ValueError:
                raise malformed(f"invalid date: {lit.value}") from None
        if t == "datetime":
            if lit.kind != "datetime":
                raise self.type_error(fd, lit)
            try:
                return format_datetime(parse_datetime(str(lit.value)))
            except ValueError:
                raise malformed(f"invalid dateTime: {lit.value}") from None
        raise self.type_error(fd, lit)

    def semi_join(self, cmp: Comparison, left: Resolved, params: list[Any], outer: SObjectDef) -> str:
        if left.fd.type not in ("id", "reference"):
            raise SalesforceError(
                "INVALID_FIELD",
                f"Semi/anti join sub-selects need an id or reference field on the left: {left.fd.name}",
            )
        sub = cmp.subquery
        assert sub is not None
        if len(sub.select) != 1 or not isinstance(sub.select[0], FieldPath):
            raise malformed("The selected field in a semi join sub-select must be a single id or reference field")
        if sub.order_by or sub.offset is not None:
            raise malformed("ORDER BY and OFFSET are not supported in semi join sub-selects")
        inner = self.sobject(sub.sobject)
        if inner.name == outer.name:
            raise malformed("The inner and outer selects should not be on the same object type")
        scope = Scope(inner, self.new_alias(), self)
        target = scope.resolve(sub.select[0])
        if target.fd.type not in ("id", "reference"):
            raise SalesforceError(
                "INVALID_FIELD",
                f"The selected field '{target.fd.name}' in a semi join sub-select must be an id",
            )
        sub_params: list[Any] = []
        where = "1"
        if sub.where is not None:
            where = self.condition(sub.where, scope, sub_params, allow_semi=False)
        limit = f" LIMIT {sub.limit}" if sub.limit is not None else ""
        select = (
            f'SELECT {target.column} FROM {scope.from_sql} WHERE {scope.alias}."IsDeleted" = 0 AND ({where}) '
            f"AND {target.column} IS NOT NULL{limit}"
        )
        params.extend(sub_params)
        if cmp.op == "IN":
            return f"{left.column} IN ({select})"
        return f"({left.column} IS NULL OR {left.column} NOT IN ({select}))"


class SoqlEngine:
    """Runs SOQL against one org store."""

    def __init__(self, store: OrgStore, version: str = "59.0") -> None:
        self.store = store
        self.version = version

    def plan(self, soql: str) -> Plan:
        query = parse(soql)
        return Compiler(self.store, self.store.now(), self.version).plan(query)

    def _where(self, plan: Plan, include_deleted: bool) -> str:
        deleted = "" if include_deleted else f'{plan.scope.alias}."IsDeleted" = 0 AND '
        return f"{deleted}({plan.where_sql})"

    def _unselective(self, plan: Plan) -> bool:
        """True when the query's first range term (e.g. ``SystemModstamp >= X``) matches a large share of
        the table: a scan then beats walking the index and fetching every row (SQLite has no range stats).
        """
        if plan.probe is None:
            return False
        conn = self.store.conn
        rows = conn.execute(f"SELECT max(rowid) FROM {table(plan.sobj.name)}").fetchone()[0] or 0
        if rows < PROBE_MIN_ROWS:
            return False
        cap = rows // 4
        sql, value = plan.probe
        return bool(conn.execute(sql, (value, cap)).fetchone()[0] >= cap)

    def select_ids(self, plan: Plan, include_deleted: bool) -> list[str]:
        """The ids of every matching record, in result order (the cursor's snapshot)."""
        q_ = plan.query
        limit = f" LIMIT {q_.limit if q_.limit is not None else -1}"
        offset = f" OFFSET {q_.offset}" if q_.offset else ""
        mark = "+" if self._unselective(plan) else ""
        where = self._where(plan, include_deleted).replace(RANGE_MARK, mark)
        order = plan.order_sql.replace(RANGE_MARK, mark)
        sql = f'SELECT {plan.scope.alias}."Id" FROM {plan.scope.from_sql} WHERE {where} ORDER BY {order}{limit}{offset}'
        return [r[0] for r in self.store.conn.execute(sql, plan.where_params)]

    def count(self, plan: Plan, include_deleted: bool) -> int:
        return len(self.select_ids(plan, include_deleted))

    def fetch_rows(self, plan: Plan, record_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """The stored rows (``plan.columns``) of the records with these ids, in the given order."""
        rows: dict[str, tuple[Any, ...]] = {}
        conn = self.store.conn
        cols = ", ".join(plan.columns)
        for start in range(0, len(record_ids), _CHUNK):
            chunk = list(record_ids[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            sql = f'SELECT {cols} FROM {plan.scope.from_sql} WHERE {plan.scope.alias}."Id" IN ({marks})'
            for row in conn.execute(sql, chunk):
                rows[row[0]] = row
        return [rows[i] for i in record_ids if i in rows]

    def fetch(self, plan: Plan, record_ids: Sequence[str], include_deleted: bool) -> list[dict[str, Any]]:
        """The records with these ids, as REST returns them, in the given order."""
        conn = self.store.conn
        ordered = self.fetch_rows(plan, record_ids)
        records = [self.build(plan, row) for row in ordered]
        for out in plan.outputs:
            if isinstance(out, ChildOut):
                self.attach_children(conn, out, [r[0] for r in ordered], records, include_deleted)
        return records

    def attach_children(
        self,
        conn: sqlite3.Connection,
        out: ChildOut,
        parent_ids: list[str],
        records: list[dict[str, Any]],
        include_deleted: bool,
    ) -> None:
        child = out.plan
        fk_col = f"{child.scope.alias}.{q(out.fk)}"
        cols = ", ".join([fk_col, *child.columns])
        grouped: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(parent_ids), _CHUNK):
            chunk = parent_ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT {cols} FROM {child.scope.from_sql} WHERE {fk_col} IN ({marks}) AND "
                f"{self._where(child, include_deleted)} ORDER BY {child.order_sql}"
            )
            for row in conn.execute(sql, [*chunk, *child.where_params]):
                grouped.setdefault(row[0], []).append(self.build(child, row[1:]))
        limit = child.query.limit
        for parent_id, record in zip(parent_ids, records, strict=True):
            found = grouped.get(parent_id)
            if found and limit is not None:
                found = found[:limit]
            record[out.name] = {"totalSize": len(found), "done": True, "records": found} if found else None

    def build(self, plan: Plan, row: Sequence[Any]) -> dict[str, Any]:
        sobj = plan.sobj
        record: dict[str, Any] = {"attributes": {"type": sobj.name, "url": plan.url_prefix + row[0]}}
        for out, simple in zip(plan.outputs, plan.simple_outputs, strict=True):
            if simple is not None:  # a field of the queried object itself: the common case, kept fast
                name, index, convert = simple
                value = row[index]
                record[name] = value if value is None or convert is None else convert(value)
                continue
            if isinstance(out, ChildOut):
                record[out.name] = None  # filled by attach_children, keeps the SELECT order
                continue
            target: dict[str, Any] | None = record
            for (name, _alias, parent), id_col in zip(out.resolved.rels, out.rel_id_columns, strict=True):
                assert target is not None
                if name not in target:
                    parent_id = row[id_col]
                    target[name] = (
                        None
                        if parent_id is None
                        else {
                            "attributes": {
                                "type": parent.name,
                                "url": f"/services/data/v{plan.version}/sobjects/{parent.name}/{parent_id}",
                            }
                        }
                    )
                target = target[name]
                if target is None:
                    break
            if target is None:
                continue
            fd = out.resolved.fd
            if fd.type == "address":
                prefix = fd.name.removesuffix("Address")
                target[fd.name] = address_json(
                    fd.name, {prefix + p: row[c] for p, c in zip(ADDRESS_PARTS, out.columns, strict=True)}
                )
            else:
                target[fd.name] = to_json_value(fd, row[out.columns[0]])
        return record
