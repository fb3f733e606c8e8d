"""The text-GAN line's Python API (``sparring train``, ``sample``): train a run, open a finished one.

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
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from sparring.checkpoints import Checkpoint
from sparring.config import load, to_dict
from sparring.data.text import Vocabulary, pad_after_eos
from sparring.devices import resolve_device
from sparring.errors import UserError
from sparring.files import atomic_write_json
from sparring.gans.config import sequence_length
from sparring.gans.corpus import Corpus, load_corpus
from sparring.gans.engine import BEST_FILE, BF16_MIN_FILTERS, TEXT_KEYS
from sparring.gans.models.cnn_discriminator import CNNDiscriminator
from sparring.gans.nll import per_token_nll
from sparring.gans.plots import plot_curves
from sparring.gans.registry import METHODS
from sparring.gans.session import PHASE, Session
from sparring.precision import resolve_precision
from sparring.runs import RunDir, RunWriter, check_run, require_algo, start_run

VOCAB_FILE = "vocab.json"
# metrics of some models only, kept in the summary when the final row has them: MaskGAN's in-filling,
# the category-conditional models' per-category rows and faithfulness
MODEL_OWN_PREFIXES = ("fill_", "category_")


class Run:
    """A run directory opened for reading: config, metrics, summary, and the trained generator."""

    def __init__(self, path: str | Path, verb: str = "this command") -> None:
        self.dir = RunDir.open_existing(path)
        data = self.dir.read_config()
        require_algo(self.dir.path, data["algo"], list(METHODS), verb)
        self.config = load(METHODS[data["algo"]].kind, data)

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

    @property
    def label_names(self) -> list[str]:
        """The categories of a run trained on labelled text (``--label-col``); empty otherwise."""
        path = self.path / VOCAB_FILE
        return list(json.loads(path.read_text()).get("categories", [])) if path.exists() else []

    def models(self, device: str = "cpu") -> dict[str, torch.nn.Module]:
        """The algorithm's networks (generator, and discriminator where there is one) as of the last checkpoint."""
        checkpoint = self.last_checkpoint(device)
        method = METHODS[self.config.algo]
        categories = {"n_categories": max(1, len(self.label_names))} if method.conditional else {}
        models = method.build(self.config, self.vocab_size, torch.device(device), **categories)
        for name, module in models.items():
            try:
                module.load_state_dict(checkpoint["models"][name])
            except (KeyError, RuntimeError) as exc:
                raise UserError(f"corrupt checkpoint {checkpoint.folder}: {name} weights do not fit ({exc})") from None
            module.eval()
        return models

    def last_checkpoint(self, device: str = "cpu") -> Checkpoint:
        """The run's newest complete checkpoint (a torn newer one is named and skipped)."""
        return self.dir.checkpoints(PHASE).latest(map_location=device, required=True)

    def generator(self, device: str = "cpu") -> torch.nn.Module:
        """The generator as of the last checkpoint."""
        return self.models(device)["generator"]

    def selected_generator(self, device: str = "cpu") -> tuple[torch.nn.Module, str]:
        """The generator model selection chose, and which one it is: for an MLE run the
        best-validation weights (``checkpoints/best.pt``, what ``report`` and ``pretrained=RUN``
        use; the last checkpoint is up to ``mle.patience`` evaluations past it), for a GAN run the
        last checkpoint (its adversarial phase is what is being compared)."""
        gen = self.generator(device)
        best = self.path / "checkpoints" / BEST_FILE
        if self.config.algo != "mle" or not best.is_file():
            return gen, "last checkpoint"
        saved = torch.load(best, map_location=device, weights_only=True)
        gen.load_state_dict(saved["generator"])
        return gen.eval(), f"best validation (epoch {saved['epoch']})"

    def sample(self, n: int = 10, temperature: float = 1.0, seed: int = 0, label: str | None = None) -> torch.Tensor:
        """``n`` sequences of token ids from the last checkpoint's generator, reproducible by ``seed``;
        with ``label``, of that category (a category-conditional run)."""
        if n < 1:
            raise UserError(f"--n must be >= 1, got {n}")
        if not temperature > 0:
            raise UserError(f"--temperature must be > 0, got {temperature}")
        gen = self.generator()
        if label is not None:
            names = self.label_names
            if not METHODS[self.config.algo].conditional or not names:
                raise UserError(f"--label: {self.path} is not a category-conditional run (sentigan or catgan with --label-col)")
            if label not in names:
                raise UserError(f"--label: no category '{label}' in {self.path} (categories: {', '.join(names)})")
            gen = gen.for_category(names.index(label))
        torch.manual_seed(seed)
        tokens = gen.generate(n, sequence_length(self.config), temperature)
        return tokens if self.vocab is None else pad_after_eos(tokens)

    def sample_text(self, n: int = 10, temperature: float = 1.0, seed: int = 0, label: str | None = None) -> list[str]:
        """Samples as text: words on real text, token ids joined by spaces on the oracle."""
        tokens = self.sample(n, temperature, seed, label)
        vocab = self.vocab
        if vocab is None:
            return [" ".join(map(str, row)) for row in tokens.tolist()]
        return [vocab.decode(row) for row in tokens.tolist()]


