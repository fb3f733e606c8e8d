"""Diversity of a set of generated sentences."""

from __future__ import annotations

from collections.abc import Sequence


def distinct_n(sentences: Sequence[Sequence[str]], n: int) -> float:
    """Distinct n-grams divided by all n-grams, pooled over ``sentences`` (Li et al., 2016).

    1.0 means no n-gram repeats anywhere; 0.0 is returned when there is no n-gram at all.
    """
    seen: set[tuple[str, ...]] = set()
    total = 0
    for words in sentences:
        for i in range(len(words) - n + 1):
            seen.add(tuple(words[i : i + n]))
            total += 1
    return len(seen) / total if total else 0.0
