"""The Python API that the CLI is a thin layer over.

    from sparring import build_config, train, load_run
    cfg = build_config("seqgan", preset="smoke", overrides={"seed": 1})
    run = train(cfg, "runs/seqgan-smoke")
    print(run.summary["final"]["nll_oracle"])
    print(run.sample(n=3))

Every check that can reject the user's input runs before the run directory is created, so a bad
input never leaves a partial run behind.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from sparring.config import from_dict, sequence_length, to_dict
from sparring.data.corpus import Corpus, load_corpus
from sparring.data.text import Vocabulary, pad_after_eos
from sparring.devices import resolve_device
from sparring.errors import UserError
from sparring.gans import ALGORITHMS
from sparring.gans.engine import TEXT_KEYS
from sparring.metrics.nll import per_token_nll
from sparring.plots import plot_curves
from sparring.runs import RunDir, atomic_write_json
from sparring.session import Session

VOCAB_FILE = "vocab.json"


class Run:
    """A run directory opened for reading: config, metrics, summary, and the trained generator."""

    def __init__(self, path: str | Path) -> None:
        self.dir = RunDir.open_existing(path)
        self.config = from_dict(self.dir.read_config())

    @property
    def path(self) -> Path:
        return self.dir.path

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return self.dir.read_metrics()

    @property
    def summary(self) -> dict[str, Any] | None:
        return self.dir.read_summary()

    @property
    def complete(self) -> bool:
        return self.dir.is_complete()

    @property
    def vocab(self) -> Vocabulary | None:
        """The word vocabulary of a real-text run (None on the oracle)."""
        path = self.path / VOCAB_FILE
        if not path.exists():
            return None
        try:
            return Vocabulary(json.loads(path.read_text())["words"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise UserError(f"{path}: damaged vocabulary file") from None

    @property
    def vocab_size(self) -> int:
        vocab = self.vocab
        return self.config.oracle.vocab_size if vocab is None else len(vocab)

    def models(self, device: str = "cpu") -> dict[str, torch.nn.Module]:
        """The algorithm's networks (generator, and discriminator where there is one) as of the last checkpoint."""
        payload = self.dir.load_checkpoint(map_location=device)
        models = ALGORITHMS[self.config.algo].build(self.config, self.vocab_size, torch.device(device))
        for name, module in models.items():
            try:
                module.load_state_dict(payload["models"][name])
            except (KeyError, RuntimeError) as exc:
                raise UserError(f"corrupt checkpoint {self.dir.checkpoint_path}: {name} weights do not fit ({exc})") from None
            module.eval()
        return models

    def generator(self, device: str = "cpu") -> torch.nn.Module:
        """The generator as of the last checkpoint."""
        return self.models(device)["generator"]

    def sample(self, n: int = 10, temperature: float = 1.0, seed: int = 0) -> torch.Tensor:
        """``n`` sequences of token ids from the last checkpoint's generator, reproducible by ``seed``."""
        if n < 1:
            raise UserError(f"--n must be >= 1, got {n}")
        if not temperature > 0:
            raise UserError(f"--temperature must be > 0, got {temperature}")
        gen = self.generator()
        torch.manual_seed(seed)
        tokens = gen.generate(n, sequence_length(self.config), temperature)
        return tokens if self.vocab is None else pad_after_eos(tokens)

    def sample_text(self, n: int = 10, temperature: float = 1.0, seed: int = 0) -> list[str]:
        """Samples as text: words on real text, token ids joined by spaces on the oracle."""
        tokens = self.sample(n, temperature, seed)
        vocab = self.vocab
        if vocab is None:
            return [" ".join(map(str, row)) for row in tokens.tolist()]
        return [vocab.decode(row) for row in tokens.tolist()]


def load_run(path: str | Path) -> Run:
    return Run(path)


def train(cfg: Any, out: str | Path, resume: bool = False, console: Console | None = None) -> Run:
    """Train ``cfg`` into the run directory ``out`` (or continue it with ``resume=True``)."""
    console = console or Console(stderr=True)
    device = torch.device(resolve_device(cfg.device))
    pretrained = _pretrained_generator(cfg)
    data = load_corpus(cfg, device)  # before the run directory: bad data never leaves a partial run
    run = _prepare_run_dir(Path(out), cfg, resume)
    if run.is_complete():
        console.print(f"{run.path} is already complete; nothing to resume.")
        return Run(run.path)
    if data.vocab is not None:
        atomic_write_json(run.path / VOCAB_FILE, {"words": data.vocab.words})

    torch.manual_seed(cfg.seed)
    session = Session(run, cfg.checkpoint_every, console)
    try:
        floor = per_token_nll(data.oracle, data.test) if data.oracle is not None else None
        gen = ALGORITHMS[cfg.algo].train(session, cfg, data, device, pretrained)
        _finish(run, session, cfg, data, gen, floor, device)
    finally:
        session.close()
    return Run(run.path)


