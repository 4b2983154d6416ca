"""SOQL conditions as data: parse a user's condition with the strict SOQL grammar (the one the sandbox org
serves), and render it back from its parse tree. What reaches a query is always the rendering, never the text."""

from __future__ import annotations

from collections.abc import Iterator

from cpq_sync.sandbox.salesforce.errors import SalesforceError
from cpq_sync.sandbox.salesforce.soql.parser import (
    BoolOp,
    Comparison,
    Condition,
    FieldPath,
    Literal,
    Not,
    Query,
    parse,
)

__all__ = ["Condition", "SoqlError", "field_paths", "parse_condition", "render_condition"]


_HINTS = {
    "'": "a quote is not closed: strings are in single quotes, with \\' for a quote inside",
    '"': "strings are in single quotes, not double quotes",
    ";": "a filter is one condition: no semicolon, no second statement",
    "-": "no comments: -- and /* */ are not SOQL",
    "/": "no comments: -- and /* */ are not SOQL",
}
"""What the parser's complaint about a token most likely means in a sync filter."""


class SoqlError(ValueError):
    """The text is not a SOQL condition (the message says where and why)."""


def parse_condition(text: str) -> Condition:
    """One WHERE condition; anything else (ORDER BY, LIMIT, a second statement, a comment) is refused."""
    if not text.strip():
        raise SoqlError("the condition is empty")
    try:
        query = parse(f"SELECT Id FROM Order WHERE {text}")
    except SalesforceError as exc:
        detail = exc.message.strip().splitlines()[-1] if exc.message.strip() else exc.code
        hint = next((h for token, h in _HINTS.items() if detail == f"unexpected token: '{token}'"), None)
        raise SoqlError(f"{detail} in {text!r}" + (f" ({hint})" if hint else "")) from None
    if query.where is None or query.order_by or query.limit is not None or query.offset is not None:
        raise SoqlError(f"only a condition is allowed (no ORDER BY, LIMIT or OFFSET): {text!r}")
    for sub in _subqueries(query.where):
        if len(sub.select) != 1 or not isinstance(sub.select[0], FieldPath) or sub.order_by or sub.limit or sub.offset:
            raise SoqlError(f"a subquery may only be SELECT one field FROM an object WHERE a condition: {text!r}")
    return query.where


def _comparisons(condition: Condition) -> Iterator[Comparison]:
    if isinstance(condition, BoolOp):
        for item in condition.items:
            yield from _comparisons(item)
    elif isinstance(condition, Not):
        yield from _comparisons(condition.item)
    else:
        yield condition


def _subqueries(condition: Condition) -> Iterator[Query]:
    for comparison in _comparisons(condition):
        if comparison.subquery is not None:
            yield comparison.subquery
            if comparison.subquery.where is not None:
                yield from _subqueries(comparison.subquery.where)


def field_paths(sobject: str, condition: Condition) -> Iterator[tuple[str, str]]:
    """(object, field path) for every field the condition names, subqueries' fields with their own object."""
    for comparison in _comparisons(condition):
        yield sobject, comparison.path.text
        sub = comparison.subquery
        if sub is not None:
            yield from ((sub.sobject, f.text) for f in sub.select if isinstance(f, FieldPath))
            if sub.where is not None:
                yield from field_paths(sub.sobject, sub.where)


def _string(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )
    return f"'{escaped}'"


def _literal(lit: Literal) -> str:
    if lit.kind == "string":
        return _string(str(lit.value))
    if lit.kind == "null":
        return "null"
    if lit.kind == "boolean":
        return "true" if lit.value else "false"
    if lit.kind == "date_literal":
        return f"{lit.value}:{lit.n}" if lit.n is not None else str(lit.value)
    return str(lit.value)  # number, date, datetime: their own text


def _path(path: FieldPath) -> str:
    return path.text


def _subquery(query: Query) -> str:
    fields = ", ".join(_path(f) for f in query.select if isinstance(f, FieldPath))
    where = f" WHERE {render_condition(query.where)}" if query.where is not None else ""
    return f"SELECT {fields} FROM {query.sobject}{where}"


def render_condition(condition: Condition) -> str:
    if isinstance(condition, BoolOp):
        return f" {condition.op} ".join(f"({render_condition(c)})" for c in condition.items)
    if isinstance(condition, Not):
        return f"NOT ({render_condition(condition.item)})"
    assert isinstance(condition, Comparison)
    field = _path(condition.path)
    if condition.subquery is not None:
        return f"{field} {condition.op} ({_subquery(condition.subquery)})"
    if condition.op in ("IN", "NOT IN", "INCLUDES", "EXCLUDES"):
        return f"{field} {condition.op} ({', '.join(_literal(v) for v in condition.values)})"
    return f"{field} {condition.op} {_literal(condition.values[0])}"
