"""The bad-input catalogue (issue 8 item 3), end to end: one sandbox org holding many malformed or hostile records
next to good orders, synced in ONE run through the real simple-salesforce and Stripe clients. Every bad record fails
alone, with the exact message in its order's Sync Record and in the logs, naming the record and the field; the good
orders sync in the same run; nothing is written to Stripe for a failed order. The pure cases (settings, mapping
files, sync filters, translation of a single record) are tables in tests/unit/test_bad_input_*.py."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from cpq_sync.config import DEFAULT_MAPPINGS_DIR, load_settings
from cpq_sync.errors import ConfigError
from cpq_sync.mapping.loader import load_mappings
from cpq_sync.salesforce.client import OrgClient
from cpq_sync.salesforce.extract import FieldLists, Window, extract_orders
from cpq_sync.salesforce.filters import SyncFilters
from cpq_sync.sandbox import salesforce as sandbox_sf
from cpq_sync.sandbox import stripe as sandbox_stripe
from cpq_sync.sync import Mode, SyncReport, apply_plan, extract, finish, make_plan, prepare, window_for
from tests.e2e.support import (
    account_id,
    create_contract,
    create_order,
    create_product,
    pricebook_entry,
    sync_records,
)

UNICODE = "Ünïcødé 株式会社 — café ☕ 🦄🚀"
LONG_NOTES = "Notes 📝 " + "x" * 600  # over Stripe's 500 characters for a metadata value

CATALOGUE_MAPPINGS = """\
field_mappings:
  customer:
    metadata.notes: Description
  subscription:
    metadata.purchase_order: PO_Number__c
"""
BROKEN_SUBSCRIPTION_MAPPING = (
    "the subscription mapping cannot be applied: catalogue.yaml, line 5: subscription.metadata.purchase_order maps "
    "from Order.PO_Number__c, which the org does not have (Order has no field named PO_Number__c)."
)


@dataclass(frozen=True)
class Case:
    """A bad record: the order it belongs to, the record at fault and the exact message its Sync Record carries."""

    order_id: str
    secondary_id: str
    message: str
    lines: tuple[str, ...] = ()


@dataclass
class Catalogue:
    directory: Path
    sf: Salesforce
    stripe: Any
    report: SyncReport
    logs: list[logging.LogRecord]
    cases: dict[str, Case] = field(default_factory=dict)
    good: dict[str, str] = field(default_factory=dict)  # name -> order id
    unicode_account: str = ""
    unicode_product: str = ""
    notes_account: str = ""

    def messages(self, level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.logs if r.levelno >= level]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def run_full_sync() -> SyncReport:
    """One full sync through the library's steps (what the Prefect flow runs, without the flow)."""
    ctx = prepare(load_settings())
    report = SyncReport(mode=Mode.FULL, dry_run=False, started_at=ctx.started_at)
    extracted = extract(ctx, window_for(ctx, Mode.FULL))
    plan = make_plan(ctx, extracted)
    return finish(ctx, plan, apply_plan(ctx, plan), report, extracted)


class Builder:
    """Builds the catalogue's records through the real client, each bad one on an order of its own."""

    def __init__(self, sf: Salesforce, start: dt.date) -> None:
        self.sf = sf
        self.start = start
        self.acme = account_id(sf, "Acme%")
        self.cases: dict[str, Case] = {}
        self.good: dict[str, str] = {}
        self.unicode_account = ""
        self.notes_account = ""
        self.negative_pbe = ""

    def account(self, name: str, **fields: Any) -> str:
        return str(self.sf.Account.create({"Name": name, "CurrencyIsoCode": "USD", **fields})["id"])

    def order(
        self,
        lines: list[tuple[str, int]],
        *,
        account: str | None = None,
        item_updates: dict[int, dict[str, Any]] | None = None,
        order_updates: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> tuple[str, list[str]]:
        """A CPQ order as create_order builds it, then made bad field by field before its activation."""
        order_id, items = create_order(self.sf, account or self.acme, lines, start=self.start, activate=False, **kwargs)
        for index, values in (item_updates or {}).items():
            self.sf.OrderItem.update(items[index], values)
        if order_updates:
            self.sf.Order.update(order_id, order_updates)
        self.sf.Order.update(order_id, {"Status": "Activated"})
        return order_id, items

    def bad(self, name: str, order_id: str, secondary_id: str, message: str, lines: list[str] | None = None) -> None:
        self.cases[name] = Case(order_id, secondary_id, message, tuple(lines or ()))


FIX_FREQUENCY = "Fix: use Monthly, Quarterly, Semiannual or Annual."


def default_line(text: str) -> int:
    """The line of `text` in the default mappings file (what a message naming the mapping's place says)."""
    lines = (DEFAULT_MAPPINGS_DIR / "default.yaml").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if line.strip() == text)


