"""Comparing generators at matched coverage: quality-diversity frontiers from temperature sweeps.

A single sampling temperature can make either of two models look better (Caccia et al., "Language
GANs Falling Short"). Sweeping the temperature traces each model's curve in the (coverage, quality)
plane: on the oracle NLL-test against NLL-oracle, on text Self-BLEU-4 against BLEU-4. Here both
axes are costs (lower is better; BLEU-4 enters negated). A model's frontier is its Pareto-efficient
points; between them it is linear. Two frontiers are compared on the x range they share: the one
lower everywhere dominates; otherwise they cross, and the crossings are reported.
"""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]  # (x cost, y cost)


def pareto_front(points: Sequence[Point]) -> list[Point]:
    """The points no other point beats on both costs, sorted by x (y then falls as x rises)."""
    front: list[Point] = []
    for x, y in sorted(set(points)):
        if not front or y < front[-1][1]:
            front.append((x, y))
    return front


def interpolate(front: Sequence[Point], x: float) -> float | None:
    """y of a sorted front at ``x`` by linear interpolation; None outside its x range."""
    if not front or x < front[0][0] or x > front[-1][0]:
        return None
    for (x0, y0), (x1, y1) in zip(front, front[1:], strict=False):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return front[-1][1]


def compare_fronts(a: Sequence[Point], b: Sequence[Point], grid: int = 101, tolerance: float = 1e-3) -> dict:
    """How frontier ``a`` stands against ``b`` on the x range both cover.

    Returns ``verdict`` ("a dominates", "b dominates", "level", "cross" or "no overlap"), the shared
    range, the mean gap (b - a: positive when a is better) and the x values where they cross."""
    fa, fb = pareto_front(a), pareto_front(b)
    if not fa or not fb:
        return {"verdict": "no overlap", "range": None, "mean_gap": None, "crossings": []}
    low, high = max(fa[0][0], fb[0][0]), min(fa[-1][0], fb[-1][0])
    if low > high:
        return {"verdict": "no overlap", "range": None, "mean_gap": None, "crossings": []}
    xs = [low] if low == high else [low + (high - low) * i / (grid - 1) for i in range(grid)]
    gaps = [interpolate(fb, x) - interpolate(fa, x) for x in xs]  # > 0: a is lower (better) there
    signs = [0 if abs(g) <= tolerance else (1 if g > 0 else -1) for g in gaps]
    decided = [(x, g, s) for x, g, s in zip(xs, gaps, signs, strict=True) if s != 0]
    crossings = [  # where the gap changes sign, by linear interpolation between the grid points around it
        round(x0 + (x1 - x0) * g0 / (g0 - g1), 4) for (x0, g0, s0), (x1, g1, s1) in zip(decided, decided[1:], strict=False) if s0 != s1
    ]
    if all(s >= 0 for s in signs) and any(s > 0 for s in signs):
        verdict = "a dominates"
    elif all(s <= 0 for s in signs) and any(s < 0 for s in signs):
        verdict = "b dominates"
    elif all(s == 0 for s in signs):
        verdict = "level"
    else:
        verdict = "cross"
    return {"verdict": verdict, "range": (low, high), "mean_gap": sum(gaps) / len(gaps), "crossings": crossings}