def _pretrained_generator(cfg: Any) -> dict | None:
    if not cfg.pretrained:
        return None
    source = Run(cfg.pretrained)
    for section in ("data", "test", "oracle", "text", "generator"):
        if to_dict(source.config).get(section) != to_dict(cfg).get(section):
            raise UserError(f"pretrained run {source.path} has a different '{section}' config than this run")
    if not source.complete:
        raise UserError(f"pretrained run {source.path} is not finished (no summary.json)")
    return source.dir.load_checkpoint()["models"]["generator"]


def pretrained_epochs(cfg: Any) -> int:
    """MLE epochs behind a run's pretrained generator (0 without one, or if it is gone), for plots."""
    if not cfg.pretrained:
        return 0
    try:
        return Run(cfg.pretrained).config.mle.epochs
    except UserError:
        return 0


def _prepare_run_dir(path: Path, cfg: Any, resume: bool) -> RunDir:
    run = RunDir(path)
    config = to_dict(cfg)
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        if not resume:
            raise UserError(f"--out {path} already exists; pass --resume to continue it or choose another --out")
        if run.config_path.exists():
            previous = run.read_config()
            if previous != config:
                changed = sorted(k for k in set(previous) | set(config) if previous.get(k) != config.get(k))
                raise UserError(f"--resume: {path} was started with a different config (differs in: {', '.join(changed)})")
            return run
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create run directory {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise UserError(f"run directory {path} is not writable")
    run.write_config(config)
    return run


def _finish(run: RunDir, session: Session, cfg: Any, data: Corpus, gen: Any, floor: float | None, device: torch.device) -> None:
    """Samples (as text on real data), summary (written last: it marks the run complete) and curves."""
    from sparring.gans.engine import sample

    n = cfg.eval.n_write_samples
    run.write_samples(data.decode(sample(gen, n, data, cfg.eval.temperature)) if n else [])
    rows = run.read_metrics()
    summary = build_summary(rows, session.phase_seconds, floor)
    if data.is_text:
        summary["data"] = data.stats
    summary.update(
        algo=cfg.algo,
        seed=cfg.seed,
        device=str(device),
        wall_time_s=round(session.elapsed(), 3),
        versions=_versions(),
    )
    plot_curves([(run.path.name, rows, floor, pretrained_epochs(cfg))], run.curves_path)
    run.write_summary(summary)


def build_summary(rows: list[dict[str, Any]], phase_seconds: dict[str, float], floor: float | None) -> dict[str, Any]:
    """Final and best metrics from the metrics rows (a pure function, also used by ``report``)."""
    evaluated = [r for r in rows if r.get("nll_test") is not None]
    final = evaluated[-1] if evaluated else {}
    best = {}
    for key, better in (("nll_oracle", min), ("nll_test", min), ("bleu_4", max)):
        candidates = [r for r in evaluated if r.get(key) is not None]
        if candidates:
            top = better(candidates, key=lambda r: r[key])
            best[key] = {"value": top[key], "phase": top["phase"], "step": top["step"]}
    final_keys = ("phase", "step", "nll_oracle", "nll_test", "d_accuracy", "temperature", "n_samples")
    if any(final.get(k) is not None for k in TEXT_KEYS):
        final_keys += TEXT_KEYS
    phases = {}
    for phase, seconds in phase_seconds.items():
        phase_rows = [r for r in rows if r["phase"] == phase]
        phases[phase] = {"seconds": round(seconds, 3), "last": phase_rows[-1] if phase_rows else None}
    return {
        "final": {k: final.get(k) for k in final_keys},
        "best": best,
        "entropy_floor": floor,
        "phases": phases,
    }


def _versions() -> dict[str, str]:
    try:
        ours = metadata.version("sparring")
    except metadata.PackageNotFoundError:
        ours = "unknown"
    return {
        "sparring": ours,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
