"""The Stripe restricted-key permissions the README lists (its Security section's table), for the tests."""

from __future__ import annotations

import re
from pathlib import Path

from cpq_sync.sandbox.stripe.keys import Access

README = Path(__file__).resolve().parents[2] / "README.md"
_ROW = re.compile(r"^\|[^|]+\| `rak_(?P<resource>[a-z_]+)_(?P<access>read|write)` \| (?P<column>Read|Write) \|", re.M)


def readme_permissions() -> dict[str, Access]:
    """`{permission: access}` from the README's table (its permission column and its access column must agree)."""
    found: dict[str, Access] = {}
    for match in _ROW.finditer(README.read_text(encoding="utf-8")):
        access: Access = "write" if match["access"] == "write" else "read"
        assert match["column"].lower() == access, match.group(0)
        assert match["resource"] not in found, f"{match['resource']} listed twice in the README"
        found[match["resource"]] = access
    assert found, "the README's Security section lists no Stripe permission"
    return found
