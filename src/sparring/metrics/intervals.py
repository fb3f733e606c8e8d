"""Means with 95% intervals over seeds, and the verdict of a paired comparison ("ahead" / "tie").

With a handful of seeds the normal 1.96 is far too narrow; the interval is Student's t with n - 1
degrees of freedom. Two methods run with the same seeds are compared by the per-seed differences
(a paired t interval), which removes what the seed does to both; a difference whose interval
contains 0 is a tie, whatever its sign.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

# two-sided 95% critical values of Student's t, by degrees of freedom (1..30); beyond 30 the normal's
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_critical(df: int) -> float:
    if df < 1:
        raise ValueError("an interval needs at least two values")
    return T_975[df - 1] if df <= len(T_975) else 1.96


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high): the 95% t interval of the mean. One value gives (value, nan, nan): one seed
    says nothing about the spread."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = sum(values) / n
    if n == 1:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_critical(n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def paired_verdict(a: Sequence[float], b: Sequence[float], lower_is_better: bool = True) -> tuple[str, float, float, float]:
    """("ahead" | "behind" | "tie", mean difference a - b, low, high) over seeds paired by position.

    "ahead" means a is better than b with the whole 95% interval of the difference on a's side."""
    if len(a) != len(b):
        raise ValueError("paired values need the same seeds on both sides")
    diff = [x - y for x, y in zip(a, b, strict=True)]
    mean, low, high = mean_interval(diff)
    if math.isnan(low):
        return "tie", mean, low, high  # one seed: no interval, so no claim
    better_low, better_high = (high < 0, low > 0) if lower_is_better else (low > 0, high < 0)
    return ("ahead" if better_low else "behind" if better_high else "tie"), mean, low, high


def format_interval(mean: float, low: float, high: float, digits: int = 3) -> str:
    """'7.512 [7.480, 7.544]', or the mean alone when there is no interval."""
    if math.isnan(low):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"



def cluster_jackknife(statistic: Callable[[list[int]], float], clusters: Sequence[Sequence[int]]) -> tuple[float, float, float]:
    """(value, low, high): the statistic on all items and its 95% delete-one-cluster jackknife interval.

    ``clusters``: the item indices of each independent unit (a held-out prompt with all its
    responses, real and generated; a benchmark task with all its samples). Responses to one prompt
    are not independent, so treating items as independent would give too narrow an interval.
    The jackknife rather than the bootstrap because several of the metrics are not averages
    (distinct-n, Self-BLEU, the Frechet distance): a bootstrap resample repeats responses, which
    those metrics read as repeated text. Deterministic: no resampling seed.
    """
    if len(clusters) < 2:
        raise ValueError("a jackknife interval needs at least two clusters")
    value = statistic([i for cluster in clusters for i in cluster])
    return (value, *jackknife_interval(value, [statistic(items) for items in leave_one_out(clusters)]))


def leave_one_out(clusters: Sequence[Sequence[int]]) -> list[list[int]]:
    """The item indices of every cluster but one, for each cluster in turn."""
    return [[i for j, cluster in enumerate(clusters) if j != k for i in cluster] for k in range(len(clusters))]


def jackknife_interval(value: float, leave_out: Sequence[float]) -> tuple[float, float]:
    """value -+ t * jackknife standard error, from the statistic with each cluster left out in turn."""
    g = len(leave_out)
    centre = sum(leave_out) / g
    se = math.sqrt((g - 1) / g * sum((v - centre) ** 2 for v in leave_out))
    half = t_critical(g - 1) * se
    return value - half, value + half


def bootstrap_mean_interval(values: Sequence[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of ``values`` (independent units, e.g. a
    benchmark's tasks: the interval says what another draw of tasks like these could give)."""
    import random

    if not values:
        raise ValueError("no values")
    rng, n = random.Random(seed), len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return _quantile(means, 0.025), _quantile(means, 0.975)


def paired_bootstrap_verdict(
    a: Sequence[float], b: Sequence[float], higher_is_better: bool = True, resamples: int = 2000, seed: int = 0
) -> tuple[str, float, float, float]:
    """("ahead" | "behind" | "tie", mean of a - b, low, high): the per-unit differences of two methods
    on the same units (tasks), bootstrapped; "ahead" only when the interval excludes 0 on a's side."""
    if len(a) != len(b):
        raise ValueError("a paired comparison needs the same units on both sides")
    diff = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(diff) / len(diff)
    low, high = bootstrap_mean_interval(diff, resamples, seed)
    better, worse = (low > 0, high < 0) if higher_is_better else (high < 0, low > 0)
    return ("ahead" if better else "behind" if worse else "tie"), mean, low, high


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (NumPy's default)."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
