"""sparring: train text generators by letting them spar with a critic.

The Python API mirrors the CLI::

    from sparring import build_config, train, load_run
    cfg = build_config("seqgan", preset="smoke", overrides={"seed": 1})
    run = train(cfg, "runs/seqgan-smoke")
    run.summary["final"]["nll_oracle"], run.metrics[-1], run.sample(n=3)
"""

from sparring.api import Run, load_run, train
from sparring.config import algorithms, build_config, presets_for
from sparring.errors import UserError

__all__ = ["Run", "UserError", "algorithms", "build_config", "load_run", "presets_for", "train"]
__version__ = "0.1.0"
