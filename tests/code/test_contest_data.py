"""Contest problem files in LiveCodeBench's and open-r1/codeforces' own formats: readers, the private
tests' two encodings (never ``pickle.loads``), and the output comparison."""

import base64
import json
import pickle
import zlib

import pytest

from sparring.code.contest_data import decode_test_cases, outputs_match, read_codeforces, read_livecodebench, string_from_pickle
from sparring.errors import UserError

CASES = [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]


def encoded(value, protocol=4) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(value, protocol=protocol))).decode()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_private_tests_decode_from_json_and_from_the_pickled_encoding(protocol):
    text = json.dumps(CASES)
    assert decode_test_cases(text, "row 1") == CASES
    assert decode_test_cases(encoded(text, protocol), "row 1") == CASES


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.mkdir, (str(self.marker),))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(UserError, match="row 7: private_test_cases is a pickle that does more than hold a string") as info:
        decode_test_cases(encoded(_RunsCode(marker)), "row 7")
    assert "\n" not in str(info.value) and not marker.exists()
    with pytest.raises(UserError, match="holds 2 strings"):
        string_from_pickle(b"Va\np0\nVb\np1\n.", "row 8")  # two strings pushed, no container opcode
    with pytest.raises(UserError, match="not a readable pickle"):
        string_from_pickle(pickle.dumps("abc")[:-3], "row 9")
    with pytest.raises(UserError, match="neither JSON nor"):
        decode_test_cases("not base64 at all!", "row 10")


def _lcb_row(**extra):
    row = {"question_id": "abc301_a", "question_content": "Add two numbers.", "starter_code": "", "platform": "atcoder",
           "contest_date": "2024-05-04T00:00:00", "difficulty": "easy", "public_test_cases": json.dumps(CASES),
           "private_test_cases": encoded(json.dumps([{"input": "5 5\n", "output": "10\n", "testtype": "stdin"}])),
           "metadata": "{}"}  # fmt: skip
    return {**row, **extra}


def test_livecodebench_rows_read_with_both_encodings_and_functional_problems(tmp_path):
    starter = "class Solution:\n    def add(self, a: int, b: int) -> int:\n"
    tests = json.dumps([{"input": "1\n2", "output": "3", "testtype": "functional"}])
    functional = _lcb_row(question_id="leet_1", platform="leetcode", starter_code=starter, public_test_cases=tests,
                          private_test_cases=json.dumps([]), metadata=json.dumps({"func_name": "add"}))  # fmt: skip
    path = tmp_path / "lcb.jsonl"
    path.write_text(json.dumps(_lcb_row()) + "\n" + json.dumps(functional) + "\n")
    stdin, func = read_livecodebench(path)
    assert stdin.task_id == "abc301_a" and stdin.contest_date == "2024-05-04" and len(stdin.tests) == 2 and len(stdin.examples) == 1
    assert stdin.tests[1].output == "10\n" and not stdin.functional
    assert func.functional and func.func_name == "add" and func.starter_code.startswith("class Solution")


def test_malformed_contest_rows_are_one_line_naming_the_row(tmp_path):
    path = tmp_path / "lcb.jsonl"
    path.write_text(json.dumps(_lcb_row()) + "\n" + json.dumps({"question_id": "x"}) + "\n")
    with pytest.raises(UserError, match=r"lcb.jsonl:2: no field 'question_content'"):
        read_livecodebench(path)
    tests = json.dumps([{"input": "1", "output": "2", "testtype": "functional"}])
    path.write_text(json.dumps(_lcb_row(metadata="{}", public_test_cases=tests, private_test_cases="[]")) + "\n")
    with pytest.raises(UserError, match="functional problem needs metadata.func_name"):
        read_livecodebench(path)
    with pytest.raises(UserError, match="no such file"):
        read_codeforces(tmp_path / "missing.jsonl")


def test_codeforces_rows_keep_limits_checker_and_interactivity(tmp_path):
    rows = [
        {"id": "1A", "description": "Theatre square.", "input_format": "n m a", "output_format": "one number",
         "examples": [{"input": "6 6 4\n", "output": "4\n"}], "official_tests": [{"input": "6 6 4\n", "output": "4\n"}],
         "time_limit": 1.0, "memory_limit": 256.0, "input_mode": "stdio", "generated_checker": None},
        {"id": "2B", "description": "Any valid answer.", "examples": [], "official_tests": [{"input": "3\n", "output": "1 2\n"}],
         "time_limit": 2.0, "memory_limit": 64.0, "input_mode": "file", "generated_checker": "print('ok')"},
        {"id": "3C", "description": "Guess.", "official_tests": [], "interaction_format": "ask ? x"},
    ]  # fmt: skip
    path = tmp_path / "cf.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plain, checked, interactive = read_codeforces(path)
    assert "Input\nn m a" in plain.statement and plain.time_limit_s == 1.0 and plain.memory_limit_mb == 256 and not plain.checker
    assert checked.input_mode == "file" and checked.checker == "print('ok')" and not checked.interactive
    assert interactive.interactive


def test_outputs_match_on_tokens_and_floats_within_the_tolerance():
    assert outputs_match("3\n", "3") and outputs_match("1  2\n3\n", "1 2 3")
    assert not outputs_match("1 2", "1 2 3") and not outputs_match("3.0", "3")
    assert outputs_match("3.0000001", "3", tolerance=1e-6) and not outputs_match("3.001", "3", tolerance=1e-6)
    assert outputs_match("1000000.5", "1000000.4", tolerance=1e-6)  # relative: 1e-7 of the value
    assert not outputs_match("YES", "NO", tolerance=1e-6) and not outputs_match("nan", "nan2", tolerance=1e-6)
