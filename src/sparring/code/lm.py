"""Sampling code completions from a causal LM (loaded by ``sparring.hf.models``).

Code is continued as plain text (no chat template): the prompt is a function signature with its
docstring, or a docstring with the task, and the model writes the code. That is how base and
mid-trained models are evaluated on HumanEval/MBPP, and it is the format RA3 trains in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """The completion up to the first stop sequence (the model tends to go on with tests or a new task)."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))
    return text[:cut]


def sample_completions(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    n: int,
    temperature: float,
    max_new_tokens: int,
    batch_size: int,
    seed: int,
    stop: Sequence[str],
    top_p: float = 0.95,
) -> list[list[str]]:
    """``n`` completions per prompt, generated in batches, each cut at the first stop sequence."""
    from sparring.hf.generation import generate

    repeated = [p for p in prompts for _ in range(n)]
    texts = generate(model, tokenizer, repeated, max_new_tokens, temperature, top_p, batch_size, seed, "sampling code", raw=True)
    cut = [truncate_at_stop(t, stop) for t in texts]
    return [cut[i * n : (i + 1) * n] for i in range(len(prompts))]