def load_run(path: str | Path, verb: str = "this command") -> Run:
    return Run(path, verb)


def train(cfg: Any, out: str | Path, resume: bool = False, console: Console | None = None, report_to: str = "none") -> Run:
    """Train ``cfg`` into the run directory ``out`` (or continue it with ``resume=True``)."""
    console = console or Console(stderr=True)
    check_run(out, to_dict(cfg), resume, report_to=report_to)  # before loading anything
    device = torch.device(resolve_device(cfg.device))
    pretrained = _pretrained_generator(cfg)
    data = load_corpus(cfg, device)  # before the run directory: bad data never leaves a partial run
    with start_run(out, to_dict(cfg), resume, report_to=report_to) as writer:
        if writer.already_complete:
            return Run(writer.path)
        if data.vocab is not None:
            categories = {"categories": data.label_names} if data.label_names else {}
            atomic_write_json(writer.path / VOCAB_FILE, {"words": data.vocab.words, **categories})
        torch.manual_seed(cfg.seed)
        session = Session(writer, cfg.checkpoint_every, console)
        try:
            floor = per_token_nll(data.oracle, data.test) if data.oracle is not None else None
            gen = METHODS[cfg.algo].train(session, cfg, data, device, pretrained)
            _finish(writer, session, cfg, data, gen, floor, device)
        finally:
            session.close()
    return Run(writer.path)


def _pretrained_generator(cfg: Any) -> dict | None:
    """The generator a GAN starts from with ``pretrained=RUN``: that run's best-validation weights
    (``checkpoints/best.pt``; its last weights for a run without one)."""
    if not cfg.pretrained:
        return None
    source = Run(cfg.pretrained, "pretrained=RUN")
    for section in ("data", "test", "valid", "oracle", "text", "generator"):
        if to_dict(source.config).get(section) != to_dict(cfg).get(section):
            raise UserError(f"pretrained run {source.path} has a different '{section}' config than this run")
    if not source.complete:
        raise UserError(f"pretrained run {source.path} is not finished (no summary.json)")
    best = source.path / "checkpoints" / BEST_FILE
    if best.is_file():
        return torch.load(best, weights_only=True)["generator"]
    return source.last_checkpoint()["models"]["generator"]


def pretrained_epochs(cfg: Any) -> int:
    """MLE epochs behind a run's pretrained generator (its best-validation epoch; 0 without one, or
    if it is gone), for plots."""
    if not cfg.pretrained:
        return 0
    try:
        summary = Run(cfg.pretrained).summary or {}
    except UserError:
        return 0
    return int((summary.get("mle_best") or {}).get("epoch", 0))


