"""Helpers shared by the benchmark scripts: timing and writing results as JSON plus a markdown table."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def machine() -> dict[str, object]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_results(name: str, data: dict, table_header: list[str], table_rows: list[list[str]], notes: list[str]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = ["| " + " | ".join(table_header) + " |", "|" + "---|" * len(table_header)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows]
    md = RESULTS / f"{name}.md"
    md.write_text("\n".join([f"# {name}", "", *lines, "", *notes]) + "\n")
    return md


FAMILY = ["mle", "seqgan", "maligan", "rankgan", "leakgan", "relgan"]
FROM_MLE = {"seqgan", "maligan", "rankgan"}  # start from the MLE run's best-validation generator


def run_family(base: Path, preset: str, common: dict, models: list[str], extra: dict[str, dict] | None = None) -> dict:
    """Train each model of ``models`` (MLE first when any model starts from it) into ``base/<model>``."""
    from sparring import build_config, train

    runs = {}
    order = sorted(models, key=lambda m: FAMILY.index(m))
    if FROM_MLE & set(order) and "mle" not in order:
        order.insert(0, "mle")
    for algo in order:
        overrides = {**common, **(extra or {}).get(algo, {})}
        if algo in FROM_MLE:
            overrides["pretrained"] = str(base / "mle")
        print(f"== {algo}", flush=True)
        runs[algo] = train(build_config(algo, preset, overrides=overrides), base / algo)
    return runs


def phase_seconds(run) -> dict:
    return {k: v["seconds"] for k, v in run.summary["phases"].items()}
