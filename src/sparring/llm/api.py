"""The alignment line's Python API (``sparring.align``, ``sparring.generate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def align(cfg: Any, out: str | Path, resume: bool = False, report_to: str = "none") -> dict[str, Any]:
    """``sparring align``: returns the run's summary (its before/after evaluation included)."""
    from sparring.llm.align import align as run_align

    return run_align(cfg, out, resume=resume, report_to=report_to)


def generate(
    run_dir: str | Path, prompts: list[str], n: int = 1, temperature: float | None = None, max_new_tokens: int | None = None, seed: int = 0
) -> list[str]:
    """``sparring generate``: ``n`` responses per prompt from an align run's model (temperature 0: greedy)."""
    from sparring.llm.generate import generate_from_run

    return generate_from_run(run_dir, prompts, n, temperature, max_new_tokens, seed)
