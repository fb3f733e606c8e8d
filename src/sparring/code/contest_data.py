"""Contest problems read from the user's files, in the datasets' own formats: LiveCodeBench's
``code_generation_lite`` JSONL rows and open-r1/codeforces rows (JSONL or parquet).

Neither set can ship here, so these readers are tested on fixtures written for this project in the
same formats. Every malformed row is one ``UserError`` naming the file and the row.

LiveCodeBench stores a problem's private tests either as JSON text or as base64 of zlib of a
*pickle* of that JSON text. ``pickle.loads`` would run whatever the pickle says; here the pickle is
never loaded: its opcodes are read with ``pickletools.genops`` (a parser, not an interpreter) and
accepted only when they build exactly one string (protocol, framing and memo opcodes around one
unicode opcode); anything else, a pickle that would call a function included, is refused in one line.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import pickletools
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparring.errors import UserError

# the opcodes of a pickled str, and of nothing else (pickletools names; STOP ends it)
_FRAMING = {"PROTO", "FRAME", "STOP", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"}
_STRING = {"UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"}


def string_from_pickle(data: bytes, where: str) -> str:
    """The one string a pickle holds, read from its opcodes without running it; anything else is refused."""
    strings: list[str] = []
    try:
        for opcode, argument, _ in pickletools.genops(data):
            if opcode.name in _STRING:
                strings.append(argument)
            elif opcode.name not in _FRAMING:
                raise UserError(
                    f"{where}: private_test_cases is a pickle that does more than hold a string (opcode {opcode.name}); refused"
                )
    except UserError:
        raise
    except Exception as exc:  # a truncated or corrupt pickle
        raise UserError(f"{where}: private_test_cases is not a readable pickle ({type(exc).__name__})") from None
    if len(strings) != 1:
        raise UserError(f"{where}: private_test_cases pickle holds {len(strings)} strings, expected exactly one; refused")
    return strings[0]


def decode_test_cases(value: Any, where: str) -> list[dict[str, Any]]:
    """LiveCodeBench test cases: a JSON list (or its text), or base64(zlib(pickle(JSON text)))."""
    if isinstance(value, list):
        cases = value
    elif not isinstance(value, str) or not value.strip():
        return []
    else:
        text = value.strip()
        if not text.startswith("["):
            try:
                text = string_from_pickle(zlib.decompress(base64.b64decode(text, validate=True)), where)
            except (binascii.Error, zlib.error, ValueError):
                raise UserError(f"{where}: test cases are neither JSON nor base64(zlib(pickle)) text") from None
        try:
            cases = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{where}: test cases are not valid JSON ({exc.msg})") from None
    if not isinstance(cases, list) or not all(isinstance(c, dict) and "input" in c and "output" in c for c in cases):
        raise UserError(f"{where}: test cases must be a list of objects with 'input' and 'output'")
    return cases


@dataclass(frozen=True)
class ContestTest:
    """One test: ``stdin`` (the input is the program's standard input; the output is what it must
    print) or ``functional`` (the input is the method's arguments, one JSON value per line; the output
    the JSON of its return value)."""

    input: str
    output: str
    kind: str = "stdin"


@dataclass(frozen=True)
class ContestProblem:
    task_id: str
    statement: str
    tests: tuple[ContestTest, ...]
    examples: tuple[ContestTest, ...] = ()
    starter_code: str = ""
    func_name: str = ""
    contest_date: str = ""
    difficulty: str = ""
    platform: str = ""
    time_limit_s: float = 0.0  # 0: the benchmark's default
    memory_limit_mb: float = 0.0
    input_mode: str = "stdio"  # or "file": input.txt / output.txt
    checker: str = ""  # a checker program's source (Codeforces' generated_checker)
    interactive: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def functional(self) -> bool:
        return bool(self.tests) and self.tests[0].kind == "functional"


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(row number, row) of a .jsonl or .parquet file."""
    from sparring.data.text import jsonl_objects

    if not path.is_file():
        raise UserError(f"--data-file {path}: no such file")
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise UserError(f"{path}: reading .parquet needs pyarrow (pip install pyarrow)") from None
        try:
            table = pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow's errors are many
            raise UserError(f"{path}: not a readable parquet file ({type(exc).__name__})") from None
        return list(enumerate(table, start=1))
    if path.suffix.lower() != ".jsonl":
        raise UserError(f"--data-file {path}: expected a .jsonl or .parquet file")
    return jsonl_objects(path)


