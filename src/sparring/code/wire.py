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
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

MAX_DEPTH = 100  # nesting; deeper values are refused rather than recursed into
MAX_ITEMS = 4_000_000  # elements in one value (a generator is materialised up to this); HumanEval+ has 1M-element outputs
REPR_CHARS = 200
INT_INLINE = 2**63  # larger integers travel as hex: CPython caps int <-> decimal conversions at 4300 digits
MAX_INT_HEX = 1 << 21  # hex digits of one integer (8M bits; HumanEval+ has 3.3M-bit outputs), so that a test's arithmetic on it stays cheap
MEMORY_FACTOR = 32  # parsing a line never holds more than this many times its length (tests/code/test_wire.py)

_DICT_KEYS, _DICT_VALUES, _DICT_ITEMS = type({}.keys()), type({}.values()), type({}.items())
_JSON_SCALARS = (str, bool, type(None))


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
        if -INT_INLINE < number < INT_INLINE:
            return number
        if number.bit_length() > 4 * MAX_INT_HEX - 8:
            raise EncodeError(f"an integer over {4 * MAX_INT_HEX - 8} bits")
        return {"I": hex(number)}
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


MESSAGE_KEYS = frozenset({"id", "ok", "raise", "ready", "load_error", "op", "target", "args", "kwargs", "name"})
CROWD_LIMIT = 16  # distinct values sharing one hash in one container: more is refused (no benchmark value comes near)
_CHECK_EVERY = 1024  # decoded objects between two looks at the clock


class DecodeTimeout(EncodeError):
    """Decoding a reply ran past the caller's deadline: charged to the completion's timeout."""


def crowded(items: Any) -> bool:
    """Whether more than ``CROWD_LIMIT`` distinct hashable elements of ``items`` share one hash value.

    A set or dict costs time quadratic in the number of distinct keys that share a hash, and an
    integer's hash is its value modulo 2**61 - 1 (``i * (2**61 - 1)`` all hash to 0): a set, or a
    list that a test turns into one, of such keys would hold the parent's CPU for minutes with the
    GIL held. Counting hashes is linear (a Counter of ints, whose hashes are themselves); only a
    hash seen more than ``CROWD_LIMIT`` times has its values compared, each with at most
    ``CROWD_LIMIT`` others."""
    if len(items) <= CROWD_LIMIT:
        return False
    try:
        counts = Counter(map(hash, items))
    except TypeError:  # some element is unhashable (a list): only the hashable ones can meet in a set
        counts = Counter(map(_hash_or_none, items))
        counts.pop(None, None)
    heavy = {h for h, c in counts.items() if c > CROWD_LIMIT}
    del counts
    if not heavy:
        return False
    distinct: dict[int, set] = {}
    for value in items:  # only when some hash is frequent: a long list of equal values, or an attack
        h = _hash_or_none(value)
        if h in heavy:
            seen = distinct.setdefault(h, set())
            if value not in seen:  # compared with at most CROWD_LIMIT values of this hash
                seen.add(value)
                if len(seen) > CROWD_LIMIT:
                    return True
    return False


def _hash_or_none(value: Any) -> int | None:
    try:
        return hash(value)
    except TypeError:
        return None


_TAGS = frozenset({"I", "F", "b", "ba", "c", "r", "o", "l", "t", "s", "f", "dk", "dv", "it", "d", "di"})
_PARSER_MADE = frozenset({list, dict})
_CONTAINERS = frozenset({list, tuple, set, frozenset, dict, _DICT_KEYS, _DICT_VALUES, _DICT_ITEMS, type(iter([]))})


