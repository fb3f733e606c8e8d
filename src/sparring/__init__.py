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
Importing ``sparring`` loads none of the lines (nor torch): each name is imported when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it; imported on first use (PEP 562), so `import sparring` stays light
_API = {
    "Run": "sparring.gans.api",
    "train": "sparring.gans.api",
    "load_run": "sparring.gans.api",
    "algorithms": "sparring.gans.registry",
    "presets_for": "sparring.gans.registry",
    "UserError": "sparring.errors",
    "build_config": "sparring.kinds",
    "load_config": "sparring.kinds",
    "align": "sparring.llm.api",
    "generate": "sparring.llm.api",
    "eval_code": "sparring.code.api",
    "ra3": "sparring.code.api",
    "ntp": "sparring.code.api",
    "rlvr": "sparring.code.api",
}


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'sparring' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])


__all__ = sorted(_API)
__version__ = "0.1.0"
