"""MaskGAN (Fedus, Goodfellow and Dai, ICLR 2018): in-filling trained by actor-critic against a per-token D.

1. ``mle``: MaskMLE, teacher-forced NLL of the masked tokens of real sentences under fresh random
   contiguous masks of ``maskgan.mask_rate`` (skipped with ``pretrained=RUN_DIR`` of a MaskGAN run).
2. ``d_pretrain``: rounds of the discriminator on real sentences against their in-fills (the same
   masks): per filled position, is this token the real one?
3. ``adversarial``: per step, one actor-critic update of the generator on in-fills of a real batch
   (reward log D of each filled token, discounted returns over the filled positions, the critic's
   value as the baseline, ``sparring.gans.losses.maskgan_actor_critic``), one update of the critic,
   then ``maskgan.d_steps`` discriminator updates on fresh in-fills.

``maskgan.mask_rate`` 1 masks everything: an unconditional generator, the family table's setting.
Its own metrics, at every adversarial evaluation (``fill_*`` keys, on test sentences with fresh
masks): the NLL of the masked original tokens, the BLEU-2 of each filled span against the span it
replaced (real text), and the share of filled tokens that are unique (the paper's mode-collapse
measure, on 1-grams). Choices: the networks are aligned encoder-decoders
(``sparring.gans.models.maskgan``), not the paper's attention seq2seq; the critic is a head on D's
decoder states (as the paper), fit by squared error to the returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from sparring.config import need, setting
from sparring.data.text import EOS_ID
from sparring.gans.config import DEMO_COMMON, SMOKE_COMMON, GeneratorStepsConfig, MLERunConfig, PretrainDConfig, needs_plain_lstm
from sparring.gans.corpus import Corpus
from sparring.gans.engine import (
    adam,
    begin_adversarial,
    gradient_step,
    is_eval_step,
    log_adversarial_step,
    mle_unless_pretrained,
    restore_or_start,
    row,
    train_batch,
)
from sparring.gans.losses import maskgan_actor_critic
from sparring.gans.method import GanMethod
from sparring.gans.models.maskgan import InfillingDiscriminator, InfillingGenerator, contiguous_mask, unique_share
from sparring.gans.session import Session
from sparring.metrics.bleu import bleu


def build_models(cfg: Any, vocab_size: int, device: torch.device) -> dict[str, torch.nn.Module]:
    m, g = cfg.maskgan, cfg.generator
    eos = None if cfg.data == "oracle" else EOS_ID
    gen = InfillingGenerator(vocab_size, g.emb_dim, g.hidden_dim, m.mask_rate, eos)
    with torch.no_grad():
        for p in gen.parameters():
            p.normal_(0.0, g.init_std)
    return {"generator": gen.to(device), "discriminator": InfillingDiscriminator(vocab_size, m.d_emb, m.d_hidden).to(device)}


def d_loss_on(disc: InfillingDiscriminator, real: torch.Tensor, filled: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy over the masked positions: real tokens are 1, filled ones 0."""
    m = mask.float()
    real_logits, _ = disc(real, mask)
    fake_logits, _ = disc(filled, mask)
    per_token = F.softplus(-real_logits) + F.softplus(fake_logits)
    return (per_token * m).sum() / m.sum().clamp_min(1)


def masked_batch(gen: InfillingGenerator, tokens: torch.Tensor, rate: float, eos: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask, in-fill) of real ``tokens`` under fresh contiguous masks."""
    mask = contiguous_mask(tokens, rate, eos)
    return mask, gen.fill(tokens, mask)


@torch.no_grad()
def infilling_metrics(gen: InfillingGenerator, disc: InfillingDiscriminator, data: Corpus, cfg: Any) -> dict[str, float]:
    """fill_nll, fill_unique, fill_bleu_2 (text) and D's held-out per-token accuracy on validation in-fills."""
    gen.eval()
    n = min(len(data.test), cfg.eval.n_bleu if data.is_text else cfg.eval.n_d_eval)
    test = data.test[:n]
    mask, filled = masked_batch(gen, test, cfg.maskgan.mask_rate, data.eos)
    counted = mask & (data.mask(test) > 0) if data.is_text else mask
    parts = zip(test.split(250), mask.split(250), counted.split(250), strict=True)
    nll = sum(float(gen.masked_nll(t, m, c.float(), 1.0)) for t, m, c in parts)
    out = {"fill_nll": nll / max(int(counted.sum()), 1), "fill_unique": unique_share(filled[counted].tolist())}
    if data.is_text:
        scores = []
        for hyp, ref, where in zip(filled.tolist(), test.tolist(), counted.tolist(), strict=True):
            words_h = [data.vocab.words[t] for t, w in zip(hyp, where, strict=True) if w]
            words_r = [data.vocab.words[t] for t, w in zip(ref, where, strict=True) if w]
            if words_r:
                scores.append(bleu([words_h], [words_r], (2,))[2])
        out["fill_bleu_2"] = sum(scores) / len(scores) if scores else math.nan
    gen.train()
    return out


@torch.no_grad()
def held_out_accuracy(gen: InfillingGenerator, disc: InfillingDiscriminator, data: Corpus, cfg: Any) -> float:
    """D's accuracy over the masked positions of validation sentences and their in-fills (0.5: fooled)."""
    real = data.valid[: cfg.eval.n_d_eval]
    mask, filled = masked_batch(gen, real, cfg.maskgan.mask_rate, data.eos)
    disc.eval()
    real_logits, _ = disc(real, mask)
    fake_logits, _ = disc(filled, mask)
    disc.train()
    correct = (real_logits > 0)[mask].sum() + (fake_logits <= 0)[mask].sum()
    return float(correct) / (2 * int(mask.sum()))


