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
from sparring.precision import full_precision


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


STOP_WINDOW = 24  # tokens decoded to look for a stop string: longer than any stop string here


def first_stop(text: str, stops: Sequence[str], at_start: bool = True) -> int:
    """Index of the first stop sequence in ``text`` (``len(text)`` when there is none).

    With ``at_start`` (``text`` begins where the completion begins), a stop that opens with a
    newline and goes on (``"\\ndef "``, not ``"\\n"`` alone) does not match at index 0: a
    continuation prompt ends without its trailing newline (``sparring.code.prompting.model_prompt``),
    so a completion's first character is that newline, and one that opens with ``"\\ndef f"`` is
    rewriting the function, not starting the next one."""
    found = [i for s in stops for i in [text.find(s, 1 if at_start and len(s) > 1 and s[0] == "\n" else 0)] if i >= 0]
    return min(found, default=len(text))


def stop_hits(tokenizer: Any, generated: Sequence[Sequence[int]], stops: Sequence[str]) -> list[bool]:
    """Whether each sequence's generated tokens (never the prompt) now contain a stop string, by the
    rule of ``first_stop``, so that generation ends where the caller's cut falls.

    transformers' own ``stop_strings`` also match a string that begins in the prompt, which would
    end a sequence the later cut keeps whole. Only the last tokens are decoded: a sequence is
    checked after every token, so the newest ones are all that can complete a stop."""
    if not stops:
        return [False] * len(generated)
    tails = tokenizer.batch_decode([list(g[-STOP_WINDOW:]) for g in generated], skip_special_tokens=True)
    return [first_stop(tail, stops, at_start=len(g) <= STOP_WINDOW) < len(tail) for g, tail in zip(generated, tails, strict=True)]


def tokens_to_stop(tokenizer: Any, ids: Sequence[int], stops: Sequence[str]) -> int:
    """How many of ``ids`` (a completion, never its prompt) ``decode_batch`` would have generated
    before stopping: up to the token that completes the first stop string, by ``stop_hits``'s rule;
    all of them when no stop occurs. For a sampler that cannot stop on strings (TRL's GRPO
    generation), so that what is trained on ends where the judged program ends."""
    for k in range(1, len(ids) + 1):
        if stop_hits(tokenizer, [ids[:k]], stops)[0]:
            return k
    return len(ids)


