"""Seed data: a realistic Salesforce CPQ company in the sandbox org, the same for the same seed.

``seed_org(directory, orders=N, seed=S)`` empties the org and fills it with users, accounts (addresses,
contacts), a catalog covering every charge type, standard and custom price books in USD and EUR, and N orders
of every kind the sync handles, each with its opportunity, quote, quote lines and (when contracted) contract
and one ``SBQQ__Subscription__c`` per subscription line.
Records follow how CPQ computes (see the brief's "CPQ data conventions"):

* ``SBQQ__ProrateMultiplier__c = round(term / default term, 4)``; ``UnitPrice = round(PBE price x multiplier x
  (1 - discount), 2)``; ``TotalPrice = UnitPrice x Quantity``; a line is discounted only when its quote line
  has ``SBQQ__Discount__c``;
* amendments are delta lines (``SBQQ__RevisedOrderProduct__c`` -> the original order product) that
  co-terminate with the contract; a termination brings every subscription line to 0;
* each order's kind (one of :data:`ORDER_KINDS`) is in ``Order.Description`` as ``kind: <kind>`` and starts
  its name, ``<kind>: <account name>`` (a long text area cannot be filtered in SOQL; ``Name LIKE 'renewal:%'``
  can).

Orders come in families (an initial order and its amendments or renewal) taken from :data:`CYCLE`, a fixed
40-order pattern repeated as often as needed, so every kind is present from 40 orders up and the proportions
hold at any size. Dates are relative to the org clock. Rows are generated in memory from prepared
templates and written with the store's bulk insert (no REST), in one transaction.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cpq_sync.sandbox.salesforce.seed_catalog import (
    ANNUAL,
    BY_CODE,
    CATALOG,
    COMPANY_NOUNS,
    COMPANY_SUFFIXES,
    COMPANY_WORDS,
    COUPONS,
    CUSTOM_PRICE_BOOK_FACTOR,
    EU_PLACES,
    EUR_ACCOUNT_EVERY,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    ONE_TIME,
    PAYMENT_TERMS,
    SALES_REPS,
    TERMED,
    TITLES,
    US_PLACES,
    USAGE,
    Product,
)
from cpq_sync.sandbox.salesforce.store import OrgStore, add_months

ORDER_KINDS: tuple[str, ...] = (
    "new",
    "one_time",
    "backdated",
    "future_start",
    "odd_term",
    "mdq_ramp",
    "evergreen",
    "evergreen_cancellation",
    "coupon",
    "eur",
    "amendment",
    "termination",
    "renewal",
    "draft",
    "deleted",
)

#: One cycle of 40 orders, as families: the first kind is the initial order, the rest amend or renew it.
CYCLE: tuple[tuple[str, ...], ...] = (
    ("new",),
    ("new",),
    ("new",),
    ("new",),
    ("new",),
    ("new",),
    ("one_time",),
    ("one_time",),
    ("backdated",),
    ("backdated",),
    ("future_start",),
    ("future_start",),
    ("odd_term",),
    ("odd_term",),
    ("mdq_ramp",),
    ("mdq_ramp",),
    ("evergreen",),
    ("evergreen", "evergreen_cancellation"),
    ("coupon",),
    ("coupon",),
    ("coupon",),
    ("eur",),
    ("eur",),
    ("new", "amendment"),
    ("new", "amendment"),
    ("new", "amendment", "amendment", "amendment"),
    ("new", "termination"),
    ("new", "renewal"),
    ("draft",),
    ("draft",),
    ("deleted",),
    ("deleted",),
)
CYCLE_ORDERS = sum(len(f) for f in CYCLE)

#: Insert order: parents before children, except OrderItem before Order (the seed sets Order.TotalAmount
#: itself, so the roll-up does not stamp every order with the seeding time).
INSERT_ORDER = (
    "User",
    "Account",
    "Contact",
    "Product2",
    "Pricebook2",
    "PricebookEntry",
    "ConsumptionSchedule",
    "ConsumptionRate",
    "ProductConsumptionSchedule",
    "SBQQ__Dimension__c",
    "Quote_Stripe_Coupon__c",
    "Opportunity",
    "SBQQ__Quote__c",
    "SBQQ__QuoteLine__c",
    "Quote_Stripe_Coupon_Association__c",
    "Quote_Line_Stripe_Coupon_Association__c",
    "Contract",
    "SBQQ__Subscription__c",
    "OrderItem",
    "Order",
)


class SeedSummary(BaseModel):
    """What ``seed_org`` put in the org."""

    seed: int
    orders: int
    clock: datetime
    records: dict[str, int]  # live records per object
    deleted: dict[str, int]  # records in the recycle bin per object
    order_kinds: dict[str, int]  # every kind of ORDER_KINDS, with its number of orders
    order_lines: int  # OrderItems, deleted ones included
    contracts_with_several_amendments: int


# ------------------------------------------------------------------------------------------------------------
# Family plan


def plan_families(orders: int) -> list[tuple[str, ...]]:
    """The families of ``orders`` orders: whole cycles, then a partial one (single orders fill the rest)."""
    if orders < 0:
        raise ValueError("orders must be >= 0")
    families: list[tuple[str, ...]] = []
    remaining = orders
    while remaining > 0:
        for family in CYCLE:
            if remaining <= 0:
                break
            if len(family) <= remaining:
                families.append(family)
                remaining -= len(family)
            else:
                families.extend([("new",)] * remaining)
                remaining = 0
    return families


# ------------------------------------------------------------------------------------------------------------
# Generation


@dataclass
class _Account:
    id: str
    name: str
    currency: str
    owner: str
    contacts: list[str]
    billing: dict[str, Any]
    shipping: dict[str, Any]


@dataclass
class _Line:
    product: Product
    quantity: float
    discount: float = 0.0  # percent
    term: int | None = None  # months; None = the deal's term
    start: date | None = None
    end: date | None = None
    action: str | None = None
    revised: _Item | None = None
    prior_quantity: float | None = None
    segment: tuple[int, str, str] | None = None  # (index, label, key)


@dataclass
class _Item:
    """An order product of a contract and its current (amended) quantity."""

    id: str
    product: Product
    quantity: float
    discount: float
    subscription: str | None = None  # the SBQQ__Subscription__c contracting created for it


@dataclass
class _Deal:
    order_id: str
    quote_id: str
    contract_id: str | None
    start: date
    end: date | None
    items: list[_Item] = field(default_factory=list)


class _IdPool:
    def __init__(self, store: OrgStore, sobject: str) -> None:
        self.store, self.sobject = store, sobject
        self._ids: Iterator[str] = iter(())

    def next(self) -> str:
        try:
            return next(self._ids)
        except StopIteration:
            self._ids = iter(self.store.allocate_ids(self.sobject, 2048))
            return next(self._ids)


class _Generator:
    def __init__(self, store: OrgStore, *, orders: int, seed: int) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.now = store.now().astimezone(UTC)
        self.today = self.now.date()
        self.orders = orders
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in INSERT_ORDER}
        self.activations: list[dict[str, Any]] = []  # Order updates that activate orders once their lines exist
        self.kinds: Counter[str] = Counter()
        self.variant: Counter[str] = Counter()
        self.amendment_counts: Counter[str] = Counter()
        self._pools: dict[str, _IdPool] = {}
        self.coupon_count = 0
        self.order_lines = 0
        self.integration_user = store.integration_user_id

    # -- helpers ---------------------------------------------------------------------------------------------

    def new_id(self, sobject: str) -> str:
        pool = self._pools.get(sobject)
        if pool is None:
            pool = self._pools[sobject] = _IdPool(self.store, sobject)
        return pool.next()

    def add(self, sobject: str, row: dict[str, Any], created: datetime, modified: datetime | None = None) -> str:
        row["Id"] = record_id = row.get("Id") or self.new_id(sobject)
        row["CreatedDate"] = created
        row["LastModifiedDate"] = row["SystemModstamp"] = modified or created
        self.rows[sobject].append(row)
        return str(record_id)

    def at(self, day: date, hour: int) -> datetime:
        """A past instant on ``day`` (never later than the org clock)."""
        moment = datetime(day.year, day.month, day.day, hour, self.rng.randrange(60), tzinfo=UTC)
        latest = self.now - timedelta(minutes=5)
        return min(moment, latest)

    def day_in_month(self, offset_months: int) -> date:
        """A start date ``offset_months`` from this month, on a day between 1 and 28."""
        first = add_months(date(self.today.year, self.today.month, 1), offset_months)
        return first.replace(day=self.rng.randint(1, 28))

    # -- fixed data ------------------------------------------------------------------------------------------

    def build_company(self) -> None:
        rng = self.rng
        long_ago = self.at(add_months(self.today, -18), 9)
        self.reps: list[str] = []
        for first, last, title in SALES_REPS:
            login = f"{first}.{last}".lower()
            self.reps.append(
                self.add(
                    "User",
                    {
                        "Username": f"{login}@cpq-demo.example.com",
                        "Email": f"{login}@cpq-demo.example.com",
                        "FirstName": first,
                        "LastName": last,
                        "Alias": (first[0] + last)[:8].lower(),
                        "Title": title,
                        "CompanyName": "CPQ Demo Co.",
                        "Department": "Sales",
                        "IsActive": True,
                        "TimeZoneSidKey": "America/New_York",
                        "CurrencyIsoCode": "USD",
                    },
                    long_ago,
                )
            )
        self.build_catalog(long_ago)
        n_accounts = max(12, self.orders // 3)
        self.accounts: list[_Account] = []
        self.accounts_by_currency: dict[str, list[_Account]] = {"USD": [], "EUR": []}
        words, nouns, suffixes = len(COMPANY_WORDS), len(COMPANY_NOUNS), len(COMPANY_SUFFIXES)
        for i in range(n_accounts):
            currency = "EUR" if i % EUR_ACCOUNT_EVERY == EUR_ACCOUNT_EVERY - 1 else "USD"
            # (word, noun) pairs are unique within each block of words x nouns accounts (11 is prime to 20).
            block = i // words
            name = (
                f"{COMPANY_WORDS[i % words]} {COMPANY_NOUNS[(11 * block + 7 * (i % words)) % nouns]} "
                f"{COMPANY_SUFFIXES[(i // (words * nouns)) % suffixes]}"
            )
            if i >= words * nouns * suffixes:
                name += f" {i // (words * nouns * suffixes) + 1}"
            street, city, state, postal, country, phone = rng.choice(EU_PLACES if currency == "EUR" else US_PLACES)
            billing = {
                "Street": f"{rng.randint(1, 999)} {street}",
                "City": city,
                "State": state or None,
                "PostalCode": f"{postal}{rng.randint(10, 99)}",
                "Country": country,
            }
            shipping = (
                billing
                if rng.random() < 0.7
                else {
                    **billing,
                    "Street": f"{rng.randint(1, 999)} {street}",
                    "PostalCode": f"{postal}{rng.randint(10, 99)}",
                }
            )
            owner = self.reps[i % len(self.reps)]
            created = self.at(add_months(self.today, -rng.randint(12, 24)), rng.randint(8, 18))
            domain = name.split()[0].lower() + name.split()[1].lower()
            account_id = self.add(
                "Account",
                {
                    "Name": name,
                    "AccountNumber": f"ACC-{i + 1:06d}",
                    "Type": "Customer - Direct" if i % 7 else "Customer - Channel",
                    "Industry": INDUSTRIES[i % len(INDUSTRIES)],
                    "Phone": f"{phone} {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
                    "Website": f"https://www.{domain}.example.com",
                    "Description": f"{name} buys through {'the channel' if i % 7 == 0 else 'direct sales'}.",
                    "NumberOfEmployees": rng.choice((25, 80, 150, 400, 1200, 5000)),
                    "AnnualRevenue": float(rng.choice((2, 5, 12, 40, 150, 900)) * 1_000_000),
                    "OwnerId": owner,
                    "CurrencyIsoCode": currency,
                    **{f"Billing{k}": v for k, v in billing.items()},
                    **{f"Shipping{k}": v for k, v in shipping.items()},
                },
                created,
            )
            contacts = []
            for c in range(1 + (i % 2)):
                first = FIRST_NAMES[(i + c * 7) % len(FIRST_NAMES)]
                last = LAST_NAMES[(i * 3 + c) % len(LAST_NAMES)]
                contacts.append(
                    self.add(
                        "Contact",
                        {
                            "AccountId": account_id,
                            "FirstName": first,
                            "LastName": last,
                            "Email": f"{first}.{last}@{domain}.example.com".lower(),
                            "Phone": f"{phone} {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
                            "Title": TITLES[(i + c) % len(TITLES)],
                            "OwnerId": owner,
                            "CurrencyIsoCode": currency,
                            **{f"Mailing{k}": v for k, v in billing.items()},
                        },
                        created,
                    )
                )
            account = _Account(account_id, name, currency, owner, contacts, billing, shipping)
            self.accounts.append(account)
            self.accounts_by_currency[currency].append(account)

    def build_catalog(self, created: datetime) -> None:
        self.product_ids: dict[str, str] = {}
        for p in CATALOG:
            row: dict[str, Any] = {
                "Name": p.name,
                "ProductCode": p.code,
                "Description": p.description,
                "IsActive": p.active,
                "Family": p.family,
                "SBQQ__ChargeType__c": p.charge_type,
                "SBQQ__PricingMethod__c": p.pricing_method,
                "SBQQ__Taxable__c": True,
                "CurrencyIsoCode": "USD",
            }
            if p.recurring:
                row.update(
                    {
                        "SBQQ__BillingFrequency__c": p.frequency,
                        "SBQQ__BillingType__c": p.billing_type,
                        "SBQQ__SubscriptionPricing__c": "Fixed Price",
                        "SBQQ__SubscriptionTerm__c": p.default_term,
                        "SBQQ__SubscriptionType__c": p.subscription_type,
                        "SBQQ__SubscriptionBase__c": "List",
                    }
                )
            if p.pricing_method == "Block":
                row["SBQQ__BlockPricingField__c"] = "Quantity"
            if p.schedule is not None:
                row["QuantityUnitOfMeasure"] = p.schedule.unit
            self.product_ids[p.code] = self.add("Product2", row, created)
        self.standard_book = self.add(
            "Pricebook2",
            {
                "Id": self.new_id("Pricebook2"),
                "Name": "Standard Price Book",
                "IsActive": True,
                "IsStandard": True,
            },
            created,
        )
        self.custom_book = self.add(
            "Pricebook2",
            {
                "Name": "CPQ Price Book 2026",
                "IsActive": True,
                "Description": "Negotiated list prices (5% below list).",
            },
            created,
        )
        # (book, product code, currency) -> (PBE id, unit price)
        self.pbes: dict[tuple[str, str, str], tuple[str, float]] = {}
        for book, factor in ((self.standard_book, 1.0), (self.custom_book, CUSTOM_PRICE_BOOK_FACTOR)):
            for p in CATALOG:
                for currency, price in p.prices.items():
                    unit = round(price * factor, 2)
                    pbe_id = self.add(
                        "PricebookEntry",
                        {
                            "Pricebook2Id": book,
                            "Product2Id": self.product_ids[p.code],
                            "UnitPrice": unit,
                            "IsActive": p.active,
                            "UseStandardPrice": False,
                            "CurrencyIsoCode": currency,
                        },
                        created,
                    )
                    self.pbes[(book, p.code, currency)] = (pbe_id, unit)
        for p in CATALOG:
            if p.schedule is None:
                continue
            for currency in ("USD", "EUR"):
                factor = 1.0 if currency == "USD" else 0.92
                schedule_id = self.add(
                    "ConsumptionSchedule",
                    {
                        "Name": f"{p.name} {p.schedule.type} rates ({currency})",
                        "Type": p.schedule.type,
                        "BillingTerm": 1,
                        "BillingTermUnit": "Month",
                        "RatingMethod": "Tier",
                        "IsActive": True,
                        "UnitOfMeasure": p.schedule.unit,
                        "CurrencyIsoCode": currency,
                    },
                    created,
                )
                for order, rate in enumerate(p.schedule.rates, start=1):
                    self.add(
                        "ConsumptionRate",
                        {
                            "ConsumptionScheduleId": schedule_id,
                            "LowerBound": rate.lower,
                            "UpperBound": rate.upper,
                            "Price": round(rate.price * factor, 4 if rate.price < 1 else 2),
                            "PricingMethod": rate.method,
                            "ProcessingOrder": order,
                            "CurrencyIsoCode": currency,
                        },
                        created,
                    )
                self.add(
                    "ProductConsumptionSchedule",
                    {"ProductId": self.product_ids[p.code], "ConsumptionScheduleId": schedule_id},
                    created,
                )
        self.dimensions: dict[str, str] = {}
        for p in CATALOG:
            if p.mdq:
                self.dimensions[p.code] = self.add(
                    "SBQQ__Dimension__c",
                    {
                        "Name": "Yearly",
                        "SBQQ__Product__c": self.product_ids[p.code],
                        "SBQQ__Type__c": "Year",
                        "CurrencyIsoCode": "USD",
                    },
                    created,
                )
        self.item_templates: dict[tuple[str, str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
        self.subscription_templates: dict[tuple[str, str, str], dict[str, Any]] = {}
        subscription_object = self.store.sobject("SBQQ__Subscription__c")
        for (book, code, currency), (pbe_id, unit) in self.pbes.items():
            p = BY_CODE[code]
            charge: dict[str, Any] = {
                "SBQQ__ChargeType__c": p.charge_type,
                "SBQQ__PricingMethod__c": p.pricing_method,
            }
            if p.recurring:
                charge.update(
                    {
                        "SBQQ__BillingFrequency__c": p.frequency,
                        "SBQQ__BillingType__c": p.billing_type,
                        "SBQQ__SubscriptionPricing__c": "Fixed Price",
                        "SBQQ__SubscriptionType__c": p.subscription_type,
                        "SBQQ__ProductSubscriptionType__c": p.subscription_type,
                        "SBQQ__DefaultSubscriptionTerm__c": p.default_term,
                    }
                )
            item = {
                "Product2Id": self.product_ids[code],
                "PricebookEntryId": pbe_id,
                "ListPrice": unit,
                "SBQQ__QuotedListPrice__c": unit,
                "CurrencyIsoCode": currency,
                **charge,
            }
            quote_line = {
                "SBQQ__Product__c": self.product_ids[code],
                "SBQQ__PricebookEntryId__c": pbe_id,
                "SBQQ__ListPrice__c": unit,
                "SBQQ__OriginalPrice__c": unit,
                "CurrencyIsoCode": currency,
                **charge,
            }
            self.item_templates[(book, code, currency)] = (item, quote_line)
            if p.recurring:
                self.subscription_templates[(book, code, currency)] = {
                    "SBQQ__Product__c": self.product_ids[code],
                    "SBQQ__ListPrice__c": unit,
                    "CurrencyIsoCode": currency,
                    **{k: v for k, v in charge.items() if subscription_object.field(k) is not None},
                }

    # -- deals -----------------------------------------------------------------------------------------------

    def deal(
        self,
        account: _Account,
        *,
        kind: str,
        lines: list[_Line],
        start: date,
        term: int | None,
        book: str,
        quote_type: str = "New",
        order_type: str = "New",
        activated: bool = True,
        contract: str | None = None,
        create_contract: bool = False,
        amended_contract: str | None = None,
        renewed_contract: str | None = None,
        contract_end: date | None = None,
        coupons: tuple[str | None, str | None] = (None, None),
        skip_past: bool = False,
        deleted: bool = False,
        created: datetime | None = None,
    ) -> _Deal:
        rng = self.rng
        currency = account.currency
        end = (
            contract_end
            if contract_end is not None
            else (add_months(start, term) - timedelta(days=1) if term is not None else None)
        )
        if created is None:
            created = self.at(min(start - timedelta(days=rng.randint(5, 20)), self.today), rng.randint(8, 17))
        activated_at = created + timedelta(hours=2) if activated else None
        if activated_at is not None:
            activated_at = min(activated_at, self.now - timedelta(minutes=1))
        opp_id, quote_id, order_id = (
            self.new_id("Opportunity"),
            self.new_id("SBQQ__Quote__c"),
            self.new_id("Order"),
        )
        contract_id = self.new_id("Contract") if create_contract else contract
        payment_term = PAYMENT_TERMS[rng.randrange(len(PAYMENT_TERMS))]
        contact = account.contacts[0]
        templates = self.item_templates
        item_rows = self.rows["OrderItem"]
        subscription_rows = self.rows["SBQQ__Subscription__c"]
        line_rows = self.rows["SBQQ__QuoteLine__c"]
        total = 0.0
        items: list[_Item] = []
        line_coupon_target: str | None = None
        for number, line in enumerate(lines, start=1):
            p = line.product
            item_tpl, line_tpl = templates[(book, p.code, currency)]
            pbe_price = item_tpl["ListPrice"]
            line_term = line.term if line.term is not None else term
            if p.recurring:
                if p.subscription_type == "Evergreen":
                    line_term = 1
                multiplier = round(line_term / p.default_term, 4)  # type: ignore[operator]
            else:
                line_term, multiplier = None, 1.0
            keep = 1 - line.discount / 100
            unit = round(pbe_price * multiplier * keep, 2)
            line_start = line.start or start
            line_end = line.end if line.end is not None else end
            if not p.recurring:
                line_end = line_start
            quantity = line.quantity
            total += round(unit * quantity, 2)
            ql_id = self.new_id("SBQQ__QuoteLine__c")
            item_id = self.new_id("OrderItem")
            ql = dict(line_tpl)
            ql.update(
                {
                    "Id": ql_id,
                    "SBQQ__Quote__c": quote_id,
                    "SBQQ__Number__c": number,
                    "SBQQ__Quantity__c": quantity if line.prior_quantity is None else line.prior_quantity + quantity,
                    "SBQQ__Existing__c": line.revised is not None,
                    "SBQQ__RegularPrice__c": round(pbe_price * multiplier, 2),
                    "SBQQ__ProratedListPrice__c": round(pbe_price * multiplier, 2),
                    "SBQQ__CustomerPrice__c": unit,
                    "SBQQ__NetPrice__c": unit,
                    "SBQQ__StartDate__c": line_start,
                    "SBQQ__ProrateMultiplier__c": multiplier,
                }
            )
            item = dict(item_tpl)
            item.update(
                {
                    "Id": item_id,
                    "OrderId": order_id,
                    "Quantity": quantity,
                    "UnitPrice": unit,
                    "ServiceDate": line_start,
                    "SBQQ__ProrateMultiplier__c": multiplier,
                    "SBQQ__UnproratedNetPrice__c": round(pbe_price * keep, 2),
                    "SBQQ__OrderedQuantity__c": quantity,
                    "SBQQ__QuotedQuantity__c": quantity,
                    "SBQQ__QuoteLine__c": ql_id,
                    "SBQQ__ContractAction__c": line.action or "New",
                    "SBQQ__Contracted__c": activated and p.recurring and contract_id is not None,
                    "SBQQ__Activated__c": activated,
                    "SBQQ__Status__c": "Activated" if activated else "Draft",
                }
            )
            # Blank fields are left out (hot path: the store stores them as null without validating them).
            if line_end is not None:
                item["EndDate"] = ql["SBQQ__EndDate__c"] = line_end
            if line_term is not None:
                item["SBQQ__SubscriptionTerm__c"] = ql["SBQQ__SubscriptionTerm__c"] = line_term
            if line.prior_quantity is not None:
                ql["SBQQ__PriorQuantity__c"] = line.prior_quantity
            if line.discount:
                ql["SBQQ__Discount__c"] = line.discount
            if line.revised is not None:
                item["SBQQ__RevisedOrderProduct__c"] = line.revised.id
            if p.recurring and contract_id is not None:
                item["SBQQ__Contract__c"] = contract_id
            if line.segment is not None:
                index, label, key = line.segment
                segment = {
                    "SBQQ__SegmentIndex__c": index,
                    "SBQQ__SegmentLabel__c": label,
                    "SBQQ__SegmentKey__c": key,
                    "SBQQ__DimensionType__c": "Year",
                }
                item.update(segment, SBQQ__PriceDimension__c=self.dimensions[p.code])
                ql.update(
                    segment,
                    SBQQ__Dimension__c=self.dimensions[p.code],
                    SBQQ__SegmentStartDate__c=line_start,
                    SBQQ__SegmentEndDate__c=line_end,
                )
            item["CreatedDate"] = ql["CreatedDate"] = created
            item["LastModifiedDate"] = item["SystemModstamp"] = activated_at or created
            ql["LastModifiedDate"] = ql["SystemModstamp"] = created
            if deleted:
                item["IsDeleted"] = True
                item["LastModifiedDate"] = item["SystemModstamp"] = self.now - timedelta(days=rng.randint(1, 10))
            item_rows.append(item)
            line_rows.append(ql)
            if line_coupon_target is None and p.recurring:
                line_coupon_target = ql_id
            subscription_id = None
            if p.recurring and activated and contract_id is not None:
                # Contracting the order made one subscription per subscription line (deltas included).
                subscription_id = self.new_id("SBQQ__Subscription__c")
                item["SBQQ__Subscription__c"] = subscription_id
                subscription = dict(self.subscription_templates[(book, p.code, currency)])
                subscription.update(
                    {
                        "Id": subscription_id,
                        "SBQQ__Account__c": account.id,
                        "SBQQ__Contract__c": contract_id,
                        "SBQQ__OrderProduct__c": item_id,
                        "SBQQ__QuoteLine__c": ql_id,
                        "SBQQ__OriginalQuoteLine__c": ql_id,
                        "SBQQ__Quantity__c": quantity,
                        "SBQQ__RenewalQuantity__c": quantity,
                        "SBQQ__NetPrice__c": unit,
                        "SBQQ__CustomerPrice__c": unit,
                        "SBQQ__RegularPrice__c": ql["SBQQ__RegularPrice__c"],
                        "SBQQ__ProrateMultiplier__c": multiplier,
                        "SBQQ__SubscriptionStartDate__c": line_start,
                        "SBQQ__StartDate__c": line_start,
                        "OwnerId": account.owner,
                        "CreatedDate": activated_at,
                        "LastModifiedDate": activated_at,
                        "SystemModstamp": activated_at,
                    }
                )
                if line_end is not None:
                    subscription["SBQQ__SubscriptionEndDate__c"] = subscription["SBQQ__EndDate__c"] = line_end
                if line.revised is not None and line.revised.subscription is not None:
                    subscription["SBQQ__RevisedSubscription__c"] = line.revised.subscription
                    if line.revised.quantity + quantity == 0:
                        subscription["SBQQ__TerminatedDate__c"] = line_start
                if line.segment is not None:
                    index, label, key = line.segment
                    subscription.update(
                        {
                            "SBQQ__SegmentIndex__c": index,
                            "SBQQ__SegmentLabel__c": label,
                            "SBQQ__SegmentKey__c": key,
                            "SBQQ__DimensionType__c": "Year",
                            "SBQQ__SegmentStartDate__c": line_start,
                            "SBQQ__SegmentEndDate__c": line_end,
                            "SBQQ__SegmentQuantity__c": quantity,
                        }
                    )
                subscription_rows.append(subscription)
            if p.recurring:
                items.append(_Item(item_id, p, quantity, line.discount, subscription_id))
        opportunity_kind = "Renewal" if renewed_contract else "Amendment" if amended_contract else "New Business"
        self.add(
            "Opportunity",
            {
                "Id": opp_id,
                "Name": f"{account.name} - {opportunity_kind}",
                "AccountId": account.id,
                "CloseDate": created.date(),
                "StageName": "Closed Won" if activated else "Proposal/Price Quote",
                "Type": "Existing Customer - Upgrade" if amended_contract or renewed_contract else "New Business",
                "Amount": round(total, 2),
                "Pricebook2Id": book,
                "SBQQ__AmendedContract__c": amended_contract,
                "SBQQ__RenewedContract__c": renewed_contract,
                "SBQQ__PrimaryQuote__c": quote_id,
                "SBQQ__Contracted__c": activated and create_contract,
                "SBQQ__Ordered__c": activated,
                "OwnerId": account.owner,
                "CurrencyIsoCode": currency,
            },
            created - timedelta(days=3),
            created,
        )
        self.add(
            "SBQQ__Quote__c",
            {
                "Id": quote_id,
                "SBQQ__Type__c": quote_type,
                "SBQQ__Status__c": "Accepted" if activated else "Approved",
                "SBQQ__Primary__c": True,
                "SBQQ__Ordered__c": activated,
                "SBQQ__Account__c": account.id,
                "SBQQ__Opportunity2__c": opp_id,
                "SBQQ__PrimaryContact__c": contact,
                "SBQQ__SalesRep__c": account.owner,
                "SBQQ__PriceBook__c": book,
                "SBQQ__PricebookId__c": book,
                "SBQQ__StartDate__c": start,
                "SBQQ__EndDate__c": end,
                "SBQQ__ExpirationDate__c": created.date() + timedelta(days=30),
                "SBQQ__SubscriptionTerm__c": term,
                "SBQQ__MasterContract__c": amended_contract,
                "SBQQ__PaymentTerms__c": payment_term,
                "OwnerId": account.owner,
                "CurrencyIsoCode": currency,
            },
            created - timedelta(days=1),
            created,
        )
        quote_coupon, line_coupon = coupons
        if quote_coupon is not None:
            self.add(
                "Quote_Stripe_Coupon_Association__c",
                {
                    "Name": f"{quote_id}-coupon",
                    "Quote__c": quote_id,
                    "Quote_Stripe_Coupon__c": quote_coupon,
                    "CurrencyIsoCode": currency,
                },
                created,
            )
        if line_coupon is not None and line_coupon_target is not None:
            self.add(
                "Quote_Line_Stripe_Coupon_Association__c",
                {
                    "Name": f"{line_coupon_target}-coupon",
                    "Quote_Line__c": line_coupon_target,
                    "Quote_Stripe_Coupon__c": line_coupon,
                    "CurrencyIsoCode": currency,
                },
                created,
            )
        order_row: dict[str, Any] = {
            "Id": order_id,
            "AccountId": account.id,
            "Status": "Draft",  # created Draft, activated once its lines are in (below)
            "Type": order_type,
            "EffectiveDate": start,
            "EndDate": end,
            "ContractId": contract_id if activated else None,
            "OpportunityId": opp_id,
            "Pricebook2Id": book,
            "BillToContactId": contact,
            "ShipToContactId": account.contacts[-1],
            "TotalAmount": round(total, 2),
            "Name": f"{kind}: {account.name}"[:80],
            "Description": f"kind: {kind}",
            "PoNumber": f"PO-{rng.randint(10000, 99999)}" if rng.random() < 0.4 else None,
            "SBQQ__Quote__c": quote_id,
            "SBQQ__ContractingMethod__c": "By Subscription End Date",
            "SBQQ__PaymentTerm__c": payment_term,
            "Skip_Past_Initial_Invoices__c": skip_past,
            "OwnerId": account.owner,
            "CurrencyIsoCode": currency,
            **{f"Billing{k}": v for k, v in account.billing.items()},
            **{f"Shipping{k}": v for k, v in account.shipping.items()},
        }
        if deleted:
            order_row["IsDeleted"] = True
            modified = self.now - timedelta(days=rng.randint(1, 10))
        else:
            modified = activated_at or created
        self.add("Order", order_row, created, created if activated_at is not None else modified)
        if activated_at is not None:
            # As in a real org: the Draft order gets its lines, then an update activates it (and CPQ contracts it).
            self.activations.append(
                {
                    "Id": order_id,
                    "Status": "Activated",
                    "ActivatedDate": activated_at,
                    "ActivatedById": account.owner,
                    "SBQQ__Contracted__c": contract_id is not None,
                    "LastModifiedDate": modified,
                    "SystemModstamp": modified,
                }
            )
        if create_contract and activated:
            assert contract_id is not None
            self.add(
                "Contract",
                {
                    "Id": contract_id,
                    "AccountId": account.id,
                    "Status": "Activated",
                    "StartDate": start,
                    "ContractTerm": term if end is not None else None,
                    "ActivatedDate": activated_at,
                    "Pricebook2Id": book,
                    "SBQQ__Order__c": order_id,
                    "SBQQ__Quote__c": quote_id,
                    "SBQQ__Opportunity__c": opp_id,
                    "SBQQ__RenewalTerm__c": 12 if end is not None else None,
                    "SBQQ__RenewalForecast__c": False,
                    "SBQQ__RenewalQuoted__c": False,
                    "SBQQ__Evergreen__c": end is None,
                    "OwnerId": account.owner,
                    "CurrencyIsoCode": currency,
                },
                activated_at or created,
            )
        self.kinds[kind] += 1
        return _Deal(order_id, quote_id, contract_id if activated else None, start, end, items)

    def touch_contract(self, contract_id: str, updates: dict[str, Any], when: datetime) -> None:
        for row in reversed(self.rows["Contract"]):
            if row["Id"] == contract_id:
                row.update(updates)
                row["LastModifiedDate"] = row["SystemModstamp"] = max(row["SystemModstamp"], when)
                return
        raise KeyError(contract_id)

    # -- order lines of each kind ----------------------------------------------------------------------------

    def termed_lines(self, *, usage: bool = True, one_time: bool = True, annual_only: bool = False) -> list[_Line]:
        rng = self.rng
        pool = ANNUAL if annual_only else TERMED
        codes = rng.sample(pool, k=min(len(pool), rng.choice((1, 2, 2, 3, 3))))
        lines = [self.recurring_line(BY_CODE[c]) for c in codes]
        if usage and rng.random() < 0.6:
            lines.append(_Line(BY_CODE[rng.choice(USAGE)], 1))
        if one_time and rng.random() < 0.5:
            lines.append(_Line(BY_CODE[rng.choice(ONE_TIME)], rng.choice((1, 1, 2))))
        return lines

    def recurring_line(self, p: Product) -> _Line:
        rng = self.rng
        if p.code in ("SEAT-A", "PLAT-M"):
            quantity = float(rng.randrange(10, 60, 5))
        elif p.pricing_method == "Block":
            quantity = 1.0
        else:
            quantity = float(rng.choice((1, 1, 2, 3)))
        discount = rng.choice((10.0, 15.0, 20.0)) if rng.random() < 0.25 else 0.0
        return _Line(p, quantity, discount)

    def pick_account(self, currency: str | None = None) -> _Account:
        pool = self.accounts_by_currency[currency] if currency else self.accounts
        return pool[self.rng.randrange(len(pool))]

    def pick_book(self) -> str:
        return self.custom_book if self.rng.random() < 0.8 else self.standard_book

    def new_coupon(self, variant: int, currency: str, created: datetime) -> str:
        code, name, percent, amount, duration, months, max_redemptions = COUPONS[variant % len(COUPONS)]
        self.coupon_count += 1
        n = self.coupon_count
        return self.add(
            "Quote_Stripe_Coupon__c",
            {
                "Name": f"{code}-{n:05d}",
                "Name__c": name,
                "Percent_Off__c": percent,
                "Amount_Off__c": amount,
                "Duration__c": duration,
                "Duration_In_Months__c": months,
                "Max_Redemptions__c": max_redemptions,
                "CurrencyIsoCode": currency,
            },
            created,
        )

    # -- families --------------------------------------------------------------------------------------------

    def family(self, kinds: tuple[str, ...]) -> None:
        rng = self.rng
        first = kinds[0]
        variant = self.variant[first]
        self.variant[first] += 1
        book = self.pick_book()
        if first in ("new", "eur", "backdated", "future_start", "odd_term", "coupon", "one_time"):
            account = self.pick_account("EUR" if first == "eur" else None)
            if first == "one_time":
                lines = [
                    _Line(BY_CODE[c], float(rng.choice((1, 1, 2)))) for c in rng.sample(ONE_TIME, k=rng.randint(1, 2))
                ]
                self.deal(
                    account,
                    kind=first,
                    lines=lines,
                    start=self.day_in_month(rng.randint(-8, 2)),
                    term=None,
                    book=book,
                )
                return
            term = rng.choice((12, 12, 24, 36))
            start = self.day_in_month(rng.randint(-8, 2))
            skip_past = False
            if first == "backdated":
                start = self.day_in_month(rng.randint(-8, -5))
                skip_past = variant % 2 == 1
            elif first == "future_start":
                start = self.day_in_month(rng.randint(1, 2))
            elif first == "odd_term":
                term = 18 if variant % 2 == 0 else 9
            if len(kinds) > 1:  # amended or renewed later: an earlier start
                if kinds[1] == "renewal":
                    term, start = 12, self.day_in_month(rng.randint(-11, -10))
                elif len(kinds) > 2:
                    start, term = self.day_in_month(rng.randint(-7, -5)), rng.choice((12, 24))
                else:
                    start, term = self.day_in_month(rng.randint(-8, -3)), rng.choice((12, 24))
            lines = self.termed_lines(annual_only=first == "odd_term", one_time=len(kinds) == 1)
            if len(kinds) > 1 and not any(line.quantity >= 2 for line in lines):
                lines.append(self.recurring_line(BY_CODE["SEAT-A"]))
            coupons: tuple[str | None, str | None] = (None, None)
            if first == "coupon":
                created = self.at(min(start - timedelta(days=10), self.today), 10)
                quote_coupon = self.new_coupon(variant % 3, account.currency, created) if variant % 3 != 1 else None
                line_coupon = self.new_coupon(3 + variant % 3, account.currency, created) if variant % 3 != 0 else None
                coupons = (quote_coupon, line_coupon)
            deal = self.deal(
                account,
                kind=first,
                lines=lines,
                start=start,
                term=term,
                book=book,
                create_contract=True,
                coupons=coupons,
                skip_past=skip_past,
            )
            for later in kinds[1:]:
                if later == "renewal":
                    self.renewal(account, deal, book, term)
                else:
                    self.amendment(account, deal, book, term, later, several=len(kinds) > 2)
            return
        if first == "mdq_ramp":
            self.mdq(book, years=3 if variant % 2 == 0 else 2, discounted=variant % 2 == 1)
            return
        if first == "evergreen":
            account = self.pick_account()
            lines = [_Line(BY_CODE["HOST-E"], float(rng.randint(1, 4)))]
            if rng.random() < 0.5:
                lines.append(_Line(BY_CODE["TRAIN"], 1.0))
            start = self.day_in_month(rng.randint(-8, 1) if len(kinds) == 1 else rng.randint(-8, -3))
            deal = self.deal(
                account,
                kind="evergreen",
                lines=lines,
                start=start,
                term=None,
                book=book,
                create_contract=True,
            )
            if len(kinds) > 1:
                self.cancel_evergreen(account, deal, book)
            return
        if first in ("draft", "deleted"):
            account = self.pick_account()
            start = self.day_in_month(rng.randint(0, 2))
            created = self.at(self.today - timedelta(days=rng.randint(1, 20)), rng.randint(8, 17))
            self.deal(
                account,
                kind=first,
                lines=self.termed_lines(),
                start=start,
                term=12,
                book=book,
                activated=False,
                deleted=first == "deleted",
                created=created,
            )
            if first == "deleted":
                # A duplicate contact, created and then deleted by the rep.
                first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                self.add(
                    "Contact",
                    {
                        "AccountId": account.id,
                        "FirstName": first_name,
                        "LastName": last_name,
                        "Email": f"{first_name}.{last_name}@duplicate.example.com".lower(),
                        "OwnerId": account.owner,
                        "CurrencyIsoCode": account.currency,
                        "IsDeleted": True,
                    },
                    created,
                    created + timedelta(hours=1),
                )
            return
        raise ValueError(f"unknown family {kinds}")

    def amendment(self, account: _Account, base: _Deal, book: str, term: int, kind: str, *, several: bool) -> None:
        rng = self.rng
        assert base.contract_id is not None and base.end is not None
        n = self.amendment_counts[base.contract_id]
        self.amendment_counts[base.contract_id] += 1
        months = (n + 1) * 2 if several else rng.randint(1, max(1, min(term - 1, self.months_since(base.start) + 1)))
        start = add_months(base.start, months)
        remaining = term - months
        lines: list[_Line] = []
        live = [item for item in base.items if item.quantity > 0]
        if kind == "termination":
            for item in live:
                lines.append(self.delta(item, -item.quantity, remaining, start, base.end))
        else:
            style = self.variant["amendment-style"] % 3
            self.variant["amendment-style"] += 1
            termed = [i for i in live if i.product.charge_type == "Recurring"]
            if style in (0, 2) and termed:
                item = rng.choice(termed)
                lines.append(self.delta(item, float(rng.choice((1, 2, 5))), remaining, start, base.end))
            if style == 1 or not lines:
                candidates = [i for i in termed if i.quantity >= 2] or termed
                item = rng.choice(candidates)
                decrease = -float(max(1, int(item.quantity // 2))) if item.quantity >= 2 else float(1)
                lines.append(self.delta(item, decrease, remaining, start, base.end))
            if style in (0, 2):
                owned = {i.product.code for i in base.items}
                new_codes = [c for c in TERMED if c not in owned]
                if new_codes:
                    line = self.recurring_line(BY_CODE[rng.choice(new_codes)])
                    line.term, line.start, line.end, line.action = remaining, start, base.end, "New"
                    lines.append(line)
        created = self.at(min(start - timedelta(days=rng.randint(2, 10)), self.today), rng.randint(8, 17))
        deal = self.deal(
            account,
            kind=kind,
            lines=lines,
            start=start,
            term=remaining,
            book=book,
            quote_type="Amendment",
            order_type="Amendment",
            contract=base.contract_id,
            amended_contract=base.contract_id,
            contract_end=base.end,
            created=created,
        )
        for line in lines:
            if line.revised is not None:
                line.revised.quantity += line.quantity
        base.items.extend(i for i in deal.items if i.product.code not in {x.product.code for x in base.items})
        self.touch_contract(base.contract_id, {"SBQQ__AmendmentStartDate__c": start}, created)

    def delta(self, item: _Item, change: float, remaining: int, start: date, end: date | None) -> _Line:
        return _Line(
            item.product,
            change,
            item.discount,
            term=remaining,
            start=start,
            end=end,
            action="Quantity Increase" if change > 0 else "Quantity Decrease",
            revised=item,
            prior_quantity=item.quantity,
        )

    def months_since(self, start: date) -> int:
        return max(0, (self.today.year - start.year) * 12 + self.today.month - start.month)

    def renewal(self, account: _Account, base: _Deal, book: str, term: int) -> None:
        assert base.contract_id is not None and base.end is not None
        start = base.end + timedelta(days=1)
        lines = [_Line(i.product, i.quantity, i.discount, action="Renew") for i in base.items if i.quantity > 0]
        created = self.at(self.today - timedelta(days=self.rng.randint(1, 15)), self.rng.randint(8, 17))
        deal = self.deal(
            account,
            kind="renewal",
            lines=lines,
            start=start,
            term=term,
            book=book,
            quote_type="Renewal",
            order_type="Renewal",
            create_contract=True,
            renewed_contract=base.contract_id,
            created=created,
        )
        renewal_opp = self.rows["Opportunity"][-1]["Id"]
        self.touch_contract(
            base.contract_id,
            {"SBQQ__RenewalQuoted__c": True, "SBQQ__RenewalOpportunity__c": renewal_opp},
            created,
        )
        assert deal.contract_id is not None

    def cancel_evergreen(self, account: _Account, base: _Deal, book: str) -> None:
        assert base.contract_id is not None
        start = add_months(base.start, self.rng.randint(1, max(1, self.months_since(base.start))))
        lines = [self.delta(i, -i.quantity, 1, start, None) for i in base.items if i.quantity > 0]
        created = self.at(min(start - timedelta(days=3), self.today), 11)
        self.deal(
            account,
            kind="evergreen_cancellation",
            lines=lines,
            start=start,
            term=None,
            book=book,
            quote_type="Amendment",
            order_type="Amendment",
            contract=base.contract_id,
            amended_contract=base.contract_id,
            created=created,
        )
        self.touch_contract(base.contract_id, {"SBQQ__AmendmentStartDate__c": start}, created)

    def mdq(self, book: str, *, years: int, discounted: bool) -> None:
        rng = self.rng
        account = self.pick_account()
        start = self.day_in_month(rng.randint(-8, 2))
        term = 12 * years
        key = str(1_700_000_000_000 + rng.randrange(10**11))
        quantity = float(rng.randrange(10, 30, 5))
        lines: list[_Line] = []
        for year in range(years):
            segment_start = add_months(start, 12 * year)
            lines.append(
                _Line(
                    BY_CODE["SEAT-MDQ"],
                    quantity,
                    discount=(10.0 * (years - 1 - year)) if discounted else 0.0,
                    term=12,
                    start=segment_start,
                    end=add_months(segment_start, 12) - timedelta(days=1),
                    segment=(year + 1, f"Year {year + 1}", key),
                )
            )
            quantity += float(rng.randrange(5, 20, 5))
        lines.append(self.recurring_line(BY_CODE["PLAT-M"]))
        self.deal(account, kind="mdq_ramp", lines=lines, start=start, term=term, book=book, create_contract=True)


# ------------------------------------------------------------------------------------------------------------
# Entry point


_BUILT_WITHOUT_BLANKS = frozenset({"OrderItem", "SBQQ__QuoteLine__c", "SBQQ__Subscription__c"})
FLUSH_EVERY = 2_000  # families generated between two bulk inserts (bounds memory at any size)


def _flush(store: OrgStore, gen: _Generator) -> None:
    gen.order_lines += len(gen.rows["OrderItem"])
    for sobject in INSERT_ORDER:
        rows = gen.rows[sobject]
        if rows:
            if sobject not in _BUILT_WITHOUT_BLANKS:
                rows = [{k: v for k, v in row.items() if v is not None} for row in rows]
            store.insert_many(sobject, rows)
            gen.rows[sobject] = []
    if gen.activations:
        store.update_many("Order", gen.activations)
        gen.activations = []


def seed_org(directory: str | Path, *, orders: int = 40, seed: int = 7) -> SeedSummary:
    """Empty the org in ``directory`` and fill it with the demo CPQ company (``orders`` orders, seeded).

    Everything is written in one transaction: another process sees the old org or the whole new one.
    """
    store = OrgStore.open(directory)
    with store.transaction():
        store.reset()
        gen = _Generator(store, orders=orders, seed=seed)
        gen.build_company()
        _flush(store, gen)
        for number, kinds in enumerate(plan_families(orders), start=1):
            gen.family(kinds)
            if number % FLUSH_EVERY == 0:
                _flush(store, gen)
        _flush(store, gen)
    records = {name: store.count(name) for name in INSERT_ORDER}
    deleted = {name: store.count(name, include_deleted=True) - live for name, live in records.items()}
    several = sum(1 for n in gen.amendment_counts.values() if n > 1)
    return SeedSummary(
        seed=seed,
        orders=orders,
        clock=gen.now,
        records=records,
        deleted={k: v for k, v in deleted.items() if v},
        order_kinds={kind: gen.kinds.get(kind, 0) for kind in ORDER_KINDS},
        order_lines=gen.order_lines,
        contracts_with_several_amendments=several,
    )


def timed_seed(directory: str | Path, *, orders: int, seed: int = 7) -> tuple[SeedSummary, float]:
    """``seed_org`` and its wall-clock duration in seconds (for the benchmark)."""
    began = time.perf_counter()
    summary = seed_org(directory, orders=orders, seed=seed)
    return summary, time.perf_counter() - began
