"""Salesforce record ids: 15-character case-sensitive ids and their 18-character case-safe form.

An id is the object's 3-character key prefix, then 12 base-62 characters; the 18-character form appends
the real checksum: for each 5-character chunk, a bit per upper-case letter, mapped onto ``A-Z0-5``.
"""

from __future__ import annotations

import functools
import re

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[0-9A-Za-z]{15}(?:[A-Z0-5]{3})?$")
#: The "pod" characters after the key prefix (real ids carry the instance there, e.g. ``5g``).
POD = "5g"
ID_LENGTH = 18


@functools.lru_cache(maxsize=1 << 14)
def _chunk(chars: str) -> str:
    bits = 0
    for i, ch in enumerate(chars):
        if "A" <= ch <= "Z":
            bits |= 1 << i
    return _SUFFIX[bits]


def checksum(id15: str) -> str:
    """The 3-character case-safe suffix of a 15-character id."""
    return _chunk(id15[0:5]) + _chunk(id15[5:10]) + _chunk(id15[10:15])


def to_18(value: str) -> str:
    """The 18-character form of a 15- or 18-character id (raises ValueError when malformed)."""
    if not _ID_RE.match(value):
        raise ValueError(f"malformed id: {value!r}")
    id15 = value[:15]
    full = id15 + checksum(id15)
    # A wrong suffix (ignoring case) means the id was mangled.
    if len(value) == 18 and value[15:].upper() != full[15:]:
        raise ValueError(f"malformed id: {value!r}")
    return full


def is_valid(value: object) -> bool:
    """True for a well-formed 15- or 18-character id."""
    if not isinstance(value, str):
        return False
    try:
        to_18(value)
    except ValueError:
        return False
    return True


def base62(n: int, width: int) -> str:
    """``n`` in base 62, left-padded with zeros to ``width`` characters."""
    digits = []
    while n:
        n, r = divmod(n, 62)
        digits.append(_BASE62[r])
    text = "".join(reversed(digits)) or "0"
    if len(text) > width:
        raise OverflowError(f"{n} does not fit in {width} base-62 characters")
    return text.rjust(width, "0")


def make_id(key_prefix: str, number: int) -> str:
    """The 18-character id of record ``number`` of the object with ``key_prefix``."""
    if len(key_prefix) != 3:
        raise ValueError(f"key prefix must have 3 characters: {key_prefix!r}")
    id15 = key_prefix + POD + base62(number, 10)
    return id15 + checksum(id15)
