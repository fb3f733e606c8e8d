"""DGSAN (Montahaei et al., 2021): the previous generator is the discriminator.

1. ``mle``: pre-train the LSTM generator by maximum likelihood (skipped with ``pretrained=RUN_DIR``;
   the paper's runs in TextGAN-PyTorch start from scratch: ``mle.epochs=0``, the ``paper`` preset).
2. ``adversarial``: each step freezes a copy G_old of the generator, which defines the implicit
   discriminator D(x) = G(x) / (G(x) + G_old(x)); then ``dgsan.batches_per_step`` updates in which G
   maximises log D on real batches and log(1 - D) on batches sampled from G_old.

Choices (family table, docs/gans.md): D uses sequence probabilities (the paper's definition;
TextGAN-PyTorch's instructor uses per-token ones), computed as log-ratios so nothing underflows;
``reward_mean`` is the mean D of the step's last real batch (0.5: no change yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from sparring.config import need, setting
from sparring.gans.config import DEMO_COMMON, SMOKE_COMMON, GeneratorStepsConfig, MLERunConfig
from sparring.gans.corpus import Corpus
from sparring.gans.engine import (
    adam,
    begin_adversarial,
    build_generator,
    gradient_step,
    interleaved_mle,
    log_adversarial_step,
    mle_unless_pretrained,
    restore_or_start,
    sample,
    sequence_logprob,
    train_batch,
)
from sparring.gans.losses import dgsan_loss
from sparring.gans.method import GanMethod
from sparring.gans.models.lstm import LSTMLanguageModel
from sparring.gans.session import Session


def build_models(cfg: Any, vocab_size: int, device: torch.device) -> dict[str, torch.nn.Module]:
    return {"generator": build_generator(cfg, vocab_size, device), "old_generator": build_generator(cfg, vocab_size, device)}


def train_dgsan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> LSTMLanguageModel:
    adv = cfg.adversarial
    models = build_models(cfg, data.vocab_size, device)
    gen, old = models["generator"], models["old_generator"]
    mle_opt, g_opt = adam(gen.parameters(), cfg.mle.lr), adam(gen.parameters(), adv.lr)
    session.track(generator=gen, old_generator=old, mle_opt=mle_opt, g_opt=g_opt)
    restore_or_start(session, gen, pretrained)

    mle_unless_pretrained(session, gen, mle_opt, data, cfg)
    begin_adversarial(session, gen, data, cfg, lambda: None)
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        old.load_state_dict(gen.state_dict())
        old.eval()
        d_real = torch.tensor(0.5)
        loss = torch.tensor(float("nan"))
        for _ in range(cfg.dgsan.batches_per_step):
            real, fake = train_batch(data, adv.batch_size), sample(old, adv.batch_size, data)
            with torch.no_grad():
                old_real, old_fake = sequence_logprob(old, real, data), sequence_logprob(old, fake, data)
            gen.train()
            new_real, new_fake = sequence_logprob(gen, real, data), sequence_logprob(gen, fake, data)
            loss = dgsan_loss(new_real, old_real, new_fake, old_fake)
            gradient_step(g_opt, loss, gen.parameters(), adv.grad_clip)
            d_real = torch.sigmoid(new_real.detach() - old_real).mean()
        train_nll = interleaved_mle(gen, mle_opt, data, cfg, step)
        log_adversarial_step(session, step, gen, data, cfg, lambda: None, reward=float(d_real), d_loss=None, g_loss=loss.item(),
                             train_nll=train_nll)  # fmt: skip
    return gen


@dataclass
class DGSANModelConfig:
    batches_per_step: int = setting(157, "generator updates against one frozen G_old (157: an epoch of 10,000 sequences)")

    def check(self, cfg: Any) -> None:
        need(self.batches_per_step >= 1, "dgsan.batches_per_step", ">= 1")


@dataclass
class DGSANRunConfig(MLERunConfig):
    """DGSAN (Montahaei et al., 2021): no discriminator network; D(x) = G(x) / (G(x) + G_old(x)) with G_old
    the generator of the previous step, G trained by the GAN loss against it."""

    algo: str = "dgsan"
    dgsan: DGSANModelConfig = field(default_factory=DGSANModelConfig)
    adversarial: GeneratorStepsConfig = field(default_factory=lambda: GeneratorStepsConfig(steps=200, eval_every=5))


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"mle.epochs": 0},  # run_dgsan.py: no pre-training, 200 epochs
    "smoke": {**SMOKE_COMMON, "dgsan.batches_per_step": 2, "adversarial.steps": 4, "adversarial.eval_every": 2},
    "demo": {**DEMO_COMMON, "dgsan.batches_per_step": 20, "adversarial.steps": 30, "adversarial.eval_every": 5},
}

METHOD = GanMethod("dgsan", DGSANRunConfig, PRESETS, train_dgsan, build_models)
