"""What several text-GAN loops share: MLE epochs, discriminator rounds, sampling and evaluation,
and the LSTM-GAN pieces of SeqGAN that MaliGAN and RankGAN build on (set-up, pre-training, the
policy-gradient step).

All randomness comes from torch's global generator, which the session checkpoints; that is what
makes a resumed run draw the same numbers as an uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import torch

from sparring.files import atomic_torch_save
from sparring.gans.corpus import Corpus
from sparring.gans.losses import discriminator_loss, policy_gradient_loss
from sparring.gans.models.cnn_discriminator import CNNDiscriminator
from sparring.gans.models.lstm import LSTMLanguageModel
from sparring.gans.nll import per_token_nll
from sparring.gans.rollout import lagged_update, monte_carlo_q
from sparring.gans.session import Session
from sparring.metrics.bleu import bleu, self_bleu
from sparring.metrics.diversity import distinct_n
from sparring.precision import resolve_precision

# Every metrics row carries these keys, so readers never need to guess; absent values are null.
# Evaluation rows add the generator metrics of their data source (ORACLE_KEYS or TEXT_KEYS).
METRIC_KEYS = ("nll_oracle", "nll_test", "nll_valid", "d_loss", "d_accuracy", "reward_mean")
BLEU_ORDERS = (2, 3, 4, 5)
TEXT_KEYS = (
    *(f"bleu_{n}" for n in BLEU_ORDERS),
    *(f"self_bleu_{n}" for n in BLEU_ORDERS),
    "distinct_1",
    "distinct_2",
    "data_distinct_2",
    "mean_words",
)


def build_generator(cfg: Any, vocab_size: int, device: torch.device) -> LSTMLanguageModel:
    gen = LSTMLanguageModel(vocab_size, cfg.generator.emb_dim, cfg.generator.hidden_dim)
    return gen.init_normal_(cfg.generator.init_std).to(device)


# bf16 pays for its casts only on a wide discriminator (bench/speed.py, one run, 2 cores): the
# paper's 1,720 filters train 1.5x and score Monte Carlo completions 1.5x faster in bf16, LeakGAN's
# 300 are 0.93x (slower). Below this many filters the discriminator stays float32 in a bf16 run.
BF16_MIN_FILTERS = 1000


def build_discriminator(cfg: Any, vocab_size: int, device: torch.device, num_classes: int = 2) -> CNNDiscriminator:
    """The run's CNN discriminator, in the run's precision where that is faster (``BF16_MIN_FILTERS``).
    The generators' LSTMs stay float32: their per-step gate product (64 x 32 x 128) is 4x slower in
    bf16 (bench/speed.py's matmul rows) and their kernels are fused by hand in float32."""
    d = cfg.discriminator
    disc = CNNDiscriminator(vocab_size, d.emb_dim, d.filter_sizes, d.num_filters, d.dropout, num_classes).to(device)
    if sum(d.num_filters) >= BF16_MIN_FILTERS:
        disc.precision = resolve_precision(cfg.precision, str(device))
    return disc


def gradient_step(opt: torch.optim.Optimizer, loss: torch.Tensor, params: Any, grad_clip: float) -> None:
    """One optimiser step on ``loss``: gradients of ``params`` clipped to norm ``grad_clip``."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, grad_clip)
    opt.step()


def adam(params: Any, lr: float) -> torch.optim.Adam:
    # The fused kernel is 5x faster than the per-tensor loop for the discriminator's 6.7M weights.
    return torch.optim.Adam(params, lr=lr, fused=True)


def sample(gen: Any, n: int, corpus: Corpus, temperature: float = 1.0) -> torch.Tensor:
    """``n`` generated sequences, padded after ``<eos>`` on real text (as real ones are)."""
    return corpus.clean(gen.generate(n, corpus.seq_len, temperature))


def nll_weights(batch: torch.Tensor, corpus: Corpus) -> torch.Tensor | None:
    """Token weights that make ``weighted_nll`` the mean NLL over the tokens that count."""
    mask = corpus.mask(batch)
    return None if mask is None else mask / mask.sum()


def mle_epoch(gen: Any, opt: torch.optim.Optimizer, corpus: Corpus, batch_size: int, grad_clip: float) -> float:
    """One teacher-forced pass over the training split in a fresh random order; returns the mean token NLL."""
    gen.train()
    data = corpus.train
    order = torch.randperm(len(data)).to(data.device)
    total, count = 0.0, 0
    conditional = getattr(gen, "conditional", False)  # category-conditional generators also read each sentence's category
    for idx in order.split(batch_size):
        batch = data[idx]
        labels = {"labels": category_labels(corpus, "train")[idx]} if conditional else {}
        loss, nll = gen.mle_loss(batch, nll_weights(batch, corpus), **labels)  # LeakGAN adds its Manager's goal loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), grad_clip)
        opt.step()
        total += nll.item() * len(idx)
        count += len(idx)
    return total / max(count, 1)


def category_labels(corpus: Corpus, split: str) -> torch.Tensor:
    """A split's category ids; all 0 on a corpus without categories (one category)."""
    labels = getattr(corpus, f"{split}_labels")
    if labels is not None:
        return labels
    tokens = getattr(corpus, split)
    return torch.zeros(len(tokens), dtype=torch.long, device=tokens.device)


def interleaved_mle(gen: Any, opt: torch.optim.Optimizer, corpus: Corpus, cfg: Any, step: int) -> float | None:
    """LeakGAN's remedy against collapse, for every adversarial GAN: every ``adversarial.mle_every``
    steps, ``adversarial.mle_epochs`` MLE epochs (0 = never); returns the last epoch's NLL, or None."""
    adv = cfg.adversarial
    if not adv.mle_every or step % adv.mle_every:
        return None
    return mle_epochs(gen, opt, corpus, cfg, adv.mle_epochs)


def mle_epochs(gen: Any, opt: torch.optim.Optimizer, corpus: Corpus, cfg: Any, epochs: int) -> float:
    """``epochs`` MLE epochs with the run's MLE batch size and clip; the last epoch's NLL (nan for none)."""
    loss = float("nan")
    for _ in range(epochs):
        loss = mle_epoch(gen, opt, corpus, cfg.mle.batch_size, cfg.mle.grad_clip)
    return loss


def discriminator_round(
    disc: CNNDiscriminator,
    opt: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
    epochs: int,
    batch_size: int,
    l2_reg: float,
    real_classes: torch.Tensor | None = None,
) -> float:
    """Train D for ``epochs`` on ``fake`` against as many randomly chosen ``real`` sequences.

    ``real_classes``: the class of each real sequence for a multi-class D (SentiGAN, CatGAN: 1 + its
    category; generated ones are class 0); without it real is class 1.
    Returns the mean training loss of the last epoch.
    """
    disc.train()
    n = min(len(real), len(fake))
    chosen = torch.randperm(len(real))[:n].to(real.device)
    positives = real[chosen]
    tokens = torch.cat([positives, fake[:n]])
    real_labels = torch.ones(n, dtype=torch.long).to(real.device) if real_classes is None else real_classes[chosen]
    labels = torch.cat([real_labels, torch.zeros(n, dtype=torch.long, device=real.device)])
    mean_loss = float("nan")
    for _ in range(epochs):
        total, count = 0.0, 0
        for idx in torch.randperm(len(tokens)).to(real.device).split(batch_size):
            loss = discriminator_loss(disc(tokens[idx]), labels[idx], disc.l2_penalty(), l2_reg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        mean_loss = total / count
    return mean_loss


@torch.no_grad()
def discriminator_accuracy(disc: CNNDiscriminator, real: torch.Tensor, fake: torch.Tensor) -> float:
    """Held-out accuracy on real vs generated sequences (0.5 = cannot tell them apart), in float32."""
    with disc.full_precision():
        correct = (disc.prob_real(real) > 0.5).sum() + (disc.prob_real(fake) <= 0.5).sum()
    return float(correct) / (len(real) + len(fake))


def evaluate_generator(gen: Any, corpus: Corpus, eval_cfg: Any, temperature: float | None = None) -> dict[str, Any]:
    """The generator's metrics with their conventions (temperature, sample count) in the same row.

    Oracle: NLL-oracle of fresh samples, NLL-test of the held-out split and NLL-valid of the
    validation split (what model selection reads). All use the same temperature: NLL-test and
    NLL-valid score the tempered distribution that the samples come from.
    Real text: NLL-test (over words and the ending ``<eos>``), BLEU-2..5 against the whole test
    set, leave-one-out Self-BLEU-2..5, distinct-1/2 and the mean length, on ``n_bleu`` samples.
    """
    temperature = eval_cfg.temperature if temperature is None else temperature
    nll_test = per_token_nll(gen, corpus.test, corpus.mask(corpus.test), temperature=temperature)
    nll_valid = per_token_nll(gen, corpus.valid, corpus.mask(corpus.valid), temperature=temperature)
    if not corpus.is_text:
        samples = sample(gen, eval_cfg.n_samples, corpus, temperature)
        return {
            "nll_oracle": per_token_nll(corpus.oracle, samples),
            "nll_test": nll_test,
            "nll_valid": nll_valid,
            "temperature": temperature,
            "n_samples": eval_cfg.n_samples,
        }
    words = corpus.words(sample(gen, eval_cfg.n_bleu, corpus, temperature))
    metrics = {"nll_oracle": None, "nll_test": nll_test, "nll_valid": nll_valid, **text_metrics(words, corpus)}
    return {**metrics, "temperature": temperature, "n_samples": eval_cfg.n_bleu}


def text_metrics(sentences: list[list[str]], corpus: Corpus) -> dict[str, float]:
    """BLEU / Self-BLEU / distinct-n / length of generated word lists (see sparring.metrics.bleu)."""
    scored = bleu(sentences, corpus.test_sentences, BLEU_ORDERS)
    selfs = self_bleu(sentences, BLEU_ORDERS)
    return {
        **{f"bleu_{n}": scored[n] for n in BLEU_ORDERS},
        **{f"self_bleu_{n}": selfs[n] for n in BLEU_ORDERS},
        "distinct_1": distinct_n(sentences, 1),
        "distinct_2": distinct_n(sentences, 2),
        # the same count of real test sentences: distinct-n falls as a set grows, so only equal sizes compare
        "data_distinct_2": distinct_n(corpus.test_sentences[: len(sentences)], 2),
        "mean_words": sum(map(len, sentences)) / len(sentences),
    }


def row(**values: Any) -> dict[str, Any]:
    """A metrics row with every standard key present (null where the phase has no value).

    Rows without a generator evaluation (discriminator pre-training) still say at which temperature
    their generated sentences were drawn: 1.0, the temperature D is trained and tested against.
    """
    return {**dict.fromkeys(METRIC_KEYS), "temperature": 1.0, **values}


def mle_phase(session: Session, gen: Any, opt: torch.optim.Optimizer, data: Corpus, cfg: Any) -> None:
    """Teacher-forced training, evaluated before the first epoch and every ``eval_every`` epochs.

    Model selection reads the validation split only: the evaluation with the lowest NLL-valid is
    the best, its weights go to ``checkpoints/best.pt`` (what ``pretrained=RUN`` starts from), and
    with ``mle.patience`` the phase stops after that many evaluations without a better one. A GAN's
    own MLE phase ends on its best weights, so its adversarial phase starts from the best baseline.
    """
    m = cfg.mle
    if m.epochs and session.done("mle") == 0:
        metrics = evaluate_generator(gen, data, cfg.eval)
        session.log("mle", 0, **row(**metrics))
        _keep_if_best(session, gen, 0, metrics)
    for epoch in session.steps("mle", m.epochs, label="MLE"):
        loss = mle_epoch(gen, opt, data, m.batch_size, m.grad_clip)
        stop = False
        if epoch % m.eval_every == 0 or epoch == m.epochs:
            metrics = evaluate_generator(gen, data, cfg.eval)
            session.log("mle", epoch, **row(**metrics, train_nll=loss))
            waited = _keep_if_best(session, gen, epoch, metrics)
            stop = bool(m.patience) and waited >= m.patience and epoch < m.epochs
        if (epoch == m.epochs or stop) and hasattr(cfg, "adversarial"):
            gen.load_state_dict(load_best(session)["generator"])
        if stop:
            session.state["mle_best"]["stopped_at"] = epoch
            session.end_phase("mle", m.epochs)
            break


BEST_FILE = "best.pt"


def _keep_if_best(session: Session, gen: Any, epoch: int, metrics: dict[str, Any]) -> int:
    """Record an MLE evaluation; returns how many evaluations since the best (0: this one is)."""
    best = session.state.get("mle_best")
    if best is None or metrics["nll_valid"] < best["nll_valid"]:
        session.state["mle_best"] = {"epoch": epoch, "nll_valid": metrics["nll_valid"], "waited": 0}
        atomic_torch_save({"generator": gen.state_dict(), "epoch": epoch}, session.run.path / "checkpoints" / BEST_FILE)
        return 0
    best["waited"] += 1
    return best["waited"]


def load_best(session: Session) -> dict[str, Any]:
    return torch.load(session.run.path / "checkpoints" / BEST_FILE, weights_only=True)


def held_out_d_accuracy(gen: Any, disc: CNNDiscriminator, data: Corpus, eval_cfg: Any) -> float:
    """D's accuracy on held-out (validation) real sentences against as many fresh samples (0.5 = fooled)."""
    real = data.valid[: eval_cfg.n_d_eval]
    return discriminator_accuracy(disc, real, sample(gen, len(real), data))


def d_pretrain_phase(session: Session, gen: Any, data: Corpus, cfg: Any, d_round: Any, d_eval: Any, label: str = "pretrain D") -> None:
    """``pretrain_d.rounds`` rounds of ``d_round(fresh negatives, epochs)``, each logged with ``d_eval()``.

    ``d_round`` is what differs between models (a CNN classifier epoch, RankGAN's ranker epoch).
    """
    pre = cfg.pretrain_d
    for rnd in session.steps("d_pretrain", pre.rounds, label=label):
        loss = d_round(sample(gen, pre.n_negatives, data), pre.epochs)
        session.log("d_pretrain", rnd, **row(d_loss=loss, d_accuracy=d_eval()))


def classifier_round(disc: CNNDiscriminator, d_opt: torch.optim.Optimizer, data: Corpus, d_cfg: Any) -> Any:
    """The usual ``d_round``: D epochs on real training sentences against the given negatives."""
    return lambda fake, epochs: discriminator_round(disc, d_opt, data.train, fake, epochs, d_cfg.batch_size, d_cfg.l2_reg)


def begin_adversarial(session: Session, gen: Any, data: Corpus, cfg: Any, d_eval: Any, extra: Any = None) -> bool:
    """Log step 0 of the adversarial phase and open the averaging window, once (True the first time).

    The window lives in ``session.state`` so that a resumed run averages exactly what the
    uninterrupted run would have. ``extra()``: model-specific metrics of the row (MaskGAN's in-filling).
    """
    if not cfg.adversarial.steps or session.done("adversarial") != 0:
        return False
    session.state["window"] = {"reward": 0.0, "d_loss": 0.0, "n": 0}
    more = extra() if extra is not None else {}
    session.log("adversarial", 0, **row(**evaluate_generator(gen, data, cfg.eval), d_accuracy=d_eval(), **more))
    return True


def is_eval_step(step: int, adv: Any) -> bool:
    """Whether ``log_adversarial_step`` evaluates at this step."""
    return step % adv.eval_every == 0 or step == adv.steps


def log_adversarial_step(
    session: Session, step: int, gen: Any, data: Corpus, cfg: Any, d_eval: Any, reward: float, d_loss: float | None, **extra: Any
) -> None:
    """Add one step's reward and D loss to the window; at evaluation steps log their means and reset it.

    ``reward_mean`` is whatever the model's generator is rewarded with (see each model's docstring);
    ``d_loss`` None: the model has no trained critic (JSDGAN, DGSAN). ``extra`` holds the latest value
    of model-specific keys (e.g. LeakGAN's interleaved ``train_nll``).
    """
    adv = cfg.adversarial
    window = session.state["window"]
    has_d = d_loss is not None and getattr(adv, "d_rounds", 1) > 0
    window["reward"] += reward
    window["d_loss"] += d_loss if has_d else 0.0
    window["n"] += 1
    if is_eval_step(step, adv):
        n = window["n"]
        metrics = evaluate_generator(gen, data, cfg.eval)
        d_mean = window["d_loss"] / n if has_d else None
        session.log("adversarial", step, **row(**metrics, d_loss=d_mean, d_accuracy=d_eval(), reward_mean=window["reward"] / n, **extra))
        session.state["window"] = {"reward": 0.0, "d_loss": 0.0, "n": 0}


def build_lstm_gan(cfg: Any, vocab_size: int, device: torch.device) -> dict[str, torch.nn.Module]:
    """An LSTM generator and SeqGAN's CNN discriminator: SeqGAN, MaliGAN and RankGAN."""
    return {"generator": build_generator(cfg, vocab_size, device), "discriminator": build_discriminator(cfg, vocab_size, device)}


def setup_lstm_gan(
    session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None, adv_opt_name: str
) -> tuple[Any, Any, torch.optim.Optimizer, torch.optim.Optimizer, torch.optim.Optimizer]:
    """Generator, D and their optimisers (MLE, adversarial, D), tracked and restored; a fresh run may
    start from ``pretrained`` generator weights. ``adv_opt_name`` keeps each model's checkpoint keys."""
    models = build_lstm_gan(cfg, data.vocab_size, device)
    gen, disc = models["generator"], models["discriminator"]
    mle_opt = adam(gen.parameters(), cfg.mle.lr)
    adv_opt = adam(gen.parameters(), cfg.adversarial.lr)  # a separate optimiser for the adversarial updates
    d_opt = adam(disc.parameters(), cfg.discriminator.lr)
    session.track(generator=gen, discriminator=disc, mle_opt=mle_opt, d_opt=d_opt, **{adv_opt_name: adv_opt})
    restore_or_start(session, gen, pretrained)
    return gen, disc, mle_opt, adv_opt, d_opt


def restore_or_start(session: Session, gen: Any, pretrained: dict | None) -> bool:
    """Restore everything tracked (True on a resume); a fresh run starts from ``pretrained`` generator
    weights when there are some. Call it once, after tracking every network and optimiser."""
    if session.restore():
        return True
    if pretrained is not None:
        gen.load_state_dict(pretrained)
    return False


def mle_unless_pretrained(session: Session, gen: Any, mle_opt: Any, data: Corpus, cfg: Any) -> None:
    """Phase 1 of every adversarial model: MLE, skipped when the run starts from ``pretrained=RUN``."""
    if not cfg.pretrained:
        mle_phase(session, gen, mle_opt, data, cfg)


def sequence_logprob(gen: Any, seqs: torch.Tensor, data: Corpus) -> torch.Tensor:
    """log G(x) of each sequence (B,): the sum of its token log-probabilities over the tokens that count."""
    log_probs = torch.log_softmax(gen(seqs), dim=-1).gather(-1, seqs.unsqueeze(-1)).squeeze(-1)
    mask = data.mask(seqs)
    return (log_probs if mask is None else log_probs * mask).sum(dim=1)


def train_batch(data: Corpus, n: int) -> torch.Tensor:
    """``n`` training sequences drawn uniformly (with replacement) by the global generator."""
    return data.train[torch.randint(len(data.train), (n,), device=data.train.device)]


def mle_then_d_pretraining(session: Session, cfg: Any, data: Corpus, gen: Any, disc: Any, mle_opt: Any, d_opt: Any) -> tuple[Any, Any]:
    """Phases 1 and 2 of SeqGAN and MaliGAN: MLE (skipped when started from a pretrained generator),
    then D pre-training on fresh negatives each round. Returns the ``d_eval`` and ``d_round`` the
    adversarial phase goes on using."""

    def d_eval() -> float:
        return held_out_d_accuracy(gen, disc, data, cfg.eval)

    d_round = classifier_round(disc, d_opt, data, cfg.discriminator)
    mle_unless_pretrained(session, gen, mle_opt, data, cfg)
    d_pretrain_phase(session, gen, data, cfg, d_round, d_eval)
    return d_eval, d_round


def disc_reward(disc: CNNDiscriminator, data: Corpus):
    """SeqGAN's reward: D's probability that a (cleaned) sequence is real."""
    return lambda seqs: disc.prob_real(data.clean(seqs))


def completions_reward(disc: CNNDiscriminator, data: Corpus):
    """``disc_reward`` of Monte Carlo completions (G, R, B, T), sharing the windows inside each prefix."""

    def score(seqs: torch.Tensor, completions: torch.Tensor, prefix_lens: list[int]) -> torch.Tensor:
        cleaned = data.clean(completions.reshape(-1, completions.shape[-1])).view_as(completions)
        return disc.prob_real_completions(data.clean(seqs), cleaned, prefix_lens)

    return score


def policy_gradient_step(
    gen: LSTMLanguageModel,
    opt: torch.optim.Optimizer,
    rollout_params: dict,
    data: Corpus,
    adv: Any,
    reward: Any,
    completion_reward: Any = None,
) -> torch.Tensor:
    """One REINFORCE update with Monte Carlo Q-values from the lagged rollout policy; returns Q.

    ``completion_reward``: ``monte_carlo_q``'s ``score_completions`` (the same reward, computed
    from the prefixes the completions share)."""
    seqs = sample(gen, adv.batch_size, data)
    q = monte_carlo_q(rollout_params, seqs, adv.rollouts, reward, score_completions=completion_reward)
    gen.train()
    loss = policy_gradient_loss(gen(seqs), seqs, q, data.mask(seqs))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(gen.parameters(), adv.grad_clip)
    opt.step()
    lagged_update(rollout_params, gen.params(), adv.rollout_update_rate)
    return q
