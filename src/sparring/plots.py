"""Training curves: NLL-oracle and NLL-test against step, phase boundaries marked, floor drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

from sparring.runs import atomic_write  # noqa: E402

PHASE_ORDER = ("mle", "pretrain_d", "adversarial")


def curve_points(rows: list[dict[str, Any]], key: str, pretrained_epochs: int = 0) -> tuple[list[float], list[float], list[float]]:
    """x, y and the phase boundaries for one metric.

    Phases are laid end to end: adversarial step s is drawn at (last MLE epoch + s), the way the
    SeqGAN and LeakGAN papers draw pre-training followed by adversarial epochs. A run that started
    from a pretrained generator has no MLE rows; ``pretrained_epochs`` places it after those epochs.
    """
    xs, ys, boundaries = [], [], []
    offset = float(pretrained_epochs)
    for phase in PHASE_ORDER:
        phase_rows = [r for r in rows if r.get("phase") == phase]
        if not phase_rows:
            continue
        if xs or (offset and phase != "pretrain_d"):
            boundaries.append(offset)
        for r in phase_rows:
            if r.get(key) is not None:
                xs.append(offset + r["step"])
                ys.append(r[key])
        offset += max(r["step"] for r in phase_rows) if phase != "pretrain_d" else 0
    return xs, ys, boundaries


def plot_curves(runs: list[tuple[str, list[dict[str, Any]], float | None, int]], path: Path) -> None:
    """One figure, two panels (NLL-oracle, NLL-test), one line per run.

    Each run is (label, metrics rows, entropy floor or None, MLE epochs of its pretrained generator).
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in zip(axes, ("nll_oracle", "nll_test"), ("NLL-oracle (quality)", "NLL-test (coverage)"), strict=True):
        floor_drawn = False
        for label, rows, floor, pretrained_epochs in runs:
            xs, ys, boundaries = curve_points(rows, key, pretrained_epochs)
            (line,) = ax.plot(xs, ys, marker=".", label=label)
            for b in boundaries:
                ax.axvline(b, color=line.get_color(), linestyle=":", linewidth=1)
            if floor is not None and not floor_drawn:
                ax.axhline(floor, color="grey", linestyle="--", linewidth=1, label="entropy floor")
                floor_drawn = True
        ax.set_title(title)
        ax.set_xlabel("MLE epoch, then adversarial step (dotted: phase boundary)")
        ax.set_ylabel("nats per token")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(Path(path), lambda handle: fig.savefig(handle, format="png", dpi=110))
    plt.close(fig)
