"""Negative log-likelihood metrics for the oracle benchmark; all are per-token means in nats.

- NLL-oracle: the oracle's NLL of generator samples (quality, as in SeqGAN/LeakGAN/Texygen).
- NLL-test: the generator's NLL of held-out oracle samples, never the training ones (coverage).
- Entropy floor: the oracle's NLL of its own samples, an estimate of its per-token entropy and
  the value a perfect generator would reach on both of the above.
"""

from __future__ import annotations

import torch

from sparring.models.lstm import LSTMLanguageModel


@torch.no_grad()
def per_token_nll(model: LSTMLanguageModel, tokens: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean over all tokens of -log p_model(y_t | y_<t)."""
    was_training = model.training
    model.eval()
    total = 0.0
    for part in tokens.split(batch_size):
        total += float(model.weighted_nll(part, torch.ones(part.shape, dtype=torch.float32, device=part.device)))
    model.train(was_training)
    return total / tokens.numel()
