"""The sandbox org's schema: standard/CPQ objects plus the project's SFDX metadata."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cpq_sync.sandbox.salesforce.schema import (
    DEFAULT_METADATA_DIR,
    OBJECTS_SUBDIR,
    SchemaError,
    load_schema,
)

SYSTEM_FIELDS = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)
OBJECTS = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "Product2": "01t",
    "Pricebook2": "01s",
    "PricebookEntry": "01u",
    "Contract": "800",
    "Order": "801",
    "OrderItem": "802",
    "ConsumptionSchedule": None,
    "ConsumptionRate": None,
    "ProductConsumptionSchedule": None,
    "SBQQ__Quote__c": None,
    "SBQQ__QuoteLine__c": None,
    "SBQQ__Subscription__c": None,
    "Sync_Record__c": None,
    "Stripe_Sync_State__c": None,
    "Quote_Stripe_Coupon__c": None,
    "Quote_Stripe_Coupon_Association__c": None,
    "Quote_Line_Stripe_Coupon_Association__c": None,
}


def test_every_object_is_there_with_its_key_prefix_and_system_fields() -> None:
    schema = load_schema()
    prefixes = [o.key_prefix for o in schema.objects.values()]
    assert len(prefixes) == len(set(prefixes))
    for name, prefix in OBJECTS.items():
        obj = schema.sobject(name)
        assert obj is not None, name
        if prefix is not None:
            assert obj.key_prefix == prefix
        if name.endswith("__c"):
            assert obj.custom and obj.key_prefix.startswith("a0")
        for system in SYSTEM_FIELDS:
            f = obj.field(system)
            assert f is not None and not f.createable and not f.updateable, (name, system)
        assert schema.by_key_prefix(obj.key_prefix + "000000000000AAA") is obj


def test_lookups_are_case_insensitive() -> None:
    schema = load_schema()
    order = schema.sobject("order")
    assert order is not None and order.name == "Order"
    stripe_id = order.field("STRIPE_ID__C")
    assert stripe_id is not None and stripe_id.name == "Stripe_ID__c"
    assert order.relationship("account") is order.field("AccountId")
    items = order.child_relationship("orderitems")
    assert items is not None and (items.child_sobject, items.field) == ("OrderItem", "OrderId")


@pytest.mark.parametrize(
    ("sobject", "relationship", "field", "target"),
    [
        ("Order", "Account", "AccountId", "Account"),
        ("Order", "Contract", "ContractId", "Contract"),
        ("Order", "SBQQ__Quote__r", "SBQQ__Quote__c", "SBQQ__Quote__c"),
        ("Order", "Opportunity", "OpportunityId", "Opportunity"),
        ("Order", "Pricebook2", "Pricebook2Id", "Pricebook2"),
        ("OrderItem", "Product2", "Product2Id", "Product2"),
        ("OrderItem", "PricebookEntry", "PricebookEntryId", "PricebookEntry"),
        ("OrderItem", "SBQQ__RevisedOrderProduct__r", "SBQQ__RevisedOrderProduct__c", "OrderItem"),
        ("OrderItem", "SBQQ__QuoteLine__r", "SBQQ__QuoteLine__c", "SBQQ__QuoteLine__c"),
        ("Account", "Owner", "OwnerId", "User"),
        ("PricebookEntry", "Product2", "Product2Id", "Product2"),
        ("Contract", "SBQQ__Order__r", "SBQQ__Order__c", "Order"),
        ("Opportunity", "SBQQ__AmendedContract__r", "SBQQ__AmendedContract__c", "Contract"),
        ("SBQQ__Quote__c", "SBQQ__MasterContract__r", "SBQQ__MasterContract__c", "Contract"),
        ("Quote_Stripe_Coupon_Association__c", "Quote__r", "Quote__c", "SBQQ__Quote__c"),
        (
            "Quote_Line_Stripe_Coupon_Association__c",
            "Quote_Stripe_Coupon__r",
            "Quote_Stripe_Coupon__c",
            "Quote_Stripe_Coupon__c",
        ),
    ],
)
def test_parent_relationships_as_in_a_real_org(sobject: str, relationship: str, field: str, target: str) -> None:
    obj = load_schema().sobject(sobject)
    assert obj is not None
    ref = obj.relationship(relationship)
    assert ref is not None and ref.name == field and ref.type == "reference" and ref.reference_to == (target,)


@pytest.mark.parametrize(
    ("parent", "relationship", "child"),
    [
        ("Order", "OrderItems", "OrderItem"),
        ("Account", "Contacts", "Contact"),
        ("ConsumptionSchedule", "ConsumptionRates", "ConsumptionRate"),
        ("SBQQ__Quote__c", "SBQQ__LineItems__r", "SBQQ__QuoteLine__c"),
        ("SBQQ__Quote__c", "Quote_Stripe_Coupon_Associations__r", "Quote_Stripe_Coupon_Association__c"),
        (
            "SBQQ__QuoteLine__c",
            "Quote_Line_Stripe_Coupon_Associations__r",
            "Quote_Line_Stripe_Coupon_Association__c",
        ),
        ("OrderItem", "SBQQ__RevisingOrderProducts__r", "OrderItem"),
    ],
)
def test_child_relationships(parent: str, relationship: str, child: str) -> None:
    obj = load_schema().sobject(parent)
    assert obj is not None
    rel = obj.child_relationship(relationship)
    assert rel is not None and rel.child_sobject == child


def test_cpq_picklists_and_read_only_fields() -> None:
    schema = load_schema()
    item = schema.sobject("OrderItem")
    order = schema.sobject("Order")
    assert item is not None and order is not None
    frequency = item.field("SBQQ__BillingFrequency__c")
    assert frequency is not None
    assert {"Monthly", "Quarterly", "Semiannual", "Annual"} <= set(frequency.picklist_values)
    action = item.field("SBQQ__ContractAction__c")
    assert action is not None and "Quantity Decrease" in action.picklist_values
    for read_only in ("TotalPrice",):
        f = item.field(read_only)
        assert f is not None and f.calculated and not f.createable and not f.updateable
    for read_only in ("OrderNumber", "TotalAmount"):
        f = order.field(read_only)
        assert f is not None and not f.createable and not f.updateable
    currency = order.field("CurrencyIsoCode")
    assert currency is not None and set(currency.picklist_values) == {"USD", "EUR", "GBP", "JPY"}
    assert item.field("Name") is None  # OrderItem has no Name in a real org
    names = {o: schema.sobject(o).field("Name") for o in ("Order", "Contract", "Account", "Opportunity")}  # type: ignore[union-attr]
    assert {o: f.nillable for o, f in names.items() if f is not None} == {
        "Order": True,
        "Contract": True,
        "Account": False,
        "Opportunity": False,
    }


def test_custom_fields_come_from_the_sfdx_files() -> None:
    schema = load_schema()
    for sobject in ("Account", "Product2", "PricebookEntry", "Order", "OrderItem", "Quote_Stripe_Coupon__c"):
        obj = schema.sobject(sobject)
        assert obj is not None
        stripe_id = obj.field("Stripe_ID__c")
        assert stripe_id is not None
        assert (stripe_id.type, stripe_id.length, stripe_id.external_id, stripe_id.unique) == (
            "string",
            255,
            True,
            False,
        )
        sync_hash = obj.field("Stripe_Sync_Hash__c")
        assert sync_hash is not None and sync_hash.length == 64
    sync_record = schema.sobject("Sync_Record__c")
    assert sync_record is not None
    compound = sync_record.field("Compound_ID__c")
    assert compound is not None and compound.external_id and compound.unique
    status = sync_record.field("Resolution_Status__c")
    assert status is not None and status.picklist_values == ("Success", "Error", "Resolved", "Skipped")
    message = sync_record.field("Resolution_Message__c")
    assert message is not None and (message.type, message.length) == ("textarea", 131072)
    name = sync_record.field("Name")
    assert name is not None and not name.createable  # auto-number
    coupon = schema.sobject("Quote_Stripe_Coupon__c")
    assert coupon is not None
    percent = coupon.field("Percent_Off__c")
    amount = coupon.field("Amount_Off__c")
    assert percent is not None and (percent.type, percent.precision, percent.scale) == ("double", 5, 2)
    assert amount is not None and amount.type == "currency"
    assert coupon.field("CurrencyIsoCode") is not None
    skip = schema.sobject("OrderItem")
    assert skip is not None
    checkbox = skip.field("Skip_Line_Item__c")
    assert checkbox is not None and checkbox.type == "boolean" and checkbox.default_value is False


def _copy_metadata(tmp_path: Path) -> Path:
    target = tmp_path / "salesforce"
    shutil.copytree(DEFAULT_METADATA_DIR, target)
    return target


FIELD_XML = """<?xml version="1.0" encoding="UTF-8"?>
<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">
    <fullName>{name}</fullName>
    <label>Extra</label>
    <type>{type}</type>
    <length>12</length>
