"""Validates the mappings against both sides before anything is written, and compiles them for the translators.

- Stripe side: every Stripe field path must exist in the SDK's own parameter types for its pinned API version
  (`cpq_sync.stripe.param_types`), and static values must have the field's type.
- Salesforce side: every Salesforce path must resolve through the org's `describe`, lookup by lookup.
Every error names the file, the line and the field.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from typing_extensions import is_typeddict

from cpq_sync.errors import ConfigError
from cpq_sync.mapping.apply import CompiledEntry, coercer_for, compile_entries
from cpq_sync.mapping.kinds import SPECS, Kind
from cpq_sync.mapping.loader import MappingEntry, MappingSet
from cpq_sync.stripe.limits import METADATA_KEY_MAX, METADATA_KEYS_MAX
from cpq_sync.stripe.param_types import ParamError, check_value, field_type_at, params_type

Describe = Callable[[str], dict[str, Any]]
RESERVED_METADATA_PREFIX = "salesforce_"
SYNC_METADATA_KEYS = 10  # the most salesforce_* keys the sync writes on one object is 6; kept with a margin


def stripe_annotation(kind: Kind, stripe_path: str) -> Any:
    spec = SPECS[kind]
    typed = params_type(spec.method, spec.path)
    if typed is None:
        raise ParamError(stripe_path, f"no parameters are known for {spec.method.upper()} {spec.path}")
    full = f"{spec.prefix}.{stripe_path}" if spec.prefix else stripe_path
    return field_type_at(typed, full)


def _check_stripe(entry: MappingEntry) -> Any:
    if entry.stripe_path.startswith("metadata."):
        key = entry.stripe_path.removeprefix("metadata.")
        if not key or len(key) > METADATA_KEY_MAX or "[" in key or "]" in key:
            raise ConfigError(
                f"{entry.where}: metadata key {key!r} of {entry.kind.value} must be 1 to "
                f"{METADATA_KEY_MAX} characters, no brackets"
            )
        if key.lower().startswith(RESERVED_METADATA_PREFIX):
            raise ConfigError(
                f"{entry.where}: metadata key {key!r} of {entry.kind.value} is reserved: the sync's own keys start "
                f"with {RESERVED_METADATA_PREFIX} (they find its objects again after a crash)"
            )
        return str
    try:
        annotation = stripe_annotation(entry.kind, entry.stripe_path)
    except ParamError as exc:
        raise ConfigError(
            f"{entry.where}: {entry.kind.value}.{entry.stripe_path} is not a Stripe field for this API version "
            f"({exc.message})"
        ) from None
    if _is_container(annotation):
        raise ConfigError(
            f"{entry.where}: Stripe field {entry.kind.value}.{entry.stripe_path} holds an object or a list; "
            "map each of its fields instead (e.g. address.city)"
        )
    if entry.is_static:
        try:
            check_value(coercer_for(annotation)(entry.value), annotation, entry.stripe_path)
        except ParamError as exc:
            raise ConfigError(
                f"{entry.where}: the static value {entry.value!r} does not fit Stripe field "
                f"{entry.kind.value}.{entry.stripe_path}: {exc.message}"
            ) from None
        except ValueError as exc:
            raise ConfigError(
                f"{entry.where}: the static value {entry.value!r} does not fit Stripe field "
                f"{entry.kind.value}.{entry.stripe_path}: {exc}"
            ) from None
    return annotation


def _is_container(annotation: Any) -> bool:
    """True when the Stripe field holds an object or a list (a single Salesforce value cannot fill it)."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if union else (annotation,)
    values = [m for m in members if m is not type(None) and typing.get_origin(m) is not typing.Literal]
    return bool(values) and all(
        is_typeddict(m) or typing.get_origin(m) in (dict, list, typing.Dict, typing.List)  # noqa: UP006
        for m in values
    )


class OrgSchema:
    """Resolves Salesforce field paths with the org's describe, one describe call per object at most."""

    def __init__(self, describe: Describe) -> None:
        self._describe = describe
        self._fields: dict[str, dict[str, dict[str, Any]]] = {}

    def fields(self, sobject: str) -> dict[str, dict[str, Any]]:
        key = sobject.lower()
        if key not in self._fields:
            result = self._describe(sobject)
            self._fields[key] = {f["name"].lower(): f for f in result["fields"]}
        return self._fields[key]

    def resolve(self, sobject: str, path: str) -> dict[str, Any]:
        """The describe entry of the path's last field; raises ValueError naming the part that does not exist."""
        current = sobject
        parts = path.split(".")
        for part in parts[:-1]:
            relation = next(
                (f for f in self.fields(current).values() if (f.get("relationshipName") or "").lower() == part.lower()),
                None,
            )
            if relation is None or not relation.get("referenceTo"):
                raise ValueError(f"{current} has no lookup named {part}")
            current = relation["referenceTo"][0]
        field = self.fields(current).get(parts[-1].lower())
        if field is None:
            raise ValueError(f"{current} has no field named {parts[-1]}")
        return field


