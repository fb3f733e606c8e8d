"""RankGAN (Lin et al., NeurIPS 2017): a ranker instead of a real/fake classifier.

The ranker embeds sentences (the CNN discriminator's features) and scores a candidate by how
strongly a set U of real reference sentences singles it out, by cosine relevance, among a
comparison set C (``rank_scores``). It learns to rank real sentences high among generated ones
and generated ones low among real ones. The generator is SeqGAN's policy gradient with Monte
Carlo search, its reward being the rank score of each completion among real sentences.
"""

from __future__ import annotations

from typing import Any

import torch

from sparring.data.corpus import Corpus
from sparring.gans.engine import adam, evaluate_generator, mle_phase, row, sample
from sparring.gans.seqgan import build_models
from sparring.models.cnn_discriminator import CNNDiscriminator
from sparring.models.lstm import LSTMLanguageModel
from sparring.rl.losses import policy_gradient_loss, rank_scores, ranker_loss
from sparring.rl.rollout import lagged_update, monte_carlo_q
from sparring.session import Session


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
    """How often a held-out real sentence outranks a generated one (each among the other kind); 0.5 = no better than chance."""
    disc.eval()
    real = data.test[: len(fake)]
    refs = disc.features(_pick(data.train, cfg.ranker.n_reference))
    gamma, n_compare = cfg.ranker.gamma, cfg.ranker.n_compare
    real_scores = rank_scores(disc.features(real), refs, disc.features(_pick(fake, n_compare)), gamma)
    fake_scores = rank_scores(disc.features(fake[: len(real)]), refs, disc.features(_pick(data.train, n_compare)), gamma)
    return float((real_scores > fake_scores).float().mean())


def train_rankgan(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> LSTMLanguageModel:
    pre, adv = cfg.pretrain_d, cfg.adversarial
    models = build_models(cfg, data.vocab_size, device)
    gen, disc = models["generator"], models["discriminator"]
    mle_opt = adam(gen.parameters(), cfg.mle.lr)
    pg_opt = adam(gen.parameters(), adv.lr)
    d_opt = adam(disc.parameters(), cfg.discriminator.lr)
    session.track(generator=gen, discriminator=disc, mle_opt=mle_opt, pg_opt=pg_opt, d_opt=d_opt)
    if not session.restore() and pretrained is not None:
        gen.load_state_dict(pretrained)

    def d_eval() -> float:
        return ranking_accuracy(disc, data, sample(gen, min(cfg.eval.n_d_eval, len(data.test)), data), cfg)

    if not cfg.pretrained:
        mle_phase(session, gen, mle_opt, data, cfg)

    for rnd in session.steps("pretrain_d", pre.rounds, label="pretrain ranker"):
        loss = ranker_round(disc, d_opt, data.train, sample(gen, pre.n_negatives, data), pre.epochs, cfg)
        session.log("pretrain_d", rnd, **row(d_loss=loss, d_accuracy=d_eval()))

    if adv.steps and session.done("adversarial") == 0:
        session.state["rollout"] = {k: v.clone() for k, v in gen.params().items()}
        session.state["window"] = {"reward": 0.0, "d_loss": 0.0, "n": 0}
        session.log("adversarial", 0, **row(**evaluate_generator(gen, data, cfg.eval), d_accuracy=d_eval()))
    for step in session.steps("adversarial", adv.steps, label="adversarial"):
        rollout_params, window = session.state["rollout"], session.state["window"]
        seqs = sample(gen, adv.batch_size, data)
        q = monte_carlo_q(rollout_params, seqs, adv.rollouts, reward_fn(disc, data, cfg))
        gen.train()
        loss = policy_gradient_loss(gen(seqs), seqs, q, data.mask(seqs))
        pg_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), adv.grad_clip)
        pg_opt.step()
        lagged_update(rollout_params, gen.params(), adv.rollout_update_rate)

        d_loss = float("nan")
        for _ in range(adv.d_rounds):
            d_loss = ranker_round(disc, d_opt, data.train, sample(gen, adv.n_negatives, data), adv.d_epochs, cfg)

        window["reward"] += float(q[:, -1].mean())
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
                    mean_reward=window["reward"] / n,  # mean rank score of the generated batch
                ),
            )
            session.state["window"] = {"reward": 0.0, "d_loss": 0.0, "n": 0}
    return gen
