"""Applies mapping entries to a Stripe parameter dict, converting Salesforce values to the Stripe field's type."""

from __future__ import annotations

import datetime as dt
import logging
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cpq_sync.errors import DataError
from cpq_sync.mapping.kinds import SPECS, Kind
from cpq_sync.mapping.loader import MappingEntry
from cpq_sync.stripe.limits import METADATA_VALUE_MAX, text_max

log = logging.getLogger(__name__)

Coerce = Callable[[Any], Any]

CUT_BY_FIELD: dict[tuple[Kind, str], int] = {(Kind.CUSTOMER, "description"): 350}
"""Fields whose text is cut rather than refused, as the connector did (metadata values are cut to 500)."""


@dataclass(frozen=True)
class CompiledEntry:
    entry: MappingEntry
    coerce: Coerce
    # Worked out once from the entry (a large run applies each entry to every record): the lower-case Salesforce
    # path looked up (None: a static value), the Stripe path's parts (the dicts walked, then the key set), and the
    # longest text taken as it is (see `text_limit`).
    source: str | None = field(init=False, compare=False, repr=False)
    parents: tuple[str, ...] = field(init=False, compare=False, repr=False)
    key: str = field(init=False, compare=False, repr=False)
    longest: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        path = self.entry.salesforce_path
        parts = self.entry.stripe_path.split(".")
        object.__setattr__(self, "source", None if path is None else path.lower())
        object.__setattr__(self, "parents", tuple(parts[:-1]))
        object.__setattr__(self, "key", parts[-1])
        object.__setattr__(self, "longest", text_limit(self.entry)[0])


def _to_str(value: Any) -> str:
    if type(value) is str:  # most values (names, addresses, ids)
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _to_int(value: Any) -> int:
    if type(value) is Decimal:  # most values (records' numbers)
        if value != int(value):
            raise ValueError(f"expected a whole number, got {value}")
        return int(value)
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        if value != int(value):
            raise ValueError(f"expected a whole number, got {value}")
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            number = Decimal(text)
        except ArithmeticError:
            return _timestamp(text)
        if number != int(number):
            raise ValueError(f"expected a whole number, got {text}")
        return int(number)
    raise ValueError(f"expected a whole number, got {value!r}")


def _timestamp(text: str) -> int:
    """Salesforce dates and datetimes become Unix timestamps (Stripe's date fields are integers)."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
        return int(dt.datetime.fromisoformat(text.replace("+0000", "+00:00").replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise ValueError(f"expected a whole number or a date, got {text!r}") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None


def text_limit(entry: MappingEntry) -> tuple[int, bool]:
    """The longest text the entry's Stripe field takes, and whether a longer one is cut (True) or refused."""
    if entry.stripe_path.startswith("metadata."):
        return METADATA_VALUE_MAX, True
    cut = CUT_BY_FIELD.get((entry.kind, entry.stripe_path))
    if cut is not None:
        return cut, True
    spec = SPECS[entry.kind]
    return text_max(spec.path, f"{spec.prefix}.{entry.stripe_path}" if spec.prefix else entry.stripe_path), False


def _literal(allowed: tuple[Any, ...], base: Coerce | None) -> Coerce:
    def coerce(value: Any) -> Any:
        text = _to_str(value)
        if text in allowed:
            return text
        if base is not None:
            return base(value)
        raise ValueError(f"expected one of {', '.join(map(repr, allowed))}, got {value!r}")

    return coerce


def coercer_for(annotation: Any) -> Coerce:
    """A converter from a Salesforce value to what an SDK parameter annotation accepts."""
    origin = typing.get_origin(annotation)
    if annotation is str:
        return _to_str
    if annotation is int:
        return _to_int
    if annotation is bool:
        return _to_bool
    if annotation is float:
        return _to_float
    if origin is typing.Literal:
        return _literal(typing.get_args(annotation), None)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        literals = tuple(v for a in args if typing.get_origin(a) is typing.Literal for v in typing.get_args(a))
        others = [a for a in args if typing.get_origin(a) is not typing.Literal]
        base = coercer_for(others[0]) if others else None
        # `Literal[''] | str` style unions: the non-literal member decides.
        return _literal(literals, base) if literals else (base or _to_str)
    return _to_str


def set_path(params: dict[str, Any], path: str, value: Any) -> None:
    node = params
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """Reads a (dotted, case-insensitive) Salesforce path from a flattened record whose keys are lower-case."""
    return record.get(path.lower())


def apply_mappings(
    params: dict[str, Any],
    compiled: list[CompiledEntry],
    record: Mapping[str, Any],
    *,
    object_type: str,
    record_id: str,
) -> dict[str, Any]:
    """Applies entries in order (later wins). Empty Salesforce values are skipped, as the connector did."""
    for item in compiled:
        entry = item.entry
        if item.source is None:
            raw = entry.value
        else:
            raw = record.get(item.source)  # `lookup`, its path lowered once
            if raw is None or raw == "":
                continue
        try:
            value = item.coerce(raw)
        except ValueError as exc:
            field = entry.salesforce_path or f"(static value in {entry.where})"
            raise DataError(
                object_type,
                record_id,
                field,
                f"cannot be mapped to Stripe {entry.kind.value}.{entry.stripe_path}: {exc}.",
                f"correct the value in Salesforce, or the mapping at {entry.where}.",
            ) from None
        if isinstance(value, str) and len(value) > item.longest:
            value = _fit(value, entry, object_type, record_id)
        node = params  # `set_path`, its path split once
        for part in item.parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[item.key] = value
    return params


def _fit(value: str, entry: MappingEntry, object_type: str, record_id: str) -> str:
    """Text longer than Stripe takes: a metadata value (a note, not what is billed) or a customer description is cut,
    with a warning naming the record and the field; any other field fails the record, naming its field."""
    limit, cut = text_limit(entry)
    if len(value) <= limit:
        return value
    field = entry.salesforce_path or f"(static value in {entry.where})"
    target = f"{entry.kind.value}.{entry.stripe_path}"
    if cut:
        log.warning(
            "%s %s, field %s: the value is %d characters long; Stripe %s keeps its first %d.",
            object_type, record_id, field, len(value), target, limit,
        )  # fmt: skip
        return value[:limit]
    raise DataError(
        object_type,
        record_id,
        field,
        f"cannot be mapped to Stripe {target}: the value is {len(value)} characters long and Stripe allows at most "
        f"{limit}.",
        f"shorten the static value at {entry.where}."
        if entry.is_static
        else f"shorten the value in Salesforce, or change the mapping at {entry.where}.",
    )


def compile_entries(entries: list[MappingEntry], types_by_path: Mapping[str, Any] | None = None) -> list[CompiledEntry]:
    """Pairs each entry with its converter; `types_by_path` maps a Stripe path to its SDK annotation."""
    out = []
    for entry in entries:
        if entry.stripe_path.startswith("metadata."):
            coerce: Coerce = _to_str
        elif types_by_path is not None and entry.stripe_path in types_by_path:
            coerce = coercer_for(types_by_path[entry.stripe_path])
        else:
            coerce = _to_str
        out.append(CompiledEntry(entry, coerce))
    return out
