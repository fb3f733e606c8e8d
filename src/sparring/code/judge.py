"""Verdicts decided outside the untrusted process.

For each (task, completion), the completion is loaded in a sandbox (``sandbox.Sandbox``) and the
benchmark's tests run *here*, in the parent: every call of the completion's function is a call into
the sandbox that returns plain data, and the test code compares that data with expected values that
never enter the sandbox. So:

- ending early (``sys.exit``, ``os._exit``, an exit hook, a thread, a signal) leaves calls unanswered:
  the tests it did not answer fail;
- printing anything, on any stream, changes nothing: the parent reads no verdict from the program;
- the harness (the test code, ``check``, the comparison, EvalPlus's ``poly`` for ``find_zero``) lives
  in the parent, where the completion cannot patch it, and the test files are never in the sandbox;
- a returned object with a forged ``__eq__``/``__bool__`` never reaches the parent as an object: it
  arrives as an opaque handle that equals nothing but itself (``wire``).

The share of tests passed (MBPP: asserts; HumanEval+: inputs, stopping at the first that fails;
HumanEval: its one ``check``) counts only what the parent verified, so it is always in [0, 1]; it is
RLVR's reward.
"""

from __future__ import annotations

import ast
import builtins
import math
import reprlib
import threading
import traceback
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Protocol

from rich.progress import Progress

from sparring.code.sandbox import Limits, RemoteError, Sandbox, SandboxFailure
from sparring.code.tasks import CodeTask
from sparring.errors import UserError

OUTPUT_TAIL_CHARS = 500  # of each stream, in a verdict (and so in results.jsonl)
STATUS_CHARS = 500  # of a verdict's status: its texts come from the sandbox, and each is already cut shorter


@dataclass
class Verdict:
    status: str  # "passed", "failed: <why>", "timed out"
    tests_passed: int
    tests_total: int
    seconds: float
    stdout: str = ""  # tails only: the rest of the output is dropped once the completion is judged
    stderr: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def share(self) -> float:
        """The share of the task's tests that the parent saw pass, in [0, 1]."""
        return min(1.0, max(0.0, self.tests_passed / self.tests_total)) if self.tests_total > 0 else 0.0


@dataclass
class _Tally:
    total: int
    passed: int = 0
    first_error: str | None = None

    def fail(self, error: str) -> None:
        if self.first_error is None:
            self.first_error = error


class JudgedBenchmark(Protocol):
    """What the judge needs of a benchmark (``sparring.code.benchmarks.Benchmark`` is one)."""

    name: str
    tasks: dict[str, CodeTask]
    expected: dict[str, Any]
    judged_on_outputs: bool

    def sandbox_source(self, task_id: str, completion: str) -> str: ...
    def tests_total(self, task: CodeTask, expected: list[Any] | None) -> int: ...
    def run_tests(self, task: CodeTask, session: Sandbox, tally: _Tally, expected: list[Any] | None) -> None: ...
    def reference_outputs(self, entry: str, outputs: list[Any]) -> list[Any]: ...
    def outputs_match(self, task: CodeTask, got: Any, want: Any, args: Sequence[Any]) -> bool: ...


@lru_cache(maxsize=4096)
def _compiled(source: str, filename: str) -> Any:
    with warnings.catch_warnings():  # benchmark text ('\.' in a test string) is not ours to lint
        warnings.simplefilter("ignore")
        return compile(source, filename, "exec")


def _describe(exc: BaseException, filename: str, source: str) -> str:
    """'AssertionError: <message> at <the test line>' from the deepest frame of the test code."""
    where = ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    if frames and frames[-1].lineno:
        lines = source.splitlines()
        if 0 < frames[-1].lineno <= len(lines):
            where = f" at `{lines[frames[-1].lineno - 1].strip()[:160]}`"
    message = exception_text(exc).strip().replace("\n", " ")[:200]
    return f"{type(exc).__name__}{': ' + message if message else ''}{where}"


def exception_text(exc: BaseException) -> str:
    """``str(exc)``, which can itself raise (an exception holding an int past CPython's 4300-digit
    limit, a value nested past the recursion limit): then the type's name alone."""
    try:
        return str(exc)
    except Exception:
        return ""


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlong = 40


def short_repr(value: Any) -> str:
    """A repr for a failure message that costs little whatever the value (``reprlib``: a few elements
    of a long list), and never raises (an int past the digit limit is named by its size)."""
    try:
        return _SHORT.repr(value)[:120]
    except Exception:
        if isinstance(value, int):
            return f"<int of {value.bit_length()} bits>"
        return f"<{type(value).__name__}>"


