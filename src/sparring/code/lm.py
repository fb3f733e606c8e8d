"""Sampling code completions from a causal LM (loaded by ``sparring.hf.models``), in either
prompt style of ``sparring.code.prompting``: plain continuation, or EvalPlus's chat convention."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sparring.code.prompting import CHAT_STOP, judged_completion, model_prompt


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
    style: str = "completion",
) -> list[list[str]]:
    """``n`` judged completions per benchmark prompt, generated in batches: each continuation cut at
    the first stop sequence, or (chat) each answer's code, generation stopping at its closing fence."""
    from sparring.hf.generation import generate

    repeated = [model_prompt(style, tokenizer, p) for p in prompts for _ in range(n)]
    texts = generate(
        model, tokenizer, repeated, max_new_tokens, temperature, top_p, batch_size, seed, "sampling code", raw=True,
        stop_strings=CHAT_STOP if style == "chat" else None,
    )  # fmt: skip
    cut = [judged_completion(style, t, tuple(stop)) for t in texts]
    return [cut[i * n : (i + 1) * n] for i in range(len(prompts))]
