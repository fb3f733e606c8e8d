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
    build_discriminator,
    build_generator,
    discriminator_accuracy,
    discriminator_round,
    evaluate_generator,
    mle_phase,
    row,
    sample,
)
from sparring.models.lstm import LSTMLanguageModel
from sparring.rl.losses import policy_gradient_loss
from sparring.rl.rollout import lagged_update, monte_carlo_q
from sparring.session import Session


def build_models(cfg: Any, vocab_size: int, device: torch.device) -> dict[str, torch.nn.Module]:
    return {"generator": build_generator(cfg, vocab_size, device), "discriminator": build_discriminator(cfg, vocab_size, device)}


def train_seqgan(
    session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None
) -> LSTMLanguageModel:
    """Run (or resume) SeqGAN; ``pretrained`` is a generator state dict that replaces phase 1."""
    d_cfg, pre, adv = cfg.discriminator, cfg.pretrain_d, cfg.adversarial
    models = build_models(cfg, data.vocab_size, device)
    gen, disc = models["generator"], models["discriminator"]
    mle_opt = adam(gen.parameters(), cfg.mle.lr)
    pg_opt = adam(gen.parameters(), adv.lr)  # SeqGAN keeps a separate optimiser for the PG updates
    d_opt = adam(disc.parameters(), d_cfg.lr)
    session.track(generator=gen, discriminator=disc, mle_opt=mle_opt, pg_opt=pg_opt, d_opt=d_opt)
    if not session.restore() and pretrained is not None:
        gen.load_state_dict(pretrained)

    def d_eval() -> float:
        real = data.test[: cfg.eval.n_d_eval]
        return discriminator_accuracy(disc, real, sample(gen, len(real), data))

    # Phase 1: maximum likelihood.
    if not cfg.pretrained:
        mle_phase(session, gen, mle_opt, data, cfg)

    # Phase 2: discriminator pre-training on fresh negatives each round.
    for rnd in session.steps("pretrain_d", pre.rounds, label="pretrain D"):
        fake = sample(gen, pre.n_negatives, data)
        loss = discriminator_round(disc, d_opt, data.train, fake, pre.epochs, d_cfg.batch_size, d_cfg.l2_reg)
        session.log("pretrain_d", rnd, **row(d_loss=loss, d_accuracy=d_eval()))

    # Phase 3: adversarial training.
    if adv.steps and session.done("adversarial") == 0:
        session.state["rollout"] = {k: v.clone() for k, v in gen.params().items()}
        session.state["window"] = {"reward": 0.0, "d_loss": 0.0, "n": 0}
        session.log("adversarial", 0, **row(**evaluate_generator(gen, data, cfg.eval), d_accuracy=d_eval()))
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        rollout_params, window = session.state["rollout"], session.state["window"]

        # Generator: one policy-gradient update with Monte Carlo Q-values.
        seqs = sample(gen, adv.batch_size, data)
        q = monte_carlo_q(rollout_params, seqs, adv.rollouts, lambda x: disc.prob_real(data.clean(x)))
        gen.train()
        loss = policy_gradient_loss(gen(seqs), seqs, q, data.mask(seqs))
        pg_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), adv.grad_clip)
        pg_opt.step()
        lagged_update(rollout_params, gen.params(), adv.rollout_update_rate)

        # Discriminator: fresh negatives each round.
        d_loss = float("nan")
        for _ in range(adv.d_rounds):
            fake = sample(gen, adv.n_negatives, data)
            d_loss = discriminator_round(disc, d_opt, data.train, fake, adv.d_epochs, d_cfg.batch_size, d_cfg.l2_reg)

        window["reward"] += float(q.mean())
        window["d_loss"] += d_loss
        window["n"] += 1
        if step % adv.eval_every == 0 or step == adv.steps:
            n = window["n"]
            session.log(
                "adversarial",
                step,
                **row(
                    **evaluate_generator(gen, data, cfg.eval),
                    d_loss=window["d_loss"] / n if adv.d_rounds else None,
                    d_accuracy=d_eval(),
                    mean_reward=window["reward"] / n,
                ),
            )
            session.state["window"] = {"reward": 0.0, "d_loss": 0.0, "n": 0}
    return gen