def _finish(writer: RunWriter, session: Session, cfg: Any, data: Corpus, gen: Any, floor: float | None, device: torch.device) -> None:
    """Samples (as text on real data), summary (written last: it marks the run complete) and curves."""
    from sparring.gans.engine import sample

    run = writer.dir
    n = cfg.eval.n_write_samples
    if n and METHODS[cfg.algo].conditional and data.label_names:
        from sparring.gans.categories import samples_by_category

        run.write_samples(samples_by_category(gen, data, n, cfg.eval.temperature))
    else:
        run.write_samples(data.decode(sample(gen, n, data, cfg.eval.temperature)) if n else [])
    rows = run.read_metrics()
    summary = build_summary(rows, session.phase_seconds, floor)
    if data.is_text:
        summary["data"] = data.stats
    summary.update(algo=cfg.algo, seed=cfg.seed, device=str(device), wall_time_s=round(session.elapsed(), 3))
    disc = session.tracked.get("discriminator")
    if not isinstance(disc, CNNDiscriminator):
        scope = "nothing (no CNN discriminator; the generators and LSTM critics are fp32)"
        disc = None
    elif disc.bf16:
        scope = "the CNN discriminator's training and scoring passes (the generators and the evaluation are fp32)"
    else:
        scope = f"nothing (a discriminator of {disc.feature_dim} filters stays fp32: below {BF16_MIN_FILTERS}, bf16 measured slower)"
    ran_bf16 = disc is not None and disc.bf16
    summary.update(resolve_precision(cfg.precision, str(device)).record(scope, ran_bf16=ran_bf16))
    plot_curves([(run.path.name, rows, floor, pretrained_epochs(cfg))], run.curves_path)
    writer.finish(summary)


def build_summary(rows: list[dict[str, Any]], phase_seconds: dict[str, float], floor: float | None) -> dict[str, Any]:
    """Final metrics and the best-validation evaluation from the metrics rows (a pure function, also
    used by ``report``). "Best" is chosen on NLL-valid only; its test metrics are reported as they are."""
    evaluated = [r for r in rows if r.get("nll_test") is not None]
    final = evaluated[-1] if evaluated else {}
    final_keys = ("phase", "step", "nll_oracle", "nll_test", "nll_valid", "d_accuracy", "temperature", "n_samples")
    if any(final.get(k) is not None for k in TEXT_KEYS):
        final_keys += TEXT_KEYS
    best = selected_by_validation(evaluated)
    mle_best = selected_by_validation([r for r in evaluated if r.get("phase") == "mle"])
    phases = {}
    for phase, seconds in phase_seconds.items():
        phase_rows = [r for r in rows if r["phase"] == phase]
        phases[phase] = {"seconds": round(seconds, 3), "last": phase_rows[-1] if phase_rows else None}
    adversarial = [r for r in rows if r.get("phase") == "adversarial" and r.get("d_accuracy") is not None]
    d_accuracy = None
    if adversarial:  # D's held-out accuracy when the adversarial phase starts and ends (0.5: at chance)
        d_accuracy = {"adversarial_start": adversarial[0]["d_accuracy"], "adversarial_end": adversarial[-1]["d_accuracy"]}
    mle_summary = None
    if mle_best:
        mle_summary = {"epoch": mle_best["step"], **{k: mle_best.get(k) for k in final_keys if k not in ("phase", "step")}}
    final_keys += tuple(k for k in final if k.startswith(MODEL_OWN_PREFIXES))
    return {
        "final": {k: final.get(k) for k in final_keys},
        "best": {k: best.get(k) for k in final_keys} if best else {},
        "mle_best": mle_summary,
        "d_accuracy": d_accuracy,
        "entropy_floor": floor,
        "phases": phases,
    }


def selected_by_validation(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The evaluation with the lowest NLL-valid (the first of equals), or None."""
    candidates = [r for r in rows if r.get("nll_valid") is not None]
    return min(candidates, key=lambda r: r["nll_valid"]) if candidates else None
