"""The plain-data encoding between sandbox and parent: exact round trips, opaque handles, refusals,
and the parent's cost of a reply: linear time, bounded memory, whatever the completion sends."""

from __future__ import annotations

import json
import math
import time
import tracemalloc

import pytest

from sparring.code import wire


def _opaque(value: object) -> dict:
    return {"o": [type(value).__name__, repr(value)[:20], 0, bool(value)]}


class Handle:
    def __init__(self, fields: list) -> None:
        self.fields = fields


def _parse_value(encoded: object) -> object:
    return wire.parse(wire.dumps({"id": 0, "ok": encoded}), Handle)["ok"]


def _round(value: object) -> object:
    return _parse_value(wire.encode(value, _opaque))


def test_plain_values_round_trip_with_their_types() -> None:
    value = [1, (2, "x"), {3: {4}, (5, 6): frozenset({7})}, b"\x00\xff", bytearray(b"a"), None, True, 1.5, -0.0, 2**100, -(2**70), 3 + 4j]
    back = _round(value)
    assert back == value and [type(v) for v in back] == [type(v) for v in value]
    assert math.copysign(1.0, back[8]) == -1.0 and type(back[1]) is tuple
    assert _round(float("inf")) == float("inf") and math.isnan(_round(float("nan")))
    assert _round(range(1, 9, 2)) == range(1, 9, 2)
    assert _round([[[]], ([],)]) == [[[]], ([],)]


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
    handle = _round([object()])[0]
    assert isinstance(handle, Handle) and handle.fields[0] == "object"


def test_too_deep_too_many_and_malformed_are_refused() -> None:
    deep: list = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep, 1]
    with pytest.raises(wire.EncodeError):
        wire.encode(deep, _opaque)
    forged_deep: object = {"l": []}
    for _ in range(wire.MAX_DEPTH + 5):
        forged_deep = {"l": [forged_deep]}
    bad_values = [
        {"l": 3}, {"zz": []}, {"F": "1e9"}, {"d": [[{"l": []}, 1]]}, {"s": [{"l": []}]}, {"r": [0, 1, 0]}, [1], {"a": 1, "b": 2},
        {"l": [[1, 2]]},  # a raw JSON array inside a value is not an encoded value
        {"d": [[1, 2], [1, 3]]}, {"s": [1, 1]},  # duplicates no real set or dict has
        {"I": "0x" + "f" * (wire.MAX_INT_HEX + 1)}, {"I": 5}, {"c": [{"l": []}, 1]}, {"o": [[1], "x", 0, True]},
        {"l": [{"id": 1}]}, forged_deep,
    ]  # fmt: skip
    for bad in bad_values:
        with pytest.raises(wire.EncodeError):
            _parse_value(bad)
    for line in (b"[" * 100_000, b'{"id": 0, "ok": ' + b"9" * 5000 + b"}", b"\xff\xfe", b"{"):
        with pytest.raises(wire.EncodeError):
            wire.parse(line, Handle)
    with pytest.raises(wire.EncodeError):
        wire.encode(2 ** (4 * wire.MAX_INT_HEX), _opaque)
    with pytest.raises(wire.EncodeError):
        wire.parse(wire.dumps({"id": 0, "ok": {"l": list(range(50))}}), Handle, max_items=10)


P = 2**61 - 1  # CPython hashes an integer to its value modulo this prime


def test_colliding_hashes_are_refused_in_linear_time_and_equal_values_are_not() -> None:
    """i * P all hash to 0: a set of 200,000 of them would take the parent minutes (quadratic)."""
    n = 200_000
    colliding = [{"I": hex(i * P)} for i in range(1, n)]
    for tag in ("s", "l", "t", "f", "dk", "it"):
        start = time.perf_counter()
        with pytest.raises(wire.EncodeError, match="one hash"):
            _parse_value({tag: colliding})
        assert time.perf_counter() - start < 5.0
    with pytest.raises(wire.EncodeError, match="one hash"):
        _parse_value({"d": [[k, 0] for k in colliding]})
    tuples = [{"t": [{"I": hex(i * P)}, 0]} for i in range(1, 1000)]  # tuples whose hashes collide through their elements
    with pytest.raises(wire.EncodeError, match="one hash"):
        _parse_value({"l": tuples})
    # controls: many equal values, a few colliding ones, and a long list of ordinary values all cross
    assert len(_parse_value({"l": [{"I": hex(P)}] * n})) == n
    assert len(_parse_value({"s": [{"I": hex(i * P)} for i in range(1, wire.CROWD_LIMIT + 1)]})) == wire.CROWD_LIMIT
    assert _parse_value({"l": list(range(n))}) == list(range(n))
    assert not wire.crowded([-1, -2] * 100) and wire.crowded([i * P for i in range(wire.CROWD_LIMIT + 1)])


SHAPES = {  # JSON bodies of 'ok' that make the most Python objects per byte
    "empty lists": '{"l":[]}', "empty tuples": '{"t":[]}', "empty dicts": '{"d":[]}', "empty sets": '{"s":[]}',
    "empty iterators": '{"it":[]}', "empty dict items": '{"di":[]}', "small ints": "0", "floats": "1.5",
    "short strings": '"ab"', "handles": '{"o":["a","b",1,true]}', "ranges": '{"r":[0,1,1]}', "complex": '{"c":[0,1]}',
}  # fmt: skip


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_a_reply_costs_at_most_memory_factor_times_its_size(shape: str) -> None:
    n = 50_000
    line = ('{"id":0,"ok":{"l":[' + ",".join([SHAPES[shape]] * n) + "]}}").encode()
    distinct = ('{"id":0,"ok":{"l":[' + ",".join(str(i) for i in range(n)) + "]}}").encode()
    for reply in (line, distinct):
        tracemalloc.start()
        try:
            value = wire.parse(reply, Handle)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert len(value["ok"]) == n
        assert peak <= wire.MEMORY_FACTOR * len(reply), f"{shape}: {peak / len(reply):.1f} x the reply"


def test_decoding_stops_at_the_deadline() -> None:
    line = wire.dumps({"id": 0, "ok": {"l": [{"t": [i]} for i in range(20_000)]}})
    with pytest.raises(wire.DecodeTimeout):
        wire.parse(line, Handle, deadline=time.monotonic() - 1.0)
    assert len(wire.parse(line, Handle, deadline=time.monotonic() + 60.0)["ok"]) == 20_000


def test_messages_parse_as_objects_and_other_objects_are_refused() -> None:
    assert wire.parse(b'{"ready": true}', Handle) == {"ready": True}
    assert json.loads(wire.dumps({"id": 1, "raise": ["ValueError", "x"]})) == wire.parse(b'{"id":1,"raise":["ValueError","x"]}', Handle)
    with pytest.raises(wire.EncodeError):
        wire.parse(b'{"id": 0, "ok": [1, 2]}', Handle)  # 'ok' must be an encoded value
    with pytest.raises(wire.EncodeError):
        wire.parse(b'{"hello": 1}', Handle)
