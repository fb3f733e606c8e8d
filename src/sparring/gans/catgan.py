"""CatGAN (Liu et al., AAAI 2020): one category-conditioned generator against a multi-class critic.

Data: a labelled corpus (``--label-col COL``); without one, a single category. Phases:

1. ``mle``: the conditional LSTM (every input step reads the token's and the category's embeddings)
   is pre-trained by maximum likelihood on every sentence with its category.
2. ``adversarial``: per step, ``d_steps`` updates of the CNN critic over K + 1 classes, generated (0)
   and each real category (1 + k): real one-hots of random training sentences against Gumbel-softmax
   sentences of categories drawn from the training shares; then one generator update that asks
   the critic to file each relaxed sentence under its intended category, cross-entropy to class
   1 + c, through the relaxation (fed back as the next input, as in GSGAN). The inverse temperature
   anneals as in RelGAN, to ``catgan.max_inverse_temperature``.

Where this departs from the paper (family table, docs/gans.md): the generator is an LSTM, not a
relational memory; the paper's hierarchical evolutionary learning (a population of generators
mutated with different losses and selected by a quality-diversity fitness) is not run: one
generator, one loss, which is CatGAN's category-aware adversarial core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from sparring.config import need, setting
from sparring.gans.categories import CategoryJudge, category_metrics, set_prior
from sparring.gans.config import (
    DEMO_COMMON,
    SMOKE_COMMON,
    DiscriminatorConfig,
    MLEConfig,
    MLERunConfig,
    RelaxedAdversarialConfig,
    needs_plain_lstm,
)
from sparring.gans.corpus import Corpus
from sparring.gans.engine import (
    adam,
    begin_adversarial,
    build_discriminator,
    category_labels,
    gradient_step,
    held_out_d_accuracy,
    is_eval_step,
    log_adversarial_step,
    mle_unless_pretrained,
    restore_or_start,
)
from sparring.gans.method import GanMethod
from sparring.gans.models.conditional import ConditionalLSTM
from sparring.gans.models.relgan import inverse_temperature
from sparring.gans.session import Session


def build_models(cfg: Any, vocab_size: int, device: torch.device, n_categories: int = 1) -> dict[str, torch.nn.Module]:
    g = cfg.generator
    gen = ConditionalLSTM(n_categories, vocab_size, g.emb_dim, g.hidden_dim, g.init_std).to(device)
    return {"generator": gen, "discriminator": build_discriminator(cfg, vocab_size, device, num_classes=n_categories + 1)}


def train_catgan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> ConditionalLSTM:
    adv = cfg.adversarial
    models = build_models(cfg, data.vocab_size, device, data.n_categories)
    gen, disc = models["generator"], models["discriminator"]
    set_prior(gen, data)
    mle_opt, g_opt = adam(gen.parameters(), cfg.mle.lr), adam(gen.parameters(), adv.lr)
    d_opt = adam(disc.parameters(), cfg.discriminator.lr)
    session.track(generator=gen, discriminator=disc, mle_opt=mle_opt, g_opt=g_opt, d_opt=d_opt)
    restore_or_start(session, gen, pretrained)
    judge = CategoryJudge(data) if data.label_names else None
    train_classes = category_labels(data, "train") + 1

    def d_eval() -> float:
        return held_out_d_accuracy(gen, disc, data, cfg.eval)

    def extras() -> dict[str, Any]:
        return category_metrics(gen, data, cfg.eval, judge)

    def logits(one_hots: torch.Tensor) -> torch.Tensor:
        return disc.output(disc.dropout(disc.relaxed_features(one_hots)))

    def relaxed_batch(beta: float) -> tuple[torch.Tensor, torch.Tensor]:
        categories = torch.multinomial(gen.prior, adv.batch_size, replacement=True)
        return categories, gen.relaxed_generate(categories, data.seq_len, beta)[1]

    mle_unless_pretrained(session, gen, mle_opt, data, cfg)
    begin_adversarial(session, gen, data, cfg, d_eval, extra=extras)
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        beta = inverse_temperature(step, adv.steps, cfg.catgan.max_inverse_temperature)
        gen.train()
        disc.train()
        for _ in range(adv.d_steps):
            idx = torch.randint(len(data.train), (adv.batch_size,), device=data.train.device)
            with torch.no_grad():
                _, fake = relaxed_batch(beta)
            real = F.one_hot(data.train[idx], data.vocab_size).float()
            zeros = torch.zeros(adv.batch_size, dtype=torch.long, device=fake.device)
            d_loss = F.cross_entropy(logits(real), train_classes[idx]) + F.cross_entropy(logits(fake), zeros)
            gradient_step(d_opt, d_loss, disc.parameters(), adv.grad_clip)

        categories, fake = relaxed_batch(beta)
        fake_logits = logits(fake)
        g_loss = F.cross_entropy(fake_logits, categories + 1)  # "a real sentence of category c"
        gradient_step(g_opt, g_loss, gen.parameters(), adv.grad_clip)
        # reward_mean: the critic's mean probability that a relaxed sentence is real and of its category
        reward = float(torch.softmax(fake_logits.detach(), dim=1).gather(1, (categories + 1).unsqueeze(1)).mean())
        extra = extras() if is_eval_step(step, adv) else {}
        log_adversarial_step(session, step, gen, data, cfg, d_eval, reward=reward, d_loss=d_loss.item(), g_loss=g_loss.item(),
                             inverse_temperature=beta, **extra)  # fmt: skip
    return gen


@dataclass
class CatGANModelConfig:
    max_inverse_temperature: float = setting(100.0, "Gumbel-softmax beta, annealed 1 -> max: beta_n = max ** (n / N)")

    def check(self, cfg: Any) -> None:
        need(self.max_inverse_temperature >= 1, "catgan.max_inverse_temperature", ">= 1")


@dataclass
class CatGANRunConfig(MLERunConfig):
    """CatGAN (Liu et al., 2020): one category-conditioned generator, Gumbel-softmax samples, and a
    (K+1)-class critic that must file each generated sentence under its intended category."""

    algo: str = "catgan"
    catgan: CatGANModelConfig = field(default_factory=CatGANModelConfig)
    mle: MLEConfig = field(default_factory=lambda: MLEConfig(epochs=150))
    discriminator: DiscriminatorConfig = field(
        default_factory=lambda: DiscriminatorConfig(filter_sizes=(2, 3, 4, 5), num_filters=(300, 300, 300, 300), lr=1e-4, l2_reg=0.0)
    )
    # run_catgan.py: 2,000 adversarial steps of 3 D updates, generator lr 1e-4
    adversarial: RelaxedAdversarialConfig = field(default_factory=lambda: RelaxedAdversarialConfig(steps=2000, d_steps=3))

    def check(self, cfg: Any) -> None:
        needs_plain_lstm(cfg, "catgan")


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "smoke": {**SMOKE_COMMON, "discriminator.num_filters": (50, 50, 50, 50), "adversarial.steps": 4, "adversarial.d_steps": 1,
              "adversarial.eval_every": 2},
    "demo": {**DEMO_COMMON, "discriminator.num_filters": (100, 100, 100, 100), "adversarial.steps": 300, "adversarial.d_steps": 1,
             "adversarial.lr": 1e-3, "adversarial.eval_every": 50},
}  # fmt: skip

METHOD = GanMethod("catgan", CatGANRunConfig, PRESETS, train_catgan, build_models, conditional=True)
