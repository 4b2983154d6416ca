"""A strict checker of Stripe request parameters, built on the SDK's own TypedDicts (``stripe.params``).

The SDK pins one API version and ships a TypedDict per operation, nested all the way down. Walking them
rejects
unknown and removed keys at any depth (``phases[0][iterations]``, ``recurring[aggregate_usage]``, subscription
``coupon``) and values that do not parse as the declared type. Values are checked as they travel on the wire:
strings (``"12"`` for an int, ``"true"``/``"false"`` for a bool, ``"0.5"`` for a Decimal), dicts and lists, as
:func:`cpq_sync.sandbox.stripe.wire.decode` rebuilds them; native Python values (int, bool, Decimal) are
accepted
too, so the sync can check what it is about to send.

Open enums (typed ``Literal[...] | str`` so newer SDKs do not break) accept the values of the kept list
:data:`OPEN_ENUM_VALUES`, or else the SDK's literal values; currencies are checked against :data:`CURRENCIES`.

Routes map to TypedDicts by reading the SDK's generated services (``stripe/**/_*_service.py``), which name the
params type and the request path of every operation.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin

import stripe
from stripe._request_options import RequestOptions
from stripe._stripe_object import UntypedStripeObject
from typing_extensions import is_typeddict

__all__ = [
    "CURRENCIES",
    "OPEN_ENUM_VALUES",
    "ParamError",
    "check_params",
    "check_value",
    "field_type_at",
    "params_type",
    "typed_dict_hints",
]


class ParamError(Exception):
    """A parameter Stripe would reject; ``param`` names it as Stripe does (``phases[0][iterations]``)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


# The kept list of values accepted by the open enums the project uses (typed ``Literal[...] | str`` in the
# SDK,
# so the type alone accepts any string), by field name, as Stripe's API reference documents them for the
# pinned
# version. It may be narrower than the SDK's literals: schedules' ``end_behavior`` lists legacy ``none`` and
# ``renew`` in the SDK, the API reference only ``release`` and ``cancel``. Open enums not listed here accept
# the
# SDK's literal values.
OPEN_ENUM_VALUES: dict[str, frozenset[str]] = {
    "end_behavior": frozenset({"release", "cancel"}),
    "proration_behavior": frozenset({"always_invoice", "create_prorations", "none"}),
    "collection_method": frozenset({"charge_automatically", "send_invoice"}),
    "billing_scheme": frozenset({"per_unit", "tiered"}),
    "tiers_mode": frozenset({"graduated", "volume"}),
    "usage_type": frozenset({"licensed", "metered"}),
    "interval": frozenset({"day", "week", "month", "year"}),
    "round": frozenset({"up", "down"}),
    "tax_behavior": frozenset({"exclusive", "inclusive", "unspecified"}),
    "formula": frozenset({"sum", "count", "last"}),
    "duration": frozenset({"once", "repeating", "forever"}),
}

# Currencies Stripe supports (lowercase ISO codes) that the project may meet. Zero-decimal ones are marked in
# ``cpq_sync.sandbox.stripe.resources.money``.
CURRENCIES: frozenset[str] = frozenset(
    [
        "usd",
        "eur",
        "gbp",
        "cad",
        "aud",
        "nzd",
        "chf",
        "sek",
        "nok",
        "dkk",
        "pln",
        "czk",
        "huf",
        "ron",
        "bgn",
        "jpy",
        "krw",
        "cny",
        "hkd",
        "sgd",
        "inr",
        "brl",
        "mxn",
        "zar",
        "ils",
        "aed",
        "sar",
        "thb",
        "myr",
        "php",
        "idr",
        "twd",
        "try",
        "clp",
        "cop",
        "pen",
        "vnd",
        "isk",
    ]
)

_REQUEST_OPTION_KEYS = frozenset(RequestOptions.__annotations__)
_LOCALNS: dict[str, Any] = {
    "Mapping": typing.Mapping,
    "Any": typing.Any,
    "Optional": typing.Optional,
    "StripeContext": object,
}
_INT = re.compile(r"^-?\d+$")
_BRACKET = re.compile(r"\[|\]\[|\]")


