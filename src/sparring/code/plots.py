"""curves.png of ra3 / ntp / rlvr runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sparring.plots import new_figure, save_figure, series


def plot_ra3_curves(rows: list[dict[str, Any]], path: Path) -> None:
    """RA3: E-step reward per update, ELBO vs NTP log-likelihood and think rate per EM iteration.
    NTP: the SFT loss against tokens trained."""
    fig, axes = new_figure(3, (14, 3.6))
    estep = [r for r in rows if r.get("phase") == "estep"]
    em = [r for r in rows if r.get("phase") == "em"]
    sft = [r for r in rows if r.get("phase") == "sft"]
    if estep:
        axes[0].plot([i + 1 for i in range(len(estep))], [r["reward_mean"] for r in estep], marker=".", label="E-step reward")
        axes[0].set_xlabel("E-step update (all iterations)")
    if sft:
        axes[0].plot(*zip(*series(sft, "tokens_trained", "sft_loss"), strict=True), label="SFT loss")
        axes[0].set_xlabel("tokens trained")
    axes[0].legend(fontsize=8)
    curves = (("elbo_per_token", "temporal ELBO / token (partial)"), ("elbo_full_per_token", "full ELBO / token"),
              ("ntp_logp_per_token", "NTP log p / token"))
    for key, label in curves:
        if series(em, "iteration", key):
            axes[1].plot(*zip(*series(em, "iteration", key), strict=True), marker="o", label=label)
    axes[1].set_xlabel("EM iteration")
    if em:
        axes[1].legend(fontsize=8)
        axes[2].plot(*zip(*series(em, "iteration", "think_rate"), strict=True), marker="o")
    axes[2].set_title("think rate", fontsize=10)
    axes[2].set_xlabel("EM iteration")
    save_figure(fig, path)


def plot_rlvr_curves(rows: list[dict[str, Any]], path: Path) -> None:
    fig, axes = new_figure(2, (10, 3.6))
    for ax, key, title in ((axes[0], "pass_rate", "training pass rate"), (axes[1], "completion_length", "completion length (tokens)")):
        points = series(rows, "step", key)
        if points:
            ax.plot(*zip(*points, strict=True), marker=".")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("GRPO step")
    save_figure(fig, path)
