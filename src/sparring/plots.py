"""One plotting set-up for every line: a headless backend, numeric series from metrics rows, and
figures written atomically (a crash never leaves half a PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

from sparring.files import atomic_write  # noqa: E402


def new_figure(panels: int, size: tuple[float, float]) -> tuple[Any, list[Any]]:
    """A figure of ``panels`` side-by-side axes (always a list, even for one)."""
    fig, axes = plt.subplots(1, panels, figsize=size)
    return fig, list(axes) if panels > 1 else [axes]


def series(rows: list[dict[str, Any]], x: str, y: str) -> list[tuple[float, float]]:
    """(x, y) of the rows where both are numbers (a row that did not log ``y`` is skipped)."""
    return [(r[x], r[y]) for r in rows if isinstance(r.get(x), int | float) and isinstance(r.get(y), int | float)]


def save_figure(fig: Any, path: Path) -> None:
    fig.tight_layout()
    atomic_write(Path(path), lambda handle: fig.savefig(handle, format="png", dpi=110))
    plt.close(fig)
