"""Consumption schedules (Salesforce's tiered usage rates) as the translators read them.

A product links to its schedules through ProductConsumptionSchedule; a schedule has a Type (Slab, Range), a
currency and its ConsumptionRates (bounds, price, PerUnit or FlatFee).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from cpq_sync.records import SfModel


class ConsumptionScheduleRecord(SfModel):
    OBJECT_TYPE: ClassVar[str] = "ConsumptionSchedule"
    type: str | None = Field(None, validation_alias="type")
    currency: str | None = Field(None, validation_alias="currencyisocode")
    is_active: bool | None = Field(None, validation_alias="isactive")


class ConsumptionRateRecord(SfModel):
    OBJECT_TYPE: ClassVar[str] = "ConsumptionRate"
    lower_bound: Decimal | None = Field(None, validation_alias="lowerbound")
    upper_bound: Decimal | None = Field(None, validation_alias="upperbound")
    price: Decimal | None = Field(None, validation_alias="price")
    pricing_method: str | None = Field(None, validation_alias="pricingmethod")
    processing_order: Decimal | None = Field(None, validation_alias="processingorder")


@dataclass(frozen=True)
class ConsumptionSchedule:
    """One schedule with its rates, in Salesforce's order (by lower bound)."""

    record: ConsumptionScheduleRecord
    rates: tuple[ConsumptionRateRecord, ...]

    @property
    def id(self) -> str:
        return self.record.id