def build(b: Builder) -> None:
    sf = b.sf
    # --- good orders, synced in the same run ---------------------------------------------------------------------
    b.good["plain"] = b.order([("Platform Subscription", 3), ("Training Workshop", 1)])[0]
    b.good["one_time"] = b.order([("Implementation Services", 1)])[0]
    # A recurring line with no billing frequency bills monthly, as the connector did.
    b.good["no_frequency"] = b.order(
        [("Platform Subscription", 2)], item_updates={0: {"SBQQ__BillingFrequency__c": None}}
    )[0]

    # --- billing frequency -----------------------------------------------------------------------------------------
    for name, value in (("frequency_invoice_plan", "Invoice Plan"), ("frequency_usage", "Usage")):
        order, items = b.order([("Platform Subscription", 1)], item_updates={0: {"SBQQ__BillingFrequency__c": value}})
        b.bad(
            name,
            order,
            items[0],
            f"Data Error: OrderItem {items[0]}, field SBQQ__BillingFrequency__c: billing frequency {value!r} is not "
            f"supported. {FIX_FREQUENCY}",
            items,
        )

    # --- decimals where Stripe needs whole numbers ----------------------------------------------------------------
    order, items = b.order([("Platform Subscription", 1)], item_updates={0: {"Quantity": 2.5}})
    b.bad(
        "decimal_quantity",
        order,
        items[0],
        f"Data Error: OrderItem {items[0]}, field Quantity: quantity 2.5 is a decimal; Stripe needs a whole number. "
        "Fix: make the quantity a whole number.",
        items,
    )
    order, items = b.order([("Training Workshop", 1)], item_updates={0: {"Quantity": 1.5}})
    b.bad(
        "decimal_quantity_one_time",
        order,
        items[0],
        f"Data Error: OrderItem {items[0]}, field Quantity: quantity 1.5 is a decimal; Stripe needs a whole number. "
        "Fix: make the quantity a whole number.",
        items,
    )
    order, items = b.order([("Platform Subscription", 1)], item_updates={0: {"SBQQ__SubscriptionTerm__c": 0}})
    b.bad(
        "zero_term",
        order,
        items[0],
        f"Data Error: OrderItem {items[0]}, field SBQQ__SubscriptionTerm__c: subscription term 0 must be positive.",
        items,
    )

    # --- money and quantities -------------------------------------------------------------------------------------
    order, items = b.order([("Platform Subscription", 1)], item_updates={0: {"UnitPrice": -120.0}})
    b.bad(
        "negative_line_price",
        order,
        items[0],
        f"Data Error: OrderItem {items[0]}, field UnitPrice: negative price -120.0 cannot be a Stripe price. "
        "Fix: use a coupon for discounts, or make the price zero or positive.",
        items,
    )
    order, items = b.order([("Enterprise License", 1)], item_updates={0: {"UnitPrice": 2_000_000.0}})
    b.bad(
        "price_over_stripe_maximum",
        order,
        items[0],
        f"Data Error: OrderItem {items[0]}, field UnitPrice: the price of one billing period, 2000000 USD, is over "
        "what one Stripe price holds (99999999 in the currency's smallest unit). Fix: bill the line more often (e.g. "
        "quarterly instead of annually), or split it into several lines.",
        items,
    )
    order, items = b.order([("Platform Subscription", 1)], item_updates={0: {"Quantity": -3}})
    b.bad(
        "negative_quantity",
        order,
        items[0],
        f"Data Error: OrderItem {items[0]}, field Quantity: quantity -3 is negative on a new order.",
        items,
    )

    # --- currency ------------------------------------------------------------------------------------------------
    two_currencies = b.account("Two Currencies Ltd")
    b.good["first_currency"] = b.order([("Platform Subscription", 1)], account=two_currencies)[0]
    order, items = b.order([("Analytics Add-on", 1)], account=two_currencies, order_updates={"CurrencyIsoCode": "EUR"})
    first = b.good["first_currency"]
    b.bad(
        "currency_mismatch",
        order,
        order,
        f"Data Error: Order {order}, field CurrencyIsoCode: the order is in EUR but account {two_currencies}'s "
        f"Stripe customer bills in USD (order {first}, synced earlier in this run); Stripe allows one currency per "
        "customer. Fix: sell to this account in USD, or use a separate account for EUR.",
        items,
    )

    # --- amendments and terminations -------------------------------------------------------------------------------
    orphan_contract = create_contract(sf, b.acme, b.start, 12)
    order, items = b.order([("Platform Subscription", 1)], amends=orphan_contract)
    b.bad(
        "amendment_without_initial_order",
        order,
        order,
        f"Data Error: Order {order}, field ContractId: the initial order of contract {orphan_contract} (unknown) was "
        "not found among its activated orders. Fix: activate and sync the contract's initial order first.",
        items,
    )
    order, items = b.order([("Platform Subscription", 1)], order_updates={"Type": "Amendment"})
    b.bad(
        "amendment_without_contract",
        order,
        order,
        f"Data Error: Order {order}, field ContractId: the amendment order has no contract (neither ContractId nor "
        "the quote's SBQQ__MasterContract__c), so the schedule it amends cannot be found. Fix: set the order's "
        "contract to the contract it amends.",
        items,
    )
    initial, initial_items = b.order([("Managed Hosting", 10)], contract=True)
    b.good["terminated_contract_initial"] = initial
    contract = sf.Order.get(initial)["ContractId"]
    order, items = create_order(
        sf, b.acme, [("Managed Hosting", -15, initial_items[0])], start=b.start, amends=contract
    )
    b.bad(
        "termination_beyond_quantity",
        order,
        items[0],
        f"Data Error: OrderItem {items[0]}, field Quantity: the line removes 15 units but the contract has only 10 "
        "of them. Fix: correct the amendment's quantity.",
        items,
    )

    # --- shape of the order ---------------------------------------------------------------------------------------
    # (An activated order without lines cannot exist: Salesforce refuses to activate it. Every line skipped is the
    # nearest case.)
    order, items = b.order([("Platform Subscription", 1)], item_updates={0: {"Skip_Line_Item__c": True}})
    b.bad(
        "every_line_skipped",
        order,
        order,
        f"Data Error: Order {order}, field OrderItems: the order has no lines to sync.",
        items,
    )
    order, items = b.order([("Platform Subscription", 1)], order_updates={"SBQQ__PaymentTerm__c": "Net thirty"})
    b.bad(
        "unknown_payment_term",
        order,
        order,
        f"Data Error: Order {order}, field SBQQ__PaymentTerm__c: unsupported payment term 'Net thirty' for "
        "days_until_due. Fix: use a whole number of days, 'Net 30' style terms or 'Due on Receipt'.",
        items,
    )
    order, items = b.order(
        [("Platform Subscription", 1), ("Managed Hosting", 1)], item_updates={1: {"SBQQ__SubscriptionTerm__c": 24}}
    )
    b.bad(
        "lines_not_coterminous",
        order,
        order,
        f"Data Error: Order {order}, field SBQQ__SubscriptionTerm__c: the order's lines have different subscription "
        "terms ([12, 24] months); they must co-terminate.",
        items,
    )
    order, items = b.order([("Platform Subscription", 1)] + [("Training Workshop", 1)] * 21)
    b.bad(
        "too_many_one_time_lines",
        order,
        order,
        f"Data Error: Order {order}, field OrderItems: 21 one-time lines; Stripe allows 20 per phase.",
        items,
    )

    order, items = b.order(
        [("Platform Subscription", 1), ("Managed Hosting", 1)],
        item_updates={0: {"SBQQ__SubscriptionType__c": "Evergreen"}},
    )
    b.bad(
        "evergreen_mixed_with_termed",
        order,
        items[1],
        f"Data Error: OrderItem {items[1]}, field SBQQ__SubscriptionType__c: the order mixes evergreen lines (e.g. "
        f"{items[0]}) and termed lines (this one). Fix: put the evergreen lines and the termed lines in separate "
        "orders.",
        items,
    )
    order, items = b.order([("Negative Product", 1)])
    b.bad(
        "negative_pricebook_entry_price",
        order,
        b.negative_pbe,
        f"Data Error: PricebookEntry {b.negative_pbe}, field UnitPrice: negative price -10.0 cannot be a Stripe "
        "price. Fix: use a coupon for discounts, or make the price zero or positive.",
        items,
    )

    # --- accounts: text Stripe cannot hold ------------------------------------------------------------------------
    long_phone = b.account("Long Phone Inc.", Phone="+1 (555) 010-0000 ext. 12345")
    order, items = b.order([("Platform Subscription", 1)], account=long_phone)
    b.bad(
        "phone_too_long",
        order,
        long_phone,
        f"Data Error: Account {long_phone}, field Phone: cannot be mapped to Stripe customer.phone: the value is 28 "
        "characters long and Stripe allows at most 20. Fix: shorten the value in Salesforce, or change the mapping "
        f"at default.yaml, line {default_line('phone: Phone')}.",
        items,
    )

    # --- a mapping to a field the org does not have: only the records that need it fail -----------------------------
    order, items = b.order([("Managed Hosting", 1)], term=1, evergreen=True)
    b.bad(
        "mapping_to_missing_field",
        order,
        order,
        f"Data Error: Order {order}: {BROKEN_SUBSCRIPTION_MAPPING} Fix: correct the mapping file; this record syncs "
        "on the next run.",
        items,
    )

    # --- unicode and emoji in every text field reach Stripe ---------------------------------------------------------
    unicode_account = b.account(
        f"Acct {UNICODE}",
        Phone="☎ +33 1 23 45 67",
        Description=f"Description {UNICODE}",
        BillingStreet=f"1 Straße {UNICODE}",
        BillingCity="Zürich 🏙",
        BillingState="Genève ✓",
        BillingPostalCode="8000 ☃",
        BillingCountry="CH 🇨🇭",
        ShippingStreet=f"2 Rue {UNICODE}",
        ShippingCity="Москва",
        ShippingState="東京都",
        ShippingPostalCode="100-0001 🗼",
        ShippingCountry="JP 🇯🇵",
    )
    b.good["unicode"] = b.order([(f"Product {UNICODE}", 2)], account=unicode_account)[0]

    notes = b.account("Long Notes Inc.", Description=LONG_NOTES)
    b.good["metadata_truncated"] = b.order([("Platform Subscription", 1)], account=notes)[0]
    b.unicode_account = unicode_account
    b.notes_account = notes


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalogue]:
    directory = tmp_path_factory.mktemp("catalogue")
    mappings = directory / "mappings"
    mappings.mkdir()
    for name in ("default.yaml", "preferences.yaml"):
        shutil.copy(DEFAULT_MAPPINGS_DIR / name, mappings / name)
    (mappings / "catalogue.yaml").write_text(CATALOGUE_MAPPINGS, encoding="utf-8")
    sandbox = directory / "sandbox"
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("SALESFORCE_", "STRIPE_", "CPQ_SYNC_")):
                patch.delenv(name)
        patch.setenv("CPQ_SYNC_SANDBOX", str(sandbox))
        patch.setenv("CPQ_SYNC_MAPPINGS_DIR", str(mappings))
        sandbox_sf.seed_org(sandbox, orders=1, seed=7)
        sf = sandbox_sf.connect(sandbox)
        builder = Builder(sf, sandbox_sf.now(sandbox).date().replace(day=1))
        unicode_product = create_product(sf, f"Product {UNICODE}", Decimal(15))
        sf.Product2.update(unicode_product, {"Description": f"Beschreibung {UNICODE}"})
        create_product(sf, "Negative Product", Decimal(-10))
        builder.negative_pbe = str(pricebook_entry(sf, "Negative Product")["Id"])
        build(builder)
        collect = _Collect()
        logger = logging.getLogger("cpq_sync")
        level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(collect)
        try:
            report = run_full_sync()
        finally:
            logger.removeHandler(collect)
            logger.setLevel(level)
        yield Catalogue(
            directory=sandbox,
            sf=sf,
            stripe=sandbox_stripe.connect(sandbox),
            report=report,
            logs=collect.records,
            cases=builder.cases,
            good=builder.good,
            unicode_account=builder.unicode_account,
            unicode_product=unicode_product,
            notes_account=builder.notes_account,
        )


