"""Negative log-likelihood metrics; all are per-token means in nats.

- NLL-oracle: the oracle's NLL of generator samples (quality, as in SeqGAN/LeakGAN/Texygen).
- NLL-test: the generator's NLL of held-out oracle samples, never the training ones (coverage).
- Entropy floor: the oracle's NLL of its own samples, an estimate of its per-token entropy and
  the value a perfect generator would reach on both of the above.
"""

from __future__ import annotations

import torch

from sparring.gans.models.lstm import LSTMLanguageModel


@torch.no_grad()
def per_token_nll(
    model: LSTMLanguageModel, tokens: torch.Tensor, mask: torch.Tensor | None = None, batch_size: int = 1000, temperature: float = 1.0
) -> float:
    """Mean over tokens of -log p_model(y_t | y_<t); with ``mask``, over the positions where it is 1.

    On real text the mask keeps every word and the ``<eos>`` that ends the sentence, and drops
    the padding after it (Texygen scores the padding too, which flatters every model). With a
    ``temperature``, the model's tempered distribution is scored (the one sampling at T uses).
    """
    was_training = model.training
    model.eval()
    if mask is None:
        mask = torch.ones(tokens.shape, dtype=torch.float32, device=tokens.device)
    total = 0.0
    for part, weights in zip(tokens.split(batch_size), mask.split(batch_size), strict=True):
        total += float(model.weighted_nll(part, weights, temperature=temperature))
    model.train(was_training)
    return total / float(mask.sum())
