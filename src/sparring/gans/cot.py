"""CoT, Cooperative Training (Lu et al., ICML 2019): a mediator instead of a discriminator.

1. ``mle``: pre-train the LSTM generator by maximum likelihood (skipped with ``pretrained=RUN_DIR``;
   the paper trains from scratch: ``mle.epochs=0``, its ``paper`` preset).
2. ``adversarial``: per step, one generator update that minimises, over the positions of a batch
   of its own samples, KL(G(. | s_t) || M(. | s_t)) summed exactly over the vocabulary (the
   gradient of the estimated JSD(P || G); no Monte Carlo search, no GAN loss); then
   ``cot.mediator_steps`` updates of the mediator M, a language model trained by maximum
   likelihood on the balanced mixture of a real batch and a fresh generated batch, so that M
   approximates (P + G) / 2.

Choices: the mediator is an LSTM language model of ``cot.mediator_hidden`` units; when the
generator starts from MLE, the mediator starts as a copy of it where the sizes agree (the mixture
of P and an MLE model is close to that model), else from its own initialisation. ``reward_mean`` is
minus the generator's KL (higher is better); ``d_loss`` is the mediator's NLL on the mixture.
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
    nll_weights,
    restore_or_start,
    sample,
    train_batch,
)
from sparring.gans.losses import cot_generator_loss
from sparring.gans.method import GanMethod
from sparring.gans.models.lstm import LSTMLanguageModel
from sparring.gans.session import Session


def build_models(cfg: Any, vocab_size: int, device: torch.device) -> dict[str, torch.nn.Module]:
    c = cfg.cot
    mediator = LSTMLanguageModel(vocab_size, c.mediator_emb, c.mediator_hidden).init_normal_(cfg.generator.init_std).to(device)
    return {"generator": build_generator(cfg, vocab_size, device), "mediator": mediator}


def mediator_step(mediator: LSTMLanguageModel, opt: torch.optim.Optimizer, data: Corpus, gen: Any, n: int, grad_clip: float) -> float:
    """One maximum-likelihood update of M on n real and n generated sequences; returns its mean NLL."""
    batch = torch.cat([train_batch(data, n), sample(gen, n, data)])
    mediator.train()
    loss, _ = mediator.mle_loss(batch, nll_weights(batch, data))
    gradient_step(opt, loss, mediator.parameters(), grad_clip)
    return loss.item()


def train_cot(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> LSTMLanguageModel:
    adv, c = cfg.adversarial, cfg.cot
    models = build_models(cfg, data.vocab_size, device)
    gen, mediator = models["generator"], models["mediator"]
    mle_opt, g_opt, m_opt = adam(gen.parameters(), cfg.mle.lr), adam(gen.parameters(), adv.lr), adam(mediator.parameters(), c.mediator_lr)
    session.track(generator=gen, mediator=mediator, mle_opt=mle_opt, g_opt=g_opt, m_opt=m_opt)
    restore_or_start(session, gen, pretrained)

    mle_unless_pretrained(session, gen, mle_opt, data, cfg)
    if session.done("adversarial") == 0 and (c.mediator_emb, c.mediator_hidden) == (cfg.generator.emb_dim, cfg.generator.hidden_dim):
        mediator.load_state_dict(gen.state_dict())  # M ~ (P + G) / 2 starts at G
    begin_adversarial(session, gen, data, cfg, lambda: None)
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        seqs = sample(gen, adv.batch_size, data)
        gen.train()
        mediator.eval()
        with torch.no_grad():
            mediator_logits = mediator(seqs)
        g_loss = cot_generator_loss(gen(seqs), mediator_logits, data.mask(seqs))
        gradient_step(g_opt, g_loss, gen.parameters(), adv.grad_clip)

        m_loss = float("nan")
        for _ in range(c.mediator_steps):
            m_loss = mediator_step(mediator, m_opt, data, gen, adv.batch_size, adv.grad_clip)
        train_nll = interleaved_mle(gen, mle_opt, data, cfg, step)
        log_adversarial_step(session, step, gen, data, cfg, lambda: None, reward=-g_loss.item(), d_loss=m_loss, train_nll=train_nll)
    return gen


@dataclass
class CoTModelConfig:
    mediator_emb: int = setting(32, "the mediator's embedding size (the generator's: it starts as a copy of the MLE generator)")
    mediator_hidden: int = setting(32, "the mediator's LSTM size")
    mediator_lr: float = setting(1e-2, "Adam learning rate of the mediator")
    mediator_steps: int = setting(1, "mediator updates per generator update")

    def check(self, cfg: Any) -> None:
        need(self.mediator_emb >= 1 and self.mediator_hidden >= 1, "cot.mediator_emb/mediator_hidden", ">= 1")
        need(self.mediator_lr > 0, "cot.mediator_lr", "> 0")
        need(self.mediator_steps >= 1, "cot.mediator_steps", ">= 1")


@dataclass
class CoTRunConfig(MLERunConfig):
    """CoT (Lu et al., 2019): the generator minimises KL(G || M) at every position of its own samples,
    where the mediator M learns the mixture of real and generated text by maximum likelihood."""

    algo: str = "cot"
    cot: CoTModelConfig = field(default_factory=CoTModelConfig)
    adversarial: GeneratorStepsConfig = field(default_factory=lambda: GeneratorStepsConfig(steps=20_000, eval_every=500))


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"mle.epochs": 0},  # the paper trains from scratch, 20,000 steps (TextGAN-PyTorch's run_cot.py)
    "smoke": {**SMOKE_COMMON, "adversarial.steps": 4, "adversarial.eval_every": 2},
    "demo": {**DEMO_COMMON, "adversarial.steps": 600, "adversarial.eval_every": 100},
}

METHOD = GanMethod("cot", CoTRunConfig, PRESETS, train_cot, build_models)