# -- routes -> TypedDicts
_IMPORT = re.compile(r"from (stripe\.params[\w.]*) import \(?\s*(\w+)\s*,?\s*\)?")
_PARAMS_ARG = re.compile(r'params: (?:Optional\[)?"(\w+Params)"')
_REQUEST = re.compile(r'self\._request\(\s*"(\w+)",\s*"([^"]+)"')


@cache
def _route_table() -> dict[tuple[str, str], tuple[str, str]]:
    """``(METHOD, template) -> (module, class name)`` for every v1 operation of the SDK."""
    root = Path(stripe.__file__).parent
    table: dict[tuple[str, str], tuple[str, str]] = {}
    for service in root.rglob("_*_service.py"):
        text = service.read_text()
        imports = {name: module for module, name in _IMPORT.findall(text)}
        for chunk in text.split("\n    def ")[1:]:
            request = _REQUEST.search(chunk)
            if request is None:
                continue
            method, template = request.group(1).upper(), request.group(2)
            if not template.startswith("/v1/"):
                continue
            params = _PARAMS_ARG.search(chunk)
            if params is None or params.group(1) not in imports:
                continue
            table[(method, template)] = (imports[params.group(1)], params.group(1))
    return table


@cache
def _template_regexes() -> list[tuple[re.Pattern[str], int, str, str]]:
    out = []
    for method, template in _route_table():
        parts = template.strip("/").split("/")
        regex = "".join("/[^/]+" if p.startswith("{") else "/" + re.escape(p) for p in parts)
        literals = sum(1 for p in parts if not p.startswith("{"))
        out.append((re.compile(f"^{regex}$"), literals, method, template))
    out.sort(key=lambda item: -item[1])
    return out


def params_type(method: str, path: str) -> type | None:
    """The SDK's params TypedDict of an operation; ``path``: template or concrete."""
    method = method.upper()
    table = _route_table()
    entry = table.get((method, path))
    if entry is None:
        for regex, _, m, template in _template_regexes():
            if m == method and regex.match(path):
                entry = table[(m, template)]
                break
    if entry is None:
        return None
    module, name = entry
    found: type = getattr(import_module(module), name)
    return found


# -- TypedDict introspection
@cache
def typed_dict_hints(typed_dict: type) -> dict[str, Any]:
    """Field annotations of a params TypedDict (NotRequired unwrapped), without the SDK's request options."""
    module = sys.modules[typed_dict.__module__]
    hints = typing.get_type_hints(typed_dict, globalns=vars(module), localns=_LOCALNS, include_extras=True)
    top_level = RequestOptions in getattr(typed_dict, "__orig_bases__", ())
    return {
        name: _unwrap(annotation)
        for name, annotation in hints.items()
        if not (top_level and name in _REQUEST_OPTION_KEYS)
    }


@cache
def _required_keys(typed_dict: type) -> frozenset[str]:
    keys: frozenset[str] = getattr(typed_dict, "__required_keys__", frozenset())
    return frozenset(keys - _REQUEST_OPTION_KEYS)


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) in (NotRequired, Required):
        annotation = get_args(annotation)[0]
    return annotation


