"""Loading a causal LM for code and sampling completions from it.

Code is continued as plain text (no chat template): the prompt is a function signature with its
docstring, or a docstring with the task, and the model writes the code. That is how base and
mid-trained models are evaluated on HumanEval/MBPP, and it is the format RA3 trains in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sparring.errors import UserError


def resolve_code_model(spec: str) -> str:
    """A run directory of ``sparring ra3``/``ntp``/``rlvr`` (its ``model/``), else whatever
    ``--model`` accepts elsewhere: ``smollm2``, a local directory, or a hub id in the local cache."""
    from sparring.llm.models import resolve_model

    run_model = Path(spec) / "model"
    if (run_model / "config.json").is_file():
        return str(run_model)
    return resolve_model(spec)


def load_code_lm(spec: str, device: str = "cpu") -> tuple[Any, Any, str]:
    from transformers import AutoTokenizer

    from sparring.llm.models import load_causal_lm

    path = resolve_code_model(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"--model {spec}: cannot load a tokenizer ({str(exc).splitlines()[0]})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return load_causal_lm(path, device), tokenizer, path


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
    from sparring.llm.generation import generate

    repeated = [p for p in prompts for _ in range(n)]
    texts = generate(model, tokenizer, repeated, max_new_tokens, temperature, top_p, batch_size, seed, "sampling code", raw=True)
    cut = [truncate_at_stop(t, stop) for t in texts]
    return [cut[i * n : (i + 1) * n] for i in range(len(prompts))]
