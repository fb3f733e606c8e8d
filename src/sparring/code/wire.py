"""Plain data across the sandbox wall: the one encoding that values take between sandbox and parent.

A verdict is only as good as the values it compares. The sandbox never sends an object, only this
JSON-able description of one; the parent rebuilds plain builtins from it, so nothing the completion
defines (a forged ``__eq__``, a ``__bool__``, a ``__del__``) ever runs in the parent. What the
encoding keeps is what a test can observe of a plain value: the builtin type (``[1]`` is not
``(1,)``), every element, float bits (NaN, -0.0, infinities), big integers. Anything else (an
instance of a class the completion defined, a lambda) crosses as an *opaque handle*: its type name,
a capped repr, its truthiness and a number the sandbox keeps it under, so that a test may pass it
back (``area(Rect(2, 3))``) or call its methods, but never compare it as equal to a plain value.

A value that cannot be encoded is a failure of that call, not of the protocol. This module runs on
both sides and therefore uses the standard library only (the sandbox's interpreter has no sparring).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

MAX_DEPTH = 100  # nesting; deeper values are refused rather than recursed into
MAX_ITEMS = 4_000_000  # elements in one value (a generator is materialised up to this); HumanEval+ has 1M-element outputs
REPR_CHARS = 200
INT_INLINE = 2**63  # larger integers travel as hex: CPython caps int <-> decimal conversions at 4300 digits

_DICT_KEYS, _DICT_VALUES, _DICT_ITEMS = type({}.keys()), type({}.values()), type({}.items())
_JSON_SCALARS = (str, bool, type(None))
_DECODED_SCALARS = frozenset((str, bool, int, float, type(None)))


def _plain_scalar(v: Any) -> bool:
    """A value JSON carries as itself, exactly: the fast path for long lists (HumanEval+ has 1M-element outputs)."""
    t = type(v)
    return t in _JSON_SCALARS or (t is int and -INT_INLINE < v < INT_INLINE) or (t is float and math.isfinite(v))


class EncodeError(ValueError):
    """A value that has no plain-data form (too deep, too large, or an object the side cannot send)."""


def encode(value: Any, opaque: Callable[[Any], Any], depth: int = 0, budget: list[int] | None = None) -> Any:
    """The JSON-able form of ``value``; ``opaque(value)`` gives the form of anything that is not plain data."""
    budget = [MAX_ITEMS] if budget is None else budget
    if depth > MAX_DEPTH:
        raise EncodeError(f"nested deeper than {MAX_DEPTH}")
    budget[0] -= 1
    if budget[0] < 0:
        raise EncodeError(f"more than {MAX_ITEMS} elements")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, bool):  # a bool subclass cannot exist, but be exact
        return bool(value)
    if isinstance(value, int):
        number = int.__index__(value)
        return number if -INT_INLINE < number < INT_INLINE else {"I": hex(number)}
    if isinstance(value, float):
        number = float.__float__(value)
        return number if math.isfinite(number) else {"F": repr(number)}
    if isinstance(value, str):
        return str.__str__(value)

    def each(items: Any) -> list:
        return [encode(v, opaque, depth + 1, budget) for v in items]

    if isinstance(value, complex):
        return {"c": each((complex.__complex__(value).real, complex.__complex__(value).imag))}
    if isinstance(value, (list, tuple)):
        tag, items = ("l", list(list.__iter__(value))) if isinstance(value, list) else ("t", list(tuple.__iter__(value)))
        budget[0] -= len(items)
        if budget[0] < 0:
            raise EncodeError(f"more than {MAX_ITEMS} elements")
        if all(map(_plain_scalar, items)):
            return {tag: items}
        budget[0] += len(items)
        return {tag: each(items)}
    if isinstance(value, dict):
        return {"d": [[encode(k, opaque, depth + 1, budget), encode(v, opaque, depth + 1, budget)] for k, v in dict.items(value)]}
    if isinstance(value, frozenset):
        return {"f": each(frozenset.__iter__(value))}
    if isinstance(value, set):
        return {"s": each(set.__iter__(value))}
    if isinstance(value, bytes):
        return {"b": bytes(value).hex()}
    if isinstance(value, bytearray):
        return {"ba": bytes(value).hex()}
    if isinstance(value, range):
        return {"r": [value.start, value.stop, value.step]}
    if isinstance(value, _DICT_KEYS):
        return {"dk": each(value)}
    if isinstance(value, _DICT_VALUES):
        return {"dv": each(value)}
    if isinstance(value, _DICT_ITEMS):
        return {"di": [[encode(k, opaque, depth + 1, budget), encode(v, opaque, depth + 1, budget)] for k, v in value]}
    if isinstance(value, Iterator):  # generators, map, filter, zip, iter(...): what a test would get by iterating
        return {"it": each(value)}
    return opaque(value)


def decode(data: Any, opaque: Callable[[list], Any], depth: int = 0) -> Any:
    """The plain value ``data`` describes; ``opaque(fields)`` rebuilds an opaque handle.

    Raises ``EncodeError`` on anything malformed, so that a reply the completion forged is a failed
    call, never an exception the parent did not expect."""
    if depth > MAX_DEPTH:
        raise EncodeError(f"nested deeper than {MAX_DEPTH}")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if not isinstance(data, dict) or len(data) != 1:
        raise EncodeError(f"not an encoded value: {type(data).__name__}")
    ((tag, body),) = data.items()

    def each(items: Any) -> list:
        if not isinstance(items, list):
            raise EncodeError(f"'{tag}' needs a list")
        if all(type(v) in _DECODED_SCALARS for v in items):
            return list(items)
        return [decode(v, opaque, depth + 1) for v in items]

    def pairs(items: Any) -> list[tuple]:
        if not isinstance(items, list) or not all(isinstance(p, list) and len(p) == 2 for p in items):
            raise EncodeError(f"'{tag}' needs a list of pairs")
        return [(decode(k, opaque, depth + 1), decode(v, opaque, depth + 1)) for k, v in items]

    try:
        if tag == "I":
            return int(body, 16)
        if tag == "F":
            if body not in ("inf", "-inf", "nan"):
                raise EncodeError(f"bad float {body!r}")
            return float(body)
        if tag == "c":
            re, im = each(body)
            return complex(float(re), float(im))
        if tag == "l":
            return each(body)
        if tag == "t":
            return tuple(each(body))
        if tag == "s":
            return set(each(body))
        if tag == "f":
            return frozenset(each(body))
        if tag == "d":
            return dict(pairs(body))
        if tag in ("b", "ba"):
            raw = bytes.fromhex(body)
            return raw if tag == "b" else bytearray(raw)
        if tag == "r":
            start, stop, step = each(body)
            return range(start, stop, step)
        if tag == "dk":
            return dict.fromkeys(each(body)).keys()
        if tag == "dv":
            return dict(enumerate(each(body))).values()
        if tag == "di":
            return dict(pairs(body)).items()
        if tag == "it":
            return iter(each(body))
        if tag == "o":
            return opaque(body)
    except EncodeError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:  # unhashable set element, bad hex, range(step=0), ...
        raise EncodeError(f"bad '{tag}' value ({exc})") from None
    raise EncodeError(f"unknown tag {tag!r}")


def dumps(message: Any) -> bytes:
    """One message: a JSON line (JSON never puts a raw newline inside a line)."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def loads(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise EncodeError(f"not a JSON line ({type(exc).__name__})") from None