</CustomField>
"""


def test_a_field_added_to_the_metadata_appears_in_the_schema(tmp_path: Path) -> None:
    metadata = _copy_metadata(tmp_path)
    fields = metadata / OBJECTS_SUBDIR / "Contact" / "fields"
    fields.mkdir(parents=True)
    (fields / "Extra__c.field-meta.xml").write_text(FIELD_XML.format(name="Extra__c", type="Text"))
    contact = load_schema(metadata).sobject("Contact")
    assert contact is not None
    extra = contact.field("extra__c")
    assert extra is not None and (extra.type, extra.length, extra.custom) == ("string", 12, True)
    default_contact = load_schema().sobject("Contact")
    assert default_contact is not None and default_contact.field("Extra__c") is None


@pytest.mark.parametrize(
    ("file_name", "content", "message"),
    [
        ("Extra__c.field-meta.xml", FIELD_XML.format(name="Extra__c", type="Geolocation"), "Geolocation"),
        ("Other__c.field-meta.xml", FIELD_XML.format(name="Extra__c", type="Text"), "does not match"),
        ("Broken__c.field-meta.xml", "<CustomField>", "invalid XML"),
    ],
)
def test_unsupported_or_broken_metadata_fails_loudly(
    tmp_path: Path, file_name: str, content: str, message: str
) -> None:
    metadata = _copy_metadata(tmp_path)
    fields = metadata / OBJECTS_SUBDIR / "Order" / "fields"
    (fields / file_name).write_text(content)
    with pytest.raises(SchemaError, match=message):
        load_schema(metadata)


BRIEF_FIELDS = {
    "Order": (
        "EffectiveDate EndDate ActivatedDate OrderNumber TotalAmount Pricebook2Id "
        "ContractId OpportunityId SBQQ__Quote__c SBQQ__PaymentTerm__c "
        "SBQQ__ContractingMethod__c SBQQ__Contracted__c"
    ),
    "OrderItem": (
        "SBQQ__SegmentIndex__c SBQQ__SegmentKey__c SBQQ__SegmentLabel__c "
        "SBQQ__DimensionType__c SBQQ__PriceDimension__c SBQQ__OrderedQuantity__c "
        "SBQQ__ProrateMultiplier__c SBQQ__SubscriptionTerm__c "
        "SBQQ__DefaultSubscriptionTerm__c SBQQ__Activated__c SBQQ__UnproratedNetPrice__c "
        "SBQQ__ChargeType__c SBQQ__BillingFrequency__c SBQQ__BillingType__c "
        "SBQQ__SubscriptionType__c SBQQ__ProductSubscriptionType__c "
        "SBQQ__SubscriptionPricing__c SBQQ__PricingMethod__c SBQQ__ContractAction__c "
        "SBQQ__RevisedOrderProduct__c"
    ),
    "SBQQ__QuoteLine__c": ("SBQQ__SegmentStartDate__c SBQQ__SegmentEndDate__c SBQQ__Discount__c SBQQ__NetPrice__c"),
    "SBQQ__Quote__c": (
        "SBQQ__StartDate__c SBQQ__EndDate__c SBQQ__SubscriptionTerm__c SBQQ__Type__c "
        "SBQQ__Account__c SBQQ__Opportunity2__c SBQQ__MasterContract__c "
        "SBQQ__PrimaryContact__c SBQQ__Primary__c"
    ),
    "Opportunity": ("SBQQ__AmendedContract__c SBQQ__RenewedContract__c CloseDate StageName"),
    "Contract": ("SBQQ__Order__c SBQQ__Quote__c StartDate EndDate ContractTerm SBQQ__AmendmentStartDate__c"),
    "ConsumptionSchedule": ("Type BillingTerm BillingTermUnit RatingMethod IsActive"),
    "ConsumptionRate": ("LowerBound UpperBound Price PricingMethod ProcessingOrder ConsumptionScheduleId"),
    "ProductConsumptionSchedule": ("ProductId ConsumptionScheduleId"),
}


@pytest.mark.parametrize("sobject", sorted(BRIEF_FIELDS))
def test_the_fields_a_billing_sync_reads_exist(sobject: str) -> None:
    obj = load_schema().sobject(sobject)
    assert obj is not None
    assert [name for name in BRIEF_FIELDS[sobject].split() if obj.field(name) is None] == []
