"""Losses as pure functions of tensors, each unit-tested against hand-computed values."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def policy_gradient_loss(logits: torch.Tensor, tokens: torch.Tensor, q: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """SeqGAN's generator loss: -sum_t log G(y_t | Y_1:t-1) * Q(Y_1:t-1, y_t), averaged over the batch.

    ``logits`` (B, T, V) from a teacher-forced pass over ``tokens`` (B, T); ``q`` (B, T) is treated
    as a constant (no gradient flows into the critic). Summing over time and averaging over the
    batch keeps the scale independent of the batch size; SeqGAN's TF code sums over both, which
    only rescales the gradient by B under Adam.
    """
    log_probs = torch.log_softmax(logits, dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return -(log_probs * q.detach()).sum(dim=1).mean()


def discriminator_loss(logits: torch.Tensor, labels: torch.Tensor, l2_penalty: torch.Tensor, l2_reg: float) -> torch.Tensor:
    """Cross-entropy of the real/generated classifier plus SeqGAN's L2 term on its output layer."""
    return F.cross_entropy(logits, labels) + l2_reg * l2_penalty
