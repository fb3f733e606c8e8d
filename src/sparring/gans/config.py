"""Settings of the text-GAN line: one dataclass per algorithm and its named presets.

The defaults are the paper's schedule; ``demo`` fits a 2-core CPU in minutes, ``smoke`` in seconds.
Resolution (defaults < preset < TOML < ``--set`` < flags) is the engine's: ``sparring.config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparring.config import ConfigKind, need, need_device, setting


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


@dataclass
class MLEConfig:
    epochs: int = setting(120, "maximum-likelihood epochs over the training data")
    lr: float = setting(1e-2, "Adam learning rate of MLE (pre-)training")
    batch_size: int = setting(64, "sequences per MLE update")
    grad_clip: float = setting(5.0, "gradient-norm clip of MLE updates")
    eval_every: int = setting(5, "MLE epochs between evaluations (NLL-oracle, NLL-test, NLL-valid, BLEU)")
    patience: int = setting(0, "stop MLE after this many evaluations without a better NLL-valid (0: never stop early)")


@dataclass
class PretrainDConfig:
    rounds: int = setting(50, "D pre-training rounds, each on fresh generator samples")
    epochs: int = setting(3, "D epochs per pre-training round")
    n_negatives: int = setting(10_000, "fresh generator samples per round; positives are as many training sequences")


@dataclass
class AdversarialConfig:
    steps: int = setting(200, "adversarial generator updates")
    batch_size: int = setting(64, "generated sequences per policy-gradient update")
    rollouts: int = setting(16, "Monte Carlo completions per prefix (the Q estimate)")
    rollout_update_rate: float = setting(0.8, "the rollout policy keeps this share of its old weights each step")
    lr: float = setting(1e-2, "Adam learning rate of the adversarial generator updates")
    grad_clip: float = setting(5.0, "gradient-norm clip of the adversarial updates")
    d_rounds: int = setting(5, "D rounds (fresh negatives each) after every generator update")
    d_epochs: int = setting(3, "D epochs per adversarial round")
    n_negatives: int = setting(10_000, "fresh generator samples per adversarial D round")
    eval_every: int = setting(10, "adversarial steps between evaluations")
    mle_every: int = setting(0, "interleave one MLE phase every this many steps (0: never; LeakGAN's remedy for collapse)")
    mle_epochs: int = setting(1, "MLE epochs in each interleaved phase")


@dataclass
class LeakGANModelConfig:
    goal_size: int = setting(16, "k: the Worker's goal embedding")
    step_size: int = setting(4, "c: the Manager's horizon, and the interval between rewards")
    rescale_delta: float = setting(16.0, "bootstrapped rescaled activation: sigma(delta * (0.5 - rank / B))")


@dataclass
class InterleavedPretrainConfig:
    """LeakGAN pre-training: ``rounds`` x (``d_rounds`` x ``d_epochs`` D epochs, then ``mle_epochs`` MLE epochs)."""

    rounds: int = setting(10, "interleaved pre-training rounds")
    d_rounds: int = setting(5, "D rounds per pre-training round")
    d_epochs: int = setting(3, "D epochs per D round")
    n_negatives: int = setting(10_000, "fresh generator samples per D round")
    mle_epochs: int = setting(8, "MLE epochs per pre-training round")


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


@dataclass
class SeqGANRunConfig(MLERunConfig):
    """SeqGAN (Yu et al., 2017): MLE pre-training, D pre-training, then policy gradient with MC search."""

    algo: str = "seqgan"
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    pretrain_d: PretrainDConfig = field(default_factory=PretrainDConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)


@dataclass
class LeakGANRunConfig(MLERunConfig):
    """LeakGAN (Guo et al., 2018): Manager/Worker generator fed D's leaked features, interleaved pre-training,
    then adversarial training with rank-rescaled Monte Carlo rewards every ``step_size`` tokens.

    ``mle.epochs`` is unused (pre-training is interleaved: see ``pretrain``); ``mle.lr/batch_size/grad_clip`` apply.
    """

    algo: str = "leakgan"
    mle: MLEConfig = field(default_factory=lambda: MLEConfig(epochs=0, lr=1e-3))
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


@dataclass
class MaliGANRunConfig(SeqGANRunConfig):
    """MaliGAN (Che et al., 2017): SeqGAN's schedule, but the generator is trained by MLE on its own samples
    weighted by normalised importance weights D/(1-D) (minus the mean weight as a baseline).
    ``adversarial.rollouts`` and ``rollout_update_rate`` are unused: the weights are per sequence."""

    algo: str = "maligan"


@dataclass
class RankerConfig:
    gamma: float = setting(4.0, "softmax sharpness over cosine similarities (RankGAN's gamma; our default)")
    n_reference: int = setting(16, "|U|: real sentences the candidates are compared with")
    n_compare: int = setting(16, "|C|: the comparison set each candidate is ranked within")


@dataclass
class RankGANRunConfig(SeqGANRunConfig):
    """RankGAN (Lin et al., 2017): a ranker (D's features + cosine relevance to a real reference set) replaces
    the classifier; the generator's Monte Carlo reward is the rank score of its completions among real sentences."""

    algo: str = "rankgan"
    ranker: RankerConfig = field(default_factory=RankerConfig)


@dataclass
class RelGANModelConfig:
    mem_slots: int = setting(1, "relational memory slots")
    num_heads: int = setting(2, "attention heads of the relational memory")
    head_size: int = setting(256, "size of each attention head")
    max_inverse_temperature: float = setting(1000.0, "Gumbel-softmax beta, annealed 1 -> max: beta_n = max ** (n / N)")


@dataclass
class RelGANAdversarialConfig:
    steps: int = setting(3000, "adversarial generator updates")
    batch_size: int = setting(64, "sequences per update (real and generated each)")
    lr: float = setting(1e-4, "Adam learning rate of generator and D")
    d_steps: int = setting(5, "discriminator updates per generator update")
    grad_clip: float = setting(5.0, "gradient-norm clip")
    eval_every: int = setting(100, "adversarial steps between evaluations")


@dataclass
class RelGANRunConfig(MLERunConfig):
    """RelGAN (Nie et al., ICLR 2019): relational-memory generator, Gumbel-softmax relaxation with annealed
    temperature, relativistic standard GAN loss; the discriminator sees (soft) one-hot inputs."""

    algo: str = "relgan"
    mle: MLEConfig = field(default_factory=lambda: MLEConfig(epochs=150, lr=1e-2))
    relgan: RelGANModelConfig = field(default_factory=RelGANModelConfig)
    discriminator: DiscriminatorConfig = field(
        default_factory=lambda: DiscriminatorConfig(filter_sizes=(2, 3, 4, 5), num_filters=(300, 300, 300, 300), lr=1e-4, l2_reg=0.0)
    )
    adversarial: RelGANAdversarialConfig = field(default_factory=RelGANAdversarialConfig)


CONFIG_CLASSES: dict[str, type] = {
    "mle": MLERunConfig,
    "seqgan": SeqGANRunConfig,
    "leakgan": LeakGANRunConfig,
    "maligan": MaliGANRunConfig,
    "rankgan": RankGANRunConfig,
    "relgan": RelGANRunConfig,
}

# Presets are only named overrides: the defaults above are the paper's schedule.
_SMOKE_COMMON = {
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
_DEMO_COMMON = {"mle.epochs": 20, "mle.eval_every": 1, "mle.patience": 3, "eval.n_samples": 5000}
_LEAKGAN_SMOKE = {
    **_SMOKE_COMMON,
    "mle.epochs": 0,
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
}
_LEAKGAN_DEMO = {
    **_DEMO_COMMON,
    "mle.epochs": 0,
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
}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "mle": {"paper": {}, "smoke": dict(_SMOKE_COMMON), "demo": dict(_DEMO_COMMON)},
    "seqgan": {
        "paper": {},
        "smoke": {
            **_SMOKE_COMMON,
            "pretrain_d.rounds": 2,
            "pretrain_d.epochs": 1,
            "pretrain_d.n_negatives": 1000,
            "adversarial.steps": 4,
            "adversarial.rollouts": 4,
            "adversarial.d_rounds": 1,
            "adversarial.d_epochs": 1,
            "adversarial.n_negatives": 500,
            "adversarial.eval_every": 2,
        },
        "demo": {
            **_DEMO_COMMON,
            # the paper's 1,720-filter D memorises the 10,000 positives on the demo budget (held-out accuracy
            # 0.52-0.54, bench/results/critic-20.md); LeakGAN's small D without L2 generalises best of what was
            # tried (0.60 at round 9 of 25) and is 6x faster
            "discriminator.filter_sizes": (2, 3),
            "discriminator.num_filters": (100, 200),
            "discriminator.lr": 1e-3,
            "discriminator.l2_reg": 0.0,
            "pretrain_d.rounds": 8,
            "pretrain_d.epochs": 1,
            "pretrain_d.n_negatives": 5000,
            "adversarial.steps": 20,
            "adversarial.rollouts": 4,
            "adversarial.d_rounds": 1,
            "adversarial.d_epochs": 1,
            "adversarial.n_negatives": 1000,
            "adversarial.eval_every": 5,
        },
    },
    "leakgan": {"paper": {}, "smoke": _LEAKGAN_SMOKE, "demo": _LEAKGAN_DEMO},
    "relgan": {
        "paper": {},
        "smoke": {**_SMOKE_COMMON, "relgan.head_size": 32, "adversarial.steps": 4, "adversarial.d_steps": 1, "adversarial.eval_every": 2},
        "demo": {**_DEMO_COMMON, "relgan.head_size": 64, "adversarial.steps": 200, "adversarial.d_steps": 3, "adversarial.eval_every": 50},
    },
}
PRESETS["maligan"] = {name: dict(overrides) for name, overrides in PRESETS["seqgan"].items()}
PRESETS["rankgan"] = {name: dict(overrides) for name, overrides in PRESETS["seqgan"].items()}


def algorithms() -> list[str]:
    return sorted(CONFIG_CLASSES)


def presets_for(algo: str) -> list[str]:
    return sorted(PRESETS[algo])


def validate(cfg: Any) -> None:
    """Reject values that would crash or silently misbehave later in the run."""
    need(bool(cfg.data.strip()), "data", "'oracle' or a file / dataset name")
    t = cfg.text
    need(t.vocab_size >= 3, "text.vocab_size", ">= 3 (it includes <eos> and <unk>)")
    need(t.max_len >= 1, "text.max_len", ">= 1")
    need(0 < t.test_fraction < 1, "text.test_fraction", "in (0, 1)")
    need(0 < t.valid_fraction < 1 and t.test_fraction + t.valid_fraction < 1, "text.valid_fraction", "in (0, 1 - text.test_fraction)")
    need(bool(t.text_col), "text.text_col", "a column name")
    need_device(cfg.device)
    need(cfg.checkpoint_every >= 1, "checkpoint_every", ">= 1")
    o = cfg.oracle
    need(o.vocab_size >= 2, "oracle.vocab_size", ">= 2")
    need(o.seq_len >= 2, "oracle.seq_len", ">= 2")
    for key in ("emb_dim", "hidden_dim", "n_train", "n_test", "n_valid"):
        need(getattr(o, key) >= 1, f"oracle.{key}", ">= 1")
    need(cfg.generator.emb_dim >= 1 and cfg.generator.hidden_dim >= 1, "generator.emb_dim/hidden_dim", ">= 1")
    need(cfg.generator.init_std > 0, "generator.init_std", "> 0")
    m = cfg.mle
    need(m.epochs >= 0, "mle.epochs", ">= 0")
    need(m.lr > 0, "mle.lr", "> 0")
    need(m.batch_size >= 1, "mle.batch_size", ">= 1")
    need(m.grad_clip > 0, "mle.grad_clip", "> 0")
    need(m.eval_every >= 1, "mle.eval_every", ">= 1")
    need(m.patience >= 0, "mle.patience", ">= 0")
    e = cfg.eval
    need(e.n_samples >= 1, "eval.n_samples", ">= 1")
    need(e.temperature > 0, "eval.temperature", "> 0")
    need(e.n_d_eval >= 1, "eval.n_d_eval", ">= 1")
    need(e.n_write_samples >= 0, "eval.n_write_samples", ">= 0")
    need(e.n_bleu >= 2, "eval.n_bleu", ">= 2")
    if hasattr(cfg, "discriminator"):
        d = cfg.discriminator
        need(len(d.filter_sizes) == len(d.num_filters) > 0, "discriminator.num_filters",
             "as long as discriminator.filter_sizes")
        seq_len = sequence_length(cfg)
        need(all(1 <= w <= seq_len for w in d.filter_sizes), "discriminator.filter_sizes",
             f"between 1 and the sequence length ({seq_len})")
        need(all(n >= 1 for n in d.num_filters), "discriminator.num_filters", ">= 1 each")
        need(0 <= d.dropout < 1, "discriminator.dropout", "in [0, 1)")
        need(d.l2_reg >= 0, "discriminator.l2_reg", ">= 0")
        need(d.lr > 0 and d.batch_size >= 1, "discriminator.lr/batch_size", "> 0")
    if hasattr(cfg, "pretrain_d"):
        p = cfg.pretrain_d
        need(p.rounds >= 0 and p.epochs >= 1 and p.n_negatives >= 1, "pretrain_d", "rounds >= 0, epochs >= 1, n_negatives >= 1")
    if hasattr(cfg, "pretrain"):
        p = cfg.pretrain
        need(p.rounds >= 0 and p.d_rounds >= 0 and p.d_epochs >= 1 and p.n_negatives >= 1 and p.mle_epochs >= 0, "pretrain",
             "rounds >= 0, d_rounds >= 0, d_epochs >= 1, n_negatives >= 1, mle_epochs >= 0")
    if hasattr(cfg, "leakgan"):
        g = cfg.leakgan
        need(g.goal_size >= 1 and g.step_size >= 1, "leakgan.goal_size/step_size", ">= 1")
        need(g.rescale_delta > 0, "leakgan.rescale_delta", "> 0")
        need(not cfg.pretrained, "pretrained", "empty for leakgan (its generator is not a plain LSTM)")
    if hasattr(cfg, "ranker"):
        r = cfg.ranker
        need(r.gamma > 0 and r.n_reference >= 1 and r.n_compare >= 1, "ranker", "gamma > 0, n_reference >= 1, n_compare >= 1")
    if hasattr(cfg, "relgan"):
        g, a = cfg.relgan, cfg.adversarial
        need(g.mem_slots >= 1 and g.num_heads >= 1 and g.head_size >= 1, "relgan.mem_slots/num_heads/head_size", ">= 1")
        need(g.max_inverse_temperature >= 1, "relgan.max_inverse_temperature", ">= 1")
        need(a.steps >= 0 and a.batch_size >= 2 and a.d_steps >= 1 and a.eval_every >= 1, "adversarial",
             "steps >= 0, batch_size >= 2, d_steps >= 1, eval_every >= 1")
        need(a.lr > 0 and a.grad_clip > 0, "adversarial.lr/grad_clip", "> 0")
        need(not cfg.pretrained, "pretrained", "empty for relgan (its generator is not a plain LSTM)")
    elif hasattr(cfg, "adversarial"):
        a = cfg.adversarial
        need(a.steps >= 0, "adversarial.steps", ">= 0")
        need(a.batch_size >= 1 and a.rollouts >= 1, "adversarial.batch_size/rollouts", ">= 1")
        need(0 <= a.rollout_update_rate <= 1, "adversarial.rollout_update_rate", "in [0, 1]")
        need(a.lr > 0 and a.grad_clip > 0, "adversarial.lr/grad_clip", "> 0")
        need(a.d_rounds >= 0 and a.d_epochs >= 1 and a.n_negatives >= 1, "adversarial.d_rounds/d_epochs/n_negatives",
             "d_rounds >= 0, d_epochs >= 1, n_negatives >= 1")
        need(a.eval_every >= 1, "adversarial.eval_every", ">= 1")
        need(a.mle_every >= 0 and a.mle_epochs >= 1, "adversarial.mle_every/mle_epochs", "mle_every >= 0, mle_epochs >= 1")


def sequence_length(cfg: Any) -> int:
    """Token positions per sequence: the oracle's length, or max_len words plus <eos> on real text."""
    return cfg.oracle.seq_len if cfg.data == "oracle" else cfg.text.max_len + 1


KINDS = tuple(ConfigKind(name, cls, PRESETS[name], validate, "gan") for name, cls in CONFIG_CLASSES.items())
