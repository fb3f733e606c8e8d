"""GSGAN (Kusner and Hernandez-Lobato, 2016): Gumbel-softmax samples through a plain GAN loss.

1. ``mle``: pre-train the LSTM generator by maximum likelihood (skipped with ``pretrained=RUN_DIR``).
2. ``adversarial``: per step, ``d_steps`` updates of the CNN discriminator (real one-hots against
   the generator's relaxed one-hots, the standard GAN loss), then one generator update with the
   non-saturating loss -log D(G(z)), differentiated through the Gumbel-softmax relaxation of every
   step (the next input is the relaxed token's mixture of embeddings, so the gradient crosses time).
   The inverse temperature anneals exponentially from 1 to ``gsgan.max_inverse_temperature``.

Choices the paper leaves open (also in the family table, docs/gans.md): the discriminator is our
CNN (the paper's is an LSTM), it reads relaxed one-hots through its embedding; the annealing
schedule is RelGAN's; D's held-out accuracy reads hard tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from sparring.config import need, setting
from sparring.gans.config import DEMO_COMMON, SMOKE_COMMON, DiscriminatorConfig, MLERunConfig, RelaxedAdversarialConfig
from sparring.gans.corpus import Corpus
from sparring.gans.engine import (
    adam,
    begin_adversarial,
    build_discriminator,
    build_generator,
    gradient_step,
    held_out_d_accuracy,
    log_adversarial_step,
    mle_unless_pretrained,
    restore_or_start,
    train_batch,
)
from sparring.gans.losses import gan_losses
from sparring.gans.method import GanMethod
from sparring.gans.models.cnn_discriminator import CNNDiscriminator
from sparring.gans.models.lstm import LSTMLanguageModel
from sparring.gans.models.relgan import inverse_temperature
from sparring.gans.session import Session


def build_models(cfg: Any, vocab_size: int, device: torch.device) -> dict[str, torch.nn.Module]:
    return {"generator": build_generator(cfg, vocab_size, device), "discriminator": build_discriminator(cfg, vocab_size, device)}


def real_logit(disc: CNNDiscriminator, one_hots: torch.Tensor) -> torch.Tensor:
    """D's logit that (soft) one-hot sequences are real: the difference of its two class logits."""
    logits = disc.output(disc.dropout(disc.relaxed_features(one_hots)))
    return logits[:, 1] - logits[:, 0]


def real_one_hots(data: Corpus, n: int) -> torch.Tensor:
    return F.one_hot(train_batch(data, n), data.vocab_size).float()


def train_gsgan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> LSTMLanguageModel:
    adv = cfg.adversarial
    models = build_models(cfg, data.vocab_size, device)
    gen, disc = models["generator"], models["discriminator"]
    mle_opt, g_opt = adam(gen.parameters(), cfg.mle.lr), adam(gen.parameters(), adv.lr)
    d_opt = adam(disc.parameters(), cfg.discriminator.lr)
    session.track(generator=gen, discriminator=disc, mle_opt=mle_opt, g_opt=g_opt, d_opt=d_opt)
    restore_or_start(session, gen, pretrained)

    def d_eval() -> float:
        return held_out_d_accuracy(gen, disc, data, cfg.eval)

    mle_unless_pretrained(session, gen, mle_opt, data, cfg)
    begin_adversarial(session, gen, data, cfg, d_eval)
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        beta = inverse_temperature(step, adv.steps, cfg.gsgan.max_inverse_temperature)
        gen.train()
        disc.train()
        for _ in range(adv.d_steps):
            with torch.no_grad():
                _, fake = gen.relaxed_generate(adv.batch_size, data.seq_len, beta)
            d_loss, _ = gan_losses(real_logit(disc, real_one_hots(data, adv.batch_size)), real_logit(disc, fake))
            gradient_step(d_opt, d_loss, disc.parameters(), adv.grad_clip)

        _, fake = gen.relaxed_generate(adv.batch_size, data.seq_len, beta)
        fake_logits = real_logit(disc, fake)
        g_loss = F.softplus(-fake_logits).mean()  # the non-saturating generator loss
        gradient_step(g_opt, g_loss, gen.parameters(), adv.grad_clip)
        # reward_mean: the mean D(G(z)) of the generator's relaxed batch
        reward = float(torch.sigmoid(fake_logits.detach()).mean())
        log_adversarial_step(session, step, gen, data, cfg, d_eval, reward=reward, d_loss=d_loss.item(), g_loss=g_loss.item(),
                             inverse_temperature=beta)  # fmt: skip
    return gen


@dataclass
class GSGANModelConfig:
    max_inverse_temperature: float = setting(100.0, "Gumbel-softmax beta, annealed 1 -> max: beta_n = max ** (n / N)")

    def check(self, cfg: Any) -> None:
        need(self.max_inverse_temperature >= 1, "gsgan.max_inverse_temperature", ">= 1")


@dataclass
class GSGANRunConfig(MLERunConfig):
    """GSGAN (Kusner and Hernandez-Lobato, 2016): an LSTM generator's Gumbel-softmax samples through the
    standard GAN loss; the gradient crosses time through the relaxed tokens fed back as inputs."""

    algo: str = "gsgan"
    gsgan: GSGANModelConfig = field(default_factory=GSGANModelConfig)
    discriminator: DiscriminatorConfig = field(
        default_factory=lambda: DiscriminatorConfig(filter_sizes=(2, 3, 4, 5), num_filters=(100, 100, 100, 100), lr=1e-4, l2_reg=0.0)
    )
    adversarial: RelaxedAdversarialConfig = field(default_factory=lambda: RelaxedAdversarialConfig(steps=2000, d_steps=1, lr=1e-3))


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "smoke": {**SMOKE_COMMON, "adversarial.steps": 4, "adversarial.eval_every": 2},
    "demo": {**DEMO_COMMON, "adversarial.steps": 300, "adversarial.d_steps": 1, "adversarial.eval_every": 50},
}

METHOD = GanMethod("gsgan", GSGANRunConfig, PRESETS, train_gsgan, build_models)
