"""``sparring evaluate``: a run's generator at several sampling temperatures, and D's view of it.

One temperature hides the quality-diversity trade-off: any model can buy quality with diversity
by sampling colder ("Language GANs Falling Short", Caccia et al., 2020). Sweeping T gives a
curve per model: NLL-oracle against NLL-test on the oracle, BLEU-4 against Self-BLEU-4 on text.
A model is better only if its curve is, not a single point.

``features-pca.png`` projects the discriminator's features (the highway output LeakGAN leaks)
of held-out real and generated sentences onto their first two principal components, the
picture the LeakGAN paper uses to compare distributions. Runs without a discriminator (MLE)
(and those whose critic is not a CNN classifier: DPGAN's language model, MaskGAN's per-token D, CoT's
mediator) get a fresh one, trained for one round on real vs generated sentences, and the plot says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sparring.errors import UserError
from sparring.files import atomic_write_json, atomic_write_text
from sparring.gans.api import Run
from sparring.gans.config import DiscriminatorConfig
from sparring.gans.corpus import Corpus, load_corpus
from sparring.gans.engine import adam, discriminator_round, evaluate_generator, sample
from sparring.gans.models.cnn_discriminator import CNNDiscriminator
from sparring.plots import new_figure, save_figure
from sparring.runs import writing_into

EVAL_DIR = "evaluation"


def sweep(run: Run, temperatures: list[float], corpus: Corpus, seed: int = 0) -> list[dict[str, Any]]:
    """One row of metrics per temperature (each row records its temperature, sample count and which
    checkpoint: an MLE run is swept at the model its selection chose, ``Run.selected_generator``)."""
    gen, checkpoint = run.selected_generator()
    rows = []
    for temperature in temperatures:
        torch.manual_seed(seed)
        metrics = evaluate_generator(gen, corpus, run.config.eval, temperature)
        rows.append({"run": run.path.name, "algo": run.config.algo, "checkpoint": checkpoint, **metrics})
    return rows


def curve_axes(corpus: Corpus) -> tuple[str, str, str, str]:
    """(x key, y key, x label, y label) of the quality-diversity plane."""
    if corpus.is_text:
        return "self_bleu_4", "bleu_4", "Self-BLEU-4 (lower: more diverse)", "BLEU-4 vs test set (higher: better quality)"
    return "nll_test", "nll_oracle", "NLL-test (lower: better coverage)", "NLL-oracle (lower: better quality)"


def plot_quality_diversity(rows_by_run: dict[str, list[dict[str, Any]]], corpus: Corpus, path: Path, floor: float | None) -> None:
    x_key, y_key, x_label, y_label = curve_axes(corpus)
    fig, (ax,) = new_figure(1, (6.5, 5))
    for name, rows in rows_by_run.items():
        xs, ys = [r[x_key] for r in rows], [r[y_key] for r in rows]
        ax.plot(xs, ys, marker="o", label=name)
        for r in rows:
            ax.annotate(f"T={r['temperature']:g}", (r[x_key], r[y_key]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if floor is not None:
        ax.axhline(floor, color="grey", linestyle="--", linewidth=1, label="entropy floor")
        ax.axvline(floor, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title("quality-diversity across sampling temperatures")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def _discriminator_for(run: Run, corpus: Corpus, fake: torch.Tensor) -> tuple[torch.nn.Module, str]:
    models = run.models()
    if isinstance(models.get("discriminator"), CNNDiscriminator):
        return models["discriminator"], "the run's discriminator"
    d = DiscriminatorConfig()  # SeqGAN's D, keeping only the filter widths that fit the sequences
    widths, counts = zip(*[(w, n) for w, n in zip(d.filter_sizes, d.num_filters, strict=True) if w <= corpus.seq_len], strict=True)
    disc = CNNDiscriminator(corpus.vocab_size, d.emb_dim, widths, counts, d.dropout)
    discriminator_round(disc, adam(disc.parameters(), 1e-4), corpus.train, fake, 1, d.batch_size, d.l2_reg)
    return disc.eval(), "a fresh discriminator trained for one epoch (the run has none)"


@torch.no_grad()
def pca_2d(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinates on the first two principal components, and the share of variance they explain."""
    centred = features - features.mean(dim=0, keepdim=True)
    _, s, v = torch.linalg.svd(centred, full_matrices=False)
    explained = (s[:2] ** 2) / (s**2).sum()
    return centred @ v[:2].t(), explained