def _need(row: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise UserError(f"{where}: no field '{missing[0]}'")


def read_livecodebench(path: Path) -> list[ContestProblem]:
    """code_generation_lite rows: ``question_id``, ``question_content``, ``starter_code``, ``platform``,
    ``contest_date``, ``difficulty``, ``public_test_cases``, ``private_test_cases`` and ``metadata``
    (JSON text with ``func_name`` for LeetCode's functional problems)."""
    problems = []
    for number, row in read_rows(path):
        where = f"{path}:{number}"
        _need(row, ("question_id", "question_content", "public_test_cases", "private_test_cases"), where)
        public = decode_test_cases(row["public_test_cases"], where)
        private = decode_test_cases(row["private_test_cases"], where)
        metadata = row.get("metadata") or {}
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata) if metadata.strip() else {}
            except json.JSONDecodeError:
                raise UserError(f"{where}: metadata is not valid JSON") from None
        tests = tuple(ContestTest(str(c["input"]), str(c["output"]), c.get("testtype", "stdin")) for c in public + private)
        kinds = {t.kind for t in tests}
        if not tests or not kinds <= {"stdin", "functional"} or len(kinds) > 1:
            raise UserError(f"{where}: tests must be all 'stdin' or all 'functional' (found {sorted(kinds) or 'none'})")
        func_name = str(metadata.get("func_name") or "")
        if "functional" in kinds and not func_name:
            raise UserError(f"{where}: a functional problem needs metadata.func_name")
        problems.append(
            ContestProblem(
                task_id=str(row["question_id"]),
                statement=str(row["question_content"]),
                tests=tests,
                examples=tuple(ContestTest(str(c["input"]), str(c["output"]), c.get("testtype", "stdin")) for c in public),
                starter_code=str(row.get("starter_code") or ""),
                func_name=func_name,
                contest_date=str(row.get("contest_date") or "")[:10],
                difficulty=str(row.get("difficulty") or ""),
                platform=str(row.get("platform") or ""),
            )
        )
    return problems


def read_codeforces(path: Path) -> list[ContestProblem]:
    """open-r1/codeforces rows: ``id``, ``description``, ``input_format``, ``output_format``, ``examples``
    and ``official_tests`` (lists of {input, output}), ``time_limit`` (s), ``memory_limit`` (MB),
    ``input_mode`` (stdio or file), ``generated_checker``, and ``interaction_format`` (interactive problems)."""
    problems = []
    for number, row in read_rows(path):
        where = f"{path}:{number}"
        _need(row, ("id", "description", "official_tests"), where)
        official = row["official_tests"] or []
        examples = row.get("examples") or []
        if not isinstance(official, list) or not all(isinstance(t, dict) and "input" in t and "output" in t for t in official):
            raise UserError(f"{where}: official_tests must be a list of objects with 'input' and 'output'")
        statement = "\n\n".join(
            part
            for part in (str(row["description"]), _section("Input", row.get("input_format")), _section("Output", row.get("output_format")))
            if part  # fmt: skip
        )
        mode = str(row.get("input_mode") or "stdio")
        if mode not in ("stdio", "file"):
            raise UserError(f"{where}: input_mode must be stdio or file, not {mode!r}")
        problems.append(
            ContestProblem(
                task_id=str(row["id"]),
                statement=statement,
                tests=tuple(ContestTest(str(t["input"]), str(t["output"] or "")) for t in official),
                examples=tuple(ContestTest(str(t.get("input", "")), str(t.get("output", ""))) for t in examples if isinstance(t, dict)),
                contest_date=str(row.get("contest_start") or row.get("contest_date") or "")[:10],
                difficulty=str(row.get("rating") or ""),
                platform="codeforces",
                time_limit_s=float(row.get("time_limit") or 0.0),
                memory_limit_mb=float(row.get("memory_limit") or 0.0),
                input_mode=mode,
                checker=str(row.get("generated_checker") or ""),
                interactive=bool(row.get("interaction_format")),
            )
        )
    return problems


def _section(title: str, text: Any) -> str:
    return f"{title}\n{text}" if text else ""


def output_tokens(text: str) -> list[str]:
    """What is compared: the whitespace-separated tokens (line breaks and runs of spaces are not)."""
    return text.split()


def _as_float(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def outputs_match(got: str, want: str, tolerance: float = 0.0) -> bool:
    """Token by token; with ``tolerance`` > 0, two numeric tokens match within it, relative or absolute
    (Codeforces' default: 1e-6), and a token that is not a number must be equal."""
    a, b = output_tokens(got), output_tokens(want)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        if tolerance <= 0:
            return False
        fx, fy = _as_float(x), _as_float(y)
        if fx is None or fy is None or abs(fx - fy) > tolerance * max(1.0, abs(fy)):
            return False
    return True
