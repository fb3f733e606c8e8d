"""MaliGAN (Che et al., 2017): maximum-likelihood augmented training with D's importance weights.

Same three phases as SeqGAN (MLE, D pre-training, adversarial); only the generator update differs:
sample a batch, weight each sequence by its normalised D/(1-D) minus the mean, and take one
weighted-MLE step. No Monte Carlo search: the weight belongs to the whole sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from sparring.config import without
from sparring.gans.config import SequenceAdversarialConfig
from sparring.gans.corpus import Corpus
from sparring.gans.engine import (
    begin_adversarial,
    build_lstm_gan,
    interleaved_mle,
    log_adversarial_step,
    mle_then_d_pretraining,
    sample,
    setup_lstm_gan,
)
from sparring.gans.losses import maligan_weights
from sparring.gans.method import GanMethod
from sparring.gans.models.lstm import LSTMLanguageModel
from sparring.gans.seqgan import PRESETS as SEQGAN_PRESETS
from sparring.gans.seqgan import SeqGANRunConfig
from sparring.gans.session import Session


def train_maligan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> LSTMLanguageModel:
    adv = cfg.adversarial
    gen, disc, mle_opt, adv_opt, d_opt = setup_lstm_gan(session, cfg, data, device, pretrained, "adv_opt")

    d_eval, d_round = mle_then_d_pretraining(session, cfg, data, gen, disc, mle_opt, d_opt)

    begin_adversarial(session, gen, data, cfg, d_eval)
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        seqs = sample(gen, adv.batch_size, data)
        d_probs = disc.prob_real(seqs)
        weights = maligan_weights(d_probs).unsqueeze(1).expand_as(seqs).clone()
        mask = data.mask(seqs)
        if mask is not None:
            weights = weights * mask
        gen.train()
        loss = gen.weighted_nll(seqs, weights)
        adv_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), adv.grad_clip)
        adv_opt.step()

        d_loss = float("nan")
        for _ in range(adv.d_rounds):
            d_loss = d_round(sample(gen, adv.n_negatives, data), adv.d_epochs)

        # reward_mean: the mean D(Y) of the generator's batches
        train_nll = interleaved_mle(gen, mle_opt, data, cfg, step)  # optional (adversarial.mle_every)
        log_adversarial_step(session, step, gen, data, cfg, d_eval, reward=float(d_probs.mean()), d_loss=d_loss, train_nll=train_nll)
    return gen


@dataclass
class MaliGANRunConfig(SeqGANRunConfig):
    """MaliGAN (Che et al., 2017): SeqGAN's schedule, but the generator is trained by MLE on its own samples
    weighted by normalised importance weights D/(1-D) (minus the mean weight as a baseline). The weights
    are per sequence, so there is no Monte Carlo search: no ``adversarial.rollouts``."""

    algo: str = "maligan"
    adversarial: SequenceAdversarialConfig = field(default_factory=SequenceAdversarialConfig)


_MONTE_CARLO = ("adversarial.rollouts", "adversarial.rollout_update_rate")  # SeqGAN's, which MaliGAN has not
PRESETS = {name: without(overrides, *_MONTE_CARLO) for name, overrides in SEQGAN_PRESETS.items()}

METHOD = GanMethod("maligan", MaliGANRunConfig, PRESETS, train_maligan, build_lstm_gan)
