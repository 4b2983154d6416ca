"""Mapping files: structure errors name the file and the line."""

from pathlib import Path

import pytest

from cpq_sync.config import DEFAULT_MAPPINGS_DIR
from cpq_sync.errors import ConfigError
from cpq_sync.mapping.kinds import Kind
from cpq_sync.mapping.loader import load_mappings, normalise_salesforce_path


def _dir(tmp_path: Path, custom: str) -> Path:
    (tmp_path / "default.yaml").write_text((DEFAULT_MAPPINGS_DIR / "default.yaml").read_text())
    (tmp_path / "custom.yaml").write_text(custom)
    return tmp_path


def test_defaults_then_field_defaults_then_custom_mappings(tmp_path: Path) -> None:
    mappings = load_mappings(
        _dir(
            tmp_path,
            "field_mappings:\n  customer:\n    name: Legal_Name__c\n"
            "field_defaults:\n  customer:\n    metadata.source: Salesforce\n",
        )
    )
    sections = [(e.section, e.stripe_path) for e in mappings.for_kind(Kind.CUSTOMER)]
    assert sections[0] == ("default_mappings", "name")
    assert sections[-2:] == [("field_defaults", "metadata.source"), ("field_mappings", "name")]
    assert "Legal_Name__c" in mappings.salesforce_paths(Kind.CUSTOMER)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("field_mappings:\n  customer:\n    email: [a, b]\n", r"custom\.yaml, line 3: customer\.email must map from"),
        (
            "field_mappings:\n  custmer:\n    email: Email__c\n",
            r"custom\.yaml, line 2: unknown Stripe object kind 'custmer'",
        ),
        ("field_mapings:\n  customer: {}\n", r"custom\.yaml, line 1: unknown section 'field_mapings'"),
        (
            "field_mappings:\n  customer:\n    email: Owner.Email\n   bad: [\n",
            r"custom\.yaml, line \d+: not valid YAML",
        ),
        ("field_defaults:\n  customer:\n    metadata.x: {a: 1}\n", r"custom\.yaml, line 3: the static value"),
        (
            "field_mappings:\n  customer:\n    'email; DROP': Name\n",
            r"custom\.yaml, line 3: .* is not a Stripe field path",
        ),
    ],
)
def test_malformed_mapping_files_name_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_mappings(_dir(tmp_path, text))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("SBQQ__Quote__c.SBQQ__StartDate__c", "SBQQ__Quote__r.SBQQ__StartDate__c"),
        ("Product2Id.Name", "Product2.Name"),
        ("Account.Owner.Email", "Account.Owner.Email"),
        ("Name", "Name"),
    ],
)
def test_connector_style_lookup_paths_become_relationship_paths(path: str, expected: str) -> None:
    assert normalise_salesforce_path(path) == expected
