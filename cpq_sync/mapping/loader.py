"""Loads `mappings/*.yaml` into one ordered list of mapping entries, remembering the file and line of each,
so every validation error can say where to look."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cpq_sync.errors import ConfigError, yaml_problem
from cpq_sync.mapping.kinds import SPECS, Kind

DEFAULTS_FILE = "default.yaml"
NOT_MAPPING_FILES = {"preferences.yaml"}
SECTIONS = ("default_mappings", "field_defaults", "field_mappings")  # in the order they are applied


@dataclass(frozen=True)
class MappingEntry:
    """One assignment: a Stripe field of a kind gets a static value or the value at a Salesforce path."""

    section: str
    kind: Kind
    stripe_path: str
    file: str
    line: int
    salesforce_path: str | None = None
    value: Any = None

    @property
    def where(self) -> str:
        return f"{self.file}, line {self.line}"

    @property
    def is_static(self) -> bool:
        return self.salesforce_path is None


@dataclass
class MappingSet:
    entries: list[MappingEntry] = field(default_factory=list)

    def for_kind(self, kind: Kind) -> list[MappingEntry]:
        return [e for e in self.entries if e.kind is kind]

    def salesforce_paths(self, kind: Kind) -> list[str]:
        """The Salesforce paths a kind reads (normalised, de-duplicated, in order)."""
        seen: dict[str, None] = {}
        for entry in self.for_kind(kind):
            if entry.salesforce_path is not None:
                seen.setdefault(entry.salesforce_path, None)
        return list(seen)

    def __iter__(self) -> Iterator[MappingEntry]:
        return iter(self.entries)


def normalise_salesforce_path(path: str) -> str:
    """`SBQQ__Quote__c.SBQQ__StartDate__c` -> `SBQQ__Quote__r.SBQQ__StartDate__c`; `Product2Id.Name` -> `Product2.Name`.

    The connector accepted lookups written with the field's name; SOQL wants the relationship's name.
    """
    parts = path.strip().split(".")
    out = []
    for part in parts[:-1]:
        if part.lower().endswith("__c"):
            part = part[:-3] + "__r"
        elif part.lower().endswith("id") and len(part) > 2:
            part = part[:-2]
        out.append(part)
    out.append(parts[-1])
    return ".".join(out)


def _is_identifier_path(path: str) -> bool:
    return bool(path) and all(p.replace("_", "a").isalnum() and not p[0].isdigit() for p in path.split("."))


def _node_value(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def _mapping_items(node: yaml.Node, file: str, what: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "null", "~"):
        return []
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{file}, line {node.start_mark.line + 1}: {what} must be a mapping of keys to values")
    items: list[tuple[yaml.ScalarNode, yaml.Node]] = []
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            raise ConfigError(f"{file}, line {key.start_mark.line + 1}: keys in {what} must be plain names")
        items.append((key, value))
    return items


def parse_mapping_file(path: Path) -> list[MappingEntry]:
    """Parses one mapping file; structural problems are ConfigErrors naming the file and line."""
    file = path.name
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise yaml_problem(file, exc) from None
    if root is None:
        return []
    allowed = ("default_mappings",) if file == DEFAULTS_FILE else ("field_defaults", "field_mappings")
    entries: list[MappingEntry] = []
    seen: dict[tuple[str, Kind, str], int] = {}  # a field set twice in one file is a mistake (across files: later wins)
    for section_key, section_node in _mapping_items(root, file, "the file"):
        section = section_key.value
        if section not in allowed:
            raise ConfigError(
                f"{file}, line {section_key.start_mark.line + 1}: unknown section {section!r}; "
                f"expected {' or '.join(allowed)}"
            )
        for kind_key, kind_node in _mapping_items(section_node, file, section):
            try:
                kind = Kind(kind_key.value)
            except ValueError:
                raise ConfigError(
                    f"{file}, line {kind_key.start_mark.line + 1}: unknown Stripe object kind {kind_key.value!r}; "
                    f"expected one of {', '.join(k.value for k in Kind)}"
                ) from None
            for stripe_key, value_node in _mapping_items(kind_node, file, f"{section}.{kind.value}"):
                line = stripe_key.start_mark.line + 1
                stripe_path = str(stripe_key.value).strip()
                if not _is_identifier_path(stripe_path):
                    raise ConfigError(f"{file}, line {line}: {stripe_path!r} is not a Stripe field path")
                first = seen.setdefault((section, kind, stripe_path), line)
                if first != line:
                    raise ConfigError(
                        f"{file}, line {line}: {kind.value}.{stripe_path} is set twice in {section} (also line {first})"
                    )
                if section == "field_defaults":
                    if not isinstance(value_node, yaml.ScalarNode):
                        raise ConfigError(
                            f"{file}, line {line}: the static value of {kind.value}.{stripe_path} must be a "
                            "single value (string, number or boolean)"
                        )
                    entries.append(MappingEntry(section, kind, stripe_path, file, line, value=_node_value(value_node)))
                else:
                    sf_path = value_node.value if isinstance(value_node, yaml.ScalarNode) else None
                    if not isinstance(sf_path, str) or not _is_identifier_path(sf_path.strip()):
                        raise ConfigError(
                            f"{file}, line {line}: {kind.value}.{stripe_path} must map from a Salesforce field "
                            f"path such as Name or Account.Owner.Email (got {_node_value(value_node)!r})"
                        )
                    entries.append(
                        MappingEntry(
                            section,
                            kind,
                            stripe_path,
                            file,
                            line,
                            salesforce_path=normalise_salesforce_path(sf_path),
                        )
                    )
    return entries


def load_mappings(directory: Path) -> MappingSet:
    """default.yaml first, then every other *.yaml (sorted by name); entries ordered by section for application."""
    default = directory / DEFAULTS_FILE
    if not default.exists():
        raise ConfigError(f"{default} is missing: it holds the default mappings every sync needs")
    others = sorted(p for p in directory.glob("*.yaml") if p.name != DEFAULTS_FILE and p.name not in NOT_MAPPING_FILES)
    files = [default, *others]
    entries = [e for path in files for e in parse_mapping_file(path)]
    order = {s: i for i, s in enumerate(SECTIONS)}
    entries.sort(key=lambda e: order[e.section])  # stable: files and lines keep their order within a section
    return MappingSet(entries)


def source_object(kind: Kind) -> str:
    return SPECS[kind].source_object
