"""What every translator needs besides the records: compiled mappings and a few preferences. No I/O, no clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar, cast

from cpq_sync.errors import DataError
from cpq_sync.mapping.apply import apply_mappings
from cpq_sync.mapping.compile import CompiledMappings
from cpq_sync.mapping.kinds import Kind
from cpq_sync.records import SfModel

T = TypeVar("T")


@dataclass(frozen=True)
class TranslateContext:
    mappings: CompiledMappings = field(default_factory=CompiledMappings)
    default_currency: str = "usd"
    instance_url: str = ""
    multi_currency: bool = True
    # Orders activated before this date are brought over without re-billing what the old system billed
    # (the sync start date, when the migration preference is on).
    migrated_before: dt.date | None = None
    proration_precision: str = "month"  # "month" or "month+day": how amendments off a boundary are prorated
    # What `once` made in this run, by name and owner: (the owner, kept so its id stays its own; what was made).
    memo: dict[tuple[Hashable, int], tuple[object, object]] = field(default_factory=dict, compare=False, repr=False)

    def once(self, name: Hashable, owner: object, make: Callable[[], T]) -> T:
        """`make()`, made once a run for `owner` (a record, a price's parameters) under `name` (a string, or a tuple
        with what else the result depends on, e.g. a currency): the translation of an account every order of it
        needs, a price book entry's billing. A failure is not kept: it is raised each time."""
        key = (name, id(owner))
        hit = self.memo.get(key)
        if hit is None or hit[0] is not owner:
            hit = (owner, make())
            self.memo[key] = hit
        return cast(T, hit[1])

    @cached_property
    def _link_base(self) -> str:
        return f"{self.instance_url.rstrip('/')}/" if self.instance_url else ""

    def link(self, record_id: str) -> str:
        return self._link_base + record_id

    def metadata(self, label: str, record_id: str) -> dict[str, str]:
        return {f"salesforce_{label}_id": record_id, f"salesforce_{label}_link": self.link(record_id)}

    def apply(self, kind: Kind, params: dict[str, Any], record: SfModel) -> dict[str, Any]:
        broken = self.mappings.broken.get(kind) if self.mappings.broken else None  # most runs: none broken
        if broken is not None:
            raise DataError(
                record.OBJECT_TYPE,
                record.id,
                None,
                f"the {kind.value} mapping cannot be applied: {broken}.",
                "correct the mapping file; this record syncs on the next run.",
            )
        entries = self.mappings.by_kind.get(kind)
        if not entries:  # most kinds map nothing by default: nothing to look up
            return params
        return apply_mappings(
            params,
            entries,
            record.values,
            object_type=record.OBJECT_TYPE,
            record_id=record.id,
        )

    def currency(self, value: str | None) -> str:
        if self.multi_currency and value:
            return value.lower()
        return self.default_currency
