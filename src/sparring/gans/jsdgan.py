"""JSDGAN (Li et al., AISTATS 2019): the JSD to the data, estimated on real batches, without a discriminator.

1. ``mle``: pre-train the LSTM generator by maximum likelihood (skipped with ``pretrained=RUN_DIR``;
   TextGAN-PyTorch's run_jsdgan.py trains from scratch: ``mle.epochs=0``, the ``paper`` preset).
2. ``adversarial``: per step, a batch of B real training sequences; inside it G renormalised is
   q = softmax(log G(x)) and the data are uniform, p = 1/B; one update along JSDGAN's score-function
   estimate of the gradient of JSD(data || G) on real sequences: the loss sum_i w_i log G(x_i) with
   w_i = q_i log(q_i / (q_i + p_i)) held fixed (``sparring.gans.losses.jsd_weights``).

Choices (family table, docs/gans.md): q is G renormalised over the batch (TextGAN-PyTorch min-max
scales G(x) instead, which has no distribution behind it); ``reward_mean`` is minus the batch JSD
estimate, 0 when G spreads its mass evenly over the batch's real sentences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from sparring.gans.config import DEMO_COMMON, SMOKE_COMMON, GeneratorStepsConfig, MLERunConfig
from sparring.gans.corpus import Corpus
from sparring.gans.engine import (
    adam,
    begin_adversarial,
    gradient_step,
    interleaved_mle,
    log_adversarial_step,
    mle_unless_pretrained,
    restore_or_start,
    sequence_logprob,
    train_batch,
)
from sparring.gans.losses import jsd_weights
from sparring.gans.method import GanMethod
from sparring.gans.mle import build_models
from sparring.gans.models.lstm import LSTMLanguageModel
from sparring.gans.session import Session


def batch_jsd(seq_logp: torch.Tensor) -> float:
    """JSD(p || q) on the batch (nats): p uniform, q = softmax(log G); between 0 and log 2."""
    q = torch.softmax(seq_logp.detach().double(), dim=0)
    p = torch.full_like(q, 1.0 / len(q))
    m = (p + q) / 2
    return float(0.5 * (p * (p / m).log()).sum() + 0.5 * (q * (q / m).log()).sum())


def train_jsdgan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> LSTMLanguageModel:
    adv = cfg.adversarial
    gen = build_models(cfg, data.vocab_size, device)["generator"]
    mle_opt, g_opt = adam(gen.parameters(), cfg.mle.lr), adam(gen.parameters(), adv.lr)
    session.track(generator=gen, mle_opt=mle_opt, g_opt=g_opt)
    restore_or_start(session, gen, pretrained)

    mle_unless_pretrained(session, gen, mle_opt, data, cfg)
    begin_adversarial(session, gen, data, cfg, lambda: None)
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        gen.train()
        logp = sequence_logprob(gen, train_batch(data, adv.batch_size), data)
        loss = (jsd_weights(logp) * logp).sum()
        gradient_step(g_opt, loss, gen.parameters(), adv.grad_clip)
        train_nll = interleaved_mle(gen, mle_opt, data, cfg, step)
        log_adversarial_step(session, step, gen, data, cfg, lambda: None, reward=-batch_jsd(logp), d_loss=None, train_nll=train_nll)
    return gen


@dataclass
class JSDGANRunConfig(MLERunConfig):
    """JSDGAN (Li et al., 2019): no discriminator network; the generator descends the score-function
    gradient of the JSD between each real batch and itself renormalised over that batch."""

    algo: str = "jsdgan"
    adversarial: GeneratorStepsConfig = field(default_factory=lambda: GeneratorStepsConfig(steps=500 * 157, eval_every=1570))


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"mle.epochs": 0},  # run_jsdgan.py: no pre-training, 500 epochs of the 10,000 sequences in batches of 64
    "smoke": {**SMOKE_COMMON, "adversarial.steps": 4, "adversarial.eval_every": 2},
    "demo": {**DEMO_COMMON, "adversarial.steps": 600, "adversarial.eval_every": 100},
}

METHOD = GanMethod("jsdgan", JSDGANRunConfig, PRESETS, train_jsdgan, build_models)
