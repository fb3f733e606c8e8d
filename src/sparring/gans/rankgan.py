"""RankGAN (Lin et al., NeurIPS 2017): a ranker instead of a real/fake classifier.

The ranker embeds sentences (the CNN discriminator's features) and scores a candidate by how
strongly a set U of real reference sentences singles it out, by cosine relevance, among a
comparison set C (``rank_scores``). It learns to rank real sentences high among generated ones
and generated ones low among real ones. The generator is SeqGAN's policy gradient with Monte
Carlo search, its reward being the rank score of each completion among real sentences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from sparring.config import need, setting
from sparring.gans.corpus import Corpus
from sparring.gans.engine import (
    begin_adversarial,
    build_lstm_gan,
    d_pretrain_phase,
    interleaved_mle,
    log_adversarial_step,
    mle_phase,
    policy_gradient_step,
    sample,
    setup_lstm_gan,
)
from sparring.gans.losses import rank_scores, ranker_loss
from sparring.gans.method import GanMethod
from sparring.gans.models.cnn_discriminator import CNNDiscriminator
from sparring.gans.models.lstm import LSTMLanguageModel
from sparring.gans.seqgan import PRESETS as SEQGAN_PRESETS
from sparring.gans.seqgan import SeqGANRunConfig
from sparring.gans.session import Session


def _pick(data: torch.Tensor, n: int) -> torch.Tensor:
    return data[torch.randint(len(data), (n,), device=data.device)]


def ranker_round(
    disc: CNNDiscriminator, opt: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor, epochs: int, cfg: Any
) -> float:
    """``epochs`` passes over ``fake`` (with as many real sentences); returns the last epoch's mean loss."""
    disc.train()
    r, bs = cfg.ranker, cfg.discriminator.batch_size
    mean_loss = float("nan")
    for _ in range(epochs):
        total, count = 0.0, 0
        for idx in torch.randperm(len(fake), device=fake.device).split(bs):
            fake_b, real_b = fake[idx], _pick(real, len(idx))
            embed = lambda x: disc.dropout(disc.features(x))  # noqa: E731
            refs = embed(_pick(real, r.n_reference))
            real_scores = rank_scores(embed(real_b), refs, embed(_pick(fake, r.n_compare)), r.gamma)
            fake_scores = rank_scores(embed(fake_b), refs, embed(_pick(real, r.n_compare)), r.gamma)
            loss = ranker_loss(real_scores, fake_scores)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        mean_loss = total / max(count, 1)
    return mean_loss


@torch.no_grad()
def reward_fn(disc: CNNDiscriminator, data: Corpus, cfg: Any):
    """Rank score among real sentences, with one fixed U and C per generator step (eval mode)."""
    disc.eval()
    refs = disc.features(_pick(data.train, cfg.ranker.n_reference))
    comparison = disc.features(_pick(data.train, cfg.ranker.n_compare))
    return lambda seqs: rank_scores(disc.features(data.clean(seqs)), refs, comparison, cfg.ranker.gamma)


@torch.no_grad()
def ranking_accuracy(disc: CNNDiscriminator, data: Corpus, fake: torch.Tensor, cfg: Any) -> float:
    """How often a held-out real sentence outranks a generated one (each among the other kind); 0.5 = no
    better than chance. In float32, as every evaluation."""
    disc.eval()
    real = data.valid[: len(fake)]
    with disc.full_precision():
        refs = disc.features(_pick(data.train, cfg.ranker.n_reference))
        gamma, n_compare = cfg.ranker.gamma, cfg.ranker.n_compare
        real_scores = rank_scores(disc.features(real), refs, disc.features(_pick(fake, n_compare)), gamma)
        fake_scores = rank_scores(disc.features(fake[: len(real)]), refs, disc.features(_pick(data.train, n_compare)), gamma)
    return float((real_scores > fake_scores).float().mean())


def train_rankgan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> LSTMLanguageModel:
    adv = cfg.adversarial
    gen, disc, mle_opt, pg_opt, d_opt = setup_lstm_gan(session, cfg, data, device, pretrained, "pg_opt")

    def d_eval() -> float:
        return ranking_accuracy(disc, data, sample(gen, min(cfg.eval.n_d_eval, len(data.valid)), data), cfg)

    if not cfg.pretrained:
        mle_phase(session, gen, mle_opt, data, cfg)

    def d_round(fake: torch.Tensor, epochs: int) -> float:
        return ranker_round(disc, d_opt, data.train, fake, epochs, cfg)

    d_pretrain_phase(session, gen, data, cfg, d_round, d_eval, label="pretrain ranker")

    if begin_adversarial(session, gen, data, cfg, d_eval):
        session.state["rollout"] = {k: v.clone() for k, v in gen.params().items()}
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        q = policy_gradient_step(gen, pg_opt, session.state["rollout"], data, adv, reward_fn(disc, data, cfg))

        d_loss = float("nan")
        for _ in range(adv.d_rounds):
            d_loss = d_round(sample(gen, adv.n_negatives, data), adv.d_epochs)

        # reward_mean: the mean rank score of the generated batch
        train_nll = interleaved_mle(gen, mle_opt, data, cfg, step)  # optional (adversarial.mle_every)
        log_adversarial_step(session, step, gen, data, cfg, d_eval, reward=float(q[:, -1].mean()), d_loss=d_loss, train_nll=train_nll)
    return gen


@dataclass
class RankerConfig:
    gamma: float = setting(4.0, "softmax sharpness over cosine similarities (RankGAN's gamma; our default)")
    n_reference: int = setting(16, "|U|: real sentences the candidates are compared with")
    n_compare: int = setting(16, "|C|: the comparison set each candidate is ranked within")

    def check(self, cfg: Any) -> None:
        need(self.gamma > 0 and self.n_reference >= 1 and self.n_compare >= 1, "ranker", "gamma > 0, n_reference >= 1, n_compare >= 1")


@dataclass
class RankGANRunConfig(SeqGANRunConfig):
    """RankGAN (Lin et al., 2017): a ranker (D's features + cosine relevance to a real reference set) replaces
    the classifier; the generator's Monte Carlo reward is the rank score of its completions among real sentences."""

    algo: str = "rankgan"
    ranker: RankerConfig = field(default_factory=RankerConfig)


PRESETS = {name: dict(overrides) for name, overrides in SEQGAN_PRESETS.items()}

METHOD = GanMethod("rankgan", RankGANRunConfig, PRESETS, train_rankgan, build_lstm_gan)
