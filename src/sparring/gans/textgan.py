"""TextGAN (Zhang et al., ICML 2017): feature matching with a kernel MMD between D's features.

1. ``mle``: pre-train the LSTM generator by maximum likelihood (skipped with ``pretrained=RUN_DIR``).
2. ``adversarial``: per step, ``d_steps`` updates of the CNN discriminator, which classifies real
   against generated sentences and, weighted by ``textgan.d_mmd_weight``, maximises the MMD between
   its features of the two (it learns features that tell them apart); then one generator update
   that minimises the squared MMD between D's features of a real batch and of its own soft-argmax
   batch: softmax(beta o_t), with beta = ``textgan.inverse_temperature`` large, fed back as the
   next input, so the loss is differentiable through the whole sentence.

Choices the paper leaves open or that differ (family table, docs/gans.md): the generator has no
latent code z (it is the plain LSTM every model shares with MLE), so its randomness comes from
Gumbel noise on the logits before the soft-argmax; the paper's reconstruction of z is dropped with
it; the kernel is a sum of Gaussians over ``textgan.bandwidths`` on D's highway features.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from sparring.config import need, setting
from sparring.gans.config import DEMO_COMMON, SMOKE_COMMON, DiscriminatorConfig, MLERunConfig, RelaxedAdversarialConfig
from sparring.gans.corpus import Corpus
from sparring.gans.engine import (
    adam,
    begin_adversarial,
    gradient_step,
    held_out_d_accuracy,
    log_adversarial_step,
    mle_unless_pretrained,
    restore_or_start,
)
from sparring.gans.gsgan import build_models, real_one_hots
from sparring.gans.losses import gan_losses, gaussian_mmd2
from sparring.gans.method import GanMethod
from sparring.gans.models.lstm import LSTMLanguageModel
from sparring.gans.session import Session


def train_textgan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> LSTMLanguageModel:
    adv, t = cfg.adversarial, cfg.textgan
    models = build_models(cfg, data.vocab_size, device)
    gen, disc = models["generator"], models["discriminator"]
    mle_opt, g_opt = adam(gen.parameters(), cfg.mle.lr), adam(gen.parameters(), adv.lr)
    d_opt = adam(disc.parameters(), cfg.discriminator.lr)
    session.track(generator=gen, discriminator=disc, mle_opt=mle_opt, g_opt=g_opt, d_opt=d_opt)
    restore_or_start(session, gen, pretrained)

    def d_eval() -> float:
        return held_out_d_accuracy(gen, disc, data, cfg.eval)

    def features(one_hots: torch.Tensor) -> torch.Tensor:
        return disc.dropout(disc.relaxed_features(one_hots))

    def logit(feats: torch.Tensor) -> torch.Tensor:
        logits = disc.output(feats)
        return logits[:, 1] - logits[:, 0]

    mle_unless_pretrained(session, gen, mle_opt, data, cfg)
    begin_adversarial(session, gen, data, cfg, d_eval)
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        gen.train()
        disc.train()
        for _ in range(adv.d_steps):
            with torch.no_grad():
                _, fake = gen.relaxed_generate(adv.batch_size, data.seq_len, t.inverse_temperature)
            real_f, fake_f = features(real_one_hots(data, adv.batch_size)), features(fake)
            d_loss, _ = gan_losses(logit(real_f), logit(fake_f))
            d_loss = d_loss - t.d_mmd_weight * gaussian_mmd2(real_f, fake_f, t.bandwidths)
            gradient_step(d_opt, d_loss, disc.parameters(), adv.grad_clip)

        _, fake = gen.relaxed_generate(adv.batch_size, data.seq_len, t.inverse_temperature)
        with torch.no_grad():
            real_f = features(real_one_hots(data, adv.batch_size))
        g_loss = gaussian_mmd2(real_f, features(fake), t.bandwidths)
        gradient_step(g_opt, g_loss, gen.parameters(), adv.grad_clip)
        # reward_mean: minus the generator's MMD^2 (higher is better, like the other models' rewards)
        log_adversarial_step(session, step, gen, data, cfg, d_eval, reward=-g_loss.item(), d_loss=d_loss.item(), g_loss=g_loss.item())
    return gen


@dataclass
class TextGANModelConfig:
    inverse_temperature: float = setting(100.0, "soft-argmax sharpness beta (the paper's L): softmax(beta * logits)")
    bandwidths: tuple[float, ...] = setting((1.0, 2.0, 4.0, 8.0, 16.0), "Gaussian kernel bandwidths of the MMD (a sum of kernels)")
    d_mmd_weight: float = setting(1.0, "weight of the MMD D maximises beside its classification loss (0: D only classifies)")

    def check(self, cfg: Any) -> None:
        need(self.inverse_temperature > 0, "textgan.inverse_temperature", "> 0")
        need(len(self.bandwidths) >= 1 and all(b > 0 for b in self.bandwidths), "textgan.bandwidths", "one or more values > 0")
        need(self.d_mmd_weight >= 0, "textgan.d_mmd_weight", ">= 0")


@dataclass
class TextGANRunConfig(MLERunConfig):
    """TextGAN (Zhang et al., 2017): the generator matches D's features of real sentences (kernel MMD),
    through soft-argmax samples; D classifies and maximises that MMD."""

    algo: str = "textgan"
    textgan: TextGANModelConfig = field(default_factory=TextGANModelConfig)
    discriminator: DiscriminatorConfig = field(
        default_factory=lambda: DiscriminatorConfig(filter_sizes=(2, 3, 4, 5), num_filters=(100, 100, 100, 100), lr=1e-4, l2_reg=0.0)
    )
    adversarial: RelaxedAdversarialConfig = field(default_factory=lambda: RelaxedAdversarialConfig(steps=2000, d_steps=1, lr=1e-3))


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "smoke": {**SMOKE_COMMON, "adversarial.steps": 4, "adversarial.eval_every": 2},
    "demo": {**DEMO_COMMON, "adversarial.steps": 300, "adversarial.d_steps": 1, "adversarial.eval_every": 50},
}

METHOD = GanMethod("textgan", TextGANRunConfig, PRESETS, train_textgan, build_models)