def train_maskgan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> InfillingGenerator:
    adv, m = cfg.adversarial, cfg.maskgan
    models = build_models(cfg, data.vocab_size, device)
    gen, disc = models["generator"], models["discriminator"]
    mle_opt, g_opt, d_opt = adam(gen.parameters(), cfg.mle.lr), adam(gen.parameters(), adv.lr), adam(disc.parameters(), m.d_lr)
    session.track(generator=gen, discriminator=disc, mle_opt=mle_opt, g_opt=g_opt, d_opt=d_opt)
    restore_or_start(session, gen, pretrained)

    def d_eval() -> float:
        return held_out_accuracy(gen, disc, data, cfg)

    def d_update(n: int) -> float:
        real = train_batch(data, n)
        mask, filled = masked_batch(gen, real, m.mask_rate, data.eos)
        disc.train()
        loss = d_loss_on(disc, real, filled, mask)
        gradient_step(d_opt, loss, disc.parameters(), adv.grad_clip)
        return loss.item()

    mle_unless_pretrained(session, gen, mle_opt, data, cfg)
    pre = cfg.pretrain_d
    for rnd in session.steps("d_pretrain", pre.rounds, label="pretrain D"):
        loss = float("nan")
        for _ in range(pre.epochs * max(1, pre.n_negatives // adv.batch_size)):
            loss = d_update(adv.batch_size)
        session.log("d_pretrain", rnd, **row(d_loss=loss, d_accuracy=d_eval()))

    begin_adversarial(session, gen, data, cfg, d_eval, extra=lambda: infilling_metrics(gen, disc, data, cfg))
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        real = train_batch(data, adv.batch_size)
        mask, filled = masked_batch(gen, real, m.mask_rate, data.eos)
        disc.train()
        d_logits, values = disc(filled, mask)
        advantages, _, critic_loss = maskgan_actor_critic(d_logits, values, mask, m.discount)
        gen.train()
        g_loss = -(advantages * gen.token_logprobs(filled, mask)).sum() / mask.sum().clamp_min(1)
        gradient_step(g_opt, g_loss, gen.parameters(), adv.grad_clip)
        d_opt.zero_grad(set_to_none=True)
        critic_loss.backward()  # only the critic head has a gradient (it reads D's states detached)
        d_opt.step()

        d_loss = float("nan")
        for _ in range(m.d_steps):
            d_loss = d_update(adv.batch_size)
        # reward_mean: the mean D(filled token is real) over the batch's filled positions
        reward = float(torch.sigmoid(d_logits.detach())[mask].mean())
        extra = infilling_metrics(gen, disc, data, cfg) if is_eval_step(step, adv) else {}
        log_adversarial_step(session, step, gen, data, cfg, d_eval, reward=reward, d_loss=d_loss, critic_loss=critic_loss.item(), **extra)
    return gen


@dataclass
class MaskGANModelConfig:
    mask_rate: float = setting(0.5, "share of each sentence masked as one contiguous span (1: everything, an unconditional generator)")
    d_emb: int = setting(32, "the discriminator's embedding size")
    d_hidden: int = setting(32, "the discriminator's (and critic's) LSTM size")
    d_lr: float = setting(1e-3, "Adam learning rate of the discriminator and its critic head")
    d_steps: int = setting(1, "discriminator updates per generator update")
    discount: float = setting(0.89, "discount of the rewards summed over the filled positions (the paper's gamma)")

    def check(self, cfg: Any) -> None:
        need(0 < self.mask_rate <= 1, "maskgan.mask_rate", "in (0, 1]")
        need(self.d_emb >= 1 and self.d_hidden >= 1, "maskgan.d_emb/d_hidden", ">= 1")
        need(self.d_lr > 0 and self.d_steps >= 1, "maskgan.d_lr/d_steps", "d_lr > 0, d_steps >= 1")
        need(0 <= self.discount <= 1, "maskgan.discount", "in [0, 1]")
        needs_plain_lstm(cfg, "maskgan")


@dataclass
class MaskGANRunConfig(MLERunConfig):
    """MaskGAN (Fedus et al., 2018): an encoder-decoder fills masked spans of real sentences; trained by
    actor-critic against a per-token discriminator, the critic's value as the baseline."""

    algo: str = "maskgan"
    maskgan: MaskGANModelConfig = field(default_factory=MaskGANModelConfig)
    pretrain_d: PretrainDConfig = field(default_factory=lambda: PretrainDConfig(rounds=10, epochs=1, n_negatives=5000))
    adversarial: GeneratorStepsConfig = field(default_factory=lambda: GeneratorStepsConfig(steps=2000, lr=5e-4, eval_every=100))


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "smoke": {**SMOKE_COMMON, "pretrain_d.rounds": 1, "pretrain_d.n_negatives": 128, "adversarial.steps": 4, "adversarial.eval_every": 2},
    "demo": {**DEMO_COMMON, "pretrain_d.rounds": 3, "pretrain_d.n_negatives": 2000, "adversarial.steps": 200, "adversarial.eval_every": 50},
}

METHOD = GanMethod("maskgan", MaskGANRunConfig, PRESETS, train_maskgan, build_models)
