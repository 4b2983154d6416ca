"""The bad-input catalogue, settings: malformed or hostile preferences, sync filters and mapping files, each with the
exact ConfigError the run stops with (CLI exit code 2) or, for a mapping entry the org or Stripe cannot take, the
exact problem the records needing it fail with."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cpq_sync.config import DEFAULT_MAPPINGS_DIR, load_preferences
from cpq_sync.errors import ConfigError
from cpq_sync.mapping.compile import compile_mappings
from cpq_sync.mapping.kinds import Kind
from cpq_sync.mapping.loader import load_mappings
from cpq_sync.salesforce.filters import SyncFilters

KNOWN = (
    "sync_start_date, filters, sync_record_retention, default_currency, api_usage_ceiling_percent, "
    "stripe_requests_per_second, stripe_concurrency, proration_precision, lookback_seconds, "
    "migrate_orders_before_start_date, live_sync_interval_seconds"
)
PREFERENCES: list[tuple[str, str, dict[str, str], str]] = [
    ("unknown_key", "colour: blue\n", {}, f"invalid sync preferences: colour: not a sync preference (known: {KNOWN})"),
    (
        "misspelt_key",
        "sync_start: 2024-01-01\n",
        {},
        "invalid sync preferences: sync_start: not a sync preference; did you mean sync_start_date?",
    ),
    (
        "not_a_number",
        "stripe_requests_per_second: fast\n",
        {},
        "invalid sync preferences: stripe_requests_per_second: Input should be a valid number, unable to parse "
        "string as a number",
    ),
    (
        "negative",
        "lookback_seconds: -5\n",
        {},
        "invalid sync preferences: lookback_seconds: Input should be greater than or equal to 0",
    ),
    ("bad_yaml", "filters: [a\n", {}, "line 2: not valid YAML: expected ',' or ']', but got '<stream end>'"),
    ("a_list", "- a\n- b\n", {}, "expected a mapping of preference names to values"),
    (
        "currency_name",
        "default_currency: dollars\n",
        {},
        "invalid sync preferences: default_currency: String should have at most 3 characters",
    ),
    (
        "unknown_choice",
        "proration_precision: day\n",
        {},
        "invalid sync preferences: proration_precision: Input should be 'month' or 'month+day'",
    ),
    (
        "env_override_out_of_range",
        "",
        {"CPQ_SYNC_STRIPE_CONCURRENCY": "1000"},
        "invalid sync preferences: stripe_concurrency: Input should be less than or equal to 64 (from "
        "CPQ_SYNC_STRIPE_CONCURRENCY)",
    ),
    (
        "filter_not_text",
        "filters:\n  Order: 5\n",
        {},
        "invalid sync preferences: filters.Order: Input should be a valid string",
    ),
    (
        "filters_not_per_object",
        "filters: \"Status = 'Activated'\"\n",
        {},
        "invalid sync preferences: filters: Input should be a valid dictionary",
    ),
    (
        "date_in_words",
        "sync_start_date: yesterday\n",
        {},
        "invalid sync preferences: sync_start_date: Input should be a valid date or datetime, input is too short",
    ),
]


@pytest.mark.parametrize(("text", "env", "message"), [c[1:] for c in PREFERENCES], ids=[c[0] for c in PREFERENCES])
def test_bad_preferences_stop_the_run_with_their_exact_message(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "preferences.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_preferences(tmp_path, env)
    separator = "" if message.startswith("line ") else " "
    assert str(err.value) == f"{path}:{separator}{message}".replace(":line", ", line")


def test_filters_from_the_environment_that_are_not_yaml_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_preferences(tmp_path, {"CPQ_SYNC_FILTERS": "{Order: [unclosed"})
    assert str(err.value) == "CPQ_SYNC_FILTERS, line 1: not valid YAML: expected ',' or ']', but got '<stream end>'"


INVALID = "the sync filter for Order is not a valid SOQL condition: "
REFUSED_FILTERS: list[tuple[str, str, str]] = [
    (
        "unbalanced_quote",
        "Status = 'Activated",
        "unexpected token: ''' in \"Status = 'Activated\" (a quote is not closed: strings are in single quotes, "
        "with \\' for a quote inside)",
    ),
    (
        "line_comment",
        "Status = 'Activated' -- and the rest",
        "unexpected token: '-' in \"Status = 'Activated' -- and the rest\" (no comments: -- and /* */ are not SOQL)",
    ),
    (
        "block_comment",
        "Status = 'Activated' /* OR Id != null */",
        "unexpected token: '/' in \"Status = 'Activated' /* OR Id != null */\" (no comments: -- and /* */ are not "
        "SOQL)",
    ),
    (
        "semicolon",
        "Status = 'Activated'; DELETE FROM Order",
        "unexpected token: ';' in \"Status = 'Activated'; DELETE FROM Order\" (a filter is one condition: no "
        "semicolon, no second statement)",
    ),
    (
        "closing_parenthesis",
        "Status = 'Activated') OR (Id != null",
        "unexpected token: ')' in \"Status = 'Activated') OR (Id != null\"",
    ),
    (
        "double_quotes",
        'Status = "Activated"',
        "unexpected token: '\"' in 'Status = \"Activated\"' (strings are in single quotes, not double quotes)",
    ),
    ("whole_query", "SELECT Id FROM Order", "unexpected token: 'SELECT' in 'SELECT Id FROM Order'"),
    (
        "union",
        "Status = 'Activated' UNION SELECT Id FROM User",
        "unexpected token: 'UNION' in \"Status = 'Activated' UNION SELECT Id FROM User\"",
    ),
    (
        "order_by",
        "Status = 'Activated' ORDER BY Id",
        "only a condition is allowed (no ORDER BY, LIMIT or OFFSET): \"Status = 'Activated' ORDER BY Id\"",
    ),
    (
        "limit",
        "Status = 'Activated' LIMIT 1",
        "only a condition is allowed (no ORDER BY, LIMIT or OFFSET): \"Status = 'Activated' LIMIT 1\"",
    ),
    (
        "subquery_with_limit",
        "Id IN (SELECT OrderId FROM OrderItem LIMIT 1)",
        "a subquery may only be SELECT one field FROM an object WHERE a condition: "
        "'Id IN (SELECT OrderId FROM OrderItem LIMIT 1)'",
    ),
    (
        "subquery_of_two_fields",
        "Id IN (SELECT OrderId, Id FROM OrderItem)",
        "a subquery may only be SELECT one field FROM an object WHERE a condition: "
        "'Id IN (SELECT OrderId, Id FROM OrderItem)'",
    ),
    ("dangling_and", "Status = 'Activated' AND", "unexpected token: '<EOF>' in \"Status = 'Activated' AND\""),
]


@pytest.mark.parametrize(("text", "problem"), [c[1:] for c in REFUSED_FILTERS], ids=[c[0] for c in REFUSED_FILTERS])
def test_a_filter_that_is_not_one_condition_is_refused(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        SyncFilters.from_preferences({"Order": text})
    assert str(err.value) == INVALID + problem


RENDERED_FILTERS: list[tuple[str, str, str]] = [
    ("or_stays_inside", "Status = 'Activated' OR Name != ''", "(Status = 'Activated') OR (Name != '')"),
    ("escaped_quote_stays_a_string", r"Name = 'x\' OR Id != null'", r"Name = 'x\' OR Id != null'"),
    (
        "semi_join",
        "Status = 'Activated' AND Id IN (SELECT OrderId FROM OrderItem WHERE Quantity > 0)",
        "(Status = 'Activated') AND (Id IN (SELECT OrderId FROM OrderItem WHERE Quantity > 0))",
    ),
    (
        "subquery_with_or",
        "Id IN (SELECT OrderId FROM OrderItem WHERE Quantity > 0 OR Quantity < 0) OR Name = 'x'",
        "(Id IN (SELECT OrderId FROM OrderItem WHERE (Quantity > 0) OR (Quantity < 0))) OR (Name = 'x')",
    ),
]


@pytest.mark.parametrize(("text", "rendered"), [c[1:] for c in RENDERED_FILTERS], ids=[c[0] for c in RENDERED_FILTERS])
def test_a_hostile_but_valid_condition_is_rendered_inside_its_parentheses(text: str, rendered: str) -> None:
    """What reaches the query is the parse tree rendered back; the extract puts it in parentheses ANDed with the
    sync's own conditions (tests/reliability/test_bad_input_catalogue.py runs one against the org)."""
    assert SyncFilters.from_preferences({"Order": text}).order == rendered


