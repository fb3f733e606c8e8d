"""Settings of ``sparring align``: defaults, presets and validation.

Resolution (defaults < preset < TOML < ``--set`` < flags) is the engine's: ``sparring.config``.
The defaults are the ``paper`` preset, sized for a GPU; ``demo`` is sized for a 2-core CPU
(~15 min per run with SmolLM2-135M and LoRA), ``gad`` is ``demo`` with the GAD protocol's SFT warm-up
and Bradley-Terry D, ``smoke`` is a minute.

GRPO's knobs are TRL's, with TRL's defaults for the loss (``dapo``: token losses normalised by the
active tokens of the accumulated batch, no length bias) and the advantage scaling (``group``: each
group's rewards divided by their standard deviation, so D's scores act as a ranking within a prompt,
whatever their scale, which drifts as D trains). The KL coefficient ``train.beta`` is 0.04, the GRPO
paper's, not TRL's 0: D's reward is non-stationary and easy to exploit, and the KL to the reference
(the base model, or the warm start of ``--init``/``sft_warmup_steps``) keeps the policy near text
it could already write.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

from sparring.config import ConfigKind, load, need, need_device, setting
from sparring.errors import UserError
from sparring.hf.grpo_options import GRPO_LOSS_TYPES, SCALE_REWARDS
from sparring.precision import PRECISION_HELP, need_precision

PUBLIC_SYSTEM = "You are a helpful AI assistant."
TWON_SYSTEM = "You are a social media user. Write a matching post to the given topic."
# The imitation teacher: the same base model under an instruction the student never sees.
HIDDEN_STYLE = "You are a pirate. Always answer in one or two short sentences, in pirate speak."


@dataclass
class ModelConfig:
    name: str = setting("smollm2", "a local directory, a hub id, or an embedded name (smollm2)")
    system_prompt: str = setting(PUBLIC_SYSTEM, "the system instruction of the chat template")
    chat_template: str = setting("", "a Jinja file; empty = the tokenizer's own")
    lora: bool = setting(False, "train a LoRA adapter instead of all weights")
    lora_rank: int = setting(8, "LoRA rank r")
    lora_alpha: int = setting(16, "LoRA scaling alpha")
    lora_dropout: float = setting(0.05, "dropout on the LoRA input")
    lora_targets: list[str] = setting(factory=lambda: ["q_proj", "v_proj"], help="modules that get adapters")
    init: str = setting("", "--init RUN: start the policy from a finished align run (its LoRA adapter or full weights)")


@dataclass
class TaskConfig:
    name: str = setting("imitation", "imitation | data")
    data: str = setting("", "--data FILE for the data task")
    test_data: str = setting("", "--test FILE: held-out pairs (default: hold out test_fraction of --data)")
    prompt_col: str = setting("prompt", "prompt column of --data")
    response_col: str = setting("response", "response column of --data")
    max_examples: int = setting(0, "use only the first N rows of --data (0 = all)")
    test_fraction: float = setting(0.2, "held out for evaluation (imitation: of the 500 shipped prompts)")
    teacher_instruction: str = setting(HIDDEN_STYLE, "the imitation teacher's hidden system instruction (the student never sees it)")
    teacher_max_new_tokens: int = setting(
        0, "the teacher's own cap (0: generation.max_new_tokens); raise it until few of its answers reach it, so they end naturally"
    )


@dataclass
class GenerationConfig:
    max_new_tokens: int = setting(48, "longest response")
    temperature: float = setting(1.0, "sampling temperature (training, teacher and evaluation)")
    top_p: float = setting(1.0, "nucleus sampling mass")
    batch_size: int = setting(16, "prompts per generate() call outside GRPO (teacher, evaluation)")


@dataclass
class CriticConfig:
    kind: str = setting(
        "encoder", "encoder (MiniLM + head) | seed (transformer + LSTM over the generator's hidden states) | lm (GAD's: a causal LM + head)"
    )
    loss: str = setting("bce", "bce (original GAN) | bt (Bradley-Terry / relativistic on same-prompt pairs; --disc lm's default)")
    model: str = setting("", "the lm critic's causal LM: empty = the student's base model (GAD's initialisation)")
    lora: bool = setting(False, "the lm critic trains a LoRA adapter (model.lora_rank/alpha/dropout/targets) instead of every weight")
    encoder: str = setting("minilm", "embedded all-MiniLM-L6-v2, or any HF encoder directory")
    lr: float = setting(2e-5, "D's AdamW learning rate")
    max_length: int = setting(160, "tokens of prompt + response seen by D")
    d_steps: int = setting(1, "D updates per generator step")
    pretrain_steps: int = setting(20, "D updates on base-model responses before adversarial training")
    pretrain_batch: int = setting(16, "pairs per D pre-training update")
    seed_layers: int = setting(1, "the seed D: transformer encoder layers over hidden states")
    seed_heads: int = setting(4, "the seed D: attention heads")
    seed_lstm: int = setting(128, "the seed D: LSTM size")


@dataclass
class TrainConfig:
    objective: str = setting(
        "reward",
        "reward (GRPO on D's score) | seed (BCE through hidden states) | hybrid | sft (the baseline) | soda (DPO, real vs own answers)",
    )
    dpo_beta: float = setting(0.1, "soda: DPO's beta (TRL's default)")
    dpo_loss: str = setting("sigmoid", "soda: TRL's DPO loss type: sigmoid (the DPO paper's) | hinge | ipo | robust")
    sft_warmup_steps: int = setting(0, "SFT steps on the real responses before D's warm-up and GRPO (the GAD protocol)")
    loss_type: str = setting("dapo", "TRL GRPO loss aggregation: dapo | grpo | dr_grpo | bnpo | cispo | sapo")
    scale_rewards: str = setting("group", "TRL GRPO advantage scaling: group | batch | none")
    steps: int = setting(200, "generator optimiser steps")
    prompts_per_step: int = setting(8, "prompts per optimiser step (each with num_generations completions)")
    num_generations: int = setting(4, "completions per prompt (GRPO group)")
    lr: float = setting(1e-5, "the generator's learning rate")
    beta: float = setting(0.04, "KL to the reference model")
    sft_coef: float = setting(0.0, "interleaved SFT loss on real responses, added to the GRPO loss")
    sft_batch: int = setting(4, "real pairs per interleaved SFT term")
    hybrid_reward: str = setting("", "module:function or file.py:function, TRL reward signature")
    hybrid_weights: list[float] = setting(factory=lambda: [1.0, 1.0], help="[D, user reward]")
    seed_d_repeats: int = setting(3, "the seed objective: D updates per batch")
    seed_skip_prob: float = setting(0.25, "the seed objective: probability of skipping the generator update")
    checkpoint_every: int = setting(10, "steps between checkpoints (safe to change on resume)")
    log_every: int = setting(1, "steps between metrics rows (safe to change on resume)")


@dataclass
class AlignEvalConfig:
    n_prompts: int = setting(100, "held-out prompts generated before and after")
    responses_per_prompt: int = setting(1, "imitation: teacher and model answers per held-out prompt (the data task has one)")
    folds: int = setting(5, "two-sample classifier cross-validation")


@dataclass
class AlignConfig:
    algo: str = "align"
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    disc: CriticConfig = field(default_factory=CriticConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: AlignEvalConfig = field(default_factory=AlignEvalConfig)
    seed: int = setting(0, "seed of sampling, D's initialisation and data order")
    device: str = setting("auto", "auto (CUDA when there is one), cpu, cuda or cuda:N")
    precision: str = setting("auto", PRECISION_HELP)


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "demo": {
        "model.lora": True,
        "train.lr": 3e-4,
        "train.steps": 30,
        "train.prompts_per_step": 4,
        "train.num_generations": 4,
        "train.checkpoint_every": 10,
        "disc.pretrain_steps": 10,
        "disc.lr": 5e-5,
        "eval.n_prompts": 100,
        "eval.responses_per_prompt": 3,
    },
    "gad": {  # the GAD protocol at demo size: SFT warm-up, D warm-up on the warm policy, GRPO with a Bradley-Terry D
        "model.lora": True,
        "train.lr": 3e-4,
        "train.steps": 30,
        "train.sft_warmup_steps": 30,
        "train.prompts_per_step": 4,
        "train.num_generations": 4,
        "train.checkpoint_every": 10,
        "disc.loss": "bt",
        "disc.pretrain_steps": 10,
        "disc.lr": 5e-5,
        "eval.n_prompts": 100,
        "eval.responses_per_prompt": 3,
    },
    "smoke": {
        "model.lora": True,
        "train.lr": 2e-4,
        "train.steps": 2,
        "train.prompts_per_step": 2,
        "train.num_generations": 2,
        "train.checkpoint_every": 1,
        "generation.max_new_tokens": 12,
        "disc.pretrain_steps": 2,
        "disc.pretrain_batch": 4,
        "eval.n_prompts": 6,
        "eval.folds": 2,
    },
}


def validate_align(cfg: AlignConfig) -> None:
    need(cfg.task.name in {"imitation", "data"}, "task.name", "imitation or data")
    need(cfg.task.name != "data" or bool(cfg.task.data), "task.data", "a .csv/.jsonl/.parquet file (--data)")
    need(0 < cfg.task.test_fraction < 1, "task.test_fraction", "in (0, 1)")
    need(cfg.task.max_examples >= 0, "task.max_examples", ">= 0")
    need(cfg.task.teacher_max_new_tokens >= 0, "task.teacher_max_new_tokens", ">= 0 (0: generation.max_new_tokens)")
    need(cfg.disc.kind in {"encoder", "seed", "lm"}, "disc.kind", "encoder, seed or lm")
    need(cfg.disc.loss in {"bce", "bt"}, "disc.loss", "bce or bt")
    need(cfg.train.objective in {"reward", "seed", "hybrid", "sft", "soda"}, "train.objective", "reward, seed, hybrid, sft or soda")
    need(cfg.train.sft_warmup_steps >= 0, "train.sft_warmup_steps", ">= 0")
    need(cfg.train.objective not in {"sft", "soda"} or cfg.train.sft_warmup_steps == 0, "train.sft_warmup_steps",
         "0 for the sft and soda objectives")  # fmt: skip
    need(cfg.train.dpo_beta > 0, "train.dpo_beta", "> 0")
    need(cfg.train.dpo_loss in ("sigmoid", "hinge", "ipo", "robust"), "train.dpo_loss", "sigmoid, hinge, ipo or robust")
    need(cfg.train.loss_type in GRPO_LOSS_TYPES, "train.loss_type", " | ".join(GRPO_LOSS_TYPES))
    need(cfg.train.scale_rewards in SCALE_REWARDS, "train.scale_rewards", ", ".join(SCALE_REWARDS))
    need(cfg.eval.responses_per_prompt >= 1, "eval.responses_per_prompt", ">= 1")
    need(
        cfg.eval.responses_per_prompt == 1 or cfg.task.name == "imitation",
        "eval.responses_per_prompt",
        "1 for the data task (it has one real response per prompt)",
    )
    need(
        cfg.train.objective != "seed" or cfg.disc.kind == "seed",
        "disc.kind",
        "seed for the seed objective (its gradient flows through the generator's hidden states)",
    )
    need(
        cfg.train.objective != "hybrid" or bool(cfg.train.hybrid_reward),
        "train.hybrid_reward",
        "module:function or file.py:function for the hybrid objective",
    )
    need(len(cfg.train.hybrid_weights) == 2, "train.hybrid_weights", "two numbers [D, user reward]")
    for key in ("steps", "prompts_per_step", "num_generations", "checkpoint_every", "log_every", "sft_batch", "seed_d_repeats"):
        need(getattr(cfg.train, key) >= 1, f"train.{key}", ">= 1")
    need(cfg.train.objective == "seed" or cfg.train.num_generations >= 2, "train.num_generations", ">= 2 (GRPO compares a group)")
    need(cfg.train.lr > 0, "train.lr", "> 0")
    need(cfg.train.beta >= 0 and cfg.train.sft_coef >= 0, "train.beta/sft_coef", ">= 0")
    need(0 <= cfg.train.seed_skip_prob < 1, "train.seed_skip_prob", "in [0, 1)")
    need(cfg.disc.lr > 0 and cfg.disc.d_steps >= 1 and cfg.disc.pretrain_steps >= 0, "disc.lr/d_steps/pretrain_steps", "positive")
    need(cfg.disc.pretrain_batch >= 2 and cfg.disc.max_length >= 8, "disc.pretrain_batch/max_length", ">= 2 / >= 8")
    need(cfg.generation.max_new_tokens >= 1 and cfg.generation.batch_size >= 1, "generation.max_new_tokens/batch_size", ">= 1")
    need(cfg.generation.temperature > 0 and 0 < cfg.generation.top_p <= 1, "generation.temperature/top_p", "> 0 / in (0, 1]")
    need(cfg.eval.n_prompts >= 4, "eval.n_prompts", ">= 4")
    need(cfg.eval.folds >= 2, "eval.folds", ">= 2")
    need(cfg.model.lora_rank >= 1, "model.lora_rank", ">= 1")
    need_device(cfg.device)
    need_precision(cfg.precision)


KINDS = (ConfigKind("align", AlignConfig, PRESETS, validate_align, "align"),)


DATA_EXTRA = "pip install 'sparring[llm]'"


def require_llm_stack() -> None:
    for module in ("transformers", "trl", "peft", "datasets", "sklearn", "scipy"):
        if importlib.util.find_spec(module) is None:
            raise UserError(f"'sparring align' needs the LLM extra: {DATA_EXTRA} (missing module '{module}')")


def load_align_config(data: dict[str, Any]) -> AlignConfig:
    """An align run's settings from its config.json (the one typed loader: ``sparring.config.load``)."""
    return load(KINDS[0], data)