def _members(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        members = []
        for member in get_args(annotation):
            members.extend(_members(member))
        return [m for m in members if get_origin(m) is not UntypedStripeObject and m is not type(None)]
    return [annotation]


def _param(path: list[str | int]) -> str:
    if not path:
        return ""
    head, *rest = path
    return str(head) + "".join(f"[{p}]" for p in rest)


# -- checking values
def check_params(method: str, path: str, params: Mapping[str, Any], *, typed_dict: type | None = None) -> None:
    """Raise :class:`ParamError` for the first parameter Stripe would reject on ``METHOD path``.

    ``typed_dict`` overrides the SDK's params type of the route (a sandbox route without one passes its own).
    """
    if typed_dict is None:
        typed_dict = params_type(method, path)
    if typed_dict is None:
        for key in params:
            raise ParamError(key, f"Received unknown parameter: {key}")
        return
    _check_typed_dict(params, typed_dict, [])


def check_value(value: Any, annotation: Any, dotted_path: str) -> None:
    """Raise :class:`ParamError` if one value does not fit the annotation at ``dotted_path`` (open enums included)."""
    _check_value(value, annotation, list(dotted_path.split(".")))


def _check_typed_dict(value: Any, typed_dict: type, path: list[str | int]) -> None:
    if not isinstance(value, Mapping):
        raise ParamError(_param(path), "Invalid object")
    hints = typed_dict_hints(typed_dict)
    for key, item in value.items():
        if key not in hints:
            name = _param([*path, key])
            raise ParamError(name, f"Received unknown parameter: {name}")
        _check_value(item, hints[key], [*path, key])
    for key in sorted(_required_keys(typed_dict)):
        if key not in value:
            name = _param([*path, key])
            raise ParamError(name, f"Missing required param: {name}.")


def _shape(value: Any) -> str:
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return "scalar"


def _annotation_shape(annotation: Any) -> str:
    origin = get_origin(annotation)
    if is_typeddict(annotation) or origin in (dict, typing.Dict):  # noqa: UP006
        return "object"
    if origin in (list, typing.List):  # noqa: UP006
        return "array"
    return "scalar"


def _check_value(value: Any, annotation: Any, path: list[str | int]) -> None:
    members = _members(annotation)
    if len(members) > 1:
        literals = [m for m in members if get_origin(m) is Literal and get_args(m) != ("",)]
        if str in members and literals:
            _check_open_enum(value, literals, [m for m in members if m is not str and m not in literals], path)
            return
        matching: list[ParamError] = []
        others: list[ParamError] = []
        unset: list[ParamError] = []
        for member in members:
            try:
                _check_value(value, member, path)
                return
            except ParamError as err:
                if get_origin(member) is Literal and get_args(member) == ("",):
                    unset.append(err)
                elif _annotation_shape(member) == _shape(value):
                    matching.append(err)
                else:
                    others.append(err)
        raise (matching + others + unset)[0]
    _check_single(value, members[0], path)


def _check_open_enum(value: Any, literals: list[Any], others: list[Any], path: list[str | int]) -> None:
    for other in others:
        try:
            _check_value(value, other, path)
            return
        except ParamError:
            pass
    leaf = next((str(p) for p in reversed(path) if isinstance(p, str)), "")
    allowed = set(OPEN_ENUM_VALUES.get(leaf) or {str(v) for lit in literals for v in get_args(lit)})
    if not isinstance(value, str) or value not in allowed:
        raise ParamError(_param(path), f"Invalid {leaf}: must be one of {_one_of(sorted(allowed))}")


def _one_of(values: list[str]) -> str:
    shown = [v for v in values if v != ""]
    if len(shown) <= 1:
        return "".join(shown)
    if len(shown) == 2:
        return f"{shown[0]} or {shown[1]}"
    return ", ".join(shown[:-1]) + f", or {shown[-1]}"


def _check_single(value: Any, annotation: Any, path: list[str | int]) -> None:
    name = _param(path)
    origin = get_origin(annotation)
    if annotation is Any or annotation is object:
        return
    if is_typeddict(annotation):
        _check_typed_dict(value, annotation, path)
        return
    if origin is Literal:
        allowed = [str(v).lower() if isinstance(v, bool) else str(v) for v in get_args(annotation)]
        shown = str(value).lower() if isinstance(value, bool) else value
        if not isinstance(shown, str) or shown not in allowed:
            leaf = next((str(p) for p in reversed(path) if isinstance(p, str)), "")
            raise ParamError(name, f"Invalid {leaf}: must be one of {_one_of(allowed)}")
        return
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, (list, tuple)):
            raise ParamError(name, "Invalid array")
        (item_type,) = get_args(annotation) or (Any,)
        for i, item in enumerate(value):
            _check_value(item, item_type, [*path, i])
        return
    if origin in (dict, typing.Dict):  # noqa: UP006
        if not isinstance(value, Mapping):
            raise ParamError(name, "Invalid object")
        args = get_args(annotation)
        value_type = args[1] if len(args) == 2 else Any
        currency_keys = path and path[-1] == "currency_options"
        for key, item in value.items():
            if currency_keys and str(key) not in CURRENCIES:
                raise ParamError(_param([*path, key]), f"Invalid currency: {key}")
            _check_value(item, value_type, [*path, key])
        return
    if isinstance(value, (Mapping, list, tuple)):
        raise ParamError(name, f"Invalid {_scalar_name(annotation)}")
    _check_scalar(value, annotation, path)


