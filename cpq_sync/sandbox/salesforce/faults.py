"""Fault injection for the sandbox org, persisted in the sandbox directory and deterministic from a seed.

Every decision is drawn from ``random.Random(f"{seed}:{call}:{kind}")`` where ``call`` is the org's API call
number, so the same sequence of calls meets the same faults in every run and in every process.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field

from cpq_sync.sandbox.salesforce.errors import SalesforceError
from cpq_sync.sandbox.salesforce.store import OrgStore

_META_KEY = "faults"


class SalesforceFaults(BaseModel):
    """What goes wrong, and how often (rates are probabilities per API call, or per record for lock
    errors).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 0
    latency_ms: float = Field(default=0, ge=0)
    expire_session_after_calls: int | None = Field(default=None, ge=0)
    api_quota_max: int = Field(default=15_000_000, ge=0)
    lock_row_rate: float = Field(default=0, ge=0, le=1)
    query_timeout_rate: float = Field(default=0, ge=0, le=1)
    server_error_rate: float = Field(default=0, ge=0, le=1)

    def roll(self, call: int, kind: str) -> float:
        """A uniform draw in [0, 1) fixed by the seed, the call number and the kind of fault."""
        return random.Random(f"{self.seed}:{call}:{kind}").random()

    def server_error(self, call: int) -> SalesforceError | None:
        if not self.server_error_rate or self.roll(call, "server") >= self.server_error_rate:
            return None
        if self.roll(call, "server-kind") < 0.5:
            return SalesforceError(
                "UNKNOWN_EXCEPTION",
                f"An unexpected error occurred. Please include this ErrorId if you contact support: "
                f"{random.Random(f'{self.seed}:{call}:id').randrange(10**9)}-{call} (-1)",
                status=500,
            )
        return SalesforceError(
            "SERVER_UNAVAILABLE", "Server temporarily unavailable, please try again later.", status=503
        )

    def query_timeout(self, call: int) -> SalesforceError | None:
        if not self.query_timeout_rate or self.roll(call, "query-timeout") >= self.query_timeout_rate:
            return None
        return SalesforceError(
            "QUERY_TIMEOUT",
            "Your query request was running for too long.",
            status=400,
        )

    def lock_row(self, call: int, record: int) -> SalesforceError | None:
        if not self.lock_row_rate or self.roll(call, f"lock:{record}") >= self.lock_row_rate:
            return None
        return SalesforceError(
            "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records", status=400
        )


def load_faults(store: OrgStore) -> SalesforceFaults:
    raw = store.meta_get(_META_KEY)
    return SalesforceFaults.model_validate_json(raw) if raw else SalesforceFaults()


def save_faults(store: OrgStore, faults: SalesforceFaults | None) -> None:
    store.meta_set(_META_KEY, None if faults is None else faults.model_dump_json())