ORG: dict[str, list[dict[str, Any]]] = {
    "Order": [
        {"name": "Id"},
        {"name": "Status"},
        {"name": "AccountId", "relationshipName": "Account", "referenceTo": ["Account"]},
    ],
    "Account": [
        {"name": "Id"},
        {"name": "OwnerId", "relationshipName": "Owner", "referenceTo": ["User"]},
        *({"name": n} for n in ("Name", "Phone", "Description")),
        *(
            {"name": f"{p}{s}"}
            for p in ("Billing", "Shipping")
            for s in ("Street", "City", "State", "PostalCode", "Country")
        ),
    ],
    "OrderItem": [{"name": "OrderId"}, {"name": "Quantity"}],
    "User": [{"name": "Email"}],
}
OTHER_FIELDS = [{"name": n} for n in ("Id", "Name", "Description", "Name__c")]


def describe(sobject: str) -> dict[str, Any]:
    """A small org: what the default mappings and these cases read."""
    return {"fields": ORG.get(sobject, OTHER_FIELDS)}


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            {"Order": "Colour__c = 'red'"},
            "the sync filter for Order names a field the org does not have: Order has no field named Colour__c",
        ),
        (
            {"Order": "Account.Rating__c = 'Hot'"},
            "the sync filter for Order names a field the org does not have: Account has no field named Rating__c",
        ),
        (
            {"Account": "Owner.Manager.Email = 'x'"},
            "the sync filter for Account names a field the org does not have: User has no lookup named Manager",
        ),
        (
            {"Order": "Id IN (SELECT OrderId FROM OrderItem WHERE Discount__c > 0)"},
            "the sync filter for Order names a field the org does not have: OrderItem has no field named Discount__c",
        ),
        (
            {"Opportunity": "StageName = 'Closed Won'"},
            "sync filters are for Order, Account, Product2, PricebookEntry; unknown: Opportunity",
        ),
    ],
)
def test_a_filter_on_something_the_org_does_not_have_is_refused(filters: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        SyncFilters.from_preferences(filters, describe=describe)
    assert str(err.value) == message


def test_a_filter_on_fields_the_org_has_is_kept() -> None:
    filters = SyncFilters.from_preferences({"Account": "Owner.Email != null"}, describe=describe)
    assert filters.account == "Owner.Email != null"


def mapping_dir(tmp_path: Path, custom: str) -> Path:
    shutil.copy(DEFAULT_MAPPINGS_DIR / "default.yaml", tmp_path / "default.yaml")
    (tmp_path / "custom.yaml").write_text(custom, encoding="utf-8")
    return tmp_path


KINDS = ", ".join(k.value for k in Kind)
BAD_MAPPING_FILES: list[tuple[str, str, str]] = [
    (
        "bad_indentation",
        "field_mappings:\n  customer:\n    email: Owner.Email\n   phone: Phone\n",
        "custom.yaml, line 4: not valid YAML: expected <block end>, but found '<block mapping start>'",
    ),
    (
        "tab",
        "field_mappings:\n\tcustomer:\n    email: Owner.Email\n",
        "custom.yaml, line 2: not valid YAML: found character '\\t' that cannot start any token",
    ),
    (
        "unknown_section",
        "field_mapings:\n  customer:\n    email: Owner.Email\n",
        "custom.yaml, line 1: unknown section 'field_mapings'; expected field_defaults or field_mappings",
    ),
    (
        "defaults_outside_default_yaml",
        "default_mappings:\n  customer:\n    name: Name\n",
        "custom.yaml, line 1: unknown section 'default_mappings'; expected field_defaults or field_mappings",
    ),
    (
        "unknown_kind",
        "field_mappings:\n  client:\n    email: Owner.Email\n",
        f"custom.yaml, line 2: unknown Stripe object kind 'client'; expected one of {KINDS}",
    ),
    (
        "injected_stripe_path",
        "field_mappings:\n  customer:\n    'name; drop': Name\n",
        "custom.yaml, line 3: 'name; drop' is not a Stripe field path",
    ),
    (
        "injected_salesforce_path",
        'field_mappings:\n  customer:\n    email: "Name FROM Account; DELETE"\n',
        "custom.yaml, line 3: customer.email must map from a Salesforce field path such as Name or "
        "Account.Owner.Email (got 'Name FROM Account; DELETE')",
    ),
    (
        "list_instead_of_path",
        "field_mappings:\n  customer:\n    email: [Name]\n",
        "custom.yaml, line 3: customer.email must map from a Salesforce field path such as Name or "
        "Account.Owner.Email (got ['Name'])",
    ),
    (
        "metadata_key_with_brackets",
        "field_mappings:\n  customer:\n    metadata.a[b]: Name\n",
        "custom.yaml, line 3: 'metadata.a[b]' is not a Stripe field path",
    ),
    (
        "object_as_static_value",
        "field_defaults:\n  customer:\n    metadata.source: {a: 1}\n",
        "custom.yaml, line 3: the static value of customer.metadata.source must be a single value (string, number "
        "or boolean)",
    ),
    ("a_list_file", "- a\n- b\n", "custom.yaml, line 1: the file must be a mapping of keys to values"),
    (
        "kind_not_a_mapping",
        "field_mappings:\n  customer: Name\n",
        "custom.yaml, line 2: field_mappings.customer must be a mapping of keys to values",
    ),
    (
        "same_field_twice",
        "field_mappings:\n  customer:\n    email: Owner.Email\n    email: Owner.Name\n",
        "custom.yaml, line 4: customer.email is set twice in field_mappings (also line 3)",
    ),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in BAD_MAPPING_FILES], ids=[c[0] for c in BAD_MAPPING_FILES])
