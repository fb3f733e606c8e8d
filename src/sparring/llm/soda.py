"""The ``soda`` objective of ``align``: SODA (arXiv 2604.03873), DPO against the student's own first answers.

No rollouts and no critic: every training prompt gets one pair, chosen = its real response,
rejected = the starting policy's answer to it (sampled once, before training, and cached like the
base model's evaluation answers; the cache key holds the starting weights, so an ``--init`` run's
answers are its own). TRL's ``DPOTrainer`` trains on the pairs.

The matching rule is SFT's (``sparring.llm.sft``): an optimiser step takes ``prompts_per_step x
num_generations`` pairs (one micro-batch per ``num_generations``, accumulated), with the same model,
LoRA setting, learning rate (constant), AdamW without weight decay, clipping at 1.0 and number of
steps. DPO's own settings are ``train.dpo_beta`` (TRL's default 0.1) and ``train.dpo_loss`` (TRL's
loss types; ``sigmoid`` is the DPO paper's). The reference model is the starting policy: the base
model, or the ``--init`` run's policy (a frozen copy of it).

Checkpoints are TRL's (``checkpoints/grpo/checkpoint-N``, the folder every TRL trainer of the line
writes to) with the run's log position beside them; ``--resume`` continues from the newest.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sparring.files import atomic_write_text
from sparring.hf.generation import chat_prompt, conversation, generate
from sparring.hf.grpo import RunLogCallback, grpo_checkpoints, restore, train_from
from sparring.hf.models import cache_dir, lora_config
from sparring.llm.config import AlignConfig
from sparring.llm.tasks import PairData, _model_identity
from sparring.precision import model_precision
from sparring.runs import RunWriter

PHASE = "soda"
DPO_LOSSES = ("sigmoid", "hinge", "ipo", "robust")  # TRL's DPO loss types offered here (sigmoid: the DPO paper's)
# TRL's DPO log keys -> metrics columns
DPO_KEYS = {
    "loss": "dpo_loss",
    "rewards/chosen": "reward_chosen",
    "rewards/rejected": "reward_rejected",
    "rewards/accuracies": "pair_accuracy",
    "rewards/margins": "reward_margin",
    "learning_rate": "lr",
}


def pairs_needed(cfg: AlignConfig, pairs: PairData) -> int:
    t = cfg.train
    return min(len(pairs.train_prompts), t.steps * t.prompts_per_step * t.num_generations)


def starting_identity(cfg: AlignConfig, model_path: str) -> list[str]:
    """What the starting policy's weights are: the base model's identity, and with ``--init`` the
    size and modification time of every file of that run's model (a retrained run is another start)."""
    identity = _model_identity(model_path)
    if cfg.model.init:
        folder = Path(cfg.model.init) / "model"
        identity += [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(folder.iterdir()) if p.is_file()]
    return identity


def rejected_answers(policy: Any, tokenizer: Any, model_path: str, cfg: AlignConfig, prompts: list[str]) -> list[str]:
    """The starting policy's answer to each training prompt, sampled once and cached."""
    g = cfg.generation
    texts = [chat_prompt(tokenizer, cfg.model.system_prompt, p) for p in prompts]
    key = json.dumps([*starting_identity(cfg, model_path), cfg.model.system_prompt, texts, g.max_new_tokens, g.temperature, g.top_p,
                      cfg.seed])  # fmt: skip
    path = cache_dir() / "soda" / (hashlib.sha256(key.encode()).hexdigest()[:16] + ".json")
    if path.is_file():
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(cached, list) and len(cached) == len(prompts):
                return cached
        except json.JSONDecodeError:
            pass  # a torn file: sample again
    with model_precision(cfg.precision, policy).autocast():
        answers = generate(
            policy, tokenizer, texts, g.max_new_tokens, g.temperature, g.top_p, g.batch_size, cfg.seed + 7919, "SODA rejected"
        )
    atomic_write_text(path, json.dumps(answers))
    return answers


def soda_dataset(cfg: AlignConfig, prompts: list[str], chosen: list[str], rejected: list[str]) -> Any:
    """TRL's conversational preference format: the prompt's messages, and each answer as an assistant turn."""
    from datasets import Dataset

    return Dataset.from_dict(
        {
            "prompt": [conversation(cfg.model.system_prompt, p) for p in prompts],
            "chosen": [[{"role": "assistant", "content": c}] for c in chosen],
            "rejected": [[{"role": "assistant", "content": r}] for r in rejected],
        }
    )


def soda_train(
    cfg: AlignConfig, writer: RunWriter, policy: Any, tokenizer: Any, pairs: PairData, model_path: str, use_cpu: bool, reference: Any
) -> Any:
    """DPO on (real, starting policy's answer) pairs to ``cfg.train.steps`` (resuming); returns the policy.
    ``reference``: a frozen copy of an ``--init`` policy, or None (TRL's reference: the base model,
    through the adapter switched off, or a copy of the full weights)."""
    from accelerate.utils import is_peft_model
    from trl import DPOConfig, DPOTrainer

    t = cfg.train
    n = pairs_needed(cfg, pairs)
    prompts, chosen = list(pairs.train_prompts[:n]), list(pairs.train_responses[:n])
    rejected = rejected_answers(policy, tokenizer, model_path, cfg, prompts)
    peft_config = None
    if cfg.model.lora and not is_peft_model(policy):
        m = cfg.model
        peft_config = lora_config(m.lora_rank, m.lora_alpha, m.lora_dropout, m.lora_targets)
    args = DPOConfig(
        output_dir=str(grpo_checkpoints(writer).folder),
        max_steps=t.steps,
        per_device_train_batch_size=t.num_generations,
        gradient_accumulation_steps=t.prompts_per_step,
        learning_rate=t.lr,
        lr_scheduler_type="constant",
        weight_decay=0.0,
        max_grad_norm=1.0,
        beta=t.dpo_beta,
        loss_type=[t.dpo_loss],
        logging_steps=t.log_every,
        save_strategy="steps",
        save_steps=t.checkpoint_every,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=model_precision(cfg.precision, policy).bf16,
        fp16=False,
        gradient_checkpointing=False,
        use_cpu=use_cpu,
        report_to="none",
        disable_tqdm=not writer.is_main,
    )
    trainer = DPOTrainer(
        model=policy,
        ref_model=reference,
        args=args,
        train_dataset=soda_dataset(cfg, prompts, chosen, rejected),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[RunLogCallback(writer, phase=PHASE, renames=DPO_KEYS, required="loss")],
    )
    train_from(trainer, restore(writer), t.steps)
    return trainer.model
