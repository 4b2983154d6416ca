"""The drift report as it leaves the library: one row per difference (both values as text), and the run's totals.
The JSON written by `cpq-sync reconcile --json PATH` is `ReconcileReport.model_dump_json()`."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from cpq_sync.reconcile.diff import Problem


class Drift(BaseModel):
    object_type: str = Field(description="Salesforce object of the record, e.g. Account")
    record_id: str = Field(description="Salesforce record id (empty for an orphan)")
    stripe_kind: str = Field(description="customer, price, subscription_schedule, ...")
    stripe_id: str
    field: str = Field(description="Stripe field path, e.g. phases[0].items[802...].quantity; (object) for the whole")
    salesforce: str = Field(description="What Salesforce says (the value the sync sets)")
    stripe: str = Field(description="What Stripe holds now")
    problem: Problem
    fix: str = Field(description="What --fix does about it")
    fixed: bool | None = Field(None, description="With --fix: whether it was repaired (None: not attempted)")
    fix_result: str = ""

    @property
    def record(self) -> str:
        return f"{self.object_type} {self.record_id}".strip()


class ReconcileReport(BaseModel):
    started_at: dt.datetime
    fix: bool = False
    records_checked: int = 0
    stripe_objects_checked: int = 0
    stripe_requests: int = 0
    salesforce_calls: int = 0
    duration_seconds: float = 0.0
    drifts: list[Drift] = Field(default_factory=list)
    failed_records: list[str] = Field(
        default_factory=list, description="Records whose desired state could not be built (see their Sync Records)"
    )

    @property
    def unfixed(self) -> list[Drift]:
        return [d for d in self.drifts if not d.fixed]

    @property
    def exit_code(self) -> int:
        """0: no drift (or all of it repaired by --fix), 1: drift left."""
        return 1 if self.unfixed else 0
