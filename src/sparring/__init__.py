"""sparring: train text generators by letting them spar with a critic.

The Python API mirrors the CLI, one function per command, for all three lines::

    from sparring import build_config, train, load_run            # text GANs
    cfg = build_config("seqgan", preset="smoke", overrides={"seed": 1})
    run = train(cfg, "runs/seqgan-smoke")
    run.summary["final"]["nll_oracle"], run.metrics[-1], run.sample(n=3)

    from sparring import align, generate                           # adversarial LLM alignment
    summary = align(build_config("align", "smoke", flags={"model.lora": True}), "runs/align")

    from sparring import eval_code, ra3, ntp, rlvr                 # code
    eval_code("humaneval", "runs/eval", samples="samples.jsonl", ks=[1])
    ra3(build_config("ra3", "demo"), "runs/ra3"); ntp(build_config("ntp", "demo"), "runs/ntp", match="runs/ra3")

Settings resolve in one order for every kind: defaults < preset < TOML < ``overrides`` (--set) < ``flags``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sparring.errors import UserError
from sparring.gans.api import Run, load_run, train
from sparring.gans.config import algorithms, presets_for
from sparring.kinds import build_config, load_config


def align(cfg: Any, out: str | Path, resume: bool = False, report_to: str = "none") -> dict[str, Any]:
    """``sparring align``: returns the run's summary (its before/after evaluation included)."""
    from sparring.llm.align import align as run_align

    return run_align(cfg, out, resume=resume, report_to=report_to)


def generate(
    run_dir: str | Path, prompts: list[str], n: int = 1, temperature: float | None = None, max_new_tokens: int | None = None, seed: int = 0
) -> list[str]:
    """``sparring generate``: ``n`` responses per prompt from an align run's model (temperature 0: greedy)."""
    from sparring.llm.align import generate_from_run

    return generate_from_run(run_dir, prompts, n, temperature, max_new_tokens, seed)


def eval_code(benchmark: str, out: str | Path, **request: Any) -> dict[str, Any]:
    """``sparring eval-code``: pass@k of ``samples=FILE`` or of ``model=M``; the keywords are ``EvalRequest``'s."""
    from sparring.code.evaluate import EvalRequest, evaluate

    return evaluate(EvalRequest(benchmark=benchmark, out=str(out), **{"ks": [1], **request}))


def ra3(cfg: Any, out: str | Path, resume: bool = False, report_to: str = "none") -> dict[str, Any]:
    """``sparring ra3``: RA3 mid-training (EM over latent comments); returns the summary."""
    from sparring.code.ra3 import train_ra3

    return train_ra3(cfg, out, resume=resume, report_to=report_to)


def ntp(
    cfg: Any, out: str | Path, tokens: int | None = None, match: str | Path | None = None, resume: bool = False, report_to: str = "none"
) -> dict[str, Any]:
    """``sparring ntp``: the NTP baseline, for ``tokens`` trained tokens or as many as the ra3 run ``match``."""
    from sparring.code.ra3 import ra3_token_budget, train_ntp

    budget = ra3_token_budget(str(match)) if match is not None else tokens
    return train_ntp(cfg, out, budget, resume=resume, report_to=report_to)


def rlvr(cfg: Any, out: str | Path, resume: bool = False, report_to: str = "none") -> dict[str, Any]:
    """``sparring rlvr``: GRPO with the sandbox's pass rate as the reward; returns the summary."""
    from sparring.code.rlvr import train_rlvr

    return train_rlvr(cfg, out, resume=resume, report_to=report_to)


__all__ = [
    "Run",
    "UserError",
    "algorithms",
    "align",
    "build_config",
    "eval_code",
    "generate",
    "load_config",
    "load_run",
    "ntp",
    "presets_for",
    "ra3",
    "rlvr",
    "train",
]
__version__ = "0.1.0"
