"""The product's text guard reads Stripe's limits from the table the sandbox enforces (cpq_sync/stripe/limits.py):
a mapped value one character over a field's limit fails its record naming the field, a value at the limit passes."""

from __future__ import annotations

import pytest

from cpq_sync.errors import DataError
from cpq_sync.mapping.apply import apply_mappings, compile_entries
from cpq_sync.mapping.kinds import Kind
from cpq_sync.mapping.loader import MappingEntry

CASES = [
    (Kind.CUSTOMER, "name", 256),
    (Kind.CUSTOMER, "phone", 20),
    (Kind.CUSTOMER, "address.line1", 5000),
    (Kind.PRODUCT, "statement_descriptor", 22),
    (Kind.PRODUCT, "description", 40_000),
    (Kind.PRICE, "lookup_key", 200),
    (Kind.PRICE, "nickname", 5000),
    (Kind.COUPON, "name", 40),
    (Kind.SUBSCRIPTION, "description", 500),
    (Kind.PHASE, "description", 500),
    (Kind.INVOICE, "footer", 5000),
]


def apply(kind: Kind, stripe_path: str, value: str) -> dict[str, object]:
    entry = MappingEntry("field_mappings", kind, stripe_path, "custom.yaml", 3, value=value)
    return apply_mappings({}, compile_entries([entry]), {}, object_type="Order", record_id="801000000000001AAA")


@pytest.mark.parametrize(("kind", "stripe_path", "limit"), CASES, ids=[f"{k.value}.{p}" for k, p, _ in CASES])
def test_one_character_over_stripes_limit_fails_the_record(kind: Kind, stripe_path: str, limit: int) -> None:
    with pytest.raises(DataError) as err:
        apply(kind, stripe_path, "x" * (limit + 1))
    assert f"cannot be mapped to Stripe {kind.value}.{stripe_path}" in err.value.message
    assert f"Stripe allows at most {limit}." in err.value.message


@pytest.mark.parametrize(("kind", "stripe_path", "limit"), CASES, ids=[f"{k.value}.{p}" for k, p, _ in CASES])
def test_a_value_at_stripes_limit_is_sent(kind: Kind, stripe_path: str, limit: int) -> None:
    params = apply(kind, stripe_path, "x" * limit)
    node: object = params
    for part in stripe_path.split("."):
        assert isinstance(node, dict)
        node = node[part]
    assert node == "x" * limit
