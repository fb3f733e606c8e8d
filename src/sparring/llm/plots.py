"""curves.png of an align run: reward, D accuracy, KL, completion length and the SFT loss against step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sparring.plots import new_figure, save_figure, series

PANELS = [
    ("reward_mean", "reward (mean over completions)"),
    ("d_accuracy", "discriminator accuracy"),
    ("kl", "KL to reference (per token)"),
    ("completion_length", "completion length (tokens)"),
    ("sft_loss", "SFT loss (NLL per real response token)"),
]


def plot_align_curves(rows: list[dict[str, Any]], path: Path) -> None:
    fig, axes = new_figure(len(PANELS), (20, 3.6))
    sft = [r for r in rows if r.get("phase") == "sft"]
    pre = [r for r in rows if r.get("phase") == "d_pretrain"]
    adv = [r for r in rows if r.get("phase") == "adversarial"]
    for ax, (key, title) in zip(axes, PANELS, strict=True):
        if key == "d_accuracy" and pre:
            ax.plot([r["step"] - len(pre) for r in pre], [r["d_accuracy"] for r in pre], color="grey", label="D pre-training")
        if key == "sft_loss" and sft:  # the sft objective, or GAD's warm-up
            ax.plot(*zip(*series(sft, "step", key), strict=True), marker=".", color="tab:green", label="SFT")
        points = series(adv, "step", key)
        if points:
            ax.plot(*zip(*points, strict=True), marker=".", label="adversarial")
        if key == "reward_mean" and not points:  # the seed objective logs P(real) instead of a reward
            points = series(adv, "step", "p_real")
            if points:
                ax.plot(*zip(*points, strict=True), marker=".", label="D's P(real) of generated")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("generator step")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    save_figure(fig, path)
