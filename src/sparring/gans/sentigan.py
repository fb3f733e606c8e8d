"""SentiGAN (Wang and Wan, IJCAI 2018): one generator per category against one multi-class discriminator.

Data: a labelled corpus (``--label-col COL``); without one, a single category (SentiGAN is then
SeqGAN with the penalty objective). Phases:

1. ``mle``: each category's LSTM generator is pre-trained by maximum likelihood on its own sentences.
2. ``d_pretrain``: the CNN discriminator learns K + 1 classes, generated (0) and each real category
   (1 + k), on real training sentences against fresh samples of the mixture of generators.
3. ``adversarial``: per step, each generator k takes one policy-gradient update on its own samples
   with SentiGAN's penalty objective: minimise sum_t log G_k(y_t | Y_<t) * (1 - D_k(Y)), D_k the
   discriminator's probability of category k, estimated per prefix by Monte Carlo search with a
   lagged rollout copy of G_k (SeqGAN's machinery: Q = D_k - 1); then D rounds on fresh negatives.

Evaluation reads the generators as their mixture (prior: the training shares) like any generator,
plus per category (``sparring.gans.categories``): NLL-test, BLEU-4 and faithfulness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from sparring.gans.categories import CategoryJudge, category_metrics, set_prior
from sparring.gans.config import AdversarialConfig, DiscriminatorConfig, MLERunConfig, PretrainDConfig, needs_plain_lstm
from sparring.gans.corpus import Corpus
from sparring.gans.engine import (
    adam,
    begin_adversarial,
    build_discriminator,
    category_labels,
    d_pretrain_phase,
    discriminator_round,
    held_out_d_accuracy,
    is_eval_step,
    log_adversarial_step,
    mle_unless_pretrained,
    policy_gradient_step,
    restore_or_start,
    sample,
)
from sparring.gans.method import GanMethod
from sparring.gans.models.conditional import CategoryGenerators
from sparring.gans.seqgan import PRESETS as SEQGAN_PRESETS
from sparring.gans.session import Session


def build_models(cfg: Any, vocab_size: int, device: torch.device, n_categories: int = 1) -> dict[str, torch.nn.Module]:
    g = cfg.generator
    gens = CategoryGenerators(n_categories, vocab_size, g.emb_dim, g.hidden_dim, g.init_std).to(device)
    return {"generator": gens, "discriminator": build_discriminator(cfg, vocab_size, device, num_classes=n_categories + 1)}


def category_round(disc: Any, d_opt: torch.optim.Optimizer, data: Corpus, d_cfg: Any) -> Any:
    """``d_round`` of a multi-class D: real training sentences are class 1 + their category, ``fake`` class 0."""
    classes = category_labels(data, "train") + 1
    return lambda fake, epochs: discriminator_round(disc, d_opt, data.train, fake, epochs, d_cfg.batch_size, d_cfg.l2_reg, classes)


def train_sentigan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> CategoryGenerators:
    adv = cfg.adversarial
    models = build_models(cfg, data.vocab_size, device, data.n_categories)
    gens, disc = models["generator"], models["discriminator"]
    set_prior(gens, data)
    mle_opt, pg_opt = adam(gens.parameters(), cfg.mle.lr), adam(gens.parameters(), adv.lr)
    d_opt = adam(disc.parameters(), cfg.discriminator.lr)
    session.track(generator=gens, discriminator=disc, mle_opt=mle_opt, pg_opt=pg_opt, d_opt=d_opt)
    restore_or_start(session, gens, pretrained)
    judge = CategoryJudge(data) if data.label_names else None

    def d_eval() -> float:
        return held_out_d_accuracy(gens, disc, data, cfg.eval)

    def extras() -> dict[str, Any]:
        return category_metrics(gens, data, cfg.eval, judge)

    d_round = category_round(disc, d_opt, data, cfg.discriminator)
    mle_unless_pretrained(session, gens, mle_opt, data, cfg)
    d_pretrain_phase(session, gens, data, cfg, d_round, d_eval)
    if begin_adversarial(session, gens, data, cfg, d_eval, extra=extras):
        session.state["rollout"] = [{k: v.clone() for k, v in g.params().items()} for g in gens.generators]
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        rewards = []
        for k, gen in enumerate(gens.generators):

            def penalty(seqs: torch.Tensor, k: int = k) -> torch.Tensor:  # Q = D_k - 1: minus SentiGAN's penalty 1 - D_k
                return disc.class_probs(data.clean(seqs))[:, k + 1] - 1.0

            q = policy_gradient_step(gen, pg_opt, session.state["rollout"][k], data, adv, penalty)
            rewards.append(float(q[:, -1].mean()) + 1.0)
        d_loss = float("nan")
        for _ in range(adv.d_rounds):
            d_loss = d_round(sample(gens, adv.n_negatives, data), adv.d_epochs)
        # reward_mean: the mean over categories of D_k of the generators' own sequences
        extra = extras() if is_eval_step(step, adv) else {}
        log_adversarial_step(session, step, gens, data, cfg, d_eval, reward=sum(rewards) / len(rewards), d_loss=d_loss, **extra)
    return gens


@dataclass
class SentiGANRunConfig(MLERunConfig):
    """SentiGAN (Wang and Wan, 2018): one generator per category, a (K+1)-class discriminator, and the
    penalty objective sum log G_k (1 - D_k) with Monte Carlo search."""

    algo: str = "sentigan"
    discriminator: DiscriminatorConfig = field(default_factory=lambda: DiscriminatorConfig(lr=1e-4))
    # TextGAN-PyTorch's run_sentigan.py: D pre-training 5 rounds x 3 epochs; 100 steps of 4 rounds x 2 epochs
    pretrain_d: PretrainDConfig = field(default_factory=lambda: PretrainDConfig(rounds=5, epochs=3))
    adversarial: AdversarialConfig = field(default_factory=lambda: AdversarialConfig(steps=100, d_rounds=4, d_epochs=2))

    def check(self, cfg: Any) -> None:
        needs_plain_lstm(cfg, "sentigan")


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "smoke": dict(SEQGAN_PRESETS["smoke"]),
    "demo": {**SEQGAN_PRESETS["demo"], "pretrain_d.rounds": 4},
}

METHOD = GanMethod("sentigan", SentiGANRunConfig, PRESETS, train_sentigan, build_models, conditional=True)