def test_a_malformed_mapping_file_stops_the_run_naming_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_mappings(mapping_dir(tmp_path, text))
    assert str(err.value) == message


def test_missing_default_mappings_stop_the_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_mappings(tmp_path)
    assert str(err.value) == f"{tmp_path / 'default.yaml'} is missing: it holds the default mappings every sync needs"


BROKEN_ENTRIES: list[tuple[str, str, str]] = [
    (
        "unknown_stripe_field",
        "field_mappings:\n  customer:\n    nickname: Name\n",
        "custom.yaml, line 3: customer.nickname is not a Stripe field for this API version (Received unknown "
        "parameter: nickname)",
    ),
    (
        "object_field",
        "field_mappings:\n  customer:\n    address: BillingStreet\n",
        "custom.yaml, line 3: Stripe field customer.address holds an object or a list; map each of its fields "
        "instead (e.g. address.city)",
    ),
    (
        "static_value_of_the_wrong_type",
        "field_defaults:\n  customer:\n    balance: lots\n",
        "custom.yaml, line 3: the static value 'lots' does not fit Stripe field customer.balance: expected a whole "
        "number or a date, got 'lots'",
    ),
    (
        "static_value_not_a_choice",
        "field_defaults:\n  customer:\n    tax_exempt: sometimes\n",
        "custom.yaml, line 3: the static value 'sometimes' does not fit Stripe field customer.tax_exempt: Invalid "
        "tax_exempt: must be one of exempt, none, or reverse",
    ),
    (
        "metadata_key_over_40",
        "field_mappings:\n  customer:\n    metadata.this_key_is_much_longer_than_forty_characters: Name\n",
        "custom.yaml, line 3: metadata key 'this_key_is_much_longer_than_forty_characters' of customer must be 1 to "
        "40 characters, no brackets",
    ),
    (
        "reserved_metadata_key",
        "field_mappings:\n  customer:\n    metadata.salesforce_account_id: Name\n",
        "custom.yaml, line 3: metadata key 'salesforce_account_id' of customer is reserved: the sync's own keys start "
        "with salesforce_ (they find its objects again after a crash)",
    ),
    (
        "over_40_metadata_keys",
        "field_defaults:\n  customer:\n" + "".join(f"    metadata.note_{n}: x\n" for n in range(41)),
        "custom.yaml, line 43: customer has 41 metadata keys mapped; Stripe holds 50 per object and the sync keeps 10 "
        "for its own, so at most 40 can be mapped",
    ),
    (
        "nonexistent_salesforce_field",
        "field_mappings:\n  customer:\n    email: Nope__c\n",
        "custom.yaml, line 3: customer.email maps from Account.Nope__c, which the org does not have (Account has no "
        "field named Nope__c)",
    ),
    (
        "nonexistent_lookup",
        "field_mappings:\n  customer:\n    email: Owner2.Email\n",
        "custom.yaml, line 3: customer.email maps from Account.Owner2.Email, which the org does not have (Account "
        "has no lookup named Owner2)",
    ),
    (
        "nonexistent_field_behind_a_lookup",
        "field_mappings:\n  customer:\n    email: Owner.Nope\n",
        "custom.yaml, line 3: customer.email maps from Account.Owner.Nope, which the org does not have (User has no "
        "field named Nope)",
    ),
]


@pytest.mark.parametrize(("text", "problem"), [c[1:] for c in BROKEN_ENTRIES], ids=[c[0] for c in BROKEN_ENTRIES])
def test_a_mapping_entry_stripe_or_the_org_cannot_take_breaks_only_its_kind(
    tmp_path: Path, text: str, problem: str
) -> None:
    """The run goes on: the records that need a customer fail with this problem (their Sync Records say it), the
    others sync; the field stays out of every query."""
    compiled = compile_mappings(load_mappings(mapping_dir(tmp_path, text)), describe=describe)
    assert {kind: str(error) for kind, error in compiled.broken.items()} == {Kind.CUSTOMER: problem}
