"""Mappings checked against the Stripe SDK's parameter types and the org's describe, before anything is written."""

import re
from pathlib import Path
from typing import Any

import pytest

from cpq_sync.config import DEFAULT_MAPPINGS_DIR
from cpq_sync.mapping.compile import compile_mappings
from cpq_sync.mapping.kinds import Kind
from cpq_sync.mapping.loader import load_mappings


def _mappings(tmp_path: Path, custom: str) -> Any:
    (tmp_path / "default.yaml").write_text((DEFAULT_MAPPINGS_DIR / "default.yaml").read_text())
    (tmp_path / "custom.yaml").write_text(custom)
    return load_mappings(tmp_path)


def test_defaults_compile_against_the_pinned_sdk() -> None:
    compiled = compile_mappings(load_mappings(DEFAULT_MAPPINGS_DIR))
    assert compiled.broken == {}
    quantity = next(e for e in compiled.entries(Kind.PHASE_ITEM) if e.entry.stripe_path == "quantity")
    assert quantity.coerce("3") == 3


@pytest.mark.parametrize(
    ("custom", "kind", "message"),
    [
        (
            "field_mappings:\n  customer:\n    emial: Name\n",
            Kind.CUSTOMER,
            r"custom\.yaml, line 3: customer\.emial is not a Stripe field for this API version "
            r"\(Received unknown parameter: emial\)",
        ),
        ("field_mappings:\n  phase:\n    iterations: Name\n", Kind.PHASE, r"phase\.iterations is not a Stripe field"),
        (
            "field_defaults:\n  subscription_schedule:\n    end_behavior: sometimes\n",
            Kind.SUBSCRIPTION_SCHEDULE,
            r"line 3: the static value 'sometimes' does not fit Stripe field subscription_schedule\.end_behavior",
        ),
        ("field_defaults:\n  phase_item:\n    quantity: 2.5\n", Kind.PHASE_ITEM, r"expected a whole number, got 2\.5"),
        ("field_mappings:\n  customer:\n    address: BillingCity\n", Kind.CUSTOMER, r"holds an object or a list"),
        (
            "field_defaults:\n  customer:\n    metadata.this_key_is_much_longer_than_forty_characters: x\n",
            Kind.CUSTOMER,
            r"metadata key .* must be 1 to 40 characters",
        ),
    ],
)
def test_stripe_side_problems_name_file_line_and_field(tmp_path: Path, custom: str, kind: Kind, message: str) -> None:
    compiled = compile_mappings(_mappings(tmp_path, custom))
    assert kind in compiled.broken
    # the message is what the user reads in the Sync Record and the log
    assert re.search(message, str(compiled.broken[kind])), str(compiled.broken[kind])
    assert all(k is kind for k in compiled.broken)


def _describe(sobject: str) -> dict[str, Any]:
    fields = {
        "Account": [
            {"name": "Name"},
            {"name": "OwnerId", "relationshipName": "Owner", "referenceTo": ["User"]},
            {"name": "Phone"},
            {"name": "Description"},
            *(
                {"name": f"{p}{s}"}
                for p in ("Billing", "Shipping")
                for s in ("Street", "City", "State", "PostalCode", "Country")
            ),
        ],
        "User": [{"name": "Email"}],
    }
    return {"fields": fields.get(sobject, [{"name": "Name"}, {"name": "Description"}, {"name": "Quantity"}])}


def test_salesforce_paths_follow_lookups_through_describe(tmp_path: Path) -> None:
    good = compile_mappings(_mappings(tmp_path, "field_mappings:\n  customer:\n    email: Owner.Email\n"), _describe)
    assert Kind.CUSTOMER not in good.broken
    bad = compile_mappings(_mappings(tmp_path, "field_mappings:\n  customer:\n    email: Owner.Emial\n"), _describe)
    assert str(bad.broken[Kind.CUSTOMER]) == (
        "custom.yaml, line 3: customer.email maps from Account.Owner.Emial, which the org does not have "
        "(User has no field named Emial)"
    )
    lookup = compile_mappings(_mappings(tmp_path, "field_mappings:\n  customer:\n    email: Boss.Email\n"), _describe)
    assert "Account has no lookup named Boss" in str(lookup.broken[Kind.CUSTOMER])
