"""The seeded CPQ company, read back through a real simple-salesforce client connected to the sandbox org.

These checks are what the sync's translation relies on: every order kind is present, CPQ's price math holds
line by line, amendments are deltas on their own contract and co-terminate, drafts and deleted records are
there to be left alone, and the org's custom schema is the SFDX metadata a user deploys.
"""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from simple_salesforce import Salesforce

from cpq_sync.sandbox import salesforce as sandbox
from cpq_sync.sandbox.salesforce.schema import DEFAULT_METADATA_DIR, SFDX_NS
from cpq_sync.sandbox.salesforce.seed import CYCLE_ORDERS, ORDER_KINDS, SeedSummary, plan_families
from cpq_sync.sandbox.salesforce.show import show
from cpq_sync.sandbox.salesforce.store import add_months
from tests.reliability.permission_needs import CONTROLLED_BY

CLOCK = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
NS = {"md": SFDX_NS}
FREQUENCY_MONTHS = {"Monthly": 1, "Quarterly": 3, "Semiannual": 6, "Annual": 12}


def _seed(directory: Path, *, orders: int = 40, seed: int = 7) -> SeedSummary:
    sandbox.set_clock(directory, CLOCK)
    return sandbox.seed_org(directory, orders=orders, seed=seed)


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SeedSummary]:
    directory = tmp_path_factory.mktemp("org")
    return directory, _seed(directory)


@pytest.fixture(scope="module")
def sf(org: tuple[Path, SeedSummary]) -> Salesforce:
    return sandbox.connect(org[0], page_size=500)


def records(sf: Salesforce, soql: str, *, deleted: bool = False) -> list[dict[str, Any]]:
    result = sf.query_all(soql, include_deleted=deleted)
    rows: list[dict[str, Any]] = result["records"]
    assert result["totalSize"] == len(rows)
    return rows


def kind_of(order: dict[str, Any]) -> str:
    description = str(order["Description"])
    assert description.startswith("kind: ")
    return description.removeprefix("kind: ")


def day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


# ------------------------------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_org_and_another_seed_another(tmp_path: Path) -> None:
    def dump(directory: Path) -> dict[str, list[dict[str, Any]]]:
        client = sandbox.connect(directory)
        out = {}
        for sobject in (
            "Account",
            "Order",
            "OrderItem",
            "SBQQ__QuoteLine__c",
            "Contract",
            "Quote_Stripe_Coupon__c",
        ):
            fields = [f["name"] for f in getattr(client, sobject).describe()["fields"] if f["type"] != "address"]
            out[sobject] = records(client, f"SELECT {', '.join(fields)} FROM {sobject} ORDER BY Id", deleted=True)
        return out

    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    summary_a, summary_b, summary_c = _seed(first), _seed(second), _seed(other, seed=8)
    assert summary_a == summary_b
    a, b, c = dump(first), dump(second), dump(other)
    assert a == b
    assert len(a["OrderItem"]) > 60
    assert a["OrderItem"] != c["OrderItem"]
    assert summary_c.order_kinds == summary_a.order_kinds  # the mix is the seed-independent cycle


def test_every_order_kind_is_present_and_recorded_on_the_order(sf: Salesforce, org: tuple[Path, SeedSummary]) -> None:
    summary = org[1]
    orders = records(sf, "SELECT Id, Name, Description, IsDeleted FROM Order", deleted=True)
    kinds = Counter(kind_of(o) for o in orders)
    assert set(kinds) == set(ORDER_KINDS)
    assert dict(kinds) == {k: v for k, v in summary.order_kinds.items() if v}
    assert len(orders) == summary.orders == 40
    assert all(o["Name"].startswith(f"{kind_of(o)}: ") for o in orders)
    renewals = records(sf, "SELECT Id FROM Order WHERE Name LIKE 'renewal:%'")
    assert len(renewals) == kinds["renewal"]
    assert summary.contracts_with_several_amendments >= 1


