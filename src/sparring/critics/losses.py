"""Critic losses and the reward they imply. Pure functions of logits; unit-tested by hand.

A discriminator outputs one logit per (prompt, response): high means "real".

- ``bce``: the original GAN loss, each response judged alone.
- ``bt``: Bradley-Terry / relativistic: for pairs (real, generated) answering the same prompt,
  -log sigma(s_real - s_generated). Only the difference matters, so D cannot win by calibrating
  an absolute threshold (e.g. on length) across prompts; GAD (arXiv 2511.10643) uses it with GRPO.
  It is also the relativistic standard GAN loss RelGAN trains with (both of its sides).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bce_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-[mean log sigma(real) + mean log(1 - sigma(fake))] / 2: both classes weigh the same."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return (real + fake) / 2


def bradley_terry_loss(winner_logits: torch.Tensor, loser_logits: torch.Tensor) -> torch.Tensor:
    """-mean log sigma(winner_i - loser_i) over aligned pairs (same prompt), as softplus(loser - winner).

    A critic's loss with winner = real; RelGAN's (relativistic standard GAN, Jolicoeur-Martineau
    2019) D loss is this on (real, generated) and its G loss this on (generated, real)."""
    if winner_logits.shape != loser_logits.shape:
        raise ValueError(f"Bradley-Terry pairs must align: {tuple(winner_logits.shape)} vs {tuple(loser_logits.shape)}")
    return F.softplus(loser_logits - winner_logits).mean()


def critic_loss(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return bradley_terry_loss(real_logits, fake_logits) if kind == "bt" else bce_discriminator_loss(real_logits, fake_logits)


def pairwise_accuracy(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> float:
    """bce: share of responses on the right side of 0; bt: share of pairs with real ranked above generated."""
    if kind == "bt":
        return float((real_logits > fake_logits).float().mean())
    return float(torch.cat([(real_logits > 0).float(), (fake_logits <= 0).float()]).mean())


def discriminator_reward(kind: str, fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's reward: P(real) under BCE; the raw score under Bradley-Terry (its natural
    scale, and GRPO normalises within each group anyway)."""
    return torch.sigmoid(fake_logits) if kind == "bce" else fake_logits


def seed_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The seed's generator objective: BCE of D on generated responses against the label "real"."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
