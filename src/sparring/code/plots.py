"""curves.png of ra3 / ntp / rlvr runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sparring.runs import atomic_write  # noqa: E402


def _series(rows: list[dict[str, Any]], x: str, y: str) -> list[tuple[float, float]]:
    return [(r[x], r[y]) for r in rows if isinstance(r.get(x), int | float) and isinstance(r.get(y), int | float)]


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=110))
    plt.close(fig)


def plot_ra3_curves(rows: list[dict[str, Any]], path: Path) -> None:
    """RA3: E-step reward per update, ELBO vs NTP log-likelihood and think rate per EM iteration.
    NTP: the SFT loss against tokens trained."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    estep = [r for r in rows if r.get("phase") == "estep"]
    em = [r for r in rows if r.get("phase") == "em"]
    sft = [r for r in rows if r.get("phase") == "sft"]
    if estep:
        axes[0].plot([i + 1 for i in range(len(estep))], [r["reward_mean"] for r in estep], marker=".", label="E-step reward")
        axes[0].set_xlabel("E-step update (all iterations)")
    if sft:
        axes[0].plot(*zip(*_series(sft, "tokens_trained", "sft_loss"), strict=True), label="SFT loss")
        axes[0].set_xlabel("tokens trained")
    axes[0].legend(fontsize=8)
    for key, label in (("elbo_per_token", "temporal ELBO / token"), ("ntp_logp_per_token", "NTP log p / token")):
        if _series(em, "iteration", key):
            axes[1].plot(*zip(*_series(em, "iteration", key), strict=True), marker="o", label=label)
    axes[1].set_xlabel("EM iteration")
    if em:
        axes[1].legend(fontsize=8)
        axes[2].plot(*zip(*_series(em, "iteration", "think_rate"), strict=True), marker="o")
    axes[2].set_title("think rate", fontsize=10)
    axes[2].set_xlabel("EM iteration")
    _save(fig, path)


def plot_rlvr_curves(rows: list[dict[str, Any]], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, title in ((axes[0], "pass_rate", "training pass rate"), (axes[1], "completion_length", "completion length (tokens)")):
        points = _series(rows, "step", key)
        if points:
            ax.plot(*zip(*points, strict=True), marker=".")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("GRPO step")
    _save(fig, path)