def test_order_kind_mix_scales_with_the_number_of_orders() -> None:
    for orders in (40, 41, 57, 80, 123):
        families = plan_families(orders)
        kinds = Counter(k for family in families for k in family)
        assert sum(kinds.values()) == orders
        assert set(kinds) == set(ORDER_KINDS), orders
    big = Counter(k for family in plan_families(100_000) for k in family)
    cycle = Counter(k for family in plan_families(CYCLE_ORDERS) for k in family)
    assert big == Counter({k: v * (100_000 // CYCLE_ORDERS) for k, v in cycle.items()})


def test_seeding_replaces_the_org_and_zero_orders_leaves_only_the_company(tmp_path: Path) -> None:
    _seed(tmp_path, orders=40)
    client = sandbox.connect(tmp_path)
    client.Account.create({"Name": "Left over from a previous run"})
    summary = _seed(tmp_path, orders=0)
    client = sandbox.connect(tmp_path)  # seeding empties the org, sessions included
    assert summary.order_kinds == dict.fromkeys(ORDER_KINDS, 0) and summary.order_lines == 0
    assert client.query("SELECT COUNT() FROM Order")["totalSize"] == 0
    assert records(client, "SELECT Id FROM Account WHERE Name = 'Left over from a previous run'") == []
    assert client.query("SELECT COUNT() FROM Product2")["totalSize"] == summary.records["Product2"] > 0


def test_accounts_have_addresses_contacts_and_an_owner_with_email(sf: Salesforce) -> None:
    accounts = records(
        sf,
        "SELECT Name, Phone, Description, BillingStreet, BillingCity, BillingCountry, BillingPostalCode, "
        "ShippingStreet, ShippingCity, ShippingCountry, CurrencyIsoCode, Owner.Email, Owner.Name, "
        "(SELECT Email, LastName FROM Contacts) FROM Account",
    )
    assert len(accounts) >= 12
    for account in accounts:
        for field in (
            "Phone",
            "Description",
            "BillingStreet",
            "BillingCity",
            "BillingCountry",
            "ShippingStreet",
        ):
            assert account[field], (account["Name"], field)
        assert "@" in account["Owner"]["Email"]
        assert account["Contacts"] is not None and account["Contacts"]["totalSize"] >= 1
        assert all("@" in c["Email"] for c in account["Contacts"]["records"])
    assert {a["CurrencyIsoCode"] for a in accounts} == {"USD", "EUR"}
    assert len({a["Name"] for a in accounts}) == len(accounts)


def test_catalog_covers_every_charge_type_and_frequency(sf: Salesforce) -> None:
    products = records(
        sf,
        "SELECT Name, SBQQ__ChargeType__c, SBQQ__BillingFrequency__c, SBQQ__BillingType__c, "
        "SBQQ__SubscriptionTerm__c, SBQQ__SubscriptionType__c, SBQQ__SubscriptionPricing__c, "
        "SBQQ__PricingMethod__c, "
        "(SELECT ConsumptionScheduleId FROM ProductConsumptionSchedules), "
        "(SELECT UnitPrice, CurrencyIsoCode, Pricebook2.IsStandard FROM PricebookEntries) FROM Product2",
    )
    charge_types = {p["SBQQ__ChargeType__c"] for p in products}
    assert charge_types == {"One-Time", "Recurring", "Usage"}
    frequencies = {p["SBQQ__BillingFrequency__c"] for p in products if p["SBQQ__ChargeType__c"] == "Recurring"}
    assert frequencies == set(FREQUENCY_MONTHS)
    for p in products:
        if p["SBQQ__ChargeType__c"] == "One-Time":
            assert p["SBQQ__SubscriptionPricing__c"] is None and p["SBQQ__SubscriptionTerm__c"] is None
            continue
        assert p["SBQQ__SubscriptionPricing__c"] == "Fixed Price"
        expected_term = (
            1 if p["SBQQ__SubscriptionType__c"] == "Evergreen" else FREQUENCY_MONTHS[p["SBQQ__BillingFrequency__c"]]
        )
        assert p["SBQQ__SubscriptionTerm__c"] == expected_term
        assert p["SBQQ__BillingType__c"] == ("Arrears" if p["SBQQ__ChargeType__c"] == "Usage" else "Advance")
        entries = p["PricebookEntries"]["records"]
        assert {(e["CurrencyIsoCode"], e["Pricebook2"]["IsStandard"]) for e in entries} == {
            ("USD", True),
            ("USD", False),
            ("EUR", True),
            ("EUR", False),
        }
    assert {p["SBQQ__SubscriptionType__c"] for p in products} >= {"Renewable", "Evergreen"}
    assert "Block" in {p["SBQQ__PricingMethod__c"] for p in products}
    usage = [p for p in products if p["SBQQ__ChargeType__c"] == "Usage"]
    assert any(p["ProductConsumptionSchedules"] is None for p in usage)  # plain metered
    assert sum(1 for p in usage if p["ProductConsumptionSchedules"]) >= 2  # tiered

    schedules = records(
        sf,
        "SELECT Type, IsActive, BillingTerm, BillingTermUnit, RatingMethod, "
        "(SELECT LowerBound, UpperBound, Price, PricingMethod, ProcessingOrder FROM ConsumptionRates) "
        "FROM ConsumptionSchedule",
    )
    assert {s["Type"] for s in schedules} == {"Slab", "Range"}
    methods = set()
    for schedule in schedules:
        rates = sorted(schedule["ConsumptionRates"]["records"], key=lambda r: r["ProcessingOrder"])
        assert rates[0]["LowerBound"] == 0 and rates[-1]["UpperBound"] is None
        assert all(a["UpperBound"] == b["LowerBound"] for a, b in itertools.pairwise(rates))
        methods |= {r["PricingMethod"] for r in rates}
    assert methods == {"PerUnit", "FlatFee"}


LINE_FIELDS = (
    "Id, OrderId, Quantity, UnitPrice, ListPrice, TotalPrice, ServiceDate, EndDate, CurrencyIsoCode, "
    "SBQQ__ChargeType__c, SBQQ__BillingFrequency__c, SBQQ__BillingType__c, SBQQ__SubscriptionType__c, "
    "SBQQ__SubscriptionTerm__c, SBQQ__DefaultSubscriptionTerm__c, SBQQ__ProrateMultiplier__c, "
    "SBQQ__OrderedQuantity__c, SBQQ__RevisedOrderProduct__c, SBQQ__ContractAction__c, SBQQ__SegmentIndex__c, "
    "SBQQ__SegmentKey__c, SBQQ__SegmentLabel__c, SBQQ__DimensionType__c, SBQQ__Activated__c, "
    "PricebookEntry.UnitPrice, PricebookEntry.CurrencyIsoCode, Product2.SBQQ__SubscriptionTerm__c, "
    "SBQQ__QuoteLine__r.SBQQ__Discount__c, SBQQ__QuoteLine__r.SBQQ__Quote__c, "
    "Order.EffectiveDate, Order.EndDate, Order.Type, Order.Status, Order.Description, Order.CurrencyIsoCode, "
    "Order.SBQQ__Quote__c"
)


@pytest.fixture(scope="module")
def activated_lines(sf: Salesforce) -> list[dict[str, Any]]:
    return records(sf, f"SELECT {LINE_FIELDS} FROM OrderItem WHERE Order.Status = 'Activated'")


def test_order_lines_follow_cpq_price_math(activated_lines: list[dict[str, Any]]) -> None:
    discounted = undiscounted = 0
    for line in activated_lines:
        pbe = line["PricebookEntry"]["UnitPrice"]
        assert line["ListPrice"] == pbe
        assert line["TotalPrice"] == pytest.approx(round(line["UnitPrice"] * line["Quantity"], 2))
        assert line["SBQQ__OrderedQuantity__c"] == line["Quantity"]
        assert line["PricebookEntry"]["CurrencyIsoCode"] == line["CurrencyIsoCode"] == line["Order"]["CurrencyIsoCode"]
        assert line["SBQQ__QuoteLine__r"]["SBQQ__Quote__c"] == line["Order"]["SBQQ__Quote__c"]
        assert line["SBQQ__Activated__c"] is True
        if line["SBQQ__ChargeType__c"] == "One-Time":
            assert line["SBQQ__SubscriptionTerm__c"] is None and line["SBQQ__BillingFrequency__c"] is None
            multiplier = 1.0
        else:
            default = line["SBQQ__DefaultSubscriptionTerm__c"]
            assert default == line["Product2"]["SBQQ__SubscriptionTerm__c"]
            if line["SBQQ__SubscriptionType__c"] == "Evergreen":
                assert default == 1 and line["SBQQ__BillingFrequency__c"] == "Monthly"
            else:
                assert default == FREQUENCY_MONTHS[line["SBQQ__BillingFrequency__c"]]
            multiplier = line["SBQQ__ProrateMultiplier__c"]
            assert multiplier == round(line["SBQQ__SubscriptionTerm__c"] / default, 4)
        if line["SBQQ__ChargeType__c"] == "Usage":
            assert line["SBQQ__BillingType__c"] == "Arrears"
        discount = line["SBQQ__QuoteLine__r"]["SBQQ__Discount__c"]
        if discount:
            discounted += 1
            assert line["UnitPrice"] == round(pbe * multiplier * (1 - discount / 100), 2)
            assert line["UnitPrice"] != round(pbe * multiplier, 2)
        else:
            undiscounted += 1
            assert line["UnitPrice"] == round(pbe * multiplier, 2)
    assert discounted and undiscounted


def test_lines_cover_the_order_term(activated_lines: list[dict[str, Any]]) -> None:
    multipliers = set()
    for line in activated_lines:
        order = line["Order"]
        if line["SBQQ__SegmentIndex__c"] is not None or line["SBQQ__ChargeType__c"] == "One-Time":
            continue
        assert line["ServiceDate"] == order["EffectiveDate"]
        assert line["EndDate"] == order["EndDate"]
        if order["EndDate"] is not None and order["Type"] != "Amendment":
            start, end = day(order["EffectiveDate"]), day(order["EndDate"])
            assert start is not None and end is not None
            assert add_months(start, int(line["SBQQ__SubscriptionTerm__c"])) - timedelta(days=1) == end
        if kind_of(order) == "odd_term":
            multipliers.add((line["SBQQ__BillingFrequency__c"], line["SBQQ__ProrateMultiplier__c"]))
    assert ("Annual", 1.5) in multipliers and (
        "Annual",
        0.75,
    ) in multipliers  # 18 and 9 months billed annually


def test_orders_total_their_lines_and_link_quote_opportunity_and_contract(sf: Salesforce) -> None:
    orders = records(
        sf,
        "SELECT Id, Status, Type, Description, TotalAmount, ActivatedDate, EffectiveDate, EndDate, "
        "ContractId, "
        "SBQQ__Contracted__c, SBQQ__Quote__r.SBQQ__Type__c, SBQQ__Quote__r.SBQQ__Primary__c, "
        "SBQQ__Quote__r.SBQQ__StartDate__c, SBQQ__Quote__r.SBQQ__SubscriptionTerm__c, Opportunity.StageName, "
        "Contract.SBQQ__Order__c, Contract.StartDate, Contract.EndDate, "
        "(SELECT TotalPrice, SBQQ__ChargeType__c FROM OrderItems) FROM Order WHERE Status = 'Activated'",
    )
    for order in orders:
        lines = order["OrderItems"]["records"]
        assert order["TotalAmount"] == pytest.approx(sum(line["TotalPrice"] for line in lines))
        assert order["ActivatedDate"] is not None
        assert datetime.fromisoformat(order["ActivatedDate"].replace("+0000", "+00:00")) <= CLOCK
        quote = order["SBQQ__Quote__r"]
        assert quote["SBQQ__Primary__c"] is True
        assert quote["SBQQ__StartDate__c"] == order["EffectiveDate"]
        assert quote["SBQQ__Type__c"] == order["Type"]
        assert order["Opportunity"]["StageName"] == "Closed Won"
        kind = kind_of(order)
        start = day(order["EffectiveDate"])
        assert start is not None and add_months(CLOCK.date(), -12) <= start <= add_months(CLOCK.date(), 3)
        if order["Type"] == "New" and any(line["SBQQ__ChargeType__c"] != "One-Time" for line in lines):
            assert order["SBQQ__Contracted__c"] is True
            assert order["Contract"]["SBQQ__Order__c"] == order["Id"]
            assert order["Contract"]["StartDate"] == order["EffectiveDate"]
            assert order["Contract"]["EndDate"] == order["EndDate"]
        if kind == "one_time":
            assert order["ContractId"] is None and order["EndDate"] is None
        if kind == "evergreen":
            assert order["EndDate"] is None and quote["SBQQ__SubscriptionTerm__c"] is None
        if kind == "backdated":
            assert start < CLOCK.date()
        if kind == "future_start":
            assert start > CLOCK.date()


def test_amendments_are_deltas_on_their_own_contract_and_co_terminate(sf: Salesforce) -> None:
    amendments = records(
        sf,
        "SELECT Id, Description, ContractId, EffectiveDate, EndDate, Pricebook2Id, CurrencyIsoCode, "
        "Contract.EndDate, Contract.SBQQ__Order__r.Pricebook2Id, Contract.SBQQ__Order__r.CurrencyIsoCode, "
        "SBQQ__Quote__r.SBQQ__Type__c, SBQQ__Quote__r.SBQQ__MasterContract__c, "
        "SBQQ__Quote__r.SBQQ__SubscriptionTerm__c, Opportunity.SBQQ__AmendedContract__c, "
        "(SELECT Quantity, SBQQ__RevisedOrderProduct__c, SBQQ__RevisedOrderProduct__r.Order.ContractId, "
        "SBQQ__ContractAction__c, ServiceDate, EndDate FROM OrderItems) "
        "FROM Order WHERE Type = 'Amendment' AND Status = 'Activated' ORDER BY EffectiveDate",
    )
    kinds = Counter(kind_of(a) for a in amendments)
    assert kinds["amendment"] >= 5 and kinds["termination"] >= 1 and kinds["evergreen_cancellation"] >= 1
    per_contract = Counter(a["ContractId"] for a in amendments)
    assert max(per_contract.values()) >= 3  # several amendments on one contract
    actions = set()
    for amendment in amendments:
        contract = amendment["ContractId"]
        assert contract is not None
        assert amendment["SBQQ__Quote__r"]["SBQQ__Type__c"] == "Amendment"
        assert amendment["SBQQ__Quote__r"]["SBQQ__MasterContract__c"] == contract
        assert amendment["Opportunity"]["SBQQ__AmendedContract__c"] == contract
        original = amendment["Contract"]["SBQQ__Order__r"]
        assert (amendment["Pricebook2Id"], amendment["CurrencyIsoCode"]) == (
            original["Pricebook2Id"],
            original["CurrencyIsoCode"],
        )
        assert amendment["EndDate"] == amendment["Contract"]["EndDate"]  # co-terminates (None: evergreen)
        if amendment["EndDate"] is not None:
            start, end = day(amendment["EffectiveDate"]), day(amendment["EndDate"])
            assert start is not None and end is not None
            term = amendment["SBQQ__Quote__r"]["SBQQ__SubscriptionTerm__c"]
            assert add_months(start, int(term)) - timedelta(days=1) == end  # whole months left
        for line in amendment["OrderItems"]["records"]:
            actions.add(line["SBQQ__ContractAction__c"])
            assert line["EndDate"] == amendment["EndDate"]
            assert line["ServiceDate"] == amendment["EffectiveDate"]
            if line["SBQQ__RevisedOrderProduct__c"] is None:
                assert line["SBQQ__ContractAction__c"] == "New" and line["Quantity"] > 0
                continue
            assert line["SBQQ__RevisedOrderProduct__r"]["Order"]["ContractId"] == contract
            expected = "Quantity Increase" if line["Quantity"] > 0 else "Quantity Decrease"
            assert line["SBQQ__ContractAction__c"] == expected
    assert actions == {"New", "Quantity Increase", "Quantity Decrease"}


def test_terminations_bring_every_subscription_line_to_zero(sf: Salesforce) -> None:
    lines = records(
        sf,
        "SELECT Id, Quantity, SBQQ__RevisedOrderProduct__c, SBQQ__ChargeType__c, Order.ContractId, "
        "Order.Description, Order.EffectiveDate FROM OrderItem WHERE Order.Status = 'Activated' "
        "AND Order.ContractId != null",
    )
    by_contract: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        by_contract[line["Order"]["ContractId"]].append(line)
    terminated = [c for c, ls in by_contract.items() if any(kind_of(x["Order"]) == "termination" for x in ls)]
    cancelled = [c for c, ls in by_contract.items() if any(kind_of(x["Order"]) == "evergreen_cancellation" for x in ls)]
    assert terminated and cancelled
    for contract in terminated + cancelled:
        quantity: Counter[str] = Counter()
        for line in by_contract[contract]:
            if line["SBQQ__ChargeType__c"] == "One-Time":
                continue
            quantity[line["SBQQ__RevisedOrderProduct__c"] or line["Id"]] += line["Quantity"]
        assert quantity and all(q == 0 for q in quantity.values()), quantity


def test_renewals_start_a_new_contract_after_the_old_one(sf: Salesforce) -> None:
    renewals = records(
        sf,
        "SELECT EffectiveDate, ContractId, Contract.SBQQ__Order__c, Id, "
        "Opportunity.SBQQ__RenewedContract__c, Opportunity.SBQQ__RenewedContract__r.EndDate, "
        "Opportunity.SBQQ__RenewedContract__r.SBQQ__RenewalQuoted__c, "
        "SBQQ__Quote__r.SBQQ__Type__c, (SELECT SBQQ__ContractAction__c FROM OrderItems) "
        "FROM Order WHERE Type = 'Renewal'",
    )
    assert renewals
    for renewal in renewals:
        old = renewal["Opportunity"]["SBQQ__RenewedContract__r"]
        assert renewal["SBQQ__Quote__r"]["SBQQ__Type__c"] == "Renewal"
        assert renewal["ContractId"] not in (None, renewal["Opportunity"]["SBQQ__RenewedContract__c"])
        assert renewal["Contract"]["SBQQ__Order__c"] == renewal["Id"]
        assert old["SBQQ__RenewalQuoted__c"] is True
        assert day(renewal["EffectiveDate"]) == day(old["EndDate"]) + timedelta(days=1)  # type: ignore[operator]
        assert {x["SBQQ__ContractAction__c"] for x in renewal["OrderItems"]["records"]} == {"Renew"}


def test_contracted_lines_have_subscriptions(sf: Salesforce) -> None:
    subscriptions = records(
        sf,
        "SELECT Id, SBQQ__Contract__c, SBQQ__Product__c, SBQQ__Quantity__c, SBQQ__NetPrice__c, "
        "SBQQ__RevisedSubscription__c, SBQQ__RevisedSubscription__r.SBQQ__Contract__c, "
        "SBQQ__TerminatedDate__c, "
        "SBQQ__OrderProduct__r.Id, SBQQ__OrderProduct__r.Quantity, SBQQ__OrderProduct__r.UnitPrice, "
        "SBQQ__OrderProduct__r.Product2Id, SBQQ__OrderProduct__r.SBQQ__Subscription__c, "
        "SBQQ__OrderProduct__r.Order.ContractId FROM SBQQ__Subscription__c",
    )
    lines = records(
        sf,
        "SELECT Id FROM OrderItem WHERE Order.Status = 'Activated' AND Order.ContractId != null "
        "AND SBQQ__ChargeType__c != 'One-Time'",
    )
    assert {s["SBQQ__OrderProduct__r"]["Id"] for s in subscriptions} == {line["Id"] for line in lines}
    revised = terminated = 0
    for subscription in subscriptions:
        line = subscription["SBQQ__OrderProduct__r"]
        assert line["SBQQ__Subscription__c"] == subscription["Id"]
        assert subscription["SBQQ__Contract__c"] == line["Order"]["ContractId"]
        assert (subscription["SBQQ__Product__c"], subscription["SBQQ__Quantity__c"]) == (
            line["Product2Id"],
            line["Quantity"],
        )
        assert subscription["SBQQ__NetPrice__c"] == line["UnitPrice"]
        if subscription["SBQQ__RevisedSubscription__c"] is not None:
            revised += 1
            assert (
                subscription["SBQQ__RevisedSubscription__r"]["SBQQ__Contract__c"] == subscription["SBQQ__Contract__c"]
            )
        terminated += subscription["SBQQ__TerminatedDate__c"] is not None
    assert revised and terminated


def test_mdq_ramps_have_yearly_segments(activated_lines: list[dict[str, Any]]) -> None:
    segments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in activated_lines:
        if line["SBQQ__SegmentKey__c"] is not None:
            segments[line["SBQQ__SegmentKey__c"]].append(line)
    assert len(segments) >= 2
    for lines in segments.values():
        lines.sort(key=lambda x: x["SBQQ__SegmentIndex__c"])
        assert [x["SBQQ__SegmentIndex__c"] for x in lines] == list(range(1, len(lines) + 1))
        assert [x["SBQQ__SegmentLabel__c"] for x in lines] == [f"Year {i}" for i in range(1, len(lines) + 1)]
        assert {x["SBQQ__DimensionType__c"] for x in lines} == {"Year"}
        assert lines[0]["ServiceDate"] == lines[0]["Order"]["EffectiveDate"]
        assert lines[-1]["EndDate"] == lines[-1]["Order"]["EndDate"]
        for a, b in itertools.pairwise(lines):
            assert day(b["ServiceDate"]) == day(a["EndDate"]) + timedelta(days=1)  # type: ignore[operator]
            assert b["Quantity"] > a["Quantity"]  # a ramp


def test_coupons_at_quote_and_quote_line_level(sf: Salesforce) -> None:
    coupons = records(
        sf,
        "SELECT Id, Name__c, Percent_Off__c, Amount_Off__c, Duration__c, Duration_In_Months__c, "
        "CurrencyIsoCode, "
        "(SELECT Quote__r.SBQQ__Account__r.CurrencyIsoCode FROM Quote_Stripe_Coupon_Associations__r), "
        "(SELECT Quote_Line__r.CurrencyIsoCode FROM Quote_Line_Stripe_Coupon_Associations__r) "
        "FROM Quote_Stripe_Coupon__c",
    )
    assert {c["Duration__c"] for c in coupons} == {"once", "repeating", "forever"}
    assert any(c["Percent_Off__c"] for c in coupons) and any(c["Amount_Off__c"] for c in coupons)
    quote_level = line_level = 0
    for coupon in coupons:
        assert (coupon["Percent_Off__c"] is None) != (coupon["Amount_Off__c"] is None)
        assert (coupon["Duration_In_Months__c"] is not None) == (coupon["Duration__c"] == "repeating")
        for link in (coupon["Quote_Stripe_Coupon_Associations__r"] or {"records": []})["records"]:
            quote_level += 1
            assert link["Quote__r"]["SBQQ__Account__r"]["CurrencyIsoCode"] == coupon["CurrencyIsoCode"]
        for link in (coupon["Quote_Line_Stripe_Coupon_Associations__r"] or {"records": []})["records"]:
            line_level += 1
            assert link["Quote_Line__r"]["CurrencyIsoCode"] == coupon["CurrencyIsoCode"]
    assert quote_level and line_level
    linked = records(
        sf,
        "SELECT Id FROM Order WHERE SBQQ__Quote__c IN (SELECT Quote__c FROM Quote_Stripe_Coupon_Association__c)",
    )
    assert linked


def test_eur_orders_use_eur_price_book_entries(activated_lines: list[dict[str, Any]]) -> None:
    eur = [line for line in activated_lines if line["Order"]["CurrencyIsoCode"] == "EUR"]
    assert eur
    assert {line["PricebookEntry"]["CurrencyIsoCode"] for line in eur} == {"EUR"}
    assert any(kind_of(line["Order"]) == "eur" for line in eur)


def test_drafts_and_deleted_records_are_there_to_be_left_alone(sf: Salesforce, org: tuple[Path, SeedSummary]) -> None:
    summary = org[1]
    drafts = records(sf, "SELECT Status, StatusCode, ActivatedDate, ContractId, Name FROM Order WHERE Status = 'Draft'")
    assert len(drafts) == summary.order_kinds["draft"]
    for draft in drafts:
        assert (draft["StatusCode"], draft["ActivatedDate"], draft["ContractId"]) == ("Draft", None, None)
        assert draft["Name"].startswith("draft: ")

    visible = records(sf, "SELECT Id FROM Order WHERE Name LIKE 'deleted:%'")
    binned = records(sf, "SELECT Id, IsDeleted, Status FROM Order WHERE Name LIKE 'deleted:%'", deleted=True)
    assert visible == [] and len(binned) == summary.order_kinds["deleted"]
    assert all(o["IsDeleted"] is True and o["Status"] == "Draft" for o in binned)
    ids = ", ".join(f"'{o['Id']}'" for o in binned)
    assert records(sf, f"SELECT Id FROM OrderItem WHERE OrderId IN ({ids})") == []
    binned_lines = records(sf, f"SELECT Id, IsDeleted FROM OrderItem WHERE OrderId IN ({ids})", deleted=True)
    assert binned_lines and all(line["IsDeleted"] is True for line in binned_lines)
    contacts = records(sf, "SELECT Id, IsDeleted FROM Contact WHERE IsDeleted = true", deleted=True)
    assert len(contacts) == summary.deleted["Contact"] >= 1
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == summary.records["Contact"]


def test_describe_lists_the_custom_fields_of_the_sfdx_metadata(sf: Salesforce) -> None:
    type_of = {
        "Text": "string",
        "LongTextArea": "textarea",
        "Checkbox": "boolean",
        "Number": "double",
        "Currency": "currency",
        "Picklist": "picklist",
        "Url": "url",
        "Lookup": "reference",
    }
    objects = DEFAULT_METADATA_DIR / "force-app/main/default/objects"
    field_files = sorted(objects.glob("*/fields/*.field-meta.xml"))
    assert len(field_files) >= 30
    described: dict[str, dict[str, Any]] = {}
    for path in field_files:
        sobject = path.parent.parent.name
        if sobject not in described:
            described[sobject] = getattr(sf, sobject).describe()
        fields = {f["name"]: f for f in described[sobject]["fields"]}
        root = ET.parse(path).getroot()
        name = root.findtext("md:fullName", namespaces=NS)
        assert name in fields, f"{sobject}.{name}"
        field = fields[name]
        assert field["custom"] is True
        assert field["type"] == type_of[str(root.findtext("md:type", namespaces=NS))]
        assert field["label"] == root.findtext("md:label", namespaces=NS)
        assert field["externalId"] == (root.findtext("md:externalId", namespaces=NS) == "true")
        assert field["unique"] == (root.findtext("md:unique", namespaces=NS) == "true")
        if (length := root.findtext("md:length", namespaces=NS)) is not None:
            assert field["length"] == int(length)
        values = [v.findtext("md:fullName", namespaces=NS) for v in root.iterfind(".//md:value", NS)]
        assert [p["value"] for p in field["picklistValues"]] == values
        if field["type"] == "reference":
            assert field["referenceTo"] == [root.findtext("md:referenceTo", namespaces=NS)]
            parent = getattr(sf, field["referenceTo"][0]).describe()
            child = f"{root.findtext('md:relationshipName', namespaces=NS)}__r"
            assert child in {c["relationshipName"] for c in parent["childRelationships"]}
    custom_objects = {p.parent.name for p in objects.glob("*/*.object-meta.xml")}
    global_names = {o["name"] for o in sf.describe()["sobjects"]}
    assert custom_objects <= global_names


def _sfdx_files() -> Iterator[Path]:
    yield from sorted((DEFAULT_METADATA_DIR / "force-app").rglob("*-meta.xml"))


def test_every_sfdx_file_is_well_formed_and_the_permission_set_names_real_fields(sf: Salesforce) -> None:
    project = json.loads((DEFAULT_METADATA_DIR / "sfdx-project.json").read_text())
    package_dirs = [d["path"] for d in project["packageDirectories"]]
    assert package_dirs == ["force-app"] and (DEFAULT_METADATA_DIR / "force-app").is_dir()
    fields: set[str] = set()
    custom_objects: set[str] = set()
    for path in _sfdx_files():
        root = ET.parse(path).getroot()
        assert root.tag.startswith(f"{{{SFDX_NS}}}"), path
        if path.name.endswith(".field-meta.xml"):
            assert f"{root.findtext('md:fullName', namespaces=NS)}.field-meta.xml" == path.name
            fields.add(f"{path.parent.parent.name}.{root.findtext('md:fullName', namespaces=NS)}")
        elif path.name.endswith(".object-meta.xml"):
            custom_objects.add(path.parent.name)
    permission_sets = list((DEFAULT_METADATA_DIR / "force-app/main/default/permissionsets").glob("*.xml"))
    assert [p.name for p in permission_sets] == ["CPQ_Stripe_Sync_Integration.permissionset-meta.xml"]
    root = ET.parse(permission_sets[0]).getroot()
    granted = {fp.findtext("md:field", namespaces=NS): fp for fp in root.iterfind("md:fieldPermissions", NS)}
    assert fields <= set(granted)  # every field of ours (that it grants nothing unused: tests/reliability)
    for sobject_name in {str(name).split(".")[0] for name in granted}:
        described = {f["name"] for f in getattr(sf, sobject_name).describe()["fields"]}
        assert {str(n).split(".")[1] for n in granted if str(n).startswith(f"{sobject_name}.")} <= described
    schema_objects = {o["name"] for o in sf.describe()["sobjects"]}
    objects = {op.findtext("md:object", namespaces=NS): op for op in root.iterfind("md:objectPermissions", NS)}
    assert set(objects) <= schema_objects
    assert custom_objects <= set(objects)

    def allowed(obj: str, what: str) -> bool:
        return objects[obj].findtext(f"md:allow{what}", namespaces=NS) == "true"

    for obj in objects:
        ours = obj in ("Sync_Record__c", "Stripe_Sync_State__c")
        assert allowed(obj, "Read")
        assert ours or not (allowed(obj, "Create") or allowed(obj, "Delete")), obj  # CPQ data is never created
        assert objects[obj].findtext("md:modifyAllRecords", namespaces=NS) == "false"
    # Objects without permissions of their own: their access comes from the parent object(s).
    inherited = CONTROLLED_BY
    assert not set(inherited) & set(objects)
    for name, permission in granted.items():
        sobject, field = str(name).split(".")
        editable = permission.findtext("md:editable", namespaces=NS) == "true"
        for governing in inherited.get(sobject, (sobject,)):
            assert allowed(governing, "Read"), name
            if editable:
                assert allowed(governing, "Edit"), name
        if field in ("Stripe_ID__c", "Stripe_Sync_Hash__c"):
            assert editable, name


def test_show_prints_counts_and_a_capped_list_of_orders(org: tuple[Path, SeedSummary]) -> None:
    console = Console(record=True, width=220)
    show(org[0], console, limit=5)
    text = console.export_text()
    assert "OrderItem" in text and "SBQQ__Quote__c" in text
    activated_and_drafts = org[1].orders - org[1].order_kinds["deleted"]
    assert f"and {activated_and_drafts - 5} more orders" in text
    assert "Stripe_ID__c" in text and "00000001" in text
