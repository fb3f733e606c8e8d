"""bench/code.py's held-out scoring: a mid-trained model is not scored on the tasks it trained on."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))  # bench/code.py imports its sibling _common
_spec = importlib.util.spec_from_file_location("code_bench", BENCH / "code.py")  # not "code": that is a stdlib module
code_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(code_bench)


def summary(per_task: dict[str, list[int]]) -> dict:
    return {"tasks": len(per_task), "pass@1": -1.0, "pass@1_ci": [-1.0, -1.0], "per_task_correct": per_task}


def test_without_tasks_redoes_pass_at_k_on_the_tasks_left():
    ev = {"mbpp+": summary({"Mbpp/1": [5, 5], "Mbpp/2": [5, 0], "Mbpp/3": [5, 1]}), "humaneval": summary({"HumanEval/0": [5, 2]})}
    out = code_bench.without_tasks(ev, {"Mbpp/1"})
    assert out["mbpp+"]["tasks"] == 2
    assert out["mbpp+"]["pass@1"] == pytest.approx((0.0 + 0.2) / 2)  # hand-computed: c/n per task, averaged
    assert set(out["mbpp+"]["per_task_correct"]) == {"Mbpp/2", "Mbpp/3"}
    assert out["mbpp+"]["trained_on_left_out"] == {"tasks": 1, "pass@1": 1.0}
    low, high = out["mbpp+"]["pass@1_ci"]
    assert 0.0 <= low <= 0.1 <= high <= 0.2
    assert out["humaneval"] is ev["humaneval"]  # no trained task there: untouched


def test_held_out_evaluations_leave_the_base_model_whole():
    ev = {"mbpp+": summary({"Mbpp/1": [5, 5], "Mbpp/2": [5, 0]})}
    models = {"train_task_ids": ["Mbpp/1"], "evaluations": {"base completion": ev, "ntp completion": ev}}
    held = code_bench.held_out_evaluations(models)
    assert held["base completion"]["mbpp+"]["tasks"] == 2
    assert held["ntp completion"]["mbpp+"]["tasks"] == 1
    verdicts = code_bench.paired_task_verdicts(held["ntp completion"], held["base completion"])
    assert verdicts["mbpp+"]["tasks"] == 1  # the pair is on the tasks both kept


def test_report_compares_with_the_base_model_asked_in_chat():
    """The base model's best prompting is the stronger baseline: the report pairs NTP and RA3 with it too."""
    tasks = [f"Mbpp/{i}" for i in range(11, 41)]
    solved = {"mbpp": summary({t: [5, 5] for t in tasks})}
    unsolved = {"mbpp": summary({t: [5, 0] for t in tasks})}
    settings = {"tasks": 0, "n": 5, "temperature": 0.8, "max_new_tokens": 256, "batch_size": 32, "style": "completion"}
    evaluations = {"base completion": unsolved, "base chat": solved, "ntp completion": unsolved, "ra3 completion": solved}
    results = {"machine": {}, "models": {"settings": settings, "evaluations": evaluations, "timings_s": {}}}
    _, rows, notes = code_bench.table(results, "demo")
    assert [row[0] for row in rows] == ["base chat", "base completion", "ntp completion", "ra3 completion"]
    lines = [n for n in notes if " vs base chat" in n or "base chat vs" in n]
    assert "- base chat vs base completion on mbpp (pass@1, paired over 30 tasks): ahead, +1.000 [+1.000, +1.000]" in lines
    assert "- ntp vs base chat on mbpp (pass@1, paired over 30 tasks): behind, -1.000 [-1.000, -1.000]" in lines
    assert "- ra3 vs base chat on mbpp (pass@1, paired over 30 tasks): tie, +0.000 [+0.000, +0.000]" in lines
