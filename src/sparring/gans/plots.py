"""Training curves: NLL-oracle and NLL-test against step, phase boundaries marked, floor drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sparring.plots import new_figure, save_figure


def curve_points(rows: list[dict[str, Any]], key: str, pretrained_epochs: int = 0) -> tuple[list[float], list[float], list[float]]:
    """x, y and the phase boundaries for one metric.

    Phases are laid end to end: adversarial step s is drawn at (last MLE epoch + s), the way the
    SeqGAN and LeakGAN papers draw pre-training followed by adversarial epochs. A run that started
    from a pretrained generator has no MLE rows; ``pretrained_epochs`` places it after those epochs.
    """
    xs, ys, boundaries = [], [], []
    offset = float(pretrained_epochs)
    for phase in dict.fromkeys(r.get("phase") for r in rows):  # phases in the order they ran
        phase_rows = [r for r in rows if r.get("phase") == phase]
        points = [r for r in phase_rows if r.get(key) is not None]
        if not points:  # e.g. discriminator pre-training: no generator metric, no x-axis span
            continue
        if xs or offset:
            boundaries.append(offset)
        for r in points:
            xs.append(offset + r["step"])
            ys.append(r[key])
        offset += max(r["step"] for r in phase_rows)
    return xs, ys, boundaries


def plot_curves(runs: list[tuple[str, list[dict[str, Any]], float | None, int]], path: Path) -> None:
    """One figure, two panels (NLL-oracle or BLEU-4 on real text, and NLL-test), one line per run.

    Each run is (label, metrics rows, entropy floor or None, MLE epochs of its pretrained generator).
    """
    fig, axes = new_figure(2, (11, 4))
    oracle = any(r.get("nll_oracle") is not None for _, rows, _, _ in runs for r in rows)
    if oracle:
        first = ("nll_oracle", "NLL-oracle (quality)", "nats per token")
    else:
        first = ("bleu_4", "BLEU-4 against the test set (quality)", "BLEU-4")
    panels = (first, ("nll_test", "NLL-test (coverage)", "nats per token"))
    for ax, (key, title, unit) in zip(axes, panels, strict=True):
        floor_drawn = False
        for label, rows, floor, pretrained_epochs in runs:
            xs, ys, boundaries = curve_points(rows, key, pretrained_epochs)
            (line,) = ax.plot(xs, ys, marker=".", label=label)
            for b in boundaries:
                ax.axvline(b, color=line.get_color(), linestyle=":", linewidth=1)
            if floor is not None and not floor_drawn and key.startswith("nll"):
                ax.axhline(floor, color="grey", linestyle="--", linewidth=1, label="entropy floor")
                floor_drawn = True
        ax.set_title(title)
        ax.set_xlabel("pre-training step (MLE epoch; LeakGAN: round), then adversarial step; dotted: phase boundary", fontsize=8)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save_figure(fig, path)
