"""Stripe's search query language (the subset the sandbox serves) and search responses.

Supported: ``field:'value'`` (exact), ``field~'value'`` (substring, at least 3 characters),
``metadata['key']:'value'``, ``created>1700000000`` (also ``:``, ``>=``, ``<``, ``<=``), clauses joined by
``AND`` or by ``OR`` (not both, as at Stripe), and ``-`` negation. Anything else (``null``, parentheses,
unsupported fields, comparisons on other fields) is a 400 naming the problem.
Paging: ``limit`` and ``page`` (the ``next_page`` token of the previous page).

Unlike Stripe (eventually consistent, within a minute), the sandbox's search sees every write immediately.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cpq_sync.sandbox.stripe.errors import StripeError, invalid_request
from cpq_sync.sandbox.stripe.listing import read_limit
from cpq_sync.sandbox.stripe.router import RequestContext
from cpq_sync.sandbox.stripe.store import Condition, Cursor

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<metadata>metadata\[(?P<q>['"])(?P<mkey>(?:\\.|(?!(?P=q)).)*)(?P=q)\])
      | (?P<string>'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")
      | (?P<op>>=|<=|:|~|>|<|-|\(|\))
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<number>\d+(?:\.\d+)?)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Clause:
    field: str  # "email" or "metadata.key"
    op: str  # ":" or "~"
    value: str
    negated: bool = False


@dataclass(frozen=True)
class Query:
    clauses: tuple[Clause, ...]
    joiner: str  # "AND" | "OR"


def _fail(message: str) -> StripeError:
    return invalid_request(f"Invalid search query: {message}", param="query")


def _tokens(query: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(query):
        if query[pos:].strip() == "":
            break
        match = _TOKEN.match(query, pos)
        if match is None or match.end() == pos:
            raise _fail(f"unexpected character {query[pos:].strip()[:1]!r} at position {pos}.")
        pos = match.end()
        kind = match.lastgroup
        if match.group("metadata") is not None:
            out.append(("field", "metadata." + _unescape(match.group("mkey"))))
        elif match.group("string") is not None:
            out.append(("string", _unescape(match.group("string")[1:-1])))
        elif kind == "op":
            out.append(("op", match.group("op")))
        elif kind == "word":
            word = match.group("word")
            out.append(("joiner", word) if word in ("AND", "OR") else ("field", word))
        else:
            out.append(("number", match.group("number")))
    return out


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse(query: str, fields: Iterable[str]) -> Query:
    """Parse ``query`` for an object type whose searchable fields are ``fields`` (+ metadata)."""
    allowed = set(fields)
    tokens = _tokens(query)
    if not tokens:
        raise _fail("the query is empty.")
    clauses: list[Clause] = []
    joiners: set[str] = set()
    i = 0
    while True:
        negated = False
        if i < len(tokens) and tokens[i] == ("op", "-"):
            negated = True
            i += 1
        if i >= len(tokens):
            raise _fail("a clause must read field:'value'.")
        kind, field = tokens[i]
        if kind != "field":
            raise _fail(f"expected a field name, found {field!r}.")
        if not field.startswith("metadata.") and field not in allowed and field != "created":
            raise _fail(
                f"`{field}` is not a supported search field here. Supported: {', '.join(sorted(allowed))}, "
                "metadata['key']."
            )
        op_kind, op = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if field == "created":
            value_kind, value = tokens[i + 2] if i + 2 < len(tokens) else ("", "")
            if op_kind != "op" or op not in (":", ">", ">=", "<", "<=") or value_kind != "number":
                raise _fail("`created` takes a unix timestamp with :, >, >=, < or <= (e.g. created>1700000000).")
            clauses.append(Clause(field, op, value, negated))
            i += 3
            if i >= len(tokens):
                break
            kind, word = tokens[i]
            if kind != "joiner":
                raise _fail(f"expected AND or OR, found {word!r}.")
            joiners.add(word)
            i += 1
            if i >= len(tokens):
                raise _fail(f"the query ends with {word}.")
            continue
        if op_kind != "op" or op not in (":", "~"):
            raise _fail(f"operator {op or 'missing'!r} after `{field}` is not supported by the sandbox (use : or ~).")
        value_kind, value = tokens[i + 2] if i + 2 < len(tokens) else ("", "")
        if value_kind != "string":
            raise _fail(f"the value for `{field}` must be a quoted string, e.g. {field}:'value'.")
        if op == "~" and len(value) < 3:
            raise _fail("substring matches (~) need at least 3 characters.")
        clauses.append(Clause(field, op, value, negated))
        i += 3
        if i >= len(tokens):
            break
        kind, word = tokens[i]
        if kind != "joiner":
            raise _fail(f"expected AND or OR, found {word!r}.")
        joiners.add(word)
        i += 1
        if i >= len(tokens):
            raise _fail(f"the query ends with {word}.")
    if len(joiners) > 1:
        raise _fail("AND and OR cannot be combined in one query.")
    if len(clauses) > 10:
        raise _fail("at most 10 clauses are allowed.")
    return Query(tuple(clauses), joiners.pop() if joiners else "AND")


def to_condition(object_type: str, query: Query) -> Condition:
    parts = []
    for clause in query.clauses:
        if clause.field == "created":
            sql_op = "=" if clause.op == ":" else clause.op
            cond = Condition(f"o.created {sql_op} ?", (int(float(clause.value)),))
        elif clause.op == ":":
            cond = Condition.attr(object_type, clause.field, clause.value)
        else:
            escaped = clause.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            cond = Condition.attr_like(object_type, clause.field, f"%{escaped}%")
        parts.append(cond.negated() if clause.negated else cond)
    return Condition.all_of(parts) if query.joiner == "AND" else Condition.any_of(parts)


def _encode_page(cursor: Cursor) -> str:
    return base64.urlsafe_b64encode(f"{cursor.created}:{cursor.seq}".encode()).decode().rstrip("=")


def _decode_page(token: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        created, seq = raw.split(":")
        return Cursor(int(created), int(seq))
    except (ValueError, UnicodeDecodeError):
        raise invalid_request(f"Invalid page token: {token}", param="page") from None


def search_response(ctx: RequestContext, object_type: str, *, url: str, fields: Iterable[str]) -> dict[str, Any]:
    """A Stripe ``search_result`` for ``object_type`` (fields: the searchable indexed fields)."""
    params = ctx.params
    query = params.get("query")
    if not isinstance(query, str):
        raise invalid_request("Missing required param: query.", param="query")
    limit = read_limit(params)
    after = _decode_page(str(params["page"])) if params.get("page") else None
    condition = to_condition(object_type, parse(query, fields))
    page = ctx.store.page(object_type, condition=condition, limit=limit, after=after)
    next_page = _encode_page(page.last) if page.has_more and page.last is not None else None
    return {
        "object": "search_result",
        "data": page.data,
        "has_more": page.has_more,
        "next_page": next_page,
        "url": url,
    }