def meta(obj: Any) -> dict[str, str]:
    return obj.metadata.to_dict() if obj.metadata else {}


def stripe_objects(stripe: Any) -> list[Any]:
    """Every schedule, subscription, invoice, price and customer of the sandbox Stripe account."""
    out: list[Any] = []
    v1 = stripe.v1
    for service in (v1.subscription_schedules, v1.subscriptions, v1.invoices, v1.prices, v1.customers):
        out.extend(service.list({"limit": 100}).auto_paging_iter())
    return out


BAD = [
    "frequency_invoice_plan",
    "frequency_usage",
    "decimal_quantity",
    "decimal_quantity_one_time",
    "zero_term",
    "negative_line_price",
    "negative_quantity",
    "price_over_stripe_maximum",
    "negative_pricebook_entry_price",
    "currency_mismatch",
    "amendment_without_initial_order",
    "amendment_without_contract",
    "termination_beyond_quantity",
    "every_line_skipped",
    "unknown_payment_term",
    "lines_not_coterminous",
    "too_many_one_time_lines",
    "evergreen_mixed_with_termed",
    "phone_too_long",
    "mapping_to_missing_field",
]


def test_the_catalogue_is_what_this_module_checks(catalogue: Catalogue) -> None:
    assert sorted(catalogue.cases) == sorted(BAD)


