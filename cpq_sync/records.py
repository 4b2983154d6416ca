"""Pydantic models of the Salesforce records the translators read: the boundary where Salesforce data is checked.

Records arrive from simple-salesforce as nested dicts; `flatten` turns one into lower-case dotted paths
(`sbqq__quote__r.sbqq__startdate__c`), which is what these models read (their aliases) and what the mapping engine
looks values up by. SOQL is case-insensitive, so the aliases double as the query's field list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from decimal import Decimal
from functools import cache
from typing import Any, ClassVar, Self, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from cpq_sync.errors import DataError

_FIELDS_GIVEN: dict[frozenset[str], set[str]] = {}


def flatten(record: Mapping[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Nested Salesforce record -> {lower-case dotted path: value}. Child subqueries are left out."""
    out = {} if out is None else out
    for key, value in record.items():
        if key == "attributes":
            continue
        path = f"{prefix}{key.lower()}"
        if isinstance(value, Mapping):
            if "records" in value and "totalSize" in value:
                continue
            flatten(value, f"{path}.", out)
        else:
            out[path] = value
    return out


class SfModel(BaseModel):
    """Base: the record's own id, its Stripe id and sync hash, and every flattened value for the mappings."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    OBJECT_TYPE: ClassVar[str] = ""
    id: str = Field(validation_alias="id", min_length=15, max_length=18)
    stripe_id: str | None = Field(None, validation_alias="stripe_id__c")
    sync_hash: str | None = Field(None, validation_alias="stripe_sync_hash__c")
    values: dict[str, Any] = Field(default_factory=dict, exclude=True)

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        """Records are frozen and never changed once read: a deep copy of a structure holding them (a contract's
        phases being rebuilt) shares them instead of copying every value."""
        return self

    @classmethod
    def soql_fields(cls, prefix: str = "") -> list[str]:
        names = []
        for name, info in cls.model_fields.items():
            if name == "values":
                continue
            alias = info.validation_alias
            if isinstance(alias, AliasChoices):
                alias = alias.choices[0]
            names.append(f"{prefix}{alias}")
        return names

    @classmethod
    def from_flat(cls, flat: dict[str, Any], prefix: str = "") -> Self:
        """Builds the model from a flattened row (optionally the part of it under `prefix`, e.g. `account.`)."""
        data = flat if not prefix else {k[len(prefix) :]: v for k, v in flat.items() if k.startswith(prefix)}
        return cls._validated(data, data)

    @classmethod
    def from_row(cls, row: dict[str, Any], value_paths: Collection[str] | None = None) -> Self:
        """`from_flat` for the many rows of a large extraction, lighter to hold: a null optional field is left to
        its default (None, the same value) and `values` keeps only `value_paths` (the paths the mappings read;
        every non-null value when None). Same record, same errors."""
        required = cls._required_aliases()
        data = {k: v for k, v in row.items() if v is not None or k in required}
        values = data if value_paths is None else {p: data[p] for p in value_paths if p in data}
        return cls._validated(data, values)

    @classmethod
    @cache
    def _required_aliases(cls) -> frozenset[str]:
        return frozenset(str(info.validation_alias) for info in cls.model_fields.values() if info.is_required())

    @classmethod
    def _validated(cls, data: dict[str, Any], values: dict[str, Any]) -> Self:
        try:
            record = cls.model_validate({**data, "values": values})
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            record_id = str(data.get("id") or "(no id)")
            raise DataError(cls.OBJECT_TYPE, record_id, field, f"{err['msg']} (value {err.get('input')!r}).") from None
        # The set of the fields given is most of a record's memory (2 kB of 3.7) and the same for most records of a
        # query: records given the same fields share one. Pydantic copies it before changing it (model_copy), and
        # records are frozen.
        given = record.__pydantic_fields_set__
        object.__setattr__(record, "__pydantic_fields_set__", _FIELDS_GIVEN.setdefault(frozenset(given), given))
        return record


class AccountRecord(SfModel):
    OBJECT_TYPE: ClassVar[str] = "Account"
    name: str | None = Field(None, validation_alias="name")


class Product2Record(SfModel):
    OBJECT_TYPE: ClassVar[str] = "Product2"
    name: str | None = Field(None, validation_alias="name")
    default_term: Decimal | None = Field(None, validation_alias="sbqq__subscriptionterm__c")


class PricebookEntryRecord(SfModel):
    OBJECT_TYPE: ClassVar[str] = "PricebookEntry"
    product2_id: str = Field(validation_alias="product2id")
    unit_price: Decimal = Field(validation_alias="unitprice")
    currency: str | None = Field(None, validation_alias="currencyisocode")
    product_default_term: Decimal | None = Field(None, validation_alias="product2.sbqq__subscriptionterm__c")
    product_billing_frequency: str | None = Field(None, validation_alias="product2.sbqq__billingfrequency__c")
    product_charge_type: str | None = Field(None, validation_alias="product2.sbqq__chargetype__c")
    product_billing_type: str | None = Field(None, validation_alias="product2.sbqq__billingtype__c")


class OrderItemRecord(SfModel):
    OBJECT_TYPE: ClassVar[str] = "OrderItem"
    order_id: str = Field(validation_alias="orderid")
    product2_id: str = Field(validation_alias="product2id")
    pricebook_entry_id: str | None = Field(None, validation_alias="pricebookentryid")
    quantity: Decimal = Field(validation_alias="quantity")
    unit_price: Decimal = Field(validation_alias="unitprice")
    service_date: dt.date | None = Field(None, validation_alias="servicedate")
    end_date: dt.date | None = Field(None, validation_alias="enddate")
    currency: str | None = Field(None, validation_alias="currencyisocode")
    charge_type: str | None = Field(None, validation_alias="sbqq__chargetype__c")
    billing_frequency: str | None = Field(None, validation_alias="sbqq__billingfrequency__c")
    billing_type: str | None = Field(None, validation_alias="sbqq__billingtype__c")
    pricing_method: str | None = Field(None, validation_alias="sbqq__pricingmethod__c")
    subscription_pricing: str | None = Field(None, validation_alias="sbqq__subscriptionpricing__c")
    subscription_type: str | None = Field(None, validation_alias="sbqq__subscriptiontype__c")
    subscription_term: Decimal | None = Field(None, validation_alias="sbqq__subscriptionterm__c")
    default_subscription_term: Decimal | None = Field(None, validation_alias="sbqq__defaultsubscriptionterm__c")
    prorate_multiplier: Decimal | None = Field(None, validation_alias="sbqq__proratemultiplier__c")
    revised_order_product: str | None = Field(None, validation_alias="sbqq__revisedorderproduct__c")
    segment_index: Decimal | None = Field(None, validation_alias="sbqq__segmentindex__c")
    segment_key: str | None = Field(None, validation_alias="sbqq__segmentkey__c")
    segment_label: str | None = Field(None, validation_alias="sbqq__segmentlabel__c")
    skip: bool | None = Field(None, validation_alias="skip_line_item__c")
    quote_line_id: str | None = Field(None, validation_alias="sbqq__quoteline__c")


class OrderRecord(SfModel):
    OBJECT_TYPE: ClassVar[str] = "Order"
    order_number: str | None = Field(None, validation_alias="ordernumber")
    account_id: str = Field(validation_alias="accountid")
    status: str | None = Field(None, validation_alias="status")
    type: str | None = Field(None, validation_alias="type")
    effective_date: dt.date | None = Field(None, validation_alias="effectivedate")
    end_date: dt.date | None = Field(None, validation_alias="enddate")
    activated_date: dt.datetime | None = Field(None, validation_alias="activateddate")
    currency: str | None = Field(None, validation_alias="currencyisocode")
    payment_term: str | None = Field(None, validation_alias="sbqq__paymentterm__c")
    contract_id: str | None = Field(None, validation_alias="contractid")
    quote_id: str | None = Field(None, validation_alias="sbqq__quote__c")
    quote_start_date: dt.date | None = Field(None, validation_alias="sbqq__quote__r.sbqq__startdate__c")
    quote_term: Decimal | None = Field(None, validation_alias="sbqq__quote__r.sbqq__subscriptionterm__c")
    quote_type: str | None = Field(None, validation_alias="sbqq__quote__r.sbqq__type__c")
    master_contract_id: str | None = Field(None, validation_alias="sbqq__quote__r.sbqq__mastercontract__c")
    contract_order_id: str | None = Field(None, validation_alias="contract.sbqq__order__c")
    skip_past_initial_invoices: bool | None = Field(None, validation_alias="skip_past_initial_invoices__c")
    system_modstamp: dt.datetime | None = Field(None, validation_alias="systemmodstamp")


class CouponRecord(SfModel):
    """A Quote_Stripe_Coupon__c: one Stripe coupon (checked in `translate.coupons`, not here)."""

    OBJECT_TYPE: ClassVar[str] = "Quote_Stripe_Coupon__c"
    name: str | None = Field(None, validation_alias="name")
    display_name: str | None = Field(None, validation_alias="name__c")
    percent_off: Decimal | None = Field(None, validation_alias="percent_off__c")
    amount_off: Decimal | None = Field(None, validation_alias="amount_off__c")
    duration: str | None = Field(None, validation_alias="duration__c")
    duration_in_months: Decimal | None = Field(None, validation_alias="duration_in_months__c")
    max_redemptions: Decimal | None = Field(None, validation_alias="max_redemptions__c")
    currency: str | None = Field(None, validation_alias="currencyisocode")


M = TypeVar("M", bound=SfModel)