# --- the three benchmarks' tests, run in the parent ---------------------------------------------


def _prompt_namespace(task: CodeTask) -> dict[str, Any]:
    """The task's prompt run here (benchmark text): its helpers as the benchmark wrote them."""
    ns: dict[str, Any] = {"__name__": "__judge__"}
    exec(_compiled(task.prompt, "<prompt>"), ns)
    return ns


def humaneval_namespace(task: CodeTask, session: Sandbox) -> dict[str, Any]:
    """The namespace HumanEval's ``check`` runs in, here: the task's prompt (its imports and helpers,
    ``poly``, ``encode_cyclic``, as the benchmark wrote them, not whatever the completion redefined),
    the test's own imports, and the entry point's name bound to the completion's function, as in
    the test's own module."""
    entry = task.checks["entry_point"]
    ns = _prompt_namespace(task)
    ns[entry] = session.remote(entry)
    exec(_compiled(task.checks["test"], "<test>"), ns)
    return ns


def humaneval_tests(task: CodeTask, session: Sandbox, tally: _Tally) -> None:
    """The task's own ``check(candidate)``, run here against calls into the sandbox."""
    test = task.checks["test"]
    ns = humaneval_namespace(task, session)
    try:
        ns["check"](ns[task.checks["entry_point"]])
        tally.passed = 1
    except Exception as exc:
        tally.fail(_describe(exc, "<test>", test))


@lru_cache(maxsize=4096)
def _completion_names(tests: tuple[str, ...], reference: str, bound: frozenset[str]) -> tuple[str, ...]:
    """The names in the tests that belong to the completion: those no import binds and Python does not
    define, and those the reference solution defines at top level even where they shadow a builtin
    (MBPP/126 tests a function called ``sum``). Read from the benchmark, never from the completion,
    so that a completion that redefines ``set`` or ``abs`` cannot take over both sides of a test."""
    with warnings.catch_warnings():  # as in _compiled: the benchmark's own warnings
        warnings.simplefilter("ignore")
        used = {n.id for t in tests for n in ast.walk(ast.parse(t)) if isinstance(n, ast.Name)}
        try:
            top = ast.parse(reference).body
        except SyntaxError:
            top = []
    defined = {n.name for n in top if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    defined |= {t.id for n in top if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    return tuple(sorted((used - bound - set(dir(builtins))) | (used & defined - bound)))


def mbpp_namespace(task: CodeTask, session: Sandbox) -> dict[str, Any]:
    """The namespace MBPP's asserts run in, here: the test imports and the modules the reference
    solution imports (MBPP/596's test calls ``sys.getsizeof``: its ``sys`` is this interpreter's,
    never a ``sys`` the completion defines), then the completion's own names (``_completion_names``)
    as calls into the sandbox."""
    ns: dict[str, Any] = {"__name__": "__judge__"}
    exec(_compiled("\n".join(task.checks["imports"]), "<test imports>"), ns)
    try:
        exec(_compiled(_reference_imports(task.reference), "<reference imports>"), ns)
    except ImportError:  # a module this interpreter lacks: the name stays unbound, the reference fails too
        pass
    for name in _completion_names(tuple(task.checks["tests"]), task.reference, frozenset(ns)):
        ns[name] = session.remote(name)
    return ns


@lru_cache(maxsize=4096)
def _reference_imports(reference: str) -> str:
    """The top-level import statements of the reference solution (benchmark text), one per line."""
    try:
        top = ast.parse(reference).body
    except SyntaxError:
        return ""
    return "\n".join(ast.unparse(node) for node in top if isinstance(node, (ast.Import, ast.ImportFrom)))


def mbpp_tests(task: CodeTask, session: Sandbox, tally: _Tally) -> None:
    """Each assert on its own (a graded share for RL); the completion's names resolve in the sandbox."""
    ns = mbpp_namespace(task, session)
    for number, test in enumerate(task.checks["tests"], start=1):
        filename = f"<test {number}>"
        try:
            exec(_compiled(test, filename), ns)
            tally.passed += 1
        except Exception as exc:
            tally.fail(f"test {number}: {_describe(exc, filename, test)}")


def _is_float_like(value: Any) -> bool:
    if isinstance(value, float):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(v, float) for v in value)


def _close(a: Any, b: float, atol: float) -> bool:
    if isinstance(a, bool) or not isinstance(a, (int, float)):
        return False
    if math.isnan(b):
        return math.isnan(a)
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=atol)


