"""The unbiased pass@k estimator (Chen et al., 2021).

With n samples of which c pass, pass@k = 1 - C(n-c, k) / C(n, k): the probability that at least
one of k samples drawn without replacement passes. Binomials overflow floats for large n, so we
use the product form 1 - prod_{i=n-c+1}^{n} (1 - k / i), which only multiplies numbers in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

from sparring.metrics.intervals import bootstrap_mean_interval


def pass_at_k(n: int, c: int, k: int) -> float:
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:  # every draw of k contains a passing sample
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """The benchmark score: pass@k averaged over tasks, each given as (n samples, c correct)."""
    if not counts:
        raise ValueError("no tasks")
    return sum(per_task_pass_at_k(counts, k)) / len(counts)


def per_task_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> list[float]:
    """pass@k of each task: the units a bootstrap over tasks resamples."""
    return [pass_at_k(n, c, k) for n, c in counts]


def pass_at_k_scores(counts: Sequence[tuple[int, int]], ks: Sequence[int]) -> dict:
    """pass@k for each k with its 95% bootstrap interval over tasks: the fields a summary reports."""
    return {
        **{f"pass@{k}": mean_pass_at_k(counts, k) for k in ks},
        **{f"pass@{k}_ci": list(bootstrap_mean_interval(per_task_pass_at_k(counts, k))) for k in ks},
    }