def sample_next(logits: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    """One token per row: argmax at temperature 0, else nucleus sampling at ``temperature``.

    The nucleus is the smallest set of most likely tokens whose probability reaches ``top_p`` (the
    most likely token always belongs to it), as transformers' TopPLogitsWarper keeps it."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        before = sorted_probs.cumsum(dim=-1) - sorted_probs  # mass of the more likely tokens
        sorted_probs = sorted_probs.masked_fill(before >= top_p, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, 1).squeeze(-1)


def end_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """The tokens that end an answer: the model's generation config's EOS ids, else the tokenizer's."""
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    return set(eos if isinstance(eos, list) else [eos] if eos is not None else [])


def cache_keyword(model: Any) -> str:
    """The name under which the model takes and returns its KV cache: transformers 5 renames
    ``past_key_values`` to ``cache`` (the old name is deprecated, then removed), so ask the model."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT model forwards **kwargs
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


@torch.no_grad()
def decode_batch(
    model: Any,
    tokenizer: Any,
    enc: dict[str, torch.Tensor],
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    stop_strings: Sequence[str] = (),
) -> list[list[int]]:
    """New token ids of each left-padded prompt, a row leaving the batch as soon as it is finished.

    Why not ``model.generate``: it keeps a finished sequence in the batch (padding it) until the
    last one ends, so one long answer makes all of them pay the full length; on a CPU, where a
    step's cost grows with its rows, a benchmark's completions (mostly short, a few running to the
    cap) cost several times their tokens. Here a row that produced an end token or a stop string
    is dropped from the batch and from the KV cache (``batch_select_indices``), and the step after
    runs on the rows still writing. Positions come from the attention mask, so left padding does
    not shift them; only the last position goes through the output layer."""
    ids, attention = enc["input_ids"], enc["attention_mask"]
    positions = (attention.long().cumsum(-1) - 1).clamp(min=0)
    keyword = cache_keyword(model)
    out = model(input_ids=ids, attention_mask=attention, position_ids=positions, use_cache=True, logits_to_keep=1)
    cache, logits = getattr(out, keyword), out.logits[:, -1].float()  # sampling in fp32 in every precision
    next_position = positions[:, -1:] + 1
    alive = list(range(ids.shape[0]))
    generated: list[list[int]] = [[] for _ in alive]
    ends = end_token_ids(model, tokenizer)
    for step in range(max_new_tokens):
        tokens = sample_next(logits, temperature, top_p)
        for row, token in zip(alive, tokens.tolist(), strict=True):
            generated[row].append(token)
        if step == max_new_tokens - 1:
            break
        hit = stop_hits(tokenizer, [generated[row] for row in alive], stop_strings)
        keep = [i for i, row in enumerate(alive) if not hit[i] and generated[row][-1] not in ends]
        if not keep:
            break
        if len(keep) < len(alive):
            index = torch.tensor(keep, device=ids.device)
            cache.batch_select_indices(index)
            attention, tokens, next_position = attention[index], tokens[index], next_position[index]
            alive = [alive[i] for i in keep]
        attention = torch.cat([attention, attention.new_ones(len(alive), 1)], dim=1)
        out = model(
            input_ids=tokens[:, None], attention_mask=attention, position_ids=next_position,
            use_cache=True, logits_to_keep=1, **{keyword: cache},
        )  # fmt: skip
        cache, logits = getattr(out, keyword), out.logits[:, -1].float()  # sampling in fp32 in every precision
        next_position = next_position + 1
    return generated


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
    (code keeps its indentation). Temperature 0 means greedy decoding. A response ends at an end
    token, at a stop string in its generated text, or at ``max_new_tokens``."""
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"
    out: list[str] = []
    was_training = model.training
    model.eval()
    with Progress(transient=True) as bar:
        task = bar.add_task(description, total=len(prompt_texts))
        for index, chunk in enumerate(_batches(prompt_texts, batch_size)):
            torch.manual_seed(seed * 100_003 + index)
            enc = tokenizer(list(chunk), return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            new = decode_batch(model, tokenizer, enc, max_new_tokens, temperature, top_p, stop_strings or ())
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
        with full_precision():  # log-probabilities are float32 in every precision (PG ratios, KL, NLL)
            logits = head(hidden[mask].float()).float()
        logp[mask] = torch.log_softmax(logits, dim=-1).gather(-1, targets[mask].unsqueeze(-1)).squeeze(-1)
    else:  # a model without the usual body/head split: full logits
        logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1].float()  # the head as autocast runs it
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
    for chunk in progress_over(range(0, len(responses), batch_size), "response NLLs"):
        batch = encode_pairs(tokenizer, prompt_texts[chunk : chunk + batch_size], responses[chunk : chunk + batch_size])
        logp, mask = token_logprobs(model, batch)
        out.extend((-float(total), int(count)) for total, count in zip(logp.sum(dim=1), mask.sum(dim=1), strict=True))
    return out


def progress_over(items: Sequence[Any], description: str) -> Any:
    """``items`` one by one behind a transient progress bar (the evaluation's minutes show, like training's)."""
    with Progress(transient=True) as bar:
        task = bar.add_task(description, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


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
    for chunk in progress_over(range(0, len(responses), batch_size), "KL to the reference"):
        batch = encode_pairs(tokenizer, prompt_texts[chunk : chunk + batch_size], responses[chunk : chunk + batch_size])
        ids, attention = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        mask = batch["target_mask"][:, 1:].to(device).float()
        logp = torch.log_softmax(policy(input_ids=ids, attention_mask=attention).logits[:, :-1].float(), -1)
        logq = torch.log_softmax(reference(input_ids=ids, attention_mask=attention).logits[:, :-1].float(), -1)
        kl = (logp.exp() * (logp - logq)).sum(-1)
        out.extend(float(v) for v in (kl * mask).sum(dim=1))
    return out