# EvalPlus's special oracles for MBPP+ (evalplus/eval/_special_oracle.py), by entry point:
MBPP_PLUS_NOT_NONE = frozenset({"check_str", "text_match_three", "text_starta_endb"})  # a match object, or None
MBPP_PLUS_SET_EQUAL = frozenset(
    {"similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly", "larg_nnum", "intersection_array",
     "find_dissimilar", "Diff"}
)  # the order of the returned elements is not part of the task  # fmt: skip


def _pyramid_surface(base_edge: float, height: float) -> float:
    """Mbpp/581's other reading: ``height`` as the pyramid's height, not its slant height, rounded."""
    slant = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 2 * base_edge * slant)


def _digit_distance(a: int, b: int) -> int:
    """Mbpp/558's other reading: the shorter number padded with leading zeros."""
    x, y = str(a), str(b)
    width = max(len(x), len(y))
    return sum(abs(int(p) - int(q)) for p, q in zip(x.zfill(width), y.zfill(width), strict=True))


def mbpp_plus_match(entry: str, got: Any, expected: Any, args: Sequence[Any], atol: float) -> bool:
    """EvalPlus's MBPP+ comparison: ``plus_outputs_match``, except for the tasks its special oracles cover."""
    if entry in MBPP_PLUS_NOT_NONE:
        return got == expected if isinstance(got, bool) else expected == (got is not None)
    if entry in MBPP_PLUS_SET_EQUAL:
        try:
            return set(got) == set(expected)
        except TypeError:
            return False
    if entry == "are_equivalent":  # Mbpp/164: the task's wording admits either answer
        return True
    plain = isinstance(got, (int, float)) and not isinstance(got, bool)
    if entry == "sum_div" and got == 0:  # Mbpp/295
        return True
    if entry == "surface_Area" and plain and abs(got - _pyramid_surface(*args)) <= atol:  # Mbpp/581
        return True
    if entry == "digit_distance_nums" and got == _digit_distance(*args):  # Mbpp/558
        return True
    return plus_outputs_match(got, expected, atol)


def plus_outputs_match(got: Any, expected: Any, atol: float) -> bool:
    """EvalPlus's comparison: equal, or for float outputs (and lists of floats) within atol (1e-6 when 0)."""
    if got == expected:
        return True
    if not _is_float_like(expected):
        return False
    atol = atol or 1e-6
    if isinstance(expected, float):
        return _close(got, expected, atol)
    if not isinstance(got, (list, tuple)) or len(got) != len(expected):
        return False
    return all(_close(a, b, atol) for a, b in zip(got, expected, strict=True))


_EXPECTED_LOCK = threading.Lock()


BEYOND_WIRE = object()  # an expected output too large for the wire (MbppPlus's Mbpp/255 has outputs of 128M elements)
TOO_LARGE = "EncodeError: more than"  # what the sandbox's encoder says of such a value (the reference's, never a completion's word)


# The canonical solution is trusted to end: its limit only guards against a broken file (MbppPlus's
# Mbpp/599 sums ranges of 1e8 numbers: about 20 s of CPU, more on a busy machine).
REFERENCE_TIMEOUT_S = 600.0
# As EvalPlus (gt_time_limit_factor): a completion may take this many times the canonical solution's time.
PLUS_TIME_FACTOR = 4.0


def plus_time_limit(timeout_s: float, reference_seconds: float, factor: float = PLUS_TIME_FACTOR) -> float:
    """A completion's wall-clock limit on a plus task: the benchmark's timeout, or ``factor`` times what
    the canonical solution took on the same inputs when that is longer, so that a correct solution as
    slow as the reference is not failed for its inputs' size."""
    return max(timeout_s, factor * reference_seconds)


