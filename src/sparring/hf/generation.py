"""Chat-formatted prompts, batched sampling, and per-token log-probabilities of given text.

Shared by every line that runs a causal LM (the imitation teacher, the seed objective, align's
evaluation, RA3's E- and M-steps, code sampling), so that every response is produced and scored
the same way: the chat template with a system instruction, left padding for generation, and one
log-probability routine (``token_logprobs``) over a ``target_mask`` of the tokens that count.
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


class StopInGenerated:
    """Stops a sequence once its generated text (never the prompt) contains a stop string.

    The cut a caller makes afterwards (``truncate_at_stop``, ``first_line``, the closing fence) looks
    at the generated text only; transformers' own ``stop_strings`` also match a string that begins in
    the prompt (a prompt ending in a newline and a first token ``def`` would stop on ``"\\ndef "``),
    which would end a sequence the later cut keeps whole. Only the last tokens are decoded at each
    step: a sequence that has stopped stays stopped, so the newest tokens are all that can complete
    a stop string."""

    WINDOW = 24  # tokens: longer than any stop string here

    def __init__(self, tokenizer: Any, prompt_width: int, stops: Sequence[str]) -> None:
        self.tokenizer, self.prompt_width, self.stops = tokenizer, prompt_width, tuple(stops)

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        new = input_ids[:, self.prompt_width :]
        tails = self.tokenizer.batch_decode(new[:, -self.WINDOW :], skip_special_tokens=True)
        return torch.tensor([any(s in tail for s in self.stops) for tail in tails], dtype=torch.bool, device=input_ids.device)


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
    from transformers import StoppingCriteriaList

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
            stopping = StoppingCriteriaList([StopInGenerated(tokenizer, enc["input_ids"].shape[1], stop_strings)]) if stop_strings else None
            ids = model.generate(
                **enc,
                **sampling,
                stopping_criteria=stopping,
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
    """Right-padded prompt+response ids with ``target_mask`` on the response tokens (what gets scored).

    The prompt and the response are tokenized apart, so the boundary is exact; code, whose
    newlines merge with the next line's indentation, uses ``encode_with_char_mask`` instead."""
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
    target_mask = torch.tensor([m + [0] * (width - len(m)) for m in masks], dtype=torch.bool)
    return {"input_ids": input_ids, "attention_mask": attention, "target_mask": target_mask}


def encode_with_char_mask(
    tokenizer: Any, texts: Sequence[str], char_masks: Sequence[Sequence[bool]], max_length: int
) -> dict[str, torch.Tensor]:
    """Right-padded ids of whole texts and a per-token mask: a token counts when its first character
    is masked in. Tokens past ``max_length`` are dropped from the right."""
    enc = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
    rows, masks = [], []
    for ids, offsets, chars in zip(enc["input_ids"], enc["offset_mapping"], char_masks, strict=True):
        ids = ids[:max_length]
        rows.append(ids)
        masks.append([bool(start < len(chars) and chars[start]) for start, _ in offsets[: len(ids)]])
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    return {
        "input_ids": torch.tensor([r + [pad] * (width - len(r)) for r in rows]),
        "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows]),
        "target_mask": torch.tensor([m + [False] * (width - len(m)) for m in masks]),
    }


def token_logprobs(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(token | prefix) of every target token (shifted by one), and the mask as floats.

    Only the target positions go through the output layer: with a 49k-token vocabulary the full
    (batch, length, vocab) logits and their log-softmax cost more than the transformer itself on a CPU.
    """
    device = next(model.parameters()).device
    ids = batch["input_ids"].to(device)
    attention = batch["attention_mask"].to(device)
    mask = batch["target_mask"][:, 1:].to(device)
    targets = ids[:, 1:]
    mask = mask.bool()
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    body = model.get_decoder() if hasattr(model, "get_decoder") else None  # a PEFT model forwards this to its base
    logp = torch.zeros(mask.shape, device=device)
    if head is not None and body is not None and body is not model:
        hidden = body(input_ids=ids, attention_mask=attention).last_hidden_state[:, :-1]
        logits = head(hidden[mask]).float()
        logp[mask] = torch.log_softmax(logits, dim=-1).gather(-1, targets[mask].unsqueeze(-1)).squeeze(-1)
    else:  # a model without the usual body/head split: full logits
        logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1].float()
        logp = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1) * mask
    return logp, mask.float()


@torch.no_grad()
def span_logprobs(model: Any, tokenizer: Any, texts: Sequence[str], starts: Sequence[int], batch_size: int, max_length: int) -> list[float]:
    """Sum of log p over the tokens of each text that start at or after its character ``starts[i]``."""
    totals: list[float] = []
    for i in range(0, len(texts), batch_size):
        chunk = texts[i : i + batch_size]
        masks = [[c >= s for c in range(len(text))] for text, s in zip(chunk, starts[i : i + batch_size], strict=True)]
        logp, _ = token_logprobs(model, encode_with_char_mask(tokenizer, chunk, masks, max_length))
        totals.extend(float(v) for v in logp.sum(dim=1))
    return totals


@torch.no_grad()
def response_nlls(
    model: Any, tokenizer: Any, prompt_texts: Sequence[str], responses: Sequence[str], batch_size: int
) -> list[tuple[float, int]]:
    """(summed negative log-likelihood in nats, token count) of each response given its prompt."""
    out: list[tuple[float, int]] = []
    for chunk in range(0, len(responses), batch_size):
        batch = encode_pairs(tokenizer, prompt_texts[chunk : chunk + batch_size], responses[chunk : chunk + batch_size])
        logp, mask = token_logprobs(model, batch)
        out.extend((-float(total), int(count)) for total, count in zip(logp.sum(dim=1), mask.sum(dim=1), strict=True))
    return out


def pooled_nll(per_response: Sequence[tuple[float, int]]) -> float:
    """Mean negative log-likelihood per token, pooled over responses (long answers weigh more)."""
    return sum(t for t, _ in per_response) / max(sum(c for _, c in per_response), 1)


@torch.no_grad()
def sequence_kls(
    policy: Any, reference: Any, tokenizer: Any, prompt_texts: Sequence[str], responses: Sequence[str], batch_size: int
) -> list[float]:
    """KL(policy || reference) summed over each response's tokens, one value per response.

    The responses should be the policy's own samples; at every position the KL is exact over the
    vocabulary (lower variance than the sampled log-ratio), and the positions are what the policy wrote.
    """
    device = next(policy.parameters()).device
    out: list[float] = []
    for chunk in range(0, len(responses), batch_size):
        batch = encode_pairs(tokenizer, prompt_texts[chunk : chunk + batch_size], responses[chunk : chunk + batch_size])
        ids, attention = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        mask = batch["target_mask"][:, 1:].to(device).float()
        logp = torch.log_softmax(policy(input_ids=ids, attention_mask=attention).logits[:, :-1].float(), -1)
        logq = torch.log_softmax(reference(input_ids=ids, attention_mask=attention).logits[:, :-1].float(), -1)
        kl = (logp.exp() * (logp - logq)).sum(-1)
        out.extend(float(v) for v in (kl * mask).sum(dim=1))
    return out

