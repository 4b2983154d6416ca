"""What every translator needs besides the records: compiled mappings and a few preferences. No I/O, no clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cpq_sync.errors import DataError
from cpq_sync.mapping.apply import apply_mappings
from cpq_sync.mapping.compile import CompiledMappings
from cpq_sync.mapping.kinds import Kind
from cpq_sync.records import SfModel


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
    # Translations of shared records (an account, a product) already made in this run, by translator and record:
    # (the record, kept so its id stays its own; its translation). See `catalog.memoized`.
    memo: dict[tuple[str, int], tuple[object, object]] = field(default_factory=dict, compare=False, repr=False)

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
