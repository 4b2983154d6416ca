"""Stripe-shaped identifiers: a prefix and a random base62 tail (``cus_``, ``price_``, ``req_``...)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """A new id such as ``cus_Qx7...`` (Stripe's ids are a prefix, an underscore and a random tail)."""
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(length))
    return f"{prefix}_{tail}"


def new_request_id() -> str:
    return new_id("req", 14)
