"""The one masked-NLL step of supervised fine-tuning, shared by align's SFT, RA3's M-step, NTP and
GRPO's interleaved SFT term.

The loss is the negative log-likelihood of the target tokens (the mask picks them: a response, or
the code and comments of a document, never the prompt) divided by the number of target tokens in
the whole optimiser step, so micro-batches and data-parallel shares add up to the mean over the
step's tokens, as TRL's completion-only loss does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from sparring.hf.generation import token_logprobs
from sparring.parallel import ONE_PROCESS, DataParallel
from sparring.precision import FP32, Precision


def masked_nll(logp: torch.Tensor, tokens: float | torch.Tensor) -> torch.Tensor:
    """-sum(log p of the target tokens) / ``tokens``: the step's share of the mean NLL per target token."""
    return -logp.sum() / tokens


def target_tokens(batch: dict[str, torch.Tensor]) -> int:
    """The tokens a batch trains on (``token_logprobs`` scores every target token after the first position)."""
    return int(batch["target_mask"][:, 1:].sum())


def sft_step(
    model: Any,
    optimizer: torch.optim.Optimizer,
    params: Sequence[torch.nn.Parameter],
    batches: Sequence[dict[str, torch.Tensor]],
    tokens: float,
    dp: DataParallel = ONE_PROCESS,
    check: Callable[[float], None] = lambda loss: None,
    max_grad_norm: float = 1.0,
    precision: Precision = FP32,
) -> tuple[float, float]:
    """One optimiser step on ``batches`` (this process's micro-batches, accumulated), the loss
    normalised by ``tokens`` (all processes' target tokens, at least 1). ``check(loss)`` runs before
    the weights move (the divergence guard). Returns (this process's loss, the gradient norm).
    In bf16 the forward runs under autocast (the log-probabilities and the loss stay float32,
    ``token_logprobs``); the backward runs outside it, as autocast's rules ask."""
    optimizer.zero_grad(set_to_none=True)
    loss_value = 0.0
    for batch in batches:
        with precision.autocast():
            logp, _ = token_logprobs(model, batch)
        loss = masked_nll(logp, max(tokens, 1.0))
        loss.backward()
        loss_value += float(loss.detach())
    check(loss_value)
    dp.sum_gradients(params, fill=True)
    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_grad_norm))
    optimizer.step()
    return loss_value, grad_norm
