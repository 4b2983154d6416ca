"""A strict lexer and recursive-descent parser for the SOQL subset the sandbox org serves.

Anything outside the subset raises MALFORMED_QUERY with the position, as a real org does; nothing is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from cpq_sync.sandbox.salesforce.errors import SalesforceError

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\w:.]))
  | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?![\w.]))
  | (?P<string>'(?:[^'\\\n]|\\.)*')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),:])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
KEYWORDS = frozenset(
    """SELECT FROM WHERE AND OR NOT IN LIKE INCLUDES EXCLUDES ORDER BY ASC DESC NULLS FIRST LAST LIMIT
    OFFSET NULL TRUE FALSE GROUP HAVING WITH FOR USING SCOPE TYPEOF UPDATE VIEW REFERENCE TRACKING""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Token:
    kind: str  # ident, string, number, date, datetime, op, punct, eof
    text: str
    pos: int

    @cached_property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "ident" else ""


@dataclass(frozen=True)
class FieldPath:
    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, date, datetime, null, boolean, date_literal
    value: object
    raw: str = ""  # the raw string body (escapes undecoded), for LIKE
    n: int | None = None  # the n of LAST_N_DAYS:n


@dataclass
class Comparison:
    path: FieldPath
    op: str  # = != < <= > >= LIKE IN NOT IN INCLUDES EXCLUDES
    values: list[Literal] = field(default_factory=list)
    subquery: Query | None = None


@dataclass
class BoolOp:
    op: str  # AND / OR
    items: list[Condition]


@dataclass
class Not:
    item: Condition


Condition = Comparison | BoolOp | Not


@dataclass
class OrderKey:
    path: FieldPath
    descending: bool = False
    nulls_last: bool | None = None


@dataclass
class CountItem:
    pass


@dataclass
class Query:
    select: list[FieldPath | Query | CountItem]
    sobject: str
    where: Condition | None = None
    order_by: list[OrderKey] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None


def _malformed(text: str, tok: Token, detail: str | None = None) -> SalesforceError:
    line = text.count("\n", 0, tok.pos) + 1
    col = tok.pos - (text.rfind("\n", 0, tok.pos) + 1) + 1
    shown = "<EOF>" if tok.kind == "eof" else tok.text
    message = detail or f"unexpected token: '{shown}'"
    return SalesforceError(
        "MALFORMED_QUERY", f"\n{text}\n{' ' * (col - 1)}^\nERROR at Row:{line}:Column:{col}\n{message}"
    )


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            bad = Token("punct", text[pos], pos)
            raise _malformed(text, bad)
        kind = m.lastgroup
        assert kind is not None
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