def plot_features_pca(run: Run, corpus: Corpus, path: Path, n: int, seed: int = 0) -> str:
    torch.manual_seed(seed)
    gen, _ = run.selected_generator()
    fake = sample(gen, n, corpus, run.config.eval.temperature)
    real = corpus.test[:n]
    disc, source = _discriminator_for(run, corpus, fake)
    with torch.no_grad():
        feats = torch.cat([disc.features(real), disc.features(fake)])
    coords, explained = pca_2d(feats)
    fig, (ax,) = new_figure(1, (6, 5))
    ax.scatter(coords[: len(real), 0], coords[: len(real), 1], s=6, alpha=0.5, label=f"real (held out, {len(real)})")
    ax.scatter(coords[len(real) :, 0], coords[len(real) :, 1], s=6, alpha=0.5, label=f"generated (T={run.config.eval.temperature:g}, {n})")
    ax.set_xlabel(f"PC1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({explained[1]:.0%} of variance)")
    ax.set_title(f"{run.path.name}: features of {source}", fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, path)
    return source


def markdown_table(rows: list[dict[str, Any]], corpus: Corpus) -> str:
    keys = ["nll_oracle", "nll_test"]
    if corpus.is_text:
        keys = ["nll_test", *(f"bleu_{n}" for n in (2, 3, 4, 5)), *(f"self_bleu_{n}" for n in (2, 3, 4, 5)), "distinct_2"]
    head = "| run | checkpoint | T | samples | " + " | ".join(keys) + " |"
    lines = [head, "|" + "---|" * (4 + len(keys))]
    for r in rows:
        cells = " | ".join(f"{r[k]:.3f}" for k in keys)
        lines.append(f"| {r['run']} | {r.get('checkpoint', 'last checkpoint')} | {r['temperature']:g} | {r['n_samples']} | {cells} |")
    return "\n".join(lines) + "\n"


def evaluate_runs(paths: list[str], temperatures: list[float], out: str | None, pca_samples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Sweep temperatures for every run; write tables and plots; return what was written."""
    if not temperatures or any(not t > 0 for t in temperatures):
        raise UserError(f"--temperature values must be > 0, got {temperatures}")
    runs = [Run(p, "evaluate") for p in paths]
    corpora = {}
    for run in runs:
        key = (run.config.data, run.config.test)
        try:
            corpora[run.path] = load_corpus(run.config)
        except UserError as exc:
            raise UserError(f"{run.path}: cannot reload its data ({exc})") from None
        if run.vocab is not None and run.vocab.words != corpora[run.path].vocab.words:
            raise UserError(f"{run.path}: its data file {key[0]} has changed since training (the vocabulary differs)")
    kinds = {corpus.is_text for corpus in corpora.values()}
    if len(kinds) > 1:
        raise UserError("cannot put oracle runs and real-text runs on one quality-diversity plot")
    written: dict[str, Any] = {"runs": {}}
    rows_by_run = {}
    for run in runs:
        corpus = corpora[run.path]
        rows = sweep(run, temperatures, corpus, seed)
        rows_by_run[run.path.name] = rows
        target = run.path / EVAL_DIR
        floor = None
        if corpus.oracle is not None:
            from sparring.gans.nll import per_token_nll

            floor = per_token_nll(corpus.oracle, corpus.test)
        with writing_into(run.path):
            target.mkdir(exist_ok=True)
            atomic_write_json(target / "temperatures.json", rows)
            atomic_write_text(target / "temperatures.md", markdown_table(rows, corpus))
            plot_quality_diversity({run.path.name: rows}, corpus, target / "quality-diversity.png", floor)
            source = plot_features_pca(run, corpus, target / "features-pca.png", min(pca_samples, len(corpus.test)), seed)
        written["runs"][str(run.path)] = {"dir": str(target), "rows": rows, "pca_source": source}
    if len(runs) > 1:
        combined = Path(out or "evaluation")
        combined.mkdir(parents=True, exist_ok=True)
        corpus = next(iter(corpora.values()))
        all_rows = [r for rows in rows_by_run.values() for r in rows]
        atomic_write_json(combined / "temperatures.json", all_rows)
        atomic_write_text(combined / "temperatures.md", markdown_table(all_rows, corpus))
        plot_quality_diversity(rows_by_run, corpus, combined / "quality-diversity.png", None)
        written["combined"] = str(combined)
    written["rows"] = [r for rows in rows_by_run.values() for r in rows]
    return written
