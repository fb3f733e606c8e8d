"""Reading RLVR's samples.jsonl: outcome kinds, the length cap, comments, first and last steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparring.code.rlvr_read import describe_samples, outcome, read_runs


def test_statuses_sort_into_outcome_kinds() -> None:
    assert outcome("passed") == "passed"
    assert outcome("timed out") == "timed out"
    assert outcome("failed: SyntaxError: '(' was never closed") == "does not parse"
    assert outcome("failed: IndentationError: expected an indented block") == "does not parse"
    assert outcome("failed: test 2: AssertionError") == "wrong answer"
    assert outcome("failed: a test failed") == "wrong answer"
    assert outcome("failed: test 1: NameError: name 'x' is not defined") == "runtime error"


ROWS = [  # cap 10 tokens; steps 1, 2, 3
    {"step": 1, "completion": "def f():\n    # add\n    return 1", "pass_share": 1.0, "status": "passed", "tokens": 6},
    {"step": 1, "completion": "def f(:", "pass_share": 0.0, "status": "failed: SyntaxError: x", "tokens": 10},
    {"step": 2, "completion": "def f():\n    return 2", "pass_share": 0.5, "status": "failed: test 2: AssertionError", "tokens": 4},
    {"step": 3, "completion": "def f():\n    # loop\n    wh", "pass_share": 0.0, "status": "failed: SyntaxError: y", "tokens": 10},
]


def test_describe_samples_against_hand_counts() -> None:
    d = describe_samples(ROWS, max_new_tokens=10, window=1)
    assert d["completions"] == 4
    assert d["mean_pass_share"] == pytest.approx(1.5 / 4)
    assert d["mean_tokens"] == pytest.approx(30 / 4)
    assert d["at_cap"] == pytest.approx(0.5)
    assert d["with_comment"] == pytest.approx(0.5)
    assert d["outcomes"] == {"passed": 0.25, "wrong answer": 0.25, "does not parse": 0.5, "runtime error": 0.0, "timed out": 0.0}
    assert d["pass_share_at_cap"] == pytest.approx(0.0)
    assert d["pass_share_ended"] == pytest.approx(0.75)
    assert d["first"]["completions"] == 2 and d["first"]["at_cap"] == pytest.approx(0.5)
    assert d["last"]["completions"] == 1 and d["last"]["outcomes"]["does not parse"] == 1.0


def test_rows_without_token_counts_leave_the_cap_unknown_and_an_empty_log_reads_as_empty() -> None:
    rows = [{k: v for k, v in r.items() if k != "tokens"} for r in ROWS]
    d = describe_samples(rows, max_new_tokens=10)
    assert d["at_cap"] is None and d["mean_tokens"] is None and d["pass_share_at_cap"] is None
    assert describe_samples([], 10) == {"completions": 0}


def test_read_runs_pools_seeds_and_takes_the_cap_from_their_config(tmp_path: Path) -> None:
    runs = [tmp_path / "s0", tmp_path / "s1"]
    for run, rows in zip(runs, (ROWS[:2], ROWS[2:]), strict=True):
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"max_new_tokens": 6}))
        (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    d = read_runs(runs)
    assert d["completions"] == 4 and d["at_cap"] == pytest.approx(0.75)  # 6, 10 and 10 tokens reach a cap of 6; 4 does not
    (runs[1] / "config.json").write_text(json.dumps({"max_new_tokens": 8}))
    with pytest.raises(ValueError, match="different max_new_tokens"):
        read_runs(runs)