@pytest.mark.parametrize("name", BAD)
def test_a_bad_record_fails_alone_with_its_exact_message(catalogue: Catalogue, name: str) -> None:
    case = catalogue.cases[name]
    records = sync_records(catalogue.sf, case.order_id)
    assert [(r["Resolution_Status__c"], r["Secondary_Record_ID__c"], r["Resolution_Message__c"]) for r in records] == [
        ("Error", case.secondary_id, case.message)
    ]
    assert f"Order {case.order_id} not synced: {case.message}" in catalogue.messages(logging.ERROR)
    assert catalogue.sf.Order.get(case.order_id)["Stripe_ID__c"] is None
    assert all(catalogue.sf.OrderItem.get(i)["Stripe_ID__c"] is None for i in case.lines)


def test_nothing_is_written_to_stripe_for_a_failed_order(catalogue: Catalogue) -> None:
    failed_orders = {c.order_id for c in catalogue.cases.values()}
    failed_lines = {i for c in catalogue.cases.values() for i in c.lines}
    written = stripe_objects(catalogue.stripe)
    assert written  # the good orders are there
    for obj in written:
        metadata = meta(obj)
        assert metadata.get("salesforce_order_id") not in failed_orders, obj.id
        assert metadata.get("salesforce_order_item_id") not in failed_lines, obj.id
    negative = catalogue.cases["negative_pricebook_entry_price"].secondary_id
    assert all(meta(o).get("salesforce_pricebook_entry_id") != negative for o in written)
    long_phone = catalogue.cases["phone_too_long"].secondary_id  # an account whose only order failed
    assert all(meta(o).get("salesforce_account_id") != long_phone for o in written)
    assert catalogue.sf.Account.get(long_phone)["Stripe_ID__c"] is None


