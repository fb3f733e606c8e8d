"""MaliGAN (Che et al., 2017): maximum-likelihood augmented training with D's importance weights.

Same three phases as SeqGAN (MLE, D pre-training, adversarial); only the generator update differs:
sample a batch, weight each sequence by its normalised D/(1-D) minus the mean, and take one
weighted-MLE step. No Monte Carlo search: the weight belongs to the whole sequence.
"""

from __future__ import annotations

from typing import Any

import torch

from sparring.data.corpus import Corpus
from sparring.gans.engine import adam, discriminator_accuracy, discriminator_round, evaluate_generator, mle_phase, row, sample
from sparring.gans.seqgan import build_models
from sparring.models.lstm import LSTMLanguageModel
from sparring.rl.losses import maligan_weights
from sparring.session import Session


def train_maligan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> LSTMLanguageModel:
    d_cfg, pre, adv = cfg.discriminator, cfg.pretrain_d, cfg.adversarial
    models = build_models(cfg, data.vocab_size, device)
    gen, disc = models["generator"], models["discriminator"]
    mle_opt = adam(gen.parameters(), cfg.mle.lr)
    adv_opt = adam(gen.parameters(), adv.lr)
    d_opt = adam(disc.parameters(), d_cfg.lr)
    session.track(generator=gen, discriminator=disc, mle_opt=mle_opt, adv_opt=adv_opt, d_opt=d_opt)
    if not session.restore() and pretrained is not None:
        gen.load_state_dict(pretrained)

    def d_eval() -> float:
        real = data.test[: cfg.eval.n_d_eval]
        return discriminator_accuracy(disc, real, sample(gen, len(real), data))

    if not cfg.pretrained:
        mle_phase(session, gen, mle_opt, data, cfg)

    for rnd in session.steps("pretrain_d", pre.rounds, label="pretrain D"):
        fake = sample(gen, pre.n_negatives, data)
        loss = discriminator_round(disc, d_opt, data.train, fake, pre.epochs, d_cfg.batch_size, d_cfg.l2_reg)
        session.log("pretrain_d", rnd, **row(d_loss=loss, d_accuracy=d_eval()))

    if adv.steps and session.done("adversarial") == 0:
        session.state["window"] = {"reward": 0.0, "d_loss": 0.0, "n": 0}
        session.log("adversarial", 0, **row(**evaluate_generator(gen, data, cfg.eval), d_accuracy=d_eval()))
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        window = session.state["window"]
        seqs = sample(gen, adv.batch_size, data)
        d_probs = disc.prob_real(seqs)
        weights = maligan_weights(d_probs).unsqueeze(1).expand_as(seqs).clone()
        mask = data.mask(seqs)
        if mask is not None:
            weights = weights * mask
        gen.train()
        loss = gen.weighted_nll(seqs, weights)
        adv_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), adv.grad_clip)
        adv_opt.step()

        d_loss = float("nan")
        for _ in range(adv.d_rounds):
            fake = sample(gen, adv.n_negatives, data)
            d_loss = discriminator_round(disc, d_opt, data.train, fake, adv.d_epochs, d_cfg.batch_size, d_cfg.l2_reg)

        window["reward"] += float(d_probs.mean())
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
                    mean_reward=window["reward"] / n,  # mean D(Y) of the generator's batches
                ),
            )
            session.state["window"] = {"reward": 0.0, "d_loss": 0.0, "n": 0}
    return gen
