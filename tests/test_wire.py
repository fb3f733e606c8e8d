"""The plain-data encoding between sandbox and parent: exact round trips, opaque handles, refusals."""

from __future__ import annotations

import math

import pytest

from sparring.code import wire


def _opaque(value: object) -> dict:
    return {"o": [type(value).__name__, repr(value)[:20], 0, bool(value)]}


def _round(value: object) -> object:
    return wire.decode(wire.loads(wire.dumps(wire.encode(value, _opaque))), lambda fields: ("opaque", *fields))


def test_plain_values_round_trip_with_their_types() -> None:
    value = [1, (2, "x"), {3: {4}, (5, 6): frozenset({7})}, b"\x00\xff", bytearray(b"a"), None, True, 1.5, -0.0, 2**100, -(2**70), 3 + 4j]
    back = _round(value)
    assert back == value and [type(v) for v in back] == [type(v) for v in value]
    assert math.copysign(1.0, back[8]) == -1.0 and type(back[1]) is tuple
    assert _round(float("inf")) == float("inf") and math.isnan(_round(float("nan")))
    assert _round(range(1, 9, 2)) == range(1, 9, 2)


def test_views_and_iterators_keep_what_a_test_can_observe() -> None:
    d = {1: "a", 2: "b"}
    assert _round(d.keys()) == {1, 2} and list(_round(d.values())) == ["a", "b"] and _round(d.items()) == d.items()
    generated = _round(x * x for x in range(4))
    assert generated != [0, 1, 4, 9] and list(generated) == [0, 1, 4, 9]  # still an iterator, as in Python


def test_subclasses_cross_as_their_builtin_values_and_objects_as_handles() -> None:
    class Liar(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    assert type(_round(Liar(3))) is int and _round(Liar(3)) == 3 and _round(Liar(3)) != 4
    assert _round(object())[0] == "opaque" and _round([object()])[0][1] == "object"


def test_too_deep_too_many_and_malformed_are_refused() -> None:
    deep: list = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep, 1]
    with pytest.raises(wire.EncodeError):
        wire.encode(deep, _opaque)
    for bad in ({"l": 3}, {"zz": []}, {"F": "1e9"}, {"d": [[{"l": []}, 1]]}, {"s": [{"l": []}]}, {"r": [0, 1, 0]}, [1], {"a": 1, "b": 2}):
        with pytest.raises(wire.EncodeError):
            wire.decode(bad, lambda fields: fields)
    with pytest.raises(wire.EncodeError):
        wire.loads(b"[" * 100_000)