def test_the_good_orders_sync_in_the_same_run(catalogue: Catalogue) -> None:
    for name, order_id in catalogue.good.items():
        records = sync_records(catalogue.sf, order_id)
        assert [r["Resolution_Status__c"] for r in records] == ["Success"], name
        assert catalogue.sf.Order.get(order_id)["Stripe_ID__c"] == records[0]["Stripe_Object_ID__c"], name
    assert set(catalogue.good.values()) <= set(catalogue.report.synced_orders)


def test_no_activated_order_is_silently_dropped(catalogue: Catalogue) -> None:
    """Every activated order of the org is either synced or has an Error Sync Record saying why."""
    orders = catalogue.sf.query_all("SELECT Id, Stripe_ID__c FROM Order WHERE Status = 'Activated'")["records"]
    failed = {r.primary.id for r in catalogue.report.failed}
    assert {c.order_id for c in catalogue.cases.values()} <= failed
    for order in orders:
        assert (order["Stripe_ID__c"] is not None) != (order["Id"] in failed), order["Id"]


def test_a_line_with_no_billing_frequency_bills_monthly(catalogue: Catalogue) -> None:
    schedule = catalogue.stripe.v1.subscription_schedules.retrieve(
        catalogue.sf.Order.get(catalogue.good["no_frequency"])["Stripe_ID__c"]
    )
    price = catalogue.stripe.v1.prices.retrieve(schedule.phases[0]["items"][0]["price"])
    assert (price.recurring.interval, price.recurring.interval_count) == ("month", 1)


