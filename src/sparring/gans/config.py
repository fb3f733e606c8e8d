"""Settings shared by the text-GAN family: the sections every method is made of, and their checks.

A method's own settings class (``MLERunConfig`` and the sections it needs) lives in the method's
module, beside its loop, and is registered with its presets in ``sparring.gans.registry``. Each
section checks itself (``check(cfg)``): a method is validated by the sections it has, so no
validator branches on which method it is. The defaults are the paper's schedule; ``demo`` fits a
2-core CPU in minutes, ``smoke`` in seconds. Resolution (defaults < preset < TOML < ``--set`` <
flags) is the engine's: ``sparring.config``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sparring.config import need, need_device, setting
from sparring.precision import PRECISION_HELP, need_precision


@dataclass
class OracleConfig:
    """The synthetic benchmark: a random LSTM language model plays the role of the true distribution."""

    vocab_size: int = setting(5000, "tokens of the oracle LSTM (the start token is one more)")
    emb_dim: int = setting(32, "the oracle's embedding size")
    hidden_dim: int = setting(32, "the oracle's LSTM size")
    seq_len: int = setting(20, "tokens per sequence (LeakGAN's long-text setting: 40)")
    seed: int = setting(0, "the oracle's own seed: fixed by default so every training seed faces the same oracle")
    n_train: int = setting(10_000, "training sequences sampled from the oracle")
    n_test: int = setting(10_000, "held-out sequences sampled from the oracle (NLL-test, the entropy floor); reported, never chosen on")
    n_valid: int = setting(5_000, "validation sequences from their own seed stream: model selection and D's held-out accuracy")


@dataclass
class TextConfig:
    """Real-text corpora (``--data PATH``); ignored on the oracle. Conventions: sparring.data.text."""

    text_col: str = setting("text", "column of .jsonl / .csv / .parquet files and HF datasets")
    label_col: str = setting("", "category column (SentiGAN, CatGAN: category-conditional generation); empty: one category")
    vocab_size: int = setting(5000, "cap, including <eos> and <unk>; the most frequent training words are kept")
    max_len: int = setting(40, "words per sentence; longer ones are truncated (and counted)")
    lowercase: bool = setting(True, "lowercase words before building the vocabulary")
    test_fraction: float = setting(0.1, "held out from the training file when no --test is given")
    valid_fraction: float = setting(0.05, "held out from the training file for validation when no --valid is given")


@dataclass
class GeneratorConfig:
    emb_dim: int = setting(32, "the generator's embedding size")
    hidden_dim: int = setting(32, "the generator's LSTM size")
    init_std: float = setting(0.1, "standard deviation of the generator's normal initialisation")


@dataclass
class DiscriminatorConfig:
    emb_dim: int = setting(64, "D's embedding size")
    filter_sizes: tuple[int, ...] = setting((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20), "widths of D's convolution filters")
    num_filters: tuple[int, ...] = setting(
        (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160), "filters per width (as many entries as filter_sizes)"
    )
    dropout: float = setting(0.25, "SeqGAN's keep probability of 0.75")
    l2_reg: float = setting(0.2, "on the output layer's weight and bias, as in SeqGAN")
    lr: float = setting(1e-4, "D's Adam learning rate")
    batch_size: int = setting(64, "D's minibatch (real and generated sequences together)")

    def check(self, cfg: Any) -> None:
        need(len(self.filter_sizes) == len(self.num_filters) > 0, "discriminator.num_filters", "as long as discriminator.filter_sizes")
        seq_len = sequence_length(cfg)
        need(
            all(1 <= w <= seq_len for w in self.filter_sizes),
            "discriminator.filter_sizes",
            f"between 1 and the sequence length ({seq_len})",
        )
        need(all(n >= 1 for n in self.num_filters), "discriminator.num_filters", ">= 1 each")
        need(0 <= self.dropout < 1, "discriminator.dropout", "in [0, 1)")
        need(self.l2_reg >= 0, "discriminator.l2_reg", ">= 0")
        need(self.lr > 0 and self.batch_size >= 1, "discriminator.lr/batch_size", "> 0")


@dataclass
class MLEOptimConfig:
    """How a generator takes maximum-likelihood steps (LeakGAN's interleaved pre-training uses only this)."""

    lr: float = setting(1e-2, "Adam learning rate of MLE (pre-)training")
    batch_size: int = setting(64, "sequences per MLE update")
    grad_clip: float = setting(5.0, "gradient-norm clip of MLE updates")

    def check(self, cfg: Any) -> None:
        need(self.lr > 0, "mle.lr", "> 0")
        need(self.batch_size >= 1, "mle.batch_size", ">= 1")
        need(self.grad_clip > 0, "mle.grad_clip", "> 0")


@dataclass
class MLEConfig(MLEOptimConfig):
    """The MLE phase: epochs with evaluations, early stopping on NLL-valid."""

    epochs: int = setting(120, "maximum-likelihood epochs over the training data")
    eval_every: int = setting(5, "MLE epochs between evaluations (NLL-oracle, NLL-test, NLL-valid, BLEU)")
    patience: int = setting(0, "stop MLE after this many evaluations without a better NLL-valid (0: never stop early)")

    def check(self, cfg: Any) -> None:
        super().check(cfg)
        need(self.epochs >= 0, "mle.epochs", ">= 0")
        need(self.eval_every >= 1, "mle.eval_every", ">= 1")
        need(self.patience >= 0, "mle.patience", ">= 0")


@dataclass
class PretrainDConfig:
    rounds: int = setting(50, "D pre-training rounds, each on fresh generator samples")
    epochs: int = setting(3, "D epochs per pre-training round")
    n_negatives: int = setting(10_000, "fresh generator samples per round; positives are as many training sequences")

    def check(self, cfg: Any) -> None:
        need(self.rounds >= 0 and self.epochs >= 1 and self.n_negatives >= 1, "pretrain_d", "rounds >= 0, epochs >= 1, n_negatives >= 1")


@dataclass
class SequenceAdversarialConfig:
    """The adversarial phase of a generator rewarded per sequence (MaliGAN): no Monte Carlo search."""

    steps: int = setting(200, "adversarial generator updates")
    batch_size: int = setting(64, "generated sequences per policy-gradient update")
    lr: float = setting(1e-2, "Adam learning rate of the adversarial generator updates")
    grad_clip: float = setting(5.0, "gradient-norm clip of the adversarial updates")
    d_rounds: int = setting(5, "D rounds (fresh negatives each) after every generator update")
    d_epochs: int = setting(3, "D epochs per adversarial round")
    n_negatives: int = setting(10_000, "fresh generator samples per adversarial D round")
    eval_every: int = setting(10, "adversarial steps between evaluations")
    mle_every: int = setting(0, "interleave one MLE phase every this many steps (0: never; LeakGAN's remedy for collapse)")
    mle_epochs: int = setting(1, "MLE epochs in each interleaved phase")

    def check(self, cfg: Any) -> None:
        need(self.steps >= 0, "adversarial.steps", ">= 0")
        need(self.batch_size >= 1, "adversarial.batch_size", ">= 1")
        need(self.lr > 0 and self.grad_clip > 0, "adversarial.lr/grad_clip", "> 0")
        need(
            self.d_rounds >= 0 and self.d_epochs >= 1 and self.n_negatives >= 1,
            "adversarial.d_rounds/d_epochs/n_negatives",
            "d_rounds >= 0, d_epochs >= 1, n_negatives >= 1",
        )
        need(self.eval_every >= 1, "adversarial.eval_every", ">= 1")
        need(self.mle_every >= 0 and self.mle_epochs >= 1, "adversarial.mle_every/mle_epochs", "mle_every >= 0, mle_epochs >= 1")


@dataclass
class AdversarialConfig(SequenceAdversarialConfig):
    """The adversarial phase with per-token rewards from Monte Carlo search (SeqGAN, RankGAN, LeakGAN)."""

    rollouts: int = setting(16, "Monte Carlo completions per prefix (the Q estimate)")
    rollout_update_rate: float = setting(0.8, "the rollout policy keeps this share of its old weights each step")

    def check(self, cfg: Any) -> None:
        super().check(cfg)
        need(self.rollouts >= 1, "adversarial.rollouts", ">= 1")
        need(0 <= self.rollout_update_rate <= 1, "adversarial.rollout_update_rate", "in [0, 1]")


@dataclass
class GeneratorStepsConfig:
    """The adversarial phase of a generator trained by its own objective (CoT, JSDGAN, DGSAN): gradient
    steps on fresh batches, with LeakGAN's optional interleaved MLE."""

    steps: int = setting(1000, "adversarial generator updates")
    batch_size: int = setting(64, "sequences per update")
    lr: float = setting(1e-2, "Adam learning rate of the adversarial generator updates")
    grad_clip: float = setting(5.0, "gradient-norm clip of the adversarial updates")
    eval_every: int = setting(50, "adversarial steps between evaluations")
    mle_every: int = setting(0, "interleave one MLE phase every this many steps (0: never)")
    mle_epochs: int = setting(1, "MLE epochs in each interleaved phase")

    def check(self, cfg: Any) -> None:
        need(self.steps >= 0 and self.eval_every >= 1, "adversarial.steps/eval_every", "steps >= 0, eval_every >= 1")
        need(self.batch_size >= 2, "adversarial.batch_size", ">= 2")
        need(self.lr > 0 and self.grad_clip > 0, "adversarial.lr/grad_clip", "> 0")
        need(self.mle_every >= 0 and self.mle_epochs >= 1, "adversarial.mle_every/mle_epochs", "mle_every >= 0, mle_epochs >= 1")


@dataclass
class RelaxedAdversarialConfig:
    """The adversarial phase of a generator whose relaxed samples D's gradient reaches (RelGAN, GSGAN,
    TextGAN): per step ``d_steps`` D updates, then one generator update."""

    steps: int = setting(3000, "adversarial generator updates")
    batch_size: int = setting(64, "sequences per update (real and generated each)")
    lr: float = setting(1e-4, "Adam learning rate of generator and D")
    d_steps: int = setting(5, "discriminator updates per generator update")
    grad_clip: float = setting(5.0, "gradient-norm clip")
    eval_every: int = setting(100, "adversarial steps between evaluations")

    def check(self, cfg: Any) -> None:
        need(self.steps >= 0 and self.batch_size >= 2 and self.d_steps >= 1 and self.eval_every >= 1, "adversarial",
             "steps >= 0, batch_size >= 2, d_steps >= 1, eval_every >= 1")  # fmt: skip
        need(self.lr > 0 and self.grad_clip > 0, "adversarial.lr/grad_clip", "> 0")


@dataclass
class EvalConfig:
    n_samples: int = setting(10_000, "generator samples scored by the oracle for NLL-oracle")
    temperature: float = setting(1.0, "sampling temperature of evaluation, samples.txt and the adversarial samples")
    n_d_eval: int = setting(1_000, "held-out real and fresh generated sequences for the discriminator's accuracy")
    n_write_samples: int = setting(1_000, "lines in samples.txt")
    n_bleu: int = setting(2_000, "real text: generated sentences scored by BLEU / Self-BLEU / distinct-n")


@dataclass
class MLERunConfig:
    """Teacher-forced maximum likelihood: the baseline every GAN is compared with."""

    algo: str = "mle"
    seed: int = setting(0, "training seed (the oracle has its own, oracle.seed)")
    device: str = setting("auto", "auto (CUDA when there is one), cpu, cuda or cuda:N")
    precision: str = setting("auto", PRECISION_HELP)
    data: str = setting("oracle", "'oracle', a text/.jsonl/.csv/.parquet file, or a Hugging Face dataset name")
    test: str = setting("", "held-out file for real text; empty: hold out text.test_fraction of the training file")
    valid: str = setting("", "validation file for real text; empty: hold out text.valid_fraction of the training file")
    checkpoint_every: int = setting(1, "in units of the phase's steps (epochs, rounds, adversarial steps)")
    pretrained: str = setting("", "a finished run directory whose generator is the starting point (SeqGAN: skips MLE)")
    oracle: OracleConfig = field(default_factory=OracleConfig)
    text: TextConfig = field(default_factory=TextConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    mle: MLEConfig = field(default_factory=MLEConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def validate(cfg: Any) -> None:
    """Reject values that would crash or silently misbehave later in the run: the settings every
    method has, then each section's own ``check``."""
    need(bool(cfg.data.strip()), "data", "'oracle' or a file / dataset name")
    t = cfg.text
    need(t.vocab_size >= 3, "text.vocab_size", ">= 3 (it includes <eos> and <unk>)")
    need(t.max_len >= 1, "text.max_len", ">= 1")
    need(0 < t.test_fraction < 1, "text.test_fraction", "in (0, 1)")
    need(0 < t.valid_fraction < 1 and t.test_fraction + t.valid_fraction < 1, "text.valid_fraction", "in (0, 1 - text.test_fraction)")
    need(bool(t.text_col), "text.text_col", "a column name")
    need_device(cfg.device)
    need_precision(cfg.precision)
    need(cfg.checkpoint_every >= 1, "checkpoint_every", ">= 1")
    o = cfg.oracle
    need(o.vocab_size >= 2, "oracle.vocab_size", ">= 2")
    need(o.seq_len >= 2, "oracle.seq_len", ">= 2")
    for key in ("emb_dim", "hidden_dim", "n_train", "n_test", "n_valid"):
        need(getattr(o, key) >= 1, f"oracle.{key}", ">= 1")
    need(cfg.generator.emb_dim >= 1 and cfg.generator.hidden_dim >= 1, "generator.emb_dim/hidden_dim", ">= 1")
    need(cfg.generator.init_std > 0, "generator.init_std", "> 0")
    e = cfg.eval
    need(e.n_samples >= 1, "eval.n_samples", ">= 1")
    need(e.temperature > 0, "eval.temperature", "> 0")
    need(e.n_d_eval >= 1, "eval.n_d_eval", ">= 1")
    need(e.n_write_samples >= 0, "eval.n_write_samples", ">= 0")
    need(e.n_bleu >= 2, "eval.n_bleu", ">= 2")
    for f in dataclasses.fields(cfg):
        section = getattr(cfg, f.name)
        if hasattr(section, "check"):
            section.check(cfg)
    if hasattr(cfg, "check"):  # a method's checks across its sections (e.g. no pretrained=RUN)
        cfg.check(cfg)


def needs_plain_lstm(cfg: Any, method: str) -> None:
    """``pretrained=RUN`` hands over an LSTM generator's weights: refused by a method whose generator is not one."""
    need(not cfg.pretrained, "pretrained", f"empty for {method} (its generator is not a plain LSTM)")


def sequence_length(cfg: Any) -> int:
    """Token positions per sequence: the oracle's length, or max_len words plus <eos> on real text."""
    return cfg.oracle.seq_len if cfg.data == "oracle" else cfg.text.max_len + 1


# Presets are only named overrides: the defaults above are the paper's schedule.
SMOKE_COMMON = {
    "oracle.n_train": 2000,
    "oracle.n_test": 1000,
    "oracle.n_valid": 500,
    "mle.epochs": 3,
    "mle.eval_every": 1,
    "eval.n_samples": 1000,
    "eval.n_d_eval": 200,
    "eval.n_write_samples": 100,
}
# demo: MLE evaluated every epoch and stopped 3 evaluations after its best NLL-valid (it overfits the
# 10,000 sequences within 5-10 epochs at lr 1e-2), so GANs start from the best baseline, not the last.
DEMO_COMMON = {"mle.epochs": 20, "mle.eval_every": 1, "mle.patience": 3, "eval.n_samples": 5000}
