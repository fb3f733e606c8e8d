"""LeakGAN (Guo et al., AAAI 2018), as two explicit phases.

1. ``pretrain``: ``rounds`` x (D rounds on fresh negatives, then MLE epochs). D is trained first
   in each round because the Manager reads D's features: they must mean something before the
   Manager can learn goals in their space. MLE trains the Worker by NLL and the Manager by the
   cosine between its goals and the feature change over the next c tokens.
2. ``adversarial``: per step, Monte Carlo rewards every c tokens (rollouts from the current
   generator), rescaled by rank within the batch, train the Manager; the Worker follows its
   intrinsic reward (how well its tokens moved the features along the Manager's goals). Then D
   rounds on fresh negatives, and every ``mle_every`` steps an interleaved MLE phase.

Choices where the paper is silent or its code differs (also in docs/gans.md):
- rollouts use the current generator (LeakGAN's code), not a lagged copy as in SeqGAN;
- one Adam optimiser per phase over Manager and Worker; the Worker's loss does not reach the
  Manager (its goals are detached on the Worker's side), as in LeakGAN's separate updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from sparring.config import need, setting, without
from sparring.gans.config import (
    DEMO_COMMON,
    SMOKE_COMMON,
    AdversarialConfig,
    DiscriminatorConfig,
    MLEOptimConfig,
    MLERunConfig,
    needs_plain_lstm,
)
from sparring.gans.corpus import Corpus
from sparring.gans.engine import (
    adam,
    begin_adversarial,
    build_discriminator,
    classifier_round,
    completions_reward,
    disc_reward,
    evaluate_generator,
    held_out_d_accuracy,
    interleaved_mle,
    log_adversarial_step,
    mle_epochs,
    row,
    sample,
)
from sparring.gans.method import GanMethod
from sparring.gans.models.cnn_discriminator import CNNDiscriminator
from sparring.gans.models.leakgan import (
    LeakGANGenerator,
    intrinsic_rewards,
    manager_loss,
    per_step_rewards,
    rank_rescale,
    segment_ends,
)
from sparring.gans.session import Session

PAD = 0  # the padding D sees after a prefix: <eos> on real text, token 0 on the oracle (as LeakGAN)


def build_models(cfg: Any, vocab_size: int, device: torch.device) -> dict[str, torch.nn.Module]:
    disc = build_discriminator(cfg, vocab_size, device)
    g, lk = cfg.generator, cfg.leakgan
    gen = LeakGANGenerator(vocab_size, g.emb_dim, g.hidden_dim, disc.feature_dim, lk.goal_size, lk.step_size, PAD)
    gen.init_normal_(g.init_std)
    return {"generator": gen.to(device).attach(disc), "discriminator": disc}


@torch.no_grad()
def leakgan_rewards(
    gen: LeakGANGenerator, disc: CNNDiscriminator, seqs: torch.Tensor, data: Corpus, rollouts: int, delta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank-rescaled Monte Carlo rewards (B, T) for the Manager, and the raw segment scores (S, B).

    For each reward point L in c, 2c, .. < T, every sequence's first L tokens are completed
    ``rollouts`` times and D scores the completions; at L = T, D scores the sequence itself.
    """
    batch, seq_len = seqs.shape
    ends = segment_ends(seq_len, gen.step_size)
    scores = []
    if len(ends) > 1:
        prefix_lens = torch.tensor(ends[:-1], device=seqs.device).repeat_interleave(rollouts * batch)
        prefixes = seqs.repeat(len(ends[:-1]) * rollouts, 1)
        completions = gen.generate(len(prefixes), seq_len, prefix=prefixes, prefix_len=prefix_lens)
        probs = completions_reward(disc, data)(seqs, completions.view(len(ends) - 1, rollouts, batch, seq_len), ends[:-1])
        scores.append(probs.mean(dim=1))
    scores.append(disc_reward(disc, data)(seqs).unsqueeze(0))
    segment_scores = torch.cat(scores)
    return per_step_rewards(rank_rescale(segment_scores, delta), seq_len, gen.step_size), segment_scores