def plus_expected(benchmark: JudgedBenchmark, task: CodeTask, limits: Limits) -> list[Any]:
    """The canonical solution's outputs on every input, computed once per task in a sandbox of their own.

    The canonical solution is benchmark code, but it is run like any other: its outputs come back
    as plain data, the same encoding as the completion's, so the two compare like for like. How long
    it took is kept too (``benchmark.expected["seconds:" + task_id]``): ``plus_time_limit``."""
    with _EXPECTED_LOCK:
        lock = benchmark.expected.setdefault(f"lock:{task.task_id}", threading.Lock())
    with lock:
        if task.task_id in benchmark.expected:
            return benchmark.expected[task.task_id]
        entry = task.checks["entry_point"]
        reference_limits = replace(limits, timeout_s=max(limits.timeout_s, REFERENCE_TIMEOUT_S))
        with Sandbox(benchmark.sandbox_source(task.task_id, task.reference), reference_limits) as session:
            outputs, error = [], None
            try:
                function = session.remote(entry)
                for number, args in enumerate(task.checks["inputs"]):
                    try:
                        outputs.append(function(*args))
                    except RemoteError as exc:
                        if not str(exc).startswith(TOO_LARGE):
                            error = f"input {number}: {type(exc).__name__}: {exc}"
                            break
                        outputs.append(BEYOND_WIRE)  # the reference's output cannot cross the sandbox wall: no one is judged on it
                    except Exception as exc:
                        error = f"input {number}: {type(exc).__name__}: {exc}"
                        break
            except SandboxFailure:
                pass
        status = session.outcome.status if error is None else f"failed: {error}"
        if status != "passed":
            raise UserError(f"{task.task_id}: the canonical solution does not run ({status}); is the {benchmark.name} file intact?")
        outputs = benchmark.reference_outputs(entry, outputs)
        benchmark.expected[f"seconds:{task.task_id}"] = session.outcome.seconds
        benchmark.expected[task.task_id] = outputs
        return outputs


def find_zero_match(task: CodeTask, got: Any, args: Sequence[Any]) -> bool:
    """HumanEval+'s ``find_zero``: any point where the benchmark's ``poly`` (never the completion's) is within atol of zero."""
    poly = _prompt_namespace(task)["poly"]
    return isinstance(got, (int, float)) and not isinstance(got, bool) and abs(poly(args[0], got)) <= (task.checks["atol"] or 1e-6)


def plus_tests(benchmark: JudgedBenchmark, expected: list[Any], task: CodeTask, session: Sandbox, tally: _Tally) -> None:
    """Every input's output against the reference's, in order, stopping at the first that differs."""
    function = session.remote(task.checks["entry_point"])
    for number, (args, want) in enumerate(zip(task.checks["inputs"], expected, strict=True)):
        if want is BEYOND_WIRE:
            continue
        try:
            got = function(*args)
        except Exception as exc:
            tally.fail(f"input {number}: {type(exc).__name__}: {exception_text(exc)[:200]}")
            return
        try:  # the benchmark's helpers and comparisons meet the completion's values here: any error is this input's failure
            ok = benchmark.outputs_match(task, got, want, args)
        except Exception as exc:
            tally.fail(f"input {number}: comparing {short_repr(got)} raised {type(exc).__name__}")
            return
        if not ok:
            tally.fail(f"input {number}: got {short_repr(got)}, expected {short_repr(want)}")
            return
        tally.passed += 1


def judge(benchmark: JudgedBenchmark, task_id: str, completion: str, limits: Limits) -> Verdict:
    """Load the completion in a sandbox, run the task's tests against it from here, and decide."""
    task = benchmark.tasks[task_id]
    expected = plus_expected(benchmark, task, limits) if benchmark.judged_on_outputs else None
    if expected is not None:
        limits = replace(limits, timeout_s=plus_time_limit(limits.timeout_s, benchmark.expected[f"seconds:{task_id}"]))
    tally = _Tally(benchmark.tests_total(task, expected))
    with Sandbox(benchmark.sandbox_source(task_id, completion), limits) as session:
        if session.failure is None and session.load_error is None:
            try:
                benchmark.run_tests(task, session, tally, expected)
            except SandboxFailure:
                pass  # kept in session.failure
    outcome = session.outcome
    if outcome.status != "passed":  # the sandbox failed (ended early, timed out) or the completion did not load
        status = outcome.status
        tally.passed = 0 if session.load_error is not None else tally.passed
    elif tally.passed == tally.total:
        status = "passed"
    else:
        status = f"failed: {tally.first_error or 'a test failed'}"
    tails = outcome.stdout[-OUTPUT_TAIL_CHARS:], outcome.stderr[-OUTPUT_TAIL_CHARS:]
    return Verdict(status[:STATUS_CHARS], tally.passed, tally.total, outcome.seconds, *tails)


def judge_many(
    benchmark: JudgedBenchmark, samples: Sequence[tuple[str, str]], limits: Limits, workers: int, description: str = "judging"
) -> list[Verdict]:
    """``judge`` for each (task_id, completion), ``workers`` sandboxes at a time, in input order."""
    with Progress(transient=True) as bar, ThreadPoolExecutor(max_workers=workers) as pool:
        progress = bar.add_task(description, total=len(samples))

        def one(sample: tuple[str, str]) -> Verdict:
            verdict = judge(benchmark, sample[0], sample[1], limits)
            bar.advance(progress)
            return verdict

        return list(pool.map(one, samples))