def _scalar_name(annotation: Any) -> str:
    return {int: "integer", bool: "boolean", float: "number", Decimal: "decimal", str: "string"}.get(
        annotation, "value"
    )


def _check_scalar(value: Any, annotation: Any, path: list[str | int]) -> None:
    name = _param(path)
    leaf = str(path[-1]) if path else ""
    if annotation is bool:
        if not (isinstance(value, bool) or value in ("true", "false")):
            raise ParamError(name, f"Invalid boolean: {value}")
    elif annotation is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and _INT.match(value))):
            raise ParamError(name, f"Invalid integer: {value}")
    elif annotation is float:
        try:
            float(value)
        except (TypeError, ValueError):
            raise ParamError(name, f"Invalid number: {value}") from None
    elif annotation is Decimal or (annotation is str and leaf.endswith("_decimal")):
        _check_decimal(value, name)
    elif annotation is str:
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise ParamError(name, "Invalid string")
        if leaf == "currency" and str(value).lower() not in CURRENCIES:
            raise ParamError(name, f"Invalid currency: {value}")


def _check_decimal(value: Any, name: str) -> None:
    if isinstance(value, bool):
        raise ParamError(name, f"Invalid decimal: {value}")
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        raise ParamError(name, f"Invalid decimal: {value}") from None
    if not parsed.is_finite():
        raise ParamError(name, f"Invalid decimal: {value}")
    exponent = parsed.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -12:
        raise ParamError(name, "Invalid decimal: at most 12 decimal places are allowed")


# -- paths into the types (the sync's mapping validation)
def field_type_at(typed_dict: type, dotted_path: str) -> object:
    """The annotation at ``dotted_path`` (``phases.items.quantity``: lists need no index; ``metadata.<any>``).

    Raises :class:`ParamError` naming the first unknown segment (in Stripe's bracket form).
    """
    segments = [s for s in dotted_path.split(".") if s]
    if not segments:
        raise ParamError("", "Empty parameter path")
    current: Any = typed_dict
    walked: list[str | int] = []
    for segment in segments:
        container = _descend_container(current)
        walked.append(segment)
        if container is None:
            name = _param(walked)
            raise ParamError(name, f"Received unknown parameter: {name}")
        if is_typeddict(container):
            hints = typed_dict_hints(container)
            if segment not in hints:
                name = _param(walked)
                raise ParamError(name, f"Received unknown parameter: {name}")
            current = hints[segment]
        else:  # Dict[str, X]: any key
            args = get_args(container)
            current = args[1] if len(args) == 2 else Any
    return current


def _descend_container(annotation: Any) -> Any:
    """The TypedDict or Dict reachable from an annotation (through Union members and lists), or None."""
    for member in _members(annotation):
        origin = get_origin(member)
        if is_typeddict(member) or origin in (dict, typing.Dict):  # noqa: UP006
            return member
        if origin in (list, typing.List):  # noqa: UP006
            inner = _descend_container(get_args(member)[0])
            if inner is not None:
                return inner
    return None