def generator_update(gen: LeakGANGenerator, disc: CNNDiscriminator, data: Corpus, opt: torch.optim.Optimizer, cfg: Any) -> torch.Tensor:
    """One adversarial update of Manager and Worker on a fresh batch; returns the raw segment scores (S, B)."""
    adv, c = cfg.adversarial, cfg.leakgan.step_size
    seqs = sample(gen, adv.batch_size, data)
    rewards, segment_scores = leakgan_rewards(gen, disc, seqs, data, adv.rollouts, cfg.leakgan.rescale_delta)
    mask = data.mask(seqs)
    gen.train()
    parts = gen.teacher_forced(seqs)
    worker_reward = intrinsic_rewards(parts["goals"].detach(), parts["features"], c)
    if mask is not None:
        rewards, worker_reward = rewards * mask, worker_reward * mask
    loss = manager_loss(parts["goals"], parts["features"], c, rewards) + gen.weighted_nll(seqs, worker_reward / len(seqs), parts)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(gen.parameters(), adv.grad_clip)
    opt.step()
    return segment_scores


def train_leakgan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> LeakGANGenerator:
    """Run (or resume) LeakGAN."""
    d_cfg, pre, adv = cfg.discriminator, cfg.pretrain, cfg.adversarial
    models = build_models(cfg, data.vocab_size, device)
    gen, disc = models["generator"], models["discriminator"]
    mle_opt = adam(gen.parameters(), cfg.mle.lr)
    adv_opt = adam(gen.parameters(), adv.lr)
    d_opt = adam(disc.parameters(), d_cfg.lr)
    session.track(generator=gen, discriminator=disc, mle_opt=mle_opt, adv_opt=adv_opt, d_opt=d_opt)
    session.restore()

    def d_eval() -> float:
        return held_out_d_accuracy(gen, disc, data, cfg.eval)

    d_round = classifier_round(disc, d_opt, data, d_cfg)

    def d_rounds(rounds: int, epochs: int, n_negatives: int) -> float:
        loss = float("nan")
        for _ in range(rounds):
            loss = d_round(sample(gen, n_negatives, data), epochs)
        return loss

    # Phase 1: interleaved pre-training. Step r = one round; evaluated after every round.
    if pre.rounds and session.done("pretrain") == 0:
        session.log("pretrain", 0, **row(**evaluate_generator(gen, data, cfg.eval)))
    for rnd in session.steps("pretrain", pre.rounds, label="pretrain (D + MLE)"):
        d_loss = d_rounds(pre.d_rounds, pre.d_epochs, pre.n_negatives)
        train_nll = mle_epochs(gen, mle_opt, data, cfg, pre.mle_epochs)
        metrics = evaluate_generator(gen, data, cfg.eval)
        session.log("pretrain", rnd, **row(**metrics, d_loss=d_loss, d_accuracy=d_eval(), train_nll=train_nll))

    # Phase 2: adversarial training.
    begin_adversarial(session, gen, data, cfg, d_eval)
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        segment_scores = generator_update(gen, disc, data, adv_opt, cfg)
        d_loss = d_rounds(adv.d_rounds, adv.d_epochs, adv.n_negatives)
        train_nll = interleaved_mle(gen, mle_opt, data, cfg, step)

        # reward_mean: D(Y) of the batch, before rank rescaling
        reward = float(segment_scores[-1].mean())
        log_adversarial_step(session, step, gen, data, cfg, d_eval, reward=reward, d_loss=d_loss, train_nll=train_nll)
    return gen


# ---- settings and registry entry --------------------------------------------------------------


@dataclass
class LeakGANModelConfig:
    goal_size: int = setting(16, "k: the Worker's goal embedding")
    step_size: int = setting(4, "c: the Manager's horizon, and the interval between rewards")
    rescale_delta: float = setting(16.0, "bootstrapped rescaled activation: sigma(delta * (0.5 - rank / B))")

    def check(self, cfg: Any) -> None:
        need(self.goal_size >= 1 and self.step_size >= 1, "leakgan.goal_size/step_size", ">= 1")
        need(self.rescale_delta > 0, "leakgan.rescale_delta", "> 0")
        needs_plain_lstm(cfg, "leakgan")


