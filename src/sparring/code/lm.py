"""Sampling code completions from a causal LM (loaded by ``sparring.hf.models``), in either
prompt style of ``sparring.code.prompting``: plain continuation, or EvalPlus's chat convention."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sparring.code.prompting import generation_stops, judged_completion, model_prompt


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
    the first stop sequence, or (chat) each answer's code.

    Speed on a CPU, where generation is most of an evaluation: generation stops per sequence at its
    first stop sequence (the closing fence for chat; the benchmark's stops for a continuation, where
    the cut is the same one ``truncate_at_stop`` makes afterwards), and prompts are batched by token
    length, so that short prompts do not pay for a long one's padding and a batch tends to finish
    together. The order of the result is the order of ``prompts``."""
    from sparring.hf.generation import generate

    repeated = [model_prompt(style, tokenizer, p) for p in prompts for _ in range(n)]
    lengths = [len(ids) for ids in tokenizer(repeated, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(repeated)), key=lambda i: (lengths[i], i))
    texts_sorted = generate(
        model, tokenizer, [repeated[i] for i in order], max_new_tokens, temperature, top_p, batch_size, seed, "sampling code", raw=True,
        stop_strings=list(generation_stops(style, stop)),
    )  # fmt: skip
    texts = [""] * len(repeated)
    for position, index in enumerate(order):
        texts[index] = texts_sorted[position]
    cut = [judged_completion(style, t, tuple(stop)) for t in texts]
    return [cut[i * n : (i + 1) * n] for i in range(len(prompts))]
