"""The code line's Python API (``sparring.eval_code``, ``ra3``, ``ntp``, ``rlvr``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def eval_code(benchmark: str, out: str | Path, preset: str = "paper", **settings: Any) -> dict[str, Any]:
    """``sparring eval-code``: pass@k of ``samples=FILE`` or of ``model=M``. The keywords are the
    ``eval-code`` settings (``sparring eval-code --help``), resolved and checked as the CLI does."""
    from sparring.code.config import KINDS
    from sparring.code.evaluate import evaluate
    from sparring.config import resolve

    kind = next(k for k in KINDS if k.name == "eval-code")
    cfg = resolve(kind, preset, overrides={"benchmark": benchmark, **settings})
    return evaluate(cfg, out)


def ra3(cfg: Any, out: str | Path, resume: bool = False, report_to: str = "none") -> dict[str, Any]:
    """``sparring ra3``: RA3 mid-training (EM over latent comments); returns the summary."""
    from sparring.code.ra3 import train_ra3

    return train_ra3(cfg, out, resume=resume, report_to=report_to)


def ntp(
    cfg: Any, out: str | Path, tokens: int | None = None, match: str | Path | None = None, resume: bool = False, report_to: str = "none"
) -> dict[str, Any]:
    """``sparring ntp``: the NTP baseline, for ``tokens`` trained tokens or as many as the ra3 run ``match``."""
    from sparring.code.ntp import ra3_token_budget, train_ntp

    budget = ra3_token_budget(str(match)) if match is not None else tokens
    return train_ntp(cfg, out, budget, resume=resume, report_to=report_to)


def rlvr(cfg: Any, out: str | Path, resume: bool = False, report_to: str = "none") -> dict[str, Any]:
    """``sparring rlvr``: GRPO with the sandbox's pass rate as the reward; returns the summary."""
    from sparring.code.rlvr import train_rlvr

    return train_rlvr(cfg, out, resume=resume, report_to=report_to)