def check_salesforce(entry: MappingEntry, schema: OrgSchema) -> None:
    if entry.salesforce_path is None:
        return
    source = SPECS[entry.kind].source_object
    try:
        schema.resolve(source, entry.salesforce_path)
    except ValueError as exc:
        raise ConfigError(
            f"{entry.where}: {entry.kind.value}.{entry.stripe_path} maps from {source}.{entry.salesforce_path}, "
            f"which the org does not have ({exc})"
        ) from None


@dataclass
class CompiledMappings:
    """The mappings ready for the translators. A kind with a broken entry is kept out of every query and every
    record that needs that kind fails with the entry's error (file, line, field); the other records still sync."""

    by_kind: dict[Kind, list[CompiledEntry]] = field(default_factory=dict)
    broken: dict[Kind, ConfigError] = field(default_factory=dict)
    broken_entries: set[MappingEntry] = field(default_factory=set)

    def entries(self, kind: Kind) -> list[CompiledEntry]:
        return self.by_kind.get(kind, [])


def _check_metadata_count(entries: list[MappingEntry], result: CompiledMappings) -> None:
    """Stripe holds 50 metadata keys per object; the sync keeps room for its own."""
    allowed = METADATA_KEYS_MAX - SYNC_METADATA_KEYS
    keys: dict[str, MappingEntry] = {}
    for entry in entries:
        if entry.stripe_path.startswith("metadata."):
            keys.setdefault(entry.stripe_path, entry)
    if len(keys) > allowed:
        extra = list(keys.values())[allowed]
        result.broken.setdefault(
            extra.kind,
            ConfigError(
                f"{extra.where}: {extra.kind.value} has {len(keys)} metadata keys mapped; Stripe holds "
                f"{METADATA_KEYS_MAX} per object and the sync keeps {SYNC_METADATA_KEYS} for its own, so at most "
                f"{allowed} can be mapped"
            ),
        )
        result.broken_entries.update(keys.values())


def compile_mappings(mappings: MappingSet, describe: Describe | None = None) -> CompiledMappings:
    """Checks every entry against Stripe's types (and the org, when `describe` is given) and compiles them."""
    schema = OrgSchema(describe) if describe is not None else None
    result = CompiledMappings()
    annotations: dict[tuple[Kind, str], Any] = {}
    for entry in mappings:
        try:
            annotations[(entry.kind, entry.stripe_path)] = _check_stripe(entry)
            if schema is not None:
                check_salesforce(entry, schema)
        except ConfigError as exc:
            result.broken.setdefault(entry.kind, exc)
            result.broken_entries.add(entry)
    for kind in Kind:
        _check_metadata_count(mappings.for_kind(kind), result)
        entries = [e for e in mappings.for_kind(kind) if e not in result.broken_entries]
        types = {e.stripe_path: annotations[(kind, e.stripe_path)] for e in entries}
        result.by_kind[kind] = compile_entries(entries, types)
    return result


DESCRIBE_KEYS = ("name", "relationshipName", "referenceTo")
ALWAYS_DESCRIBED = frozenset({"currencyisocode"})  # read by the multi-currency check, mapped or not


def described_names(mappings: MappingSet) -> frozenset[str]:
    """Every field or lookup name a Salesforce path of the mappings goes through (lower case): the only describe
    entries compiling them looks at."""
    names = {part.lower() for entry in mappings if entry.salesforce_path for part in entry.salesforce_path.split(".")}
    return frozenset(names | ALWAYS_DESCRIBED)


def trimmed_describe(result: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """A describe result cut down to the fields `names` can match (by name or lookup name), each with only what the
    checks read: what a run caches instead of describing the org again. Compiling against it gives the same
    result as against the whole describe."""
    fields = [
        {k: f.get(k) for k in DESCRIBE_KEYS}
        for f in result["fields"]
        if str(f["name"]).lower() in names or str(f.get("relationshipName") or "").lower() in names
    ]
    return {"fields": fields}
