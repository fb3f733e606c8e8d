"""SeqGAN (Yu et al., AAAI 2017), as three explicit phases.

1. ``mle``: pre-train the generator by maximum likelihood (skipped with ``pretrained=RUN_DIR``).
2. ``pretrain_d``: rounds of fresh generator samples as negatives, ``epochs`` passes each.
3. ``adversarial``: per step, one policy-gradient update on a batch of samples whose per-token
   rewards Q come from Monte Carlo search with a lagged rollout policy, then ``d_rounds`` rounds
   of discriminator training on fresh negatives.
"""

from __future__ import annotations

from typing import Any

import torch

from sparring.data.corpus import Corpus
from sparring.gans.engine import (
    begin_adversarial,
    completions_reward,
    disc_reward,
    interleaved_mle,
    log_adversarial_step,
    mle_then_d_pretraining,
    policy_gradient_step,
    sample,
    setup_lstm_gan,
)
from sparring.gans.session import Session
from sparring.models.lstm import LSTMLanguageModel


def train_seqgan(
    session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None
) -> LSTMLanguageModel:
    """Run (or resume) SeqGAN; ``pretrained`` is a generator state dict that replaces phase 1."""
    adv = cfg.adversarial
    gen, disc, mle_opt, pg_opt, d_opt = setup_lstm_gan(session, cfg, data, device, pretrained, "pg_opt")

    # Phases 1 and 2: maximum likelihood, then discriminator pre-training.
    d_eval, d_round = mle_then_d_pretraining(session, cfg, data, gen, disc, mle_opt, d_opt)

    # Phase 3: adversarial training.
    if begin_adversarial(session, gen, data, cfg, d_eval):
        session.state["rollout"] = {k: v.clone() for k, v in gen.params().items()}
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        # Generator: one policy-gradient update with Monte Carlo Q-values.
        q = policy_gradient_step(gen, pg_opt, session.state["rollout"], data, adv, disc_reward(disc, data), completions_reward(disc, data))

        # Discriminator: fresh negatives each round.
        d_loss = float("nan")
        for _ in range(adv.d_rounds):
            d_loss = d_round(sample(gen, adv.n_negatives, data), adv.d_epochs)

        train_nll = interleaved_mle(gen, mle_opt, data, cfg, step)  # optional (adversarial.mle_every)
        log_adversarial_step(session, step, gen, data, cfg, d_eval, reward=float(q.mean()), d_loss=d_loss, train_nll=train_nll)  # mean Q
    return gen
