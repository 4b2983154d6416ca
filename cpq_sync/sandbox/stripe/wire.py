"""Decoding the SDK's form encoding back into nested values, and reading the decoded strings.

The SDK sends ``a[b][0][c]=v`` (query string for GET/DELETE, form body for POST). :func:`decode` rebuilds
``{"a": {"b": [{"c": "v"}]}}``. Values stay strings, exactly as on the wire: the strict checker validates that
each
string parses as the declared type, and handlers convert with :func:`to_int`, :func:`to_bool`,
:func:`to_decimal`.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from cpq_sync.sandbox.stripe.errors import invalid_request

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")

# Under these keys, digit keys are map keys, not list indexes.
_MAP_KEYS = frozenset({"metadata"})


def decode(encoded: str) -> dict[str, Any]:
    """``"a[b][0][c]=v&e="`` -> ``{"a": {"b": [{"c": "v"}]}, "e": ""}``."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(encoded, keep_blank_values=True):
        match = _KEY.match(key)
        if match is None:
            raise invalid_request(f"Invalid parameter name: {key}", param=key)
        segments = [match.group(1), *_SEGMENT.findall(match.group(2))]
        node: dict[str, Any] = root
        for i, segment in enumerate(segments):
            last = i == len(segments) - 1
            name = segment
            if name == "":  # "expand[]=x": append
                name = str(sum(1 for k in node if k.isdigit()))
            if last:
                if name in node and isinstance(node[name], dict):
                    raise invalid_request(f"Invalid parameter: {key} is both a value and an object", param=key)
                node[name] = value
            else:
                child = node.get(name)
                if child is None:
                    child = {}
                    node[name] = child
                elif not isinstance(child, dict):
                    raise invalid_request(f"Invalid parameter: {key} is both a value and an object", param=key)
                node = child
    decoded: dict[str, Any] = _listify(root, parent_key=None)
    return decoded


def _listify(node: dict[str, Any], parent_key: str | None) -> Any:
    converted = {k: (_listify(v, parent_key=k) if isinstance(v, dict) else v) for k, v in node.items()}
    if (
        converted
        and parent_key not in _MAP_KEYS
        and all(k.isdigit() for k in converted)
        and sorted(int(k) for k in converted) == list(range(len(converted)))
    ):
        return [converted[str(i)] for i in range(len(converted))]
    return converted


def to_int(value: Any, param: str = "") -> int:
    try:
        return int(str(value))
    except ValueError:
        raise invalid_request(f"Invalid integer: {value}", param=param) from None


def to_bool(value: Any, param: str = "") -> bool:
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise invalid_request(f"Invalid boolean: {value}", param=param)


def to_decimal(value: Any, param: str = "") -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise invalid_request(f"Invalid decimal: {value}", param=param) from None
    if not result.is_finite():
        raise invalid_request(f"Invalid decimal: {value}", param=param)
    return result


def bracketed(path: list[str | int]) -> str:
    """``["phases", 0, "iterations"]`` -> ``"phases[0][iterations]"`` (how Stripe names nested params)."""
    if not path:
        return ""
    head, *rest = path
    return str(head) + "".join(f"[{p}]" for p in rest)
