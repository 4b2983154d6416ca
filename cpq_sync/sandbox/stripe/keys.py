"""API keys of the sandbox account: its own secret key, and the keys registered with ``add_api_key``.

As at Stripe, every request is authenticated first: a missing or unknown key answers 401 (the message shows the
key masked), and a restricted key (``rk_test_...``) may only use the resources it was granted, ``read`` (GET) or
``write`` (POST and DELETE; write includes read), else 403 naming the permission that would allow the request.
The account stores a hash of each key (and its masked form), never the key itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from cpq_sync.sandbox.stripe.errors import StripeError
from cpq_sync.sandbox.stripe.store import Store

SANDBOX_KEY = "sk_test_sandbox"
ACCOUNT_ID = "acct_1SandboxCpqSync"
Access = Literal["read", "write"]
_STATE = "api_keys"

# The first path segment(s) of an endpoint -> the restricted-key permission covering it. Stripe still names the
# Prices permission after the older Plans (rak_plan_read / rak_plan_write).
RESOURCE_PERMISSIONS: dict[str, str] = {
    "billing/meters": "billing_meter",
    "coupons": "coupon",
    "customers": "customer",
    "invoiceitems": "invoice_item",
    "invoices": "invoice",
    "prices": "plan",
    "products": "product",
    "subscription_items": "subscription",
    "subscription_schedules": "subscription_schedule",
    "subscriptions": "subscription",
}
PERMISSIONS = frozenset(RESOURCE_PERMISSIONS.values())


def masked(key: str) -> str:
    """A key as Stripe's messages show it: its prefix, then stars, then its last four characters."""
    head, _, rest = key.rpartition("_")
    return f"{head}_{'*' * max(len(rest) - 4, 0)}{rest[-4:]}"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_api_key(directory: str | Path, key: str, permissions: Mapping[str, Access] | None = None) -> None:
    """Let ``key`` use the account: a secret key (``sk_test_...``, every resource, ``permissions=None``) or a
    restricted key (``rk_test_...``) with ``{permission: "read" | "write"}`` (permission names as in
    ``RESOURCE_PERMISSIONS``: ``customer``, ``plan``, ...). Live-mode keys are refused: this is a test account."""
    if key.startswith(("sk_live_", "rk_live_")):
        raise ValueError("the sandbox is a test-mode account: it takes test keys (sk_test_..., rk_test_...) only")
    if key.startswith("sk_test_"):
        if permissions is not None:
            raise ValueError("a secret key (sk_test_...) has every permission; restrict with an rk_test_ key")
        grants = None
    elif key.startswith("rk_test_"):
        if permissions is None:
            raise ValueError("a restricted key (rk_test_...) needs its permissions")
        unknown = sorted(set(permissions) - PERMISSIONS)
        if unknown:
            raise ValueError(f"unknown permissions {unknown}; known: {sorted(PERMISSIONS)}")
        bad = sorted(p for p, access in permissions.items() if access not in ("read", "write"))
        if bad:
            raise ValueError(f"permissions {bad}: access must be 'read' or 'write'")
        grants = dict(permissions)
    else:
        raise ValueError("a Stripe API key starts with sk_test_ or rk_test_")
    store = Store(directory)
    keys = dict(store.get_state(_STATE) or {})
    keys[_digest(key)] = {"masked": masked(key), "permissions": grants}
    store.set_state(_STATE, keys)


def required_permission(method: str, path: str) -> str | None:
    """``rak_<resource>_<read|write>`` for a request (None for a path no permission covers)."""
    rest = path.removeprefix("/v1/")
    for prefix, permission in RESOURCE_PERMISSIONS.items():
        if rest == prefix or rest.startswith(prefix + "/"):
            return f"rak_{permission}_{'read' if method.upper() == 'GET' else 'write'}"
    return None


def authorize(store: Store, method: str, path: str, authorization: str | None) -> None:
    """Raises the error Stripe answers for this key and request (401 or 403); returns when it is allowed."""
    key = authorization[7:].strip() if authorization and authorization.startswith("Bearer ") else ""
    if not key:
        raise StripeError(
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            status=401,
        )
    if key == SANDBOX_KEY:
        return
    entry = (store.get_state(_STATE) or {}).get(_digest(key))
    if entry is None:
        raise StripeError(f"Invalid API Key provided: {masked(key)}", status=401)
    grants: dict[str, str] | None = entry["permissions"]
    if grants is None:
        return
    needed = required_permission(method, path)
    if needed is not None:
        resource, access = needed.removeprefix("rak_").rsplit("_", 1)
        granted = grants.get(resource)
        if granted == "write" or granted == access:
            return
    raise StripeError(
        f"The provided key '{entry['masked']}' does not have the required permissions for this endpoint on "
        f"account '{ACCOUNT_ID}'. Having the '{needed or 'rak_unknown'}' permission would allow this request "
        "to continue.",
        status=403,
    )