class _Decoder:
    """The ``object_pairs_hook`` that rebuilds plain values while ``json`` parses a line, bottom-up.

    Each tagged object becomes its value as soon as it is parsed (a list's JSON body *is* the
    list), so the parent holds the values and no second tree of JSON objects beside them. Every
    container made here is registered with its depth; a JSON array or object inside a value that
    is not an encoded value is refused, so the depth and the item count checked are the whole
    value's."""

    def __init__(self, opaque: Callable[[list], Any], deadline: float | None, max_items: int) -> None:
        self.opaque, self.deadline, self.items_left = opaque, deadline, max_items
        self.depth: dict[int, int] = {}  # id -> depth, of every list and dict made here and of other containers deeper than 1
        self.calls = 0

    def is_value(self, value: Any) -> bool:
        return type(value) not in _PARSER_MADE or id(value) in self.depth

    def _register(self, value: Any, children: Any) -> Any:
        """Record ``value``'s depth. Only a list or a dict can also be made by the JSON parser (a raw
        array, a message), so only those must be found here; any other container missing from
        ``depth`` was made here at depth 1. No registered object is dropped before the parse ends
        (duplicates are refused), so no id is reused."""
        depth = 1
        if any(map(_CONTAINERS.__contains__, map(type, children))):
            for child in children:
                kind = type(child)
                if kind in _CONTAINERS:
                    inner = self.depth.get(id(child))
                    if inner is None and kind in _PARSER_MADE:
                        raise EncodeError("a JSON array or object inside a value that is not an encoded value")
                    depth = max(depth, (inner or 1) + 1)
        if depth > MAX_DEPTH:
            raise EncodeError(f"nested deeper than {MAX_DEPTH}")
        if depth > 1 or type(value) in _PARSER_MADE:
            self.depth[id(value)] = depth
        return value

    def _take(self, count: int) -> None:
        self.items_left -= count
        if self.items_left < 0:
            raise EncodeError("more elements than the item budget")

    def __call__(self, pairs: list[tuple[str, Any]]) -> Any:
        self.calls += 1
        if self.deadline is not None and self.calls % _CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            raise DecodeTimeout("decoding ran past the deadline")
        if len(pairs) != 1 or pairs[0][0] not in _TAGS:
            if all(key in MESSAGE_KEYS for key, _ in pairs):
                return dict(pairs)  # a message: its values are checked by whoever reads it
            raise EncodeError("an object that is not an encoded value")
        tag, body = pairs[0]
        self._take(1)
        try:
            return self._value(tag, body)
        except EncodeError:
            raise
        except (TypeError, ValueError, OverflowError) as exc:  # unhashable set element, bad hex, range(step=0), ...
            raise EncodeError(f"bad '{tag}' value ({type(exc).__name__})") from None

    def _value(self, tag: str, body: Any) -> Any:
        if tag == "I":
            if type(body) is not str or len(body) > MAX_INT_HEX:
                raise EncodeError("bad big integer")
            return int(body, 16)
        if tag == "F":
            if body not in ("inf", "-inf", "nan"):
                raise EncodeError(f"bad float {str(body)[:20]!r}")
            return float(body)
        if tag in ("b", "ba"):
            if type(body) is not str:
                raise EncodeError(f"'{tag}' needs a hex string")
            raw = bytes.fromhex(body)
            return raw if tag == "b" else bytearray(raw)
        if type(body) is not list or not self._fresh(body):
            raise EncodeError(f"'{tag}' needs a list")
        if tag == "c":
            re, im = _numbers(body, 2, (int, float))
            return complex(float(re), float(im))
        if tag == "r":
            start, stop, step = _numbers(body, 3, (int,))
            return range(start, stop, step)
        if tag == "o":
            if any(type(f) in _CONTAINERS for f in body):
                raise EncodeError("bad handle")
            return self.opaque(body)
        self._take(len(body))
        if tag in ("d", "di"):  # a list of [key, value] pairs
            if not all(type(p) is list and len(p) == 2 and self._fresh(p) for p in body):
                raise EncodeError(f"'{tag}' needs a list of pairs")
            keys = [k for k, _ in body]
            if crowded(keys):
                raise EncodeError(f"more than {CROWD_LIMIT} distinct keys with one hash")
            mapping = dict(body)
            if len(mapping) != len(body):
                raise EncodeError(f"'{tag}' has a duplicate key")
            return self._register(mapping if tag == "d" else mapping.items(), [*keys, *(v for _, v in body)])
        if crowded(body):  # sets and dict keys are hashed here; lists, tuples and iterators by a test's set(f(x))
            raise EncodeError(f"more than {CROWD_LIMIT} distinct elements with one hash")
        if tag == "l":
            value: Any = body
        elif tag == "t":
            value = tuple(body)
        elif tag == "s":
            value = set(body)
        elif tag == "f":
            value = frozenset(body)
        elif tag == "dk":
            value = dict.fromkeys(body).keys()
        elif tag == "dv":
            value = dict(enumerate(body)).values()
        else:  # "it"
            value = iter(body)
        if tag in ("s", "f", "dk") and len(value) != len(body):
            raise EncodeError(f"'{tag}' has a duplicate element")
        return self._register(value, body)

    def _fresh(self, array: list) -> bool:
        """A JSON array the parser just made (a body), not a value an inner object already became."""
        return id(array) not in self.depth


def _numbers(body: list, count: int, types: tuple[type, ...]) -> list:
    if len(body) != count or not all(type(v) in types for v in body):
        raise EncodeError(f"needs {count} numbers")
    return body


def parse(line: bytes, opaque: Callable[[list], Any], deadline: float | None = None, max_items: int = MAX_ITEMS) -> Any:
    """The message one line holds, with every encoded value in it rebuilt as a plain value.

    ``opaque(fields)`` rebuilds an opaque handle. Time is linear in the line's length (``crowded``);
    memory is what the values take plus a transient of one JSON object at a time (at most
    ``MEMORY_FACTOR`` times the line, measured in ``tests/code/test_wire.py``). Raises ``EncodeError``
    on anything malformed, nested deeper than ``MAX_DEPTH`` or over ``max_items``, and
    ``DecodeTimeout`` once past ``deadline`` (``time.monotonic``), so that a reply the completion
    forged is a failed call, never an exception the parent did not expect. A message's ``ok`` is
    always a decoded value."""
    decoder = _Decoder(opaque, deadline, max_items)
    try:
        message = json.loads(line, object_pairs_hook=decoder)
    except EncodeError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:  # JSONDecodeError, UnicodeDecodeError, ...
        raise EncodeError(f"not a JSON line ({type(exc).__name__})") from None
    if type(message) is dict and "ok" in message and not decoder.is_value(message["ok"]):
        raise EncodeError("'ok' is not an encoded value")
    return message


def dumps(message: Any) -> bytes:
    """One message: a JSON line (JSON never puts a raw newline inside a line)."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode() + b"\n"
