"""Sync filters are parsed and re-rendered, never pasted: injection attempts are refused or stay inside their
parentheses."""

import pytest

from cpq_sync.errors import ConfigError
from cpq_sync.salesforce.filters import SyncFilters


def test_default_filter_renders_as_itself() -> None:
    assert SyncFilters.from_preferences({"Order": "Status = 'Activated'"}).order == "Status = 'Activated'"


def test_or_stays_inside_its_own_parentheses() -> None:
    rendered = SyncFilters.from_preferences({"Order": "Status = 'Activated' OR Name != ''"}).order
    assert rendered == "(Status = 'Activated') OR (Name != '')"


def test_quotes_are_re_escaped_from_the_parsed_value() -> None:
    rendered = SyncFilters.from_preferences({"Account": r"Name = 'O\'Brien'"}).account
    assert rendered == r"Name = 'O\'Brien'"


@pytest.mark.parametrize(
    "text",
    [
        "Status = 'Activated'; DELETE FROM Order",
        "Status = 'Activated' -- comment",
        "Status = 'Activated' /* x */",
        "Status = 'Activated",
        "Status = 'Activated') OR (Id != null",
        "Status = 'Activated' ORDER BY Id",
        "Status = 'Activated' LIMIT 1",
        "",
    ],
)
def test_anything_but_a_condition_is_refused(text: str) -> None:
    if not text:
        assert SyncFilters.from_preferences({"Order": text}).order is None
        return
    with pytest.raises(ConfigError, match="the sync filter for Order is not a valid SOQL condition"):
        SyncFilters.from_preferences({"Order": text})


def test_unknown_filtered_object_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown: Opportunity"):
        SyncFilters.from_preferences({"Opportunity": "Name = 'x'"})