def decode_string(raw: str) -> str:
    """The value of a quoted SOQL string body (between the quotes), escapes decoded."""
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            nxt = raw[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in "%_":
                out.append("\\" + nxt)  # only meaningful in LIKE; kept literally elsewhere
            elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[i + 2 : i + 6]):
                out.append(chr(int(raw[i + 2 : i + 6], 16)))
                i += 4
            else:
                raise SalesforceError(
                    "MALFORMED_QUERY",
                    f"Invalid string literal '{raw}'. Illegal character sequence '\\{nxt}' in string literal.",
                )
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def like_pattern(raw: str) -> str:
    """A SOQL LIKE string body as an SQLite LIKE pattern with ESCAPE '\\'."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            nxt = raw[i + 1]
            if nxt in "%_\\":
                out.append("\\" + nxt)
            else:
                out.append(decode_string(raw[i : i + 2]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, detail: str | None = None) -> SalesforceError:
        return _malformed(self.text, self.tok, detail)

    def accept_kw(self, *words: str) -> bool:
        if self.tok.upper in words and self.tok.kind == "ident":
            self.i += 1
            return True
        return False

    def expect_kw(self, word: str) -> None:
        if not self.accept_kw(word):
            raise self.error()

    def expect_punct(self, ch: str) -> None:
        if self.tok.kind != "punct" or self.tok.text != ch:
            raise self.error()
        self.i += 1

    def at_punct(self, ch: str) -> bool:
        return self.tok.kind == "punct" and self.tok.text == ch

    def ident(self) -> str:
        if self.tok.kind != "ident" or self.tok.upper in KEYWORDS:
            raise self.error()
        return self.advance().text

    # -------------------------------------------------------------- grammar

    def parse(self) -> Query:
        query = self.query(nested=False)
        if self.tok.kind != "eof":
            raise self.error()
        return query

    def query(self, *, nested: bool) -> Query:
        self.expect_kw("SELECT")
        select: list[FieldPath | Query | CountItem] = []
        while True:
            if self.at_punct("("):
                if nested:
                    raise self.error()
                self.advance()
                select.append(self.query(nested=True))
                self.expect_punct(")")
            elif self.tok.upper == "COUNT" and self.tokens[self.i + 1].text == "(":
                self.i += 2
                if not self.at_punct(")"):
                    raise self.error("COUNT() with a field argument needs GROUP BY, which this org does not support")
                self.advance()
                select.append(CountItem())
            else:
                select.append(FieldPath(tuple(self.ident().split("."))))
            if self.at_punct(","):
                self.advance()
                continue
            break
        self.expect_kw("FROM")
        if self.tok.kind != "ident" or "." in self.tok.text:
            raise self.error()
        sobject = self.advance().text
        query = Query(select=select, sobject=sobject)
        if self.tok.kind == "ident" and self.tok.upper not in KEYWORDS:
            raise self.error()  # aliases are outside the subset
        if self.accept_kw("WHERE"):
            query.where = self.condition()
        if self.accept_kw("ORDER"):
            self.expect_kw("BY")
            while True:
                key = OrderKey(FieldPath(tuple(self.ident().split("."))))
                if self.accept_kw("DESC"):
                    key.descending = True
                else:
                    self.accept_kw("ASC")
                if self.accept_kw("NULLS"):
                    if self.accept_kw("LAST"):
                        key.nulls_last = True
                    else:
                        self.expect_kw("FIRST")
                        key.nulls_last = False
                query.order_by.append(key)
                if self.at_punct(","):
                    self.advance()
                    continue
                break
        if self.accept_kw("LIMIT"):
            query.limit = self.integer()
        if self.accept_kw("OFFSET"):
            if nested:
                raise self.error()
            query.offset = self.integer()
        return query

    def integer(self) -> int:
        if self.tok.kind != "number" or not self.tok.text.isdigit():
            raise self.error()
        return int(self.advance().text)

    def condition(self) -> Condition:
        first = self.unary()
        if self.tok.upper not in ("AND", "OR"):
            return first
        op = self.tok.upper
        items = [first]
        while self.accept_kw(op):
            items.append(self.unary())
        if self.tok.upper in ("AND", "OR"):
            raise self.error()  # mixing AND and OR needs parentheses in SOQL
        return BoolOp(op, items)

    def unary(self) -> Condition:
        if self.accept_kw("NOT"):
            return Not(self.unary())
        if self.at_punct("("):
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        path = FieldPath(tuple(self.ident().split(".")))
        tok = self.tok
        if tok.kind == "op":
            self.advance()
            op = {"<>": "!="}.get(tok.text, tok.text)
            return Comparison(path, op, [self.literal()])
        if self.accept_kw("LIKE"):
            if self.tok.kind != "string":
                raise self.error()
            return Comparison(path, "LIKE", [self.literal()])
        negate = self.accept_kw("NOT")
        if self.accept_kw("IN"):
            op = "NOT IN" if negate else "IN"
            self.expect_punct("(")
            if self.tok.upper == "SELECT":
                sub = self.query(nested=True)
                self.expect_punct(")")
                return Comparison(path, op, subquery=sub)
            values = self.literal_list()
            return Comparison(path, op, values)
        if negate:
            raise self.error()
        if self.tok.upper in ("INCLUDES", "EXCLUDES"):
            op = self.advance().upper
            self.expect_punct("(")
            values = self.literal_list()
            if any(v.kind != "string" for v in values):
                raise self.error("INCLUDES and EXCLUDES take quoted strings")
            return Comparison(path, op, values)
        raise self.error()

    def literal_list(self) -> list[Literal]:
        values = [self.literal()]
        while self.at_punct(","):
            self.advance()
            values.append(self.literal())
        self.expect_punct(")")
        return values

    def literal(self) -> Literal:
        tok = self.tok
        if tok.kind == "string":
            self.advance()
            raw = tok.text[1:-1]
            return Literal("string", decode_string(raw), raw=raw)
        if tok.kind == "number":
            self.advance()
            text = tok.text
            return Literal("number", float(text) if "." in text else int(text))
        if tok.kind in ("date", "datetime"):
            self.advance()
            return Literal(tok.kind, tok.text)
        if tok.kind == "ident" and "." not in tok.text:
            word = tok.upper
            if word == "NULL":
                self.advance()
                return Literal("null", None)
            if word in ("TRUE", "FALSE"):
                self.advance()
                return Literal("boolean", word == "TRUE")
            from cpq_sync.sandbox.salesforce.soql.dates import is_date_literal, needs_n

            if is_date_literal(word):
                self.advance()
                n: int | None = None
                if needs_n(word):
                    self.expect_punct(":")
                    n = self.integer()
                return Literal("date_literal", word, n=n)
            raise SalesforceError("MALFORMED_QUERY", f"unexpected token: '{tok.text}'")
        raise self.error()


def parse(text: str) -> Query:
    """Parse one SOQL statement (raises SalesforceError MALFORMED_QUERY)."""
    return Parser(text).parse()
