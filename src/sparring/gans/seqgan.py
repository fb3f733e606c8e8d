"""SeqGAN (Yu et al., AAAI 2017), as three explicit phases.

1. ``mle``: pre-train the generator by maximum likelihood (skipped with ``pretrained=RUN_DIR``).
2. ``pretrain_d``: rounds of fresh generator samples as negatives, ``epochs`` passes each.
3. ``adversarial``: per step, one policy-gradient update on a batch of samples whose per-token
   rewards Q come from Monte Carlo search with a lagged rollout policy, then ``d_rounds`` rounds
   of discriminator training on fresh negatives.
"""

from __future__ import annotations

from typing import Any

import torch

from sparring.data.corpus import Corpus
from sparring.gans.engine import (
    adam,
    begin_adversarial,
    build_discriminator,
    build_generator,
    classifier_round,
    d_pretrain_phase,
    held_out_d_accuracy,
    log_adversarial_step,
    mle_phase,
    sample,
)
from sparring.models.lstm import LSTMLanguageModel
from sparring.rl.losses import policy_gradient_loss
from sparring.rl.rollout import lagged_update, monte_carlo_q
from sparring.session import Session


def build_models(cfg: Any, vocab_size: int, device: torch.device) -> dict[str, torch.nn.Module]:
    return {"generator": build_generator(cfg, vocab_size, device), "discriminator": build_discriminator(cfg, vocab_size, device)}


def setup_lstm_gan(
    session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None, adv_opt_name: str
) -> tuple[Any, Any, torch.optim.Optimizer, torch.optim.Optimizer, torch.optim.Optimizer]:
    """Generator, D and their optimisers (MLE, adversarial, D), tracked and restored; a fresh run may
    start from ``pretrained`` generator weights. ``adv_opt_name`` keeps each model's checkpoint keys."""
    models = build_models(cfg, data.vocab_size, device)
    gen, disc = models["generator"], models["discriminator"]
    mle_opt = adam(gen.parameters(), cfg.mle.lr)
    adv_opt = adam(gen.parameters(), cfg.adversarial.lr)  # a separate optimiser for the adversarial updates
    d_opt = adam(disc.parameters(), cfg.discriminator.lr)
    session.track(generator=gen, discriminator=disc, mle_opt=mle_opt, d_opt=d_opt, **{adv_opt_name: adv_opt})
    if not session.restore() and pretrained is not None:
        gen.load_state_dict(pretrained)
    return gen, disc, mle_opt, adv_opt, d_opt


def mle_then_d_pretraining(session: Session, cfg: Any, data: Corpus, gen: Any, disc: Any, mle_opt: Any, d_opt: Any) -> tuple[Any, Any]:
    """Phases 1 and 2 of SeqGAN and MaliGAN: MLE (skipped when started from a pretrained generator),
    then D pre-training on fresh negatives each round. Returns the ``d_eval`` and ``d_round`` the
    adversarial phase goes on using."""

    def d_eval() -> float:
        return held_out_d_accuracy(gen, disc, data, cfg.eval)

    d_round = classifier_round(disc, d_opt, data, cfg.discriminator)
    if not cfg.pretrained:
        mle_phase(session, gen, mle_opt, data, cfg)
    d_pretrain_phase(session, gen, data, cfg, d_round, d_eval)
    return d_eval, d_round


def policy_gradient_step(
    gen: LSTMLanguageModel, opt: torch.optim.Optimizer, rollout_params: dict, data: Corpus, adv: Any, reward: Any
) -> torch.Tensor:
    """One REINFORCE update with Monte Carlo Q-values from the lagged rollout policy; returns Q."""
    seqs = sample(gen, adv.batch_size, data)
    q = monte_carlo_q(rollout_params, seqs, adv.rollouts, reward)
    gen.train()
    loss = policy_gradient_loss(gen(seqs), seqs, q, data.mask(seqs))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(gen.parameters(), adv.grad_clip)
    opt.step()
    lagged_update(rollout_params, gen.params(), adv.rollout_update_rate)
    return q


def train_seqgan(
    session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None
) -> LSTMLanguageModel:
    """Run (or resume) SeqGAN; ``pretrained`` is a generator state dict that replaces phase 1."""
    adv = cfg.adversarial
    gen, disc, mle_opt, pg_opt, d_opt = setup_lstm_gan(session, cfg, data, device, pretrained, "pg_opt")

    # Phases 1 and 2: maximum likelihood, then discriminator pre-training.
    d_eval, d_round = mle_then_d_pretraining(session, cfg, data, gen, disc, mle_opt, d_opt)

    # Phase 3: adversarial training.
    if begin_adversarial(session, gen, data, cfg, d_eval):
        session.state["rollout"] = {k: v.clone() for k, v in gen.params().items()}
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        # Generator: one policy-gradient update with Monte Carlo Q-values.
        q = policy_gradient_step(gen, pg_opt, session.state["rollout"], data, adv, lambda x: disc.prob_real(data.clean(x)))

        # Discriminator: fresh negatives each round.
        d_loss = float("nan")
        for _ in range(adv.d_rounds):
            d_loss = d_round(sample(gen, adv.n_negatives, data), adv.d_epochs)

        log_adversarial_step(session, step, gen, data, cfg, d_eval, reward=float(q.mean()), d_loss=d_loss)  # mean Q-value
    return gen
