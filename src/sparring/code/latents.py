"""RA3's latent action abstractions on expert code, as plain functions.

A document is a header (the task's docstring; never annotated, never trained on) followed by expert
code lines. Before each non-blank line t the latent is ``<act>`` (go on writing code) or ``<think>``,
which inserts one ``# ...`` comment line at the indentation of line t. Texts are always tokenized
whole, with character offsets, so that a model trained or scored here sees the same tokens as at
generation time (BPE merges a newline with the next line's indentation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Document:
    header: str  # ends with a newline
    lines: tuple[str, ...]

    @classmethod
    def from_code(cls, header: str, code: str) -> Document:
        lines = tuple(line.rstrip() for line in code.replace("\r\n", "\n").strip("\n").split("\n"))
        return cls(header, lines)


def indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def latent_positions(doc: Document) -> list[int]:
    """Where a comment may go: before every non-blank line that is not itself a comment."""
    return [t for t, line in enumerate(doc.lines) if line.strip() and not line.lstrip().startswith("#")]


def first_line(text: str) -> str:
    """What a proposal wrote after ``#``, up to the end of its line."""
    return text.split("\n", 1)[0].rstrip()


def comment_line(doc: Document, t: int, continuation: str) -> str:
    """The comment line a proposal's continuation after ``#`` makes, indented like line t."""
    return f"{indentation(doc.lines[t])}#{first_line(continuation)}"


def prefix_before(doc: Document, t: int, comments: dict[int, str] | None = None) -> str:
    """The text before line t (with any earlier comments), ending with a newline."""
    return assemble(doc, comments or {}, upto=t)


def assemble(doc: Document, comments: dict[int, str], upto: int | None = None) -> str:
    """Header, then each line preceded by its comment line if it has one; lines ``< upto`` only when given."""
    parts = [doc.header]
    for t, line in enumerate(doc.lines[:upto]):
        if t in comments:
            parts.append(comments[t] + "\n")
        parts.append(line + "\n")
    return "".join(parts)


def next_lines(doc: Document, t: int, horizon: int) -> str:
    return "".join(line + "\n" for line in doc.lines[t : t + horizon])


def code_char_mask(doc: Document, comments: dict[int, str], include_comments: bool) -> list[bool]:
    """Per character of ``assemble(doc, comments)``: is it trained on / scored (code, and comments when asked)."""
    mask = [False] * len(doc.header)
    for t, line in enumerate(doc.lines):
        if t in comments:
            mask += [include_comments] * (len(comments[t]) + 1)
        mask += [True] * (len(line) + 1)
    return mask


def think_reward(logp_with_comment: float, logp_without: float, think_cost: float) -> float:
    """RA3's per-step reward for a ``<think>``: how much the comment raises the log-likelihood of the
    next expert lines under the frozen model, minus the cost of thinking. ``<act>`` earns 0."""
    return logp_with_comment - logp_without - think_cost


def group_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """GRPO's group-relative advantages: rewards of shape (groups, G) standardised within each group."""
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True, unbiased=False)
    return (rewards - mean) / (std + eps)


def choose_latent(rewards: Sequence[float]) -> int | None:
    """The E-step's posterior choice at one position: the best proposed comment if its reward beats
    ``<act>``'s 0, else None (act). A larger think cost therefore means fewer thoughts and, in the
    limit, plain next-token prediction."""
    best = max(range(len(rewards)), key=lambda i: rewards[i], default=None)
    return best if best is not None and rewards[best] > 0 else None


def temporal_elbo(code_logprob: float, thinks: int, think_cost: float, code_tokens: int) -> float:
    """Per-code-token temporal ELBO estimate: log p(x | z) of the expert tokens with the chosen
    latents, minus c nats per ``<think>`` (c acts as the prior's cost of a thought). With no
    thoughts it equals the NTP log-likelihood, so the two are directly comparable."""
    return (code_logprob - thinks * think_cost) / max(code_tokens, 1)


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


def masked_token_logprobs(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(token | prefix) of every target token (shifted by one), and the mask as floats.

    Only the target positions go through the output layer: with a 49k-token vocabulary the full
    (batch, length, vocab) logits and their log-softmax cost more than the transformer itself on a CPU.
    """
    device = next(model.parameters()).device
    ids = batch["input_ids"].to(device)
    attention = batch["attention_mask"].to(device)
    mask = batch["target_mask"][:, 1:].to(device)
    targets = ids[:, 1:]
    head = model.get_output_embeddings()
    body = getattr(model, "base_model", None)
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
        logp, _ = masked_token_logprobs(model, encode_with_char_mask(tokenizer, chunk, masks, max_length))
        totals.extend(float(v) for v in logp.sum(dim=1))
    return totals
