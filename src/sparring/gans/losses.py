"""The text-GAN family's losses, as pure functions of tensors, each unit-tested against hand-computed values."""

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


def maligan_weights(d_probs: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """MaliGAN's per-sequence weights: r_i = D_i / (1 - D_i), normalised to sum 1, minus their mean 1/m.

    Training on -sum_i weight_i log G(y_i) moves G towards the distribution D believes is real
    (Che et al., 2017, eq. 8); subtracting the mean weight is their variance-reducing baseline.
    """
    d = d_probs.clamp(eps, 1 - eps)
    ratios = d / (1 - d)
    normalised = ratios / ratios.sum()
    return normalised - 1.0 / len(d_probs)


def rank_scores(candidates: torch.Tensor, references: torch.Tensor, comparison: torch.Tensor, gamma: float) -> torch.Tensor:
    """RankGAN's rank score of each candidate, (N,), from feature vectors.

    R(s | U, C) = mean over u in U of exp(gamma cos(s, u)) / sum over s' in {s} + C of exp(gamma cos(s', u)):
    how strongly the real references U single out s among the comparison set C.
    """
    cand = F.normalize(candidates, dim=-1)
    refs = F.normalize(references, dim=-1)
    comp = F.normalize(comparison, dim=-1)
    own = gamma * cand @ refs.t()  # (N, U)
    others = torch.logsumexp(gamma * comp @ refs.t(), dim=0)  # (U,)
    return torch.exp(own - torch.logaddexp(own, others)).mean(dim=1)


def ranker_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """The ranker ranks real sentences high among generated ones and generated ones low among real ones."""
    return -(torch.log(real_scores.clamp_min(eps)).mean() + torch.log((1 - fake_scores).clamp_min(eps)).mean())
