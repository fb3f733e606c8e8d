"""DPGAN, Diversity-Promoting GAN (Xu et al., EMNLP 2018): a language model as the discriminator.

1. ``mle``: pre-train the LSTM generator by maximum likelihood (skipped with ``pretrained=RUN_DIR``).
2. ``d_pretrain``: rounds of the discriminator, an LSTM language model, on real training sentences
   against fresh generated ones: it lowers the cross-entropy of generated text and raises that of
   real text, so text the generator repeats looks familiar (low novelty).
3. ``adversarial``: per step, one policy-gradient update whose per-token reward is that token's
   cross-entropy under D (novelty), summed to the end of the sentence with ``dpgan.discount``
   (returns minus their batch mean per position as the baseline), then D rounds as in phase 2.

Choices (family table, docs/gans.md): the real-text term of D's loss is capped at log V per token
(uncapped it has no minimum); the reward is the word-level one (TextGAN-PyTorch multiplies it by
the sentence mean); D's "held-out accuracy" is the share of (held-out real, fresh generated) pairs
whose real sentence D finds more novel: 0.5 at chance, like a classifier's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from sparring.config import need, setting
from sparring.gans.config import DEMO_COMMON, SMOKE_COMMON, MLERunConfig, PretrainDConfig, SequenceAdversarialConfig
from sparring.gans.corpus import Corpus
from sparring.gans.engine import (
    adam,
    begin_adversarial,
    build_generator,
    d_pretrain_phase,
    gradient_step,
    interleaved_mle,
    log_adversarial_step,
    mle_unless_pretrained,
    restore_or_start,
    sample,
)
from sparring.gans.losses import dpgan_discriminator_loss, novelty_returns, policy_gradient_loss
from sparring.gans.method import GanMethod
from sparring.gans.models.lstm import LSTMLanguageModel
from sparring.gans.session import Session


def build_models(cfg: Any, vocab_size: int, device: torch.device) -> dict[str, torch.nn.Module]:
    d = cfg.dpgan
    lm = LSTMLanguageModel(vocab_size, d.d_emb, d.d_hidden).init_normal_(cfg.generator.init_std).to(device)
    return {"generator": build_generator(cfg, vocab_size, device), "lm_discriminator": lm}


def token_nll(lm: LSTMLanguageModel, seqs: torch.Tensor) -> torch.Tensor:
    """-log D(y_t | y_<t) per token (B, T): the novelty of each token under the language-model D."""
    logits = lm(seqs)
    return F.cross_entropy(logits.transpose(1, 2), seqs, reduction="none")


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Per-sequence mean over the tokens that count (B,)."""
    if mask is None:
        return values.mean(dim=1)
    return (values * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1)


def lm_round(lm: LSTMLanguageModel, opt: torch.optim.Optimizer, data: Corpus, cfg: Any, fake: torch.Tensor, epochs: int) -> float:
    """D epochs on ``fake`` against as many random real training sentences; the last epoch's mean loss."""
    lm.train()
    n = min(len(fake), len(data.train))
    real = data.train[torch.randperm(len(data.train))[:n].to(data.train.device)]
    cap = math.log(data.vocab_size)
    mean_loss = float("nan")
    for _ in range(epochs):
        total, count = 0.0, 0
        for idx in torch.randperm(n).to(real.device).split(cfg.dpgan.d_batch_size):
            r, f = real[idx], fake[idx]
            loss = dpgan_discriminator_loss(masked_mean(token_nll(lm, r), data.mask(r)), masked_mean(token_nll(lm, f), data.mask(f)), cap)
            gradient_step(opt, loss, lm.parameters(), cfg.adversarial.grad_clip)
            total += loss.item() * len(idx)
            count += len(idx)
        mean_loss = total / count
    return mean_loss


@torch.no_grad()
def novelty_accuracy(lm: LSTMLanguageModel, gen: Any, data: Corpus, n: int) -> float:
    """Share of (held-out real, fresh generated) pairs in which D finds the real sentence more novel."""
    lm.eval()
    real = data.valid[:n]
    fake = sample(gen, len(real), data)
    r = masked_mean(token_nll(lm, real), data.mask(real))
    f = masked_mean(token_nll(lm, fake), data.mask(fake))
    return float((r.unsqueeze(1) > f.unsqueeze(0)).float().mean())


