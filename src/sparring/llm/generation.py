"""Chat-formatted prompts, batched sampling, and per-token scores of given responses.

Shared by the imitation teacher, the seed objective and evaluation, so that every response in a
run is produced and scored the same way: the chat template with a system instruction, left
padding for generation, and responses scored as the tokens that follow the templated prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from rich.progress import Progress

from sparring.errors import UserError


def chat_prompt(tokenizer: Any, system: str, user: str) -> str:
    """The templated prompt text, ending where the assistant's answer begins."""
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception as exc:  # jinja errors from a user-supplied template
        raise UserError(f"chat template failed: {str(exc).splitlines()[0]}") from None


def conversation(system: str, user: str) -> list[dict[str, str]]:
    """The same prompt as TRL's conversational format (it applies the template itself)."""
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]


def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@torch.no_grad()
def generate(
    model: Any,
    tokenizer: Any,
    prompt_texts: Sequence[str],
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    batch_size: int,
    seed: int,
    description: str = "generating",
    raw: bool = False,
    stop_strings: Sequence[str] | None = None,
) -> list[str]:
    """One sampled response per prompt, decoded without special tokens; stripped unless ``raw``
    (code keeps its indentation). Temperature 0 means greedy decoding."""
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"
    out: list[str] = []
    was_training = model.training
    model.eval()
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0} if temperature > 0 else {"do_sample": False}
    with Progress(transient=True) as bar:
        task = bar.add_task(description, total=len(prompt_texts))
        for index, chunk in enumerate(_batches(prompt_texts, batch_size)):
            torch.manual_seed(seed * 100_003 + index)
            enc = tokenizer(list(chunk), return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            ids = model.generate(
                **enc,
                **sampling,
                **({"stop_strings": list(stop_strings), "tokenizer": tokenizer} if stop_strings else {}),
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
            )
            new = ids[:, enc["input_ids"].shape[1] :]
            out.extend(t if raw else t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True))
            bar.advance(task, len(chunk))
    model.train(was_training)
    return out


def encode_pairs(
    tokenizer: Any, prompt_texts: Sequence[str], responses: Sequence[str], max_length: int | None = None
) -> dict[str, torch.Tensor]:
    """Right-padded prompt+response ids with a mask of the response tokens (what gets scored)."""
    rows, masks = [], []
    for prompt, response in zip(prompt_texts, responses, strict=True):
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        r = tokenizer(response, add_special_tokens=False)["input_ids"]
        ids = (p + r)[:max_length] if max_length else p + r
        rows.append(ids)
        masks.append([0] * len(p) + [1] * (len(ids) - len(p)))
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    attention = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    response_mask = torch.tensor([m + [0] * (width - len(m)) for m in masks])
    return {"input_ids": input_ids, "attention_mask": attention, "response_mask": response_mask}


def response_token_logprobs(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(token | prefix) for each response token (shifted), and the matching mask."""
    device = next(model.parameters()).device
    logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)).logits[:, :-1]
    targets = batch["input_ids"][:, 1:].to(device)
    mask = batch["response_mask"][:, 1:].to(device).float()
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return logp * mask, mask


@torch.no_grad()
def response_nll(model: Any, tokenizer: Any, prompt_texts: Sequence[str], responses: Sequence[str], batch_size: int) -> float:
    """Mean negative log-likelihood per response token (nats), pooled over all responses."""
    total, count = 0.0, 0.0
    for chunk in range(0, len(responses), batch_size):
        batch = encode_pairs(tokenizer, prompt_texts[chunk : chunk + batch_size], responses[chunk : chunk + batch_size])
        logp, mask = response_token_logprobs(model, batch)
        total -= float(logp.sum())
        count += float(mask.sum())
    return total / max(count, 1.0)


@torch.no_grad()
def mean_sequence_kl(
    policy: Any, reference: Any, tokenizer: Any, prompt_texts: Sequence[str], responses: Sequence[str], batch_size: int
) -> float:
    """KL(policy || reference) summed over each response's tokens, averaged over responses.

    The responses should be the policy's own samples; at every position the KL is exact over the
    vocabulary (lower variance than the sampled log-ratio), and the positions are what the policy wrote.
    """
    device = next(policy.parameters()).device
    total = 0.0
    for chunk in range(0, len(responses), batch_size):
        batch = encode_pairs(tokenizer, prompt_texts[chunk : chunk + batch_size], responses[chunk : chunk + batch_size])
        ids, attention = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        mask = batch["response_mask"][:, 1:].to(device).float()
        logp = torch.log_softmax(policy(input_ids=ids, attention_mask=attention).logits[:, :-1].float(), -1)
        logq = torch.log_softmax(reference(input_ids=ids, attention_mask=attention).logits[:, :-1].float(), -1)
        kl = (logp.exp() * (logp - logq)).sum(-1)
        total += float((kl * mask).sum())
    return total / max(len(responses), 1)
