"""The ``reward`` and ``hybrid`` objectives: TRL's GRPOTrainer with the discriminator as reward.

The training loop itself is TRL's. What sparring adds around it:
- the dataset carries ``instruction`` and ``response`` columns, so the reward callable sees each
  completion's real counterpart and updates D on the same batch (``reward.DiscriminatorReward``);
- an optional interleaved SFT loss on real responses (LeakGAN's remedy against mode collapse),
  added to GRPO's loss in ``compute_loss``;
- a callback that writes our ``metrics.jsonl`` rows (reward, D loss/accuracy, KL, lengths, step
  time, D's share of it), stores D next to every TRL checkpoint, and stops on a NaN loss before
  the bad step is checkpointed.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from sparring.llm.config import AlignConfig
from sparring.llm.generation import chat_prompt, conversation, encode_pairs, response_token_logprobs
from sparring.llm.reward import DiscriminatorReward
from sparring.llm.tasks import PairData

D_STATE = "discriminator.pt"

# TRL log key -> our metrics.jsonl key
LOG_KEYS = {
    "reward": "reward_mean",
    "reward_std": "reward_std",
    "rewards/discriminator/mean": "reward_d_mean",
    "kl": "kl",
    "loss": "loss",
    "entropy": "entropy",
    "completions/mean_length": "completion_length",
    "completions/clipped_ratio": "clipped_ratio",
    "d_loss": "d_loss",
    "d_acc": "d_acc",
    "p_real": "p_real",
    "learning_rate": "lr",
}


class TrainingDiverged(Exception):
    """Raised from the logging callback when the loss is not finite (before that step is saved)."""


class MetricsCallback(TrainerCallback):
    def __init__(self, write_row: Any, reward: DiscriminatorReward, d_optimizer: torch.optim.Optimizer, is_main: bool) -> None:
        self.write_row = write_row
        self.reward = reward
        self.d_optimizer = d_optimizer
        self.is_main = is_main
        self._step_started = 0.0
        self._step_seconds: list[float] = []
        self._d_seconds: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):  # noqa: ANN001 - TrainerCallback signature
        self._step_started = time.perf_counter()

    def on_step_end(self, args, state, control, model=None, **kwargs):  # noqa: ANN001
        # Runs before this step is logged and checkpointed: a step that broke the weights is never saved.
        if model is not None and not weights_finite(model):
            raise TrainingDiverged(f"weights became non-finite at step {state.global_step}")
        self._step_seconds.append(time.perf_counter() - self._step_started)
        self._d_seconds.append(self.reward.take_seconds())

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        logs = logs or {}
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingDiverged(f"loss is {loss} at step {state.global_step}")
        if "reward" not in logs or not self.is_main:
            return
        row: dict[str, Any] = {"step": state.global_step, "phase": "adversarial"}
        for key, name in LOG_KEYS.items():
            if key in logs:
                row[name] = float(logs[key])
        for key, value in logs.items():  # a user reward of the hybrid objective
            if key.startswith("rewards/") and key.endswith("/mean") and key not in LOG_KEYS:
                row["reward_" + key.split("/")[1] + "_mean"] = float(value)
        if self._step_seconds:
            step, d = sum(self._step_seconds) / len(self._step_seconds), sum(self._d_seconds) / len(self._d_seconds)
            row.update(step_time=step, d_seconds=d, d_share=d / step if step else None)
            self._step_seconds, self._d_seconds = [], []
        self.write_row(row)

    def on_save(self, args, state, control, **kwargs):  # noqa: ANN001
        if self.is_main:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            torch.save({"disc": self.reward.disc.state_dict(), "optimizer": self.d_optimizer.state_dict()}, folder / D_STATE)


def weights_finite(model: torch.nn.Module) -> bool:
    """Only the trained parameters can go bad (a LoRA run checks just the adapter)."""
    with torch.no_grad():
        return all(bool(torch.isfinite(p).all()) for p in model.parameters() if p.requires_grad)


def last_checkpoint(folder: Path, marker: str = D_STATE) -> Path | None:
    """The newest TRL checkpoint holding ``marker``, the file written last (D's state in an align run),
    so that one cut short is never resumed from."""
    done = [p for p in folder.glob("checkpoint-*") if (p / marker).is_file() and p.name.split("-")[-1].isdigit()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def _sft_trainer_class() -> type:
    from trl import GRPOTrainer

    class SparringGRPOTrainer(GRPOTrainer):
        """GRPO plus ``sft_coef`` x the NLL of a few real responses (interleaved MLE)."""

        sft_batches: Any = None
        sft_coef: float = 0.0

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
            loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            if self.sft_coef > 0 and self.sft_batches is not None:
                logp, mask = response_token_logprobs(model, next(self.sft_batches))
                loss = loss + self.sft_coef * (-logp.sum() / mask.sum().clamp_min(1.0))
            return loss

    return SparringGRPOTrainer


def _sft_batches(tokenizer: Any, cfg: AlignConfig, pairs: PairData) -> Any:
    rng = random.Random(cfg.seed + 1)
    prompts = [chat_prompt(tokenizer, cfg.model.system_prompt, p) for p in pairs.train_prompts]
    while True:
        pick = [rng.randrange(len(prompts)) for _ in range(cfg.train.sft_batch)]
        yield encode_pairs(tokenizer, [prompts[i] for i in pick], [pairs.train_responses[i] for i in pick])


def grpo_train(
    cfg: AlignConfig,
    run_path: Path,
    model: Any,
    tokenizer: Any,
    pairs: PairData,
    reward: DiscriminatorReward,
    d_optimizer: torch.optim.Optimizer,
    user_reward: Any,
    write_row: Any,
    is_main: bool,
    world_size: int,
    use_cpu: bool,
) -> Any:
    """Run GRPO to ``cfg.train.steps`` (resuming from the last complete checkpoint); returns the policy."""
    from datasets import Dataset
    from trl import GRPOConfig

    t = cfg.train
    dataset = Dataset.from_dict(
        {
            "prompt": [conversation(cfg.model.system_prompt, p) for p in pairs.train_prompts],
            "instruction": pairs.train_prompts,
            "response": pairs.train_responses,
        }
    )
    checkpoints = run_path / "checkpoints"
    peft_config = None
    if cfg.model.lora:
        from peft import LoraConfig

        m = cfg.model
        peft_config = LoraConfig(
            r=m.lora_rank, lora_alpha=m.lora_alpha, lora_dropout=m.lora_dropout, target_modules=m.lora_targets, task_type="CAUSAL_LM"
        )
    args = GRPOConfig(
        output_dir=str(checkpoints),
        max_steps=t.steps,
        per_device_train_batch_size=t.num_generations,
        gradient_accumulation_steps=max(1, t.prompts_per_step // world_size),
        num_generations=t.num_generations,
        max_completion_length=cfg.generation.max_new_tokens,
        temperature=cfg.generation.temperature,
        top_p=cfg.generation.top_p,
        learning_rate=t.lr,
        lr_scheduler_type="constant",
        beta=t.beta,
        reward_weights=list(t.hybrid_weights) if user_reward is not None else None,
        logging_steps=t.log_every,
        save_strategy="steps",
        save_steps=t.checkpoint_every,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=False,
        fp16=False,
        gradient_checkpointing=False,
        use_cpu=use_cpu,
        report_to="none",
        disable_tqdm=not is_main,
    )
    trainer_class = _sft_trainer_class()
    trainer = trainer_class(
        model=model,
        reward_funcs=[reward] + ([user_reward] if user_reward is not None else []),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[MetricsCallback(write_row, reward, d_optimizer, is_main)],
    )
    if t.sft_coef > 0:
        trainer.sft_coef = t.sft_coef
        trainer.sft_batches = _sft_batches(tokenizer, cfg, pairs)
    if hasattr(reward.disc, "featurize") and reward.disc.featurize is None:  # the seed D reads the live policy's hidden states
        from sparring.llm.discriminators import hidden_state_featurizer

        reward.disc.featurize = hidden_state_featurizer(trainer.model, tokenizer, cfg.model.system_prompt, cfg.disc.max_length)
    resume_from = last_checkpoint(checkpoints)
    if resume_from is not None:
        state = torch.load(resume_from / D_STATE, weights_only=True)
        reward.disc.load_state_dict(state["disc"])
        d_optimizer.load_state_dict(state["optimizer"])
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    return trainer.model