def train_dpgan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> LSTMLanguageModel:
    adv = cfg.adversarial
    models = build_models(cfg, data.vocab_size, device)
    gen, lm = models["generator"], models["lm_discriminator"]
    mle_opt, pg_opt, d_opt = adam(gen.parameters(), cfg.mle.lr), adam(gen.parameters(), adv.lr), adam(lm.parameters(), cfg.dpgan.d_lr)
    session.track(generator=gen, lm_discriminator=lm, mle_opt=mle_opt, pg_opt=pg_opt, d_opt=d_opt)
    restore_or_start(session, gen, pretrained)

    def d_eval() -> float:
        return novelty_accuracy(lm, gen, data, cfg.eval.n_d_eval)

    def d_round(fake: torch.Tensor, epochs: int) -> float:
        return lm_round(lm, d_opt, data, cfg, fake, epochs)

    mle_unless_pretrained(session, gen, mle_opt, data, cfg)
    d_pretrain_phase(session, gen, data, cfg, d_round, d_eval)
    begin_adversarial(session, gen, data, cfg, d_eval)
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        seqs = sample(gen, adv.batch_size, data)
        mask = data.mask(seqs)
        lm.eval()
        with torch.no_grad():
            rewards = token_nll(lm, seqs)
        q = novelty_returns(rewards, mask, cfg.dpgan.discount)
        gen.train()
        loss = policy_gradient_loss(gen(seqs), seqs, q, mask)
        gradient_step(pg_opt, loss, gen.parameters(), adv.grad_clip)

        d_loss = float("nan")
        for _ in range(adv.d_rounds):
            d_loss = d_round(sample(gen, adv.n_negatives, data), adv.d_epochs)
        train_nll = interleaved_mle(gen, mle_opt, data, cfg, step)
        # reward_mean: the mean token novelty (cross-entropy under D) of the generator's batch
        reward = float(masked_mean(rewards, mask).mean())
        log_adversarial_step(session, step, gen, data, cfg, d_eval, reward=reward, d_loss=d_loss, train_nll=train_nll)
    return gen


@dataclass
class DPGANModelConfig:
    d_emb: int = setting(64, "the language-model discriminator's embedding size")
    d_hidden: int = setting(64, "its LSTM size")
    d_lr: float = setting(1e-2, "its Adam learning rate")
    d_batch_size: int = setting(64, "its minibatch (real and generated sequences each)")
    discount: float = setting(1.0, "discount of the novelty rewards summed to the end of the sentence")

    def check(self, cfg: Any) -> None:
        need(self.d_emb >= 1 and self.d_hidden >= 1 and self.d_batch_size >= 1, "dpgan.d_emb/d_hidden/d_batch_size", ">= 1")
        need(self.d_lr > 0, "dpgan.d_lr", "> 0")
        need(0 <= self.discount <= 1, "dpgan.discount", "in [0, 1]")


@dataclass
class DPGANRunConfig(MLERunConfig):
    """DPGAN (Xu et al., 2018): a language-model discriminator whose cross-entropy of each generated token
    is that token's reward (novelty), which pushes diversity."""

    algo: str = "dpgan"
    dpgan: DPGANModelConfig = field(default_factory=DPGANModelConfig)
    # TextGAN-PyTorch's run_dpgan.py: 5 rounds x 3 epochs of D pre-training, 200 steps of 4 rounds x 2 epochs
    pretrain_d: PretrainDConfig = field(default_factory=lambda: PretrainDConfig(rounds=5, epochs=3))
    adversarial: SequenceAdversarialConfig = field(default_factory=lambda: SequenceAdversarialConfig(d_rounds=4, d_epochs=2))


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "smoke": {**SMOKE_COMMON, "pretrain_d.rounds": 1, "pretrain_d.epochs": 1, "pretrain_d.n_negatives": 500, "adversarial.steps": 4,
              "adversarial.d_rounds": 1, "adversarial.d_epochs": 1, "adversarial.n_negatives": 500, "adversarial.eval_every": 2},
    "demo": {**DEMO_COMMON, "pretrain_d.rounds": 3, "pretrain_d.epochs": 1, "pretrain_d.n_negatives": 5000, "adversarial.steps": 100,
             "adversarial.d_rounds": 1, "adversarial.d_epochs": 1, "adversarial.n_negatives": 1000, "adversarial.eval_every": 20},
}  # fmt: skip

METHOD = GanMethod("dpgan", DPGANRunConfig, PRESETS, train_dpgan, build_models)