def test_unicode_and_emoji_in_every_text_field_reach_stripe(catalogue: Catalogue) -> None:
    sf, stripe = catalogue.sf, catalogue.stripe
    customer = stripe.v1.customers.retrieve(sf.Account.get(catalogue.unicode_account)["Stripe_ID__c"])
    assert customer.name == f"Acct {UNICODE}"
    assert customer.description == f"Description {UNICODE}"
    assert customer.metadata["notes"] == f"Description {UNICODE}"
    assert customer.address.to_dict() == {
        "line1": f"1 Straße {UNICODE}", "line2": None, "city": "Zürich 🏙", "state": "Genève ✓",
        "postal_code": "8000 ☃", "country": "CH 🇨🇭",
    }  # fmt: skip
    assert customer.phone == customer.shipping.phone == "☎ +33 1 23 45 67"
    assert customer.shipping.name == f"Acct {UNICODE}"
    assert customer.shipping.address.to_dict() == {
        "line1": f"2 Rue {UNICODE}", "line2": None, "city": "Москва", "state": "東京都",
        "postal_code": "100-0001 🗼", "country": "JP 🇯🇵",
    }  # fmt: skip
    product = stripe.v1.products.retrieve(sf.Product2.get(catalogue.unicode_product)["Stripe_ID__c"])
    assert (product.name, product.description) == (f"Product {UNICODE}", f"Beschreibung {UNICODE}")


