"""RelGAN (Nie et al., ICLR 2019), as two explicit phases.

1. ``mle``: teacher-forced pre-training of the relational-memory generator.
2. ``adversarial``: per step, ``d_steps`` discriminator updates then one generator update, all
   with the relativistic standard loss on pairs (real batch, Gumbel-softmax batch). The
   discriminator reads real sentences as one-hots and generated ones as relaxed one-hots, both
   through its embedding matrix, so its gradient reaches the generator. The Gumbel-softmax
   inverse temperature anneals exponentially from 1 to ``max_inverse_temperature``.

Where this departs from the paper (also in docs/gans.md): the discriminator is our CNN (RelGAN's
has several embedded representations); masking after ``<eos>`` is not applied to relaxed
one-hots on real text (the generator learns to emit ``<eos>`` padding, as real sentences have).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from sparring.config import need, setting
from sparring.critics.losses import bradley_terry_loss
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
from sparring.gans.engine import adam, build_discriminator, discriminator_accuracy, evaluate_generator, mle_phase, row, sample
from sparring.gans.method import GanMethod
from sparring.gans.models.cnn_discriminator import CNNDiscriminator
from sparring.gans.models.relgan import RelationalMemoryGenerator, inverse_temperature
from sparring.gans.session import Session


def build_models(cfg: Any, vocab_size: int, device: torch.device) -> dict[str, torch.nn.Module]:
    r = cfg.relgan
    gen = RelationalMemoryGenerator(vocab_size, cfg.generator.emb_dim, r.mem_slots, r.num_heads, r.head_size)
    return {"generator": gen.to(device), "discriminator": build_discriminator(cfg, vocab_size, device)}


def critic(disc: CNNDiscriminator, one_hots: torch.Tensor) -> torch.Tensor:
    """A single real-vs-fake score per sequence from (soft) one-hots: the difference of D's two logits."""
    logits = disc.output(disc.dropout(disc.relaxed_features(one_hots)))
    return logits[:, 1] - logits[:, 0]


def train_relgan(
    session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None
) -> RelationalMemoryGenerator:
    adv = cfg.adversarial
    models = build_models(cfg, data.vocab_size, device)
    gen, disc = models["generator"], models["discriminator"]
    mle_opt = adam(gen.parameters(), cfg.mle.lr)
    g_opt = adam(gen.parameters(), adv.lr)
    d_opt = adam(disc.parameters(), cfg.discriminator.lr)
    session.track(generator=gen, discriminator=disc, mle_opt=mle_opt, g_opt=g_opt, d_opt=d_opt)
    session.restore()

    def real_one_hots() -> torch.Tensor:
        batch = data.train[torch.randint(len(data.train), (adv.batch_size,), device=data.train.device)]
        return F.one_hot(batch, data.vocab_size).float()

    def d_eval() -> float:
        real = data.valid[: cfg.eval.n_d_eval]
        return discriminator_accuracy(disc, real, sample(gen, len(real), data))

    mle_phase(session, gen, mle_opt, data, cfg)

    if adv.steps and session.done("adversarial") == 0:
        session.state["window"] = {"g_loss": 0.0, "d_loss": 0.0, "n": 0}
        session.log("adversarial", 0, **row(**evaluate_generator(gen, data, cfg.eval), d_accuracy=d_eval()))
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        window = session.state["window"]
        beta = inverse_temperature(step, adv.steps, cfg.relgan.max_inverse_temperature)
        gen.train()
        disc.train()
        d_loss = torch.tensor(float("nan"))
        for _ in range(adv.d_steps):
            with torch.no_grad():
                _, fake = gen.gumbel_generate(adv.batch_size, data.seq_len, beta)
            d_loss = bradley_terry_loss(critic(disc, real_one_hots()), critic(disc, fake))  # relativistic standard GAN
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            torch.nn.utils.clip_grad_norm_(disc.parameters(), adv.grad_clip)
            d_opt.step()

        _, fake = gen.gumbel_generate(adv.batch_size, data.seq_len, beta)
        real_logits, fake_logits = critic(disc, real_one_hots()), critic(disc, fake)  # in this order: both draw random numbers
        g_loss = bradley_terry_loss(fake_logits, real_logits)
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), adv.grad_clip)
        g_opt.step()

        window["g_loss"] += g_loss.item()
        window["d_loss"] += d_loss.item()
        window["n"] += 1
        if step % adv.eval_every == 0 or step == adv.steps:
            n = window["n"]
            session.log(
                "adversarial",
                step,
                **row(
                    **evaluate_generator(gen, data, cfg.eval),
                    d_loss=window["d_loss"] / n,
                    d_accuracy=d_eval(),
                    g_loss=window["g_loss"] / n,
                    inverse_temperature=beta,
                ),
            )
            session.state["window"] = {"g_loss": 0.0, "d_loss": 0.0, "n": 0}
    return gen


@dataclass
class RelGANModelConfig:
    mem_slots: int = setting(1, "relational memory slots")
    num_heads: int = setting(2, "attention heads of the relational memory")
    head_size: int = setting(256, "size of each attention head")
    max_inverse_temperature: float = setting(1000.0, "Gumbel-softmax beta, annealed 1 -> max: beta_n = max ** (n / N)")

    def check(self, cfg: Any) -> None:
        need(self.mem_slots >= 1 and self.num_heads >= 1 and self.head_size >= 1, "relgan.mem_slots/num_heads/head_size", ">= 1")
        need(self.max_inverse_temperature >= 1, "relgan.max_inverse_temperature", ">= 1")
        needs_plain_lstm(cfg, "relgan")


@dataclass
class RelGANRunConfig(MLERunConfig):
    """RelGAN (Nie et al., ICLR 2019): relational-memory generator, Gumbel-softmax relaxation with annealed
    temperature, relativistic standard GAN loss; the discriminator sees (soft) one-hot inputs."""

    algo: str = "relgan"
    mle: MLEConfig = field(default_factory=lambda: MLEConfig(epochs=150, lr=1e-2))
    relgan: RelGANModelConfig = field(default_factory=RelGANModelConfig)
    discriminator: DiscriminatorConfig = field(
        default_factory=lambda: DiscriminatorConfig(filter_sizes=(2, 3, 4, 5), num_filters=(300, 300, 300, 300), lr=1e-4, l2_reg=0.0)
    )
    adversarial: RelaxedAdversarialConfig = field(default_factory=RelaxedAdversarialConfig)


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "smoke": {**SMOKE_COMMON, "relgan.head_size": 32, "adversarial.steps": 4, "adversarial.d_steps": 1, "adversarial.eval_every": 2},
    "demo": {**DEMO_COMMON, "relgan.head_size": 64, "adversarial.steps": 200, "adversarial.d_steps": 3, "adversarial.eval_every": 50},
}

METHOD = GanMethod("relgan", RelGANRunConfig, PRESETS, train_relgan, build_models)