@dataclass
class InterleavedPretrainConfig:
    """LeakGAN pre-training: ``rounds`` x (``d_rounds`` x ``d_epochs`` D epochs, then ``mle_epochs`` MLE epochs)."""

    rounds: int = setting(10, "interleaved pre-training rounds")
    d_rounds: int = setting(5, "D rounds per pre-training round")
    d_epochs: int = setting(3, "D epochs per D round")
    n_negatives: int = setting(10_000, "fresh generator samples per D round")
    mle_epochs: int = setting(8, "MLE epochs per pre-training round")

    def check(self, cfg: Any) -> None:
        need(
            self.rounds >= 0 and self.d_rounds >= 0 and self.d_epochs >= 1 and self.n_negatives >= 1 and self.mle_epochs >= 0,
            "pretrain",
            "rounds >= 0, d_rounds >= 0, d_epochs >= 1, n_negatives >= 1, mle_epochs >= 0",
        )


@dataclass
class LeakGANRunConfig(MLERunConfig):
    """LeakGAN (Guo et al., 2018): Manager/Worker generator fed D's leaked features, interleaved pre-training,
    then adversarial training with rank-rescaled Monte Carlo rewards every ``step_size`` tokens.

    Pre-training is interleaved (``pretrain``), so ``mle`` holds only how MLE steps are taken."""

    algo: str = "leakgan"
    mle: MLEOptimConfig = field(default_factory=lambda: MLEOptimConfig(lr=1e-3))
    leakgan: LeakGANModelConfig = field(default_factory=LeakGANModelConfig)
    # LeakGAN's synthetic-data code, to our reading: widths 2 and 3, 100 + 200 filters (its goals live in
    # this 300-dimensional feature space), no dropout. SeqGAN's 1,720-filter D also works, about 6x slower.
    discriminator: DiscriminatorConfig = field(
        default_factory=lambda: DiscriminatorConfig(filter_sizes=(2, 3), num_filters=(100, 200), dropout=0.0)
    )
    pretrain: InterleavedPretrainConfig = field(default_factory=InterleavedPretrainConfig)
    adversarial: AdversarialConfig = field(
        default_factory=lambda: AdversarialConfig(steps=800, rollouts=4, lr=1e-3, d_rounds=5, d_epochs=3, mle_every=10, mle_epochs=1)
    )


_MLE_PHASE = ("mle.epochs", "mle.eval_every", "mle.patience")  # LeakGAN has no separate MLE phase
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "smoke": {
        **without(SMOKE_COMMON, *_MLE_PHASE),
        "mle.lr": 1e-2,
        "pretrain.rounds": 2,
        "pretrain.d_rounds": 1,
        "pretrain.d_epochs": 1,
        "pretrain.n_negatives": 500,
        "pretrain.mle_epochs": 1,
        "adversarial.steps": 4,
        "adversarial.rollouts": 2,
        "adversarial.d_rounds": 1,
        "adversarial.d_epochs": 1,
        "adversarial.n_negatives": 500,
        "adversarial.eval_every": 2,
        "adversarial.mle_every": 2,
    },
    "demo": {
        **without(DEMO_COMMON, *_MLE_PHASE),
        "mle.lr": 1e-2,
        "pretrain.rounds": 3,
        "pretrain.d_rounds": 1,
        "pretrain.d_epochs": 1,
        "pretrain.n_negatives": 5000,
        "pretrain.mle_epochs": 2,
        "adversarial.steps": 20,
        "adversarial.d_rounds": 1,
        "adversarial.d_epochs": 1,
        "adversarial.n_negatives": 1000,
        "adversarial.eval_every": 5,
        "adversarial.mle_every": 10,
    },
}

METHOD = GanMethod("leakgan", LeakGANRunConfig, PRESETS, train_leakgan, build_models)