def test_text_over_stripe_limits_is_cut_with_a_warning_naming_record_and_field(catalogue: Catalogue) -> None:
    """Metadata values (500) and customer descriptions (350, as the connector did) are cut, not refused: the order
    bills; the warning names the record, the field and how much Stripe keeps."""
    account = catalogue.notes_account
    customer = catalogue.stripe.v1.customers.retrieve(catalogue.sf.Account.get(account)["Stripe_ID__c"])
    assert customer.metadata["notes"] == LONG_NOTES[:500]
    assert customer.description == LONG_NOTES[:350]
    warnings = catalogue.messages(logging.WARNING)
    assert (
        f"Account {account}, field Description: the value is {len(LONG_NOTES)} characters long; Stripe "
        "customer.metadata.notes keeps its first 500."
    ) in warnings
    assert (
        f"Account {account}, field Description: the value is {len(LONG_NOTES)} characters long; Stripe "
        "customer.description keeps its first 350."
    ) in warnings


def test_an_account_name_of_10000_characters_never_reaches_stripe(catalogue: Catalogue) -> None:
    """Salesforce itself holds at most 255 characters in Account.Name (the org refuses more); a name mapped from a
    longer field is refused by the sync (tests/unit/test_bad_input_records.py)."""
    with pytest.raises(SalesforceMalformedRequest, match="data value too large"):
        catalogue.sf.Account.create({"Name": "N" * 10_000})


def test_the_mapping_problem_is_logged_once_at_the_start(catalogue: Catalogue) -> None:
    expected = f"mapping problem: {BROKEN_SUBSCRIPTION_MAPPING[len('the subscription mapping cannot be applied: ') :]}"
    problem = expected.removesuffix(".") + " (records that need a subscription fail until it is fixed)"
    assert catalogue.messages(logging.ERROR).count(problem) == 1


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            "Colour__c = 'red'",
            "the sync filter for Order names a field the org does not have: Order has no field named Colour__c",
        ),
        (
            "AccountId IN (SELECT Id FROM Account WHERE Rating__c = 'Hot')",
            "the sync filter for Order names a field the org does not have: Account has no field named Rating__c",
        ),
        (
            "Status = 'Activated'; DELETE FROM Order",
            "the sync filter for Order is not a valid SOQL condition: unexpected token: ';' in \"Status = 'Activated'; "
            'DELETE FROM Order" (a filter is one condition: no semicolon, no second statement)',
        ),
    ],
)
def test_a_bad_filter_stops_the_run_at_prepare(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch, condition: str, message: str
) -> None:
    monkeypatch.setenv("CPQ_SYNC_FILTERS", json.dumps({"Order": condition}))
    with pytest.raises(ConfigError) as err:
        prepare(load_settings())  # checked against the org's describe, before any order is read
    assert str(err.value) == message


def test_an_or_in_a_filter_cannot_escape_the_sync_own_conditions(catalogue: Catalogue) -> None:
    """`Status = 'Activated' OR Name != ''` widens its own rows only: ANDed in parentheses with the sync's window,
    a start date tomorrow still reads nothing, and a run for one order still reads that order alone."""
    org = OrgClient(lambda: sandbox_sf.connect(catalogue.directory))
    fields = FieldLists.build(load_mappings(DEFAULT_MAPPINGS_DIR))
    describe = functools.cache(lambda sobject: org.restful(f"sobjects/{sobject}/describe"))
    filters = SyncFilters.from_preferences({"Order": "Status = 'Activated' OR Name != ''"}, describe=describe)
    now = sandbox_sf.now(catalogue.directory)
    tomorrow = now.date() + dt.timedelta(days=1)
    assert (
        extract_orders(org, fields, Window(since=None, until=now, sync_start_date=tomorrow), filters).orders_seen == 0
    )
    one = catalogue.good["plain"]
    extracted = extract_orders(org, fields, Window(since=None, until=now, order_ids=(one,)), filters)
    assert [b.order.id for b in extracted.bundles] == [one]
    everything = extract_orders(org, fields, Window(since=None, until=now + dt.timedelta(seconds=5)), filters)
    assert everything.orders_seen > len(catalogue.cases) + len(catalogue.good)  # the OR itself does widen its rows
