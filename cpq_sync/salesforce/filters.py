"""Sync filters: the user's SOQL conditions per object, parsed and re-rendered from their parse tree.

A filter is never pasted into a query as text: it is parsed with the strict SOQL parser (anything outside the
grammar, such as a semicolon, a comment or an unbalanced quote, is refused), and what goes into the query is the
parse tree rendered back, in parentheses, so it can only narrow or widen its own object's rows and never escape
into the sync's own conditions (the watermark window, the start date).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cpq_sync.errors import ConfigError
from cpq_sync.mapping.compile import Describe, OrgSchema
from cpq_sync.soql import SoqlError, field_paths, parse_condition, render_condition

FILTERED_OBJECTS = ("Order", "Account", "Product2", "PricebookEntry")


def validated(sobject: str, text: str | None, schema: OrgSchema | None = None) -> str | None:
    """The filter rendered from its parse tree; with the org's schema, every field it names must exist."""
    if text is None or not text.strip():
        return None
    try:
        condition = parse_condition(text)
    except SoqlError as exc:
        raise ConfigError(f"the sync filter for {sobject} is not a valid SOQL condition: {exc}") from None
    if schema is not None:
        for owner, path in field_paths(sobject, condition):
            try:
                schema.resolve(owner, path)
            except ValueError as exc:
                raise ConfigError(f"the sync filter for {sobject} names a field the org does not have: {exc}") from None
    return render_condition(condition)


def named_fields(filters: Mapping[str, str]) -> frozenset[str]:
    """Every field or lookup name the parseable filters go through (lower case): what the org's describe must keep
    for checking them. A filter that does not parse names nothing here; `SyncFilters.from_preferences` refuses it."""
    names: set[str] = set()
    for sobject, text in filters.items():
        try:
            condition = parse_condition(text)
        except SoqlError:
            continue
        names.update(part.lower() for _, path in field_paths(sobject, condition) for part in path.split("."))
    return frozenset(names)


@dataclass(frozen=True)
class SyncFilters:
    order: str | None = None
    account: str | None = None
    product: str | None = None
    pricebook_entry: str | None = None

    @classmethod
    def from_preferences(cls, filters: Mapping[str, str], describe: Describe | None = None) -> SyncFilters:
        """Parses every filter; with `describe` (the org's), a field the org does not have is refused too."""
        unknown = sorted(set(filters) - set(FILTERED_OBJECTS))
        if unknown:
            raise ConfigError(f"sync filters are for {', '.join(FILTERED_OBJECTS)}; unknown: {', '.join(unknown)}")
        schema = OrgSchema(describe) if describe is not None else None
        return cls(
            order=validated("Order", filters.get("Order"), schema),
            account=validated("Account", filters.get("Account"), schema),
            product=validated("Product2", filters.get("Product2"), schema),
            pricebook_entry=validated("PricebookEntry", filters.get("PricebookEntry"), schema),
        )

    def items(self) -> list[tuple[str, str]]:
        pairs = [
            ("Order", self.order),
            ("Account", self.account),
            ("Product2", self.product),
            ("PricebookEntry", self.pricebook_entry),
        ]
        return [(k, v) for k, v in pairs if v]
