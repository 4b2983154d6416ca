"""Standard Salesforce and Salesforce CPQ (SBQQ) objects of the sandbox org, as plain data.

Only the fields a billing sync reads or a realistic seed writes are listed, with the types, lengths and
picklists a real multi-currency CPQ org reports in ``describe``. The project's own custom fields and objects
are not here: they come from the SFDX source under ``salesforce/`` (see ``schema.py``).

Every object gets the system fields (Id, IsDeleted, CreatedDate, CreatedById, LastModifiedDate,
LastModifiedById, SystemModstamp) from ``schema.py``; ``Name`` and ``CurrencyIsoCode`` are listed here only
where the real object has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP", "JPY")

CHARGE_TYPES = ("One-Time", "Recurring", "Usage")
BILLING_FREQUENCIES = ("Monthly", "Quarterly", "Semiannual", "Annual", "Invoice Plan", "Usage")
BILLING_TYPES = ("Advance", "Arrears")
SUBSCRIPTION_TYPES = ("Renewable", "One-time", "Evergreen")
PRODUCT_SUBSCRIPTION_TYPES = ("Renewable", "One-time", "Evergreen", "Renewable/Evergreen")
SUBSCRIPTION_PRICING = ("Fixed Price", "Percent Of Total")
PRICING_METHODS = ("List", "Cost", "Block", "Percent Of Total", "Custom")
CONTRACT_ACTIONS = ("New", "Quantity Increase", "Quantity Decrease", "Product Swap", "Renew")
ORDER_STATUSES = ("Draft", "Activated")
ORDER_TYPES = ("New", "Amendment", "Renewal")
QUOTE_TYPES = ("Quote", "Renewal", "Amendment", "Re-Quote", "New")
PAYMENT_TERMS = ("Net 15", "Net 30", "Net 45", "Net 60", "Net 90", "Due on Receipt")
DIMENSION_TYPES = ("Year", "Quarter", "Month", "Custom", "One-time")
CONTRACTING_METHODS = ("By Subscription End Date", "Single Contract", "Contract Separately")
ORDER_PRODUCT_STATUSES = ("Draft", "Activated")
QUOTE_STATUSES = ("Draft", "In Review", "Approved", "Denied", "Presented", "Accepted", "Rejected")
OPPORTUNITY_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)


@dataclass(frozen=True)
class F:
    """One field as data. ``type`` is a describe field type (see ``schema.FieldType``)."""

    name: str
    type: str
    label: str | None = None
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    calculated: bool = False
    external_id: bool = False
    unique: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    ref: tuple[str, ...] = ()
    rel: str | None = None
    child_rel: str | None = None  # relationship name on the parent side (e.g. OrderItems)
    default: Any = None


@dataclass(frozen=True)
class O:  # noqa: E742 - short on purpose: a table of objects reads better
    name: str
    label: str
    key_prefix: str
    custom: bool
    has_name: bool
    name_autonumber: bool
    currency: bool
    owner: bool
    fields: tuple[F, ...] = field(default_factory=tuple)


def s(name: str, length: int = 255, **kw: Any) -> F:
    return F(name, "string", length=length, **kw)


def txt(name: str, length: int = 32000, **kw: Any) -> F:
    return F(name, "textarea", length=length, **kw)


def b(name: str, default: bool = False, **kw: Any) -> F:
    return F(name, "boolean", nillable=False, default=default, **kw)


def num(name: str, precision: int = 18, scale: int = 0, **kw: Any) -> F:
    return F(name, "double", precision=precision, scale=scale, **kw)


def cur(name: str, precision: int = 18, scale: int = 2, **kw: Any) -> F:
    return F(name, "currency", precision=precision, scale=scale, **kw)


def pct(name: str, precision: int = 18, scale: int = 2, **kw: Any) -> F:
    return F(name, "percent", precision=precision, scale=scale, **kw)


def pick(name: str, values: tuple[str, ...], restricted: bool = False, **kw: Any) -> F:
    return F(name, "picklist", length=255, picklist=values, restricted=restricted, **kw)


def ref(name: str, to: str, rel: str, child_rel: str | None = None, **kw: Any) -> F:
    return F(name, "reference", length=18, ref=(to,), rel=rel, child_rel=child_rel, **kw)


def d(name: str, **kw: Any) -> F:
    return F(name, "date", **kw)


def dt(name: str, **kw: Any) -> F:
    return F(name, "datetime", **kw)


def ro(f: F) -> F:
    """Read-only (formula, roll-up, system-computed)."""
    return F(**{**f.__dict__, "createable": False, "updateable": False, "calculated": True})


def address(prefix: str) -> tuple[F, ...]:
    return (
        txt(f"{prefix}Street", 255),
        s(f"{prefix}City", 40),
        s(f"{prefix}State", 80),
        s(f"{prefix}PostalCode", 20),
        s(f"{prefix}Country", 80),
        F(f"{prefix}Address", "address", createable=False, updateable=False),
    )


def charge_fields(*, with_product_subscription_type: bool) -> tuple[F, ...]:
    """The CPQ charge fields copied from Product2 to quote lines, order products and subscriptions."""
    fields = [
        pick("SBQQ__ChargeType__c", CHARGE_TYPES, restricted=True),
        pick("SBQQ__BillingFrequency__c", BILLING_FREQUENCIES, restricted=True),
        pick("SBQQ__BillingType__c", BILLING_TYPES, restricted=True),
        pick("SBQQ__SubscriptionPricing__c", SUBSCRIPTION_PRICING),
        pick("SBQQ__SubscriptionType__c", SUBSCRIPTION_TYPES),
    ]
    if with_product_subscription_type:
        fields.append(pick("SBQQ__ProductSubscriptionType__c", PRODUCT_SUBSCRIPTION_TYPES))
    return tuple(fields)


def segment_fields() -> tuple[F, ...]:
    return (
        num("SBQQ__SegmentIndex__c", 10, 0),
        s("SBQQ__SegmentKey__c", 255),
        s("SBQQ__SegmentLabel__c", 255),
        pick("SBQQ__DimensionType__c", DIMENSION_TYPES),
    )


OWNER = ref("OwnerId", "User", "Owner", nillable=False)

STANDARD_OBJECTS: tuple[O, ...] = (
    O(
        "User",
        "User",
        "005",
        custom=False,
        has_name=True,
        name_autonumber=False,
        currency=True,
        owner=False,
        fields=(
            s("Username", 80, nillable=False, unique=True),
            F("Email", "email", length=128, nillable=False),
            s("FirstName", 40),
            s("LastName", 80, nillable=False),
            s("Alias", 8, nillable=False),
            s("Title", 80),
            s("CompanyName", 80),
            s("Department", 80),
            F("Phone", "phone", length=40),
            b("IsActive", default=True),
            pick("TimeZoneSidKey", ("America/Los_Angeles", "America/New_York", "Europe/Paris", "GMT")),
        ),
    ),
    O(
        "Account",
        "Account",
        "001",
        custom=False,
        has_name=True,
        name_autonumber=False,
        currency=True,
        owner=True,
        fields=(
            s("AccountNumber", 40),
            pick("Type", ("Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other")),
            pick(
                "Industry",
                ("Technology", "Manufacturing", "Retail", "Healthcare", "Finance", "Media", "Education"),
            ),
            F("Phone", "phone", length=40),
            F("Fax", "phone", length=40),
            F("Website", "url", length=255),
            txt("Description"),
            F("NumberOfEmployees", "int", precision=8, scale=0),
            cur("AnnualRevenue"),
            ref("ParentId", "Account", "Parent", "ChildAccounts"),
            *address("Billing"),
            *address("Shipping"),
        ),
    ),
    O(
        "Contact",
        "Contact",
        "003",
        custom=False,
        has_name=True,
        name_autonumber=False,
        currency=True,
        owner=True,
        fields=(
            ref("AccountId", "Account", "Account", "Contacts"),
            s("FirstName", 40),
            s("LastName", 80, nillable=False),
            F("Email", "email", length=80),
            F("Phone", "phone", length=40),
            F("MobilePhone", "phone", length=40),
            s("Title", 128),
            txt("Description"),
            *address("Mailing"),
        ),
    ),
    O(
        "Product2",
        "Product",
        "01t",
        custom=False,
        has_name=True,
        name_autonumber=False,
        currency=True,
        owner=False,
        fields=(
            s("ProductCode", 255),
            txt("Description", 4000),
            b("IsActive"),
            pick("Family", ("Software", "Services", "Usage", "Hardware")),
            s("StockKeepingUnit", 180),
            s("QuantityUnitOfMeasure", 255),
            *charge_fields(with_product_subscription_type=False),
            num("SBQQ__SubscriptionTerm__c", 5, 0),
            pick("SBQQ__PricingMethod__c", PRICING_METHODS, default="List"),
            pick("SBQQ__BlockPricingField__c", ("Quantity", "Renewal Quantity")),
            pick("SBQQ__SubscriptionBase__c", ("List", "Regular", "Customer", "Net", "All")),
            pick("SBQQ__AssetConversion__c", ("One per quote line", "One per unit")),
            num("SBQQ__BatchQuantity__c", 12, 2),
            num("SBQQ__DefaultQuantity__c", 12, 2),
            b("SBQQ__Component__c"),
            b("SBQQ__Taxable__c"),
            b("SBQQ__NonDiscountable__c"),
            b("SBQQ__PriceEditable__c"),
        ),
    ),
    O(
        "Pricebook2",
        "Price Book",
        "01s",
        custom=False,
        has_name=True,
        name_autonumber=False,
        currency=False,
        owner=False,
        fields=(
            b("IsActive"),
            F("IsStandard", "boolean", nillable=False, createable=False, updateable=False, default=False),
            txt("Description", 255),
        ),
    ),
    O(
        "PricebookEntry",
        "Price Book Entry",
        "01u",
        custom=False,
        has_name=True,
        name_autonumber=False,
        currency=True,
        owner=False,
        fields=(
            ref(
                "Pricebook2Id",
                "Pricebook2",
                "Pricebook2",
                "PricebookEntries",
                nillable=False,
                updateable=False,
            ),
            ref("Product2Id", "Product2", "Product2", "PricebookEntries", nillable=False, updateable=False),
            cur("UnitPrice", nillable=False),
            b("IsActive"),
            b("UseStandardPrice"),
            ro(s("ProductCode", 255)),
        ),
    ),
    O(
        "Opportunity",
        "Opportunity",
        "006",
        custom=False,
        has_name=True,
        name_autonumber=False,
        currency=True,
        owner=True,
        fields=(
            ref("AccountId", "Account", "Account", "Opportunities"),
            d("CloseDate", nillable=False),
            pick("StageName", OPPORTUNITY_STAGES, nillable=False),
            pick("Type", ("New Business", "Existing Customer - Upgrade", "Existing Customer - Replacement")),
            cur("Amount"),
            pct("Probability", 3, 0),
            txt("Description"),
            ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Opportunities"),
            ro(F("IsClosed", "boolean", nillable=False, default=False)),
            ro(F("IsWon", "boolean", nillable=False, default=False)),
            ref(
                "SBQQ__AmendedContract__c",
                "Contract",
                "SBQQ__AmendedContract__r",
                "SBQQ__AmendmentOpportunities__r",
            ),
            ref(
                "SBQQ__RenewedContract__c",
                "Contract",
                "SBQQ__RenewedContract__r",
                "SBQQ__RenewalOpportunities__r",
            ),
            ref(
                "SBQQ__PrimaryQuote__c",
                "SBQQ__Quote__c",
                "SBQQ__PrimaryQuote__r",
                "SBQQ__PrimaryQuoteOpportunities__r",
            ),
            b("SBQQ__Contracted__c"),
            b("SBQQ__Ordered__c"),
        ),
    ),
    O(
        "Contract",
        "Contract",
        "800",
        custom=False,
        has_name=True,
        name_autonumber=False,
        currency=True,
        owner=True,
        fields=(
            ref("AccountId", "Account", "Account", "Contracts", nillable=False),
            ro(s("ContractNumber", 30)),
            pick("Status", ("Draft", "In Approval Process", "Activated"), nillable=False, default="Draft"),
            ro(pick("StatusCode", ("Draft", "InApproval", "Activated", "Terminated", "Expired"))),
            d("StartDate"),
            ro(d("EndDate")),
            F("ContractTerm", "int", precision=4, scale=0),
            dt("ActivatedDate"),
            txt("Description"),
            ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Contracts"),
            ref("SBQQ__Order__c", "Order", "SBQQ__Order__r", "SBQQ__Contracts__r"),
            ref("SBQQ__Quote__c", "SBQQ__Quote__c", "SBQQ__Quote__r", "SBQQ__Contracts__r"),
            ref("SBQQ__Opportunity__c", "Opportunity", "SBQQ__Opportunity__r", "SBQQ__Contracts__r"),
            ref(
                "SBQQ__RenewalOpportunity__c",
                "Opportunity",
                "SBQQ__RenewalOpportunity__r",
                "SBQQ__RenewedContracts__r",
            ),
            num("SBQQ__RenewalTerm__c", 5, 0),
            b("SBQQ__RenewalForecast__c"),
            b("SBQQ__RenewalQuoted__c"),
            d("SBQQ__AmendmentStartDate__c"),
            b("SBQQ__MasterContract__c"),
            b("SBQQ__Evergreen__c"),
        ),
    ),
    O(
        "Order",
        "Order",
        "801",
        custom=False,
        has_name=True,
        name_autonumber=False,
        currency=True,
        owner=True,
        fields=(
            ref("AccountId", "Account", "Account", "Orders"),
            ro(s("OrderNumber", 30)),
            pick("Status", ORDER_STATUSES, nillable=False, default="Draft"),
            ro(pick("StatusCode", ("Draft", "Activated", "Cancelled", "Expired"))),
            pick("Type", ORDER_TYPES),
            d("EffectiveDate", nillable=False),
            d("EndDate"),
            dt("ActivatedDate", createable=False),  # stamped on activation; updateable, not createable
            ref("ActivatedById", "User", "ActivatedBy", createable=False),
            ref("ContractId", "Contract", "Contract", "Orders"),
            ref("OpportunityId", "Opportunity", "Opportunity", "Orders"),
            ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Orders"),
            ref("OriginalOrderId", "Order", "OriginalOrder", "Orders"),
            b("IsReductionOrder", createable=True, updateable=False),
            ref("BillToContactId", "Contact", "BillToContact"),
            ref("ShipToContactId", "Contact", "ShipToContact"),
            ro(cur("TotalAmount")),
            txt("Description"),
            s("PoNumber", 80),
            *address("Billing"),
            *address("Shipping"),
            ref("SBQQ__Quote__c", "SBQQ__Quote__c", "SBQQ__Quote__r", "SBQQ__Orders__r"),
            b("SBQQ__Contracted__c"),
            pick("SBQQ__ContractingMethod__c", CONTRACTING_METHODS),
            pick("SBQQ__PaymentTerm__c", PAYMENT_TERMS),
            num("SBQQ__RenewalTerm__c", 5, 0),
            ro(cur("SBQQ__TaxAmount__c")),
            ro(cur("SBQQ__OrderBookings__c")),
        ),
    ),
    O(
        "OrderItem",
        "Order Product",
        "802",
        custom=False,
        has_name=False,
        name_autonumber=False,
        currency=True,
        owner=False,
        fields=(
            ref("OrderId", "Order", "Order", "OrderItems", nillable=False, updateable=False),
            ro(s("OrderItemNumber", 10)),
            ref("Product2Id", "Product2", "Product2", None, updateable=False),
            ref("PricebookEntryId", "PricebookEntry", "PricebookEntry", None, nillable=False, updateable=False),
            num("Quantity", 18, 2, nillable=False),
            cur("UnitPrice", nillable=False),
            cur("ListPrice", updateable=False),
            ro(cur("TotalPrice")),
            d("ServiceDate"),
            d("EndDate"),
            txt("Description", 255),
            ref("OriginalOrderItemId", "OrderItem", "OriginalOrderItem", "ChildOrderItems"),
            ro(num("AvailableQuantity", 18, 2)),
            *charge_fields(with_product_subscription_type=True),
            pick("SBQQ__PricingMethod__c", PRICING_METHODS),
            num("SBQQ__SubscriptionTerm__c", 18, 0),
            num("SBQQ__DefaultSubscriptionTerm__c", 5, 0),
            num("SBQQ__ProrateMultiplier__c", 8, 4),
            cur("SBQQ__UnproratedNetPrice__c", 16, 2),
            cur("SBQQ__QuotedListPrice__c", 14, 2),
            num("SBQQ__OrderedQuantity__c", 18, 2),
            num("SBQQ__QuotedQuantity__c", 18, 2),
            ref("SBQQ__QuoteLine__c", "SBQQ__QuoteLine__c", "SBQQ__QuoteLine__r", "SBQQ__OrderProducts__r"),
            ref(
                "SBQQ__RevisedOrderProduct__c",
                "OrderItem",
                "SBQQ__RevisedOrderProduct__r",
                "SBQQ__RevisingOrderProducts__r",
            ),
            pick("SBQQ__ContractAction__c", CONTRACT_ACTIONS, restricted=True),
            ref(
                "SBQQ__Subscription__c",
                "SBQQ__Subscription__c",
                "SBQQ__Subscription__r",
                "SBQQ__OrderProducts__r",
            ),
            ref(
                "SBQQ__UpgradedSubscription__c",
                "SBQQ__Subscription__c",
                "SBQQ__UpgradedSubscription__r",
                "SBQQ__UpgradingOrderProducts__r",
            ),
            ref("SBQQ__Contract__c", "Contract", "SBQQ__Contract__r", "SBQQ__OrderProducts__r"),
            b("SBQQ__Contracted__c"),
            b("SBQQ__Activated__c"),
            pick("SBQQ__Status__c", ORDER_PRODUCT_STATUSES),
            d("SBQQ__TerminatedDate__c"),
            *segment_fields(),
            ref(
                "SBQQ__PriceDimension__c",
                "SBQQ__Dimension__c",
                "SBQQ__PriceDimension__r",
                "SBQQ__OrderProducts__r",
            ),
            ref("SBQQ__BundleRoot__c", "OrderItem", "SBQQ__BundleRoot__r", "SBQQ__BundledOrderProducts__r"),
            ref("SBQQ__RequiredBy__c", "OrderItem", "SBQQ__RequiredBy__r", "SBQQ__Components__r"),
            cur("SBQQ__TaxAmount__c"),
            ro(cur("SBQQ__OrderProductBookings__c")),
        ),
    ),
    O(
        "ConsumptionSchedule",
        "Consumption Schedule",
        "0sn",  # assumed: not verified against a real org
        custom=False,
        has_name=True,
        name_autonumber=False,
        currency=True,
        owner=False,
        fields=(
            pick("Type", ("Range", "Slab"), restricted=True, nillable=False),
            F("BillingTerm", "int", precision=9, scale=0, nillable=False),
            pick("BillingTermUnit", ("Month", "Quarter", "Year"), restricted=True, nillable=False),
            pick("RatingMethod", ("Tier",), restricted=True, nillable=False, default="Tier"),
            b("IsActive"),
            txt("Description", 255),
            s("MatchingAttribute", 255),
            s("UnitOfMeasure", 255),
            ro(F("NumberOfRates", "int", precision=9, scale=0)),
        ),
    ),
    O(
        "ConsumptionRate",
        "Consumption Rate",
        "0sr",  # assumed: not verified against a real org
        custom=False,
        has_name=True,
        name_autonumber=True,
        currency=True,
        owner=False,
        fields=(
            ref(
                "ConsumptionScheduleId",
                "ConsumptionSchedule",
                "ConsumptionSchedule",
                "ConsumptionRates",
                nillable=False,
                updateable=False,
            ),
            F("LowerBound", "int", precision=9, scale=0, nillable=False),
            F("UpperBound", "int", precision=9, scale=0),
            cur("Price", nillable=False),
            pick("PricingMethod", ("PerUnit", "FlatFee"), restricted=True, nillable=False),
            F("ProcessingOrder", "int", precision=9, scale=0, nillable=False),
            txt("Description", 255),
        ),
    ),
    O(
        "ProductConsumptionSchedule",
        "Product Consumption Schedule",
        "0so",  # assumed: not verified against a real org
        custom=False,
        has_name=False,
        name_autonumber=False,
        currency=False,
        owner=False,
        fields=(
            ref(
                "ProductId",
                "Product2",
                "Product",
                "ProductConsumptionSchedules",
                nillable=False,
                updateable=False,
            ),
            ref(
                "ConsumptionScheduleId",
                "ConsumptionSchedule",
                "ConsumptionSchedule",
                "ProductConsumptionSchedules",
                nillable=False,
                updateable=False,
            ),
        ),
    ),
)

# CPQ managed-package objects: custom objects, key prefixes assigned in this fixed order (a0A, a0B, ...).
CPQ_OBJECTS: tuple[O, ...] = (
    O(
        "SBQQ__Quote__c",
        "Quote",
        "",
        custom=True,
        has_name=True,
        name_autonumber=True,
        currency=True,
        owner=True,
        fields=(
            pick("SBQQ__Type__c", QUOTE_TYPES, default="Quote"),
            pick("SBQQ__Status__c", QUOTE_STATUSES, default="Draft"),
            b("SBQQ__Primary__c"),
            b("SBQQ__Ordered__c"),
            ref("SBQQ__Account__c", "Account", "SBQQ__Account__r", "SBQQ__Quotes__r"),
            ref("SBQQ__Opportunity2__c", "Opportunity", "SBQQ__Opportunity2__r", "SBQQ__Quotes2__r"),
            ref("SBQQ__PrimaryContact__c", "Contact", "SBQQ__PrimaryContact__r", "SBQQ__Quotes__r"),
            ref("SBQQ__SalesRep__c", "User", "SBQQ__SalesRep__r", None),
            ref("SBQQ__PriceBook__c", "Pricebook2", "SBQQ__PriceBook__r", "SBQQ__Quotes__r"),
            s("SBQQ__PricebookId__c", 18),
            d("SBQQ__StartDate__c"),
            d("SBQQ__EndDate__c"),
            d("SBQQ__ExpirationDate__c"),
            num("SBQQ__SubscriptionTerm__c", 5, 0),
            ref("SBQQ__MasterContract__c", "Contract", "SBQQ__MasterContract__r", "SBQQ__AmendmentQuotes__r"),
            pick("SBQQ__BillingFrequency__c", BILLING_FREQUENCIES),
            pick("SBQQ__PaymentTerms__c", PAYMENT_TERMS),
            pct("SBQQ__PartnerDiscount__c", 5, 2),
            pct("SBQQ__DistributorDiscount__c", 5, 2),
            pct("SBQQ__CustomerDiscount__c", 5, 2),
            ro(cur("SBQQ__AdditionalDiscountAmount__c")),
            ro(cur("SBQQ__ListAmount__c")),
            ro(cur("SBQQ__NetAmount__c")),
            ro(num("SBQQ__LineItemCount__c", 18, 0)),
        ),
    ),
    O(
        "SBQQ__QuoteLine__c",
        "Quote Line",
        "",
        custom=True,
        has_name=True,
        name_autonumber=True,
        currency=True,
        owner=False,
        fields=(
            ref("SBQQ__Quote__c", "SBQQ__Quote__c", "SBQQ__Quote__r", "SBQQ__LineItems__r", nillable=False),
            ref("SBQQ__Product__c", "Product2", "SBQQ__Product__r", "SBQQ__QuoteLines__r", nillable=False),
            s("SBQQ__PricebookEntryId__c", 18),
            num("SBQQ__Number__c", 5, 0),
            num("SBQQ__Quantity__c", 12, 2, nillable=False),
            num("SBQQ__PriorQuantity__c", 12, 2),
            ro(num("SBQQ__EffectiveQuantity__c", 12, 2)),
            cur("SBQQ__ListPrice__c", 14, 2),
            cur("SBQQ__OriginalPrice__c", 14, 2),
            cur("SBQQ__RegularPrice__c", 14, 2),
            cur("SBQQ__CustomerPrice__c", 14, 2),
            cur("SBQQ__NetPrice__c", 14, 2),
            cur("SBQQ__SpecialPrice__c", 14, 2),
            cur("SBQQ__ProratedListPrice__c", 14, 2),
            pct("SBQQ__Discount__c", 11, 2),
            cur("SBQQ__AdditionalDiscountAmount__c", 14, 2),
            pct("SBQQ__PartnerDiscount__c", 5, 2),
            pct("SBQQ__DistributorDiscount__c", 5, 2),
            ro(cur("SBQQ__TotalDiscountAmount__c", 18, 2)),
            ro(pct("SBQQ__TotalDiscountRate__c", 18, 3)),
            ro(cur("SBQQ__NetTotal__c", 18, 2)),
            d("SBQQ__StartDate__c"),
            d("SBQQ__EndDate__c"),
            ro(d("SBQQ__EffectiveStartDate__c")),
            ro(d("SBQQ__EffectiveEndDate__c")),
            num("SBQQ__SubscriptionTerm__c", 5, 0),
            num("SBQQ__DefaultSubscriptionTerm__c", 5, 0),
            ro(num("SBQQ__EffectiveSubscriptionTerm__c", 5, 0)),
            num("SBQQ__ProrateMultiplier__c", 8, 4),
            *charge_fields(with_product_subscription_type=True),
            pick("SBQQ__PricingMethod__c", PRICING_METHODS),
            *segment_fields(),
            d("SBQQ__SegmentStartDate__c"),
            d("SBQQ__SegmentEndDate__c"),
            ref("SBQQ__Dimension__c", "SBQQ__Dimension__c", "SBQQ__Dimension__r", "SBQQ__QuoteLines__r"),
            ref(
                "SBQQ__UpgradedSubscription__c",
                "SBQQ__Subscription__c",
                "SBQQ__UpgradedSubscription__r",
                "SBQQ__UpgradingQuoteLines__r",
            ),
            ref(
                "SBQQ__RenewedSubscription__c",
                "SBQQ__Subscription__c",
                "SBQQ__RenewedSubscription__r",
                "SBQQ__RenewingQuoteLines__r",
            ),
            b("SBQQ__Existing__c"),
            b("SBQQ__Bundled__c"),
        ),
    ),
    O(
        "SBQQ__Subscription__c",
        "Subscription",
        "",
        custom=True,
        has_name=True,
        name_autonumber=True,
        currency=True,
        owner=True,
        fields=(
            ref("SBQQ__Account__c", "Account", "SBQQ__Account__r", "SBQQ__Subscriptions__r"),
            ref("SBQQ__Contract__c", "Contract", "SBQQ__Contract__r", "SBQQ__Subscriptions__r"),
            ref("SBQQ__Product__c", "Product2", "SBQQ__Product__r", "SBQQ__Subscriptions__r"),
            ref("SBQQ__OrderProduct__c", "OrderItem", "SBQQ__OrderProduct__r", "SBQQ__Subscriptions__r"),
            ref("SBQQ__QuoteLine__c", "SBQQ__QuoteLine__c", "SBQQ__QuoteLine__r", "SBQQ__Subscriptions__r"),
            ref(
                "SBQQ__OriginalQuoteLine__c",
                "SBQQ__QuoteLine__c",
                "SBQQ__OriginalQuoteLine__r",
                "SBQQ__OriginalSubscriptions__r",
            ),
            ref(
                "SBQQ__RevisedSubscription__c",
                "SBQQ__Subscription__c",
                "SBQQ__RevisedSubscription__r",
                "SBQQ__RevisingSubscriptions__r",
            ),
            num("SBQQ__Quantity__c", 14, 2, nillable=False),
            num("SBQQ__RenewalQuantity__c", 14, 2),
            cur("SBQQ__NetPrice__c", 14, 2),
            cur("SBQQ__ListPrice__c", 14, 2),
            cur("SBQQ__CustomerPrice__c", 14, 2),
            cur("SBQQ__RegularPrice__c", 14, 2),
            d("SBQQ__SubscriptionStartDate__c"),
            d("SBQQ__SubscriptionEndDate__c"),
            ro(d("SBQQ__StartDate__c")),
            ro(d("SBQQ__EndDate__c")),
            d("SBQQ__TerminatedDate__c"),
            *segment_fields(),
            d("SBQQ__SegmentStartDate__c"),
            d("SBQQ__SegmentEndDate__c"),
            num("SBQQ__SegmentQuantity__c", 14, 2),
            pct("SBQQ__SegmentUplift__c", 12, 2),
            *charge_fields(with_product_subscription_type=True),
            num("SBQQ__ProrateMultiplier__c", 8, 4),
            b("SBQQ__Bundled__c"),
            s("SBQQ__RootId__c", 18),
            s("SBQQ__RequiredById__c", 18),
        ),
    ),
    O(
        "SBQQ__Dimension__c",
        "Price Dimension",
        "",
        custom=True,
        has_name=True,
        name_autonumber=False,
        currency=True,
        owner=False,
        fields=(
            ref("SBQQ__Product__c", "Product2", "SBQQ__Product__r", "SBQQ__Dimensions__r", nillable=False),
            pick("SBQQ__Type__c", DIMENSION_TYPES),
        ),
    ),
)
