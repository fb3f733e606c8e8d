"""TRL's GRPO wiring, shared by ``align`` and ``rlvr``: one ``GRPOConfig`` builder, one logging
callback (TRL logs -> metrics rows, the NaN guard, the run's own state next to every checkpoint),
and checkpoint discovery for resume.

TRL runs the loop and checkpoints the policy and its optimiser into
``RUN_DIR/checkpoints/grpo/checkpoint-N``. What a run trains beside the policy (the discriminator
and its optimiser) and where its logs stood are ours: ``on_save`` adds them to TRL's folder and
completes it with the project's one checkpoint rule (``sparring.checkpoints``: written atomically,
the marker last, with every file's size), so a checkpoint cut short is never resumed from and a
torn one is skipped for the previous one, in one line.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from sparring.checkpoints import Checkpoint, Checkpoints
from sparring.runs import RunWriter, TrainingDiverged, check_finite

STATE = "sparring_state"  # the payload beside TRL's files: checkpoint-N/sparring_state.pt
PHASE = "grpo"

# TRL log key -> our metrics.jsonl key; a reward function's mean becomes reward_<name>_mean.
LOG_KEYS = {
    "reward": "reward_mean",
    "reward_std": "reward_std",
    "rewards/discriminator/mean": "reward_d_mean",
    "kl": "kl",
    "loss": "loss",
    "entropy": "entropy",
    "completions/mean_length": "completion_length",
    "completions/clipped_ratio": "clipped_ratio",
    "learning_rate": "lr",
}


def completion_text(completion: Any) -> str:
    """TRL passes conversational completions as [{"role": "assistant", "content": ...}]."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


def grpo_config(
    output_dir: Path,
    *,
    steps: int,
    prompts_per_step: int,
    num_generations: int,
    max_new_tokens: int,
    temperature: float,
    lr: float,
    beta: float,
    save_every: int,
    seed: int,
    use_cpu: bool,
    bf16: bool = False,
    top_p: float = 1.0,
    reward_weights: list[float] | None = None,
    log_every: int = 1,
    world_size: int = 1,
    show_progress: bool = True,
    loss_type: str = "dapo",
    scale_rewards: str = "group",
) -> Any:
    """GRPOConfig for one optimiser step per ``prompts_per_step`` prompts x ``num_generations`` completions
    (one prompt's group per micro-batch, accumulated; split across data-parallel ranks), a constant
    learning rate, fp32 unless ``bf16`` (TRL's own switch: accelerate runs the policy's forward passes,
    generation included, under bf16 autocast; weights and optimiser stay fp32), and TRL's own
    reporting off (our callback logs)."""
    from trl import GRPOConfig

    return GRPOConfig(
        output_dir=str(output_dir),
        max_steps=steps,
        per_device_train_batch_size=num_generations,
        gradient_accumulation_steps=max(1, prompts_per_step // world_size),
        num_generations=num_generations,
        max_completion_length=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        learning_rate=lr,
        lr_scheduler_type="constant",
        beta=beta,
        loss_type=loss_type,
        scale_rewards=scale_rewards,
        reward_weights=reward_weights,
        logging_steps=log_every,
        save_strategy="steps",
        save_steps=save_every,
        seed=seed,
        data_seed=seed,
        bf16=bf16,
        fp16=False,
        gradient_checkpointing=False,
        use_cpu=use_cpu,
        report_to="none",
        disable_tqdm=not show_progress,
    )


def weights_finite(model: torch.nn.Module) -> bool:
    """Only the trained parameters can go bad (a LoRA run checks just the adapter)."""
    with torch.no_grad():
        return all(bool(torch.isfinite(p).all()) for p in model.parameters() if p.requires_grad)


class RunLogCallback(TrainerCallback):
    """TRL's logs as our metrics rows, the divergence guard, and the run's state in every checkpoint.

    ``state`` maps names to what the run trains beside the policy (anything with ``state_dict``);
    ``phase`` labels the rows; ``renames`` adds log keys of a line (rlvr's ``pass_rate``);
    ``critics`` have ``last`` (their latest statistics, added to each row) and ``take_seconds()``
    (their share of each step's time); ``required``: the log key of a training step (TRL's DPO
    trainer logs no reward)."""

    def __init__(
        self,
        writer: RunWriter,
        state: dict[str, Any] | None = None,
        phase: str = "adversarial",
        renames: dict[str, str] | None = None,
        critics: tuple[Any, ...] = (),
        required: str = "reward",
    ) -> None:
        self.writer = writer
        self.required = required  # a log without this key is not a training step's (GRPO: reward; DPO: loss)
        self.state = state or {}
        self.phase = phase
        self.keys = {**LOG_KEYS, **(renames or {})}
        self.critics = critics
        self._step_started = 0.0
        self._step_seconds: list[float] = []
        self._timed_seconds: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):  # noqa: ANN001 - TrainerCallback signature
        self._step_started = time.perf_counter()

    def on_step_end(self, args, state, control, model=None, **kwargs):  # noqa: ANN001
        # Runs before this step is logged and checkpointed: a step that broke the weights is never saved.
        if model is not None and not weights_finite(model):
            step = state.global_step
            raise TrainingDiverged(f"training diverged: the weights became non-finite at step {step} (lower the learning rate)")
        self._step_seconds.append(time.perf_counter() - self._step_started)
        if self.critics:
            self._timed_seconds.append(sum(critic.take_seconds() for critic in self.critics))

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        logs = logs or {}
        if logs.get("loss") is not None:
            check_finite({"loss": float(logs["loss"])}, ("loss",), f"step {state.global_step}", self.writer.path)
        if self.required not in logs:
            return
        row: dict[str, Any] = {"step": state.global_step, "phase": self.phase}
        for key, name in self.keys.items():
            if key in logs:
                row[name] = float(logs[key])
        for key, value in logs.items():
            if key.startswith("rewards/") and key.endswith("/mean") and key not in self.keys:
                row["reward_" + key.split("/")[1] + "_mean"] = float(value)
        for critic in self.critics:
            row.update(critic.last)
        if self._step_seconds:
            step = sum(self._step_seconds) / len(self._step_seconds)
            row["step_time"] = step
            if self._timed_seconds:
                timed = sum(self._timed_seconds) / len(self._timed_seconds)
                row.update(d_seconds=timed, d_share=timed / step if step else None)
            self._step_seconds, self._timed_seconds = [], []
        self.writer.log(row)

    def on_save(self, args, state, control, **kwargs):  # noqa: ANN001
        payload = {name: obj.state_dict() for name, obj in self.state.items()}
        grpo_checkpoints(self.writer).complete(state.global_step, {STATE: payload}, {"log": self.writer.rows()})


def grpo_checkpoints(writer: RunWriter) -> Checkpoints:
    """TRL's checkpoint folders of a run (TRL rotates them, so none is removed here)."""
    return writer.dir.checkpoints(PHASE, prefix="checkpoint-", keep=None, enabled=writer.is_main)


def restore(writer: RunWriter, state: dict[str, Any] | None = None, before: dict[str, Any] | None = None) -> Checkpoint | None:
    """On a resume, the newest complete GRPO checkpoint: what ``RunLogCallback.on_save`` stored is
    loaded into ``state`` and the logs are cut back to it. Without one the logs go back to
    ``before`` (what the run logged before GRPO began). Returns the checkpoint, for ``train_from``."""
    checkpoint = grpo_checkpoints(writer).latest() if writer.resumed else None
    if checkpoint is None:
        writer.rewind(before)
        return None
    for name, obj in (state or {}).items():
        obj.load_state_dict(checkpoint[STATE][name])
    writer.rewind(checkpoint.state["log"])
    return checkpoint


def train_from(trainer: Any, checkpoint: Checkpoint | None, steps: int) -> None:
    """``trainer.train``, resuming from ``checkpoint``. A checkpoint of the last step is only loaded:
    the Trainer tests ``max_steps`` after a step, not before, so resuming from it would train one more
    (a run that crashed after its last checkpoint, in the evaluation, would end with steps + 1)."""
    if checkpoint is not None and checkpoint.step >= steps:
        trainer._load_from_checkpoint(str(checkpoint.folder))  # the weights (model or adapter) the train() call would restore
        return
    trainer.train(resume_from_checkpoint=str(checkpoint.folder) if checkpoint else None)
    full_precision_forward(trainer.model)


def full_precision_forward(model: Any) -> None:
    """Undo accelerate's bf16 wrapper of ``model.forward`` (accelerate's own unwrapping, in place),
    so that what follows training, the evaluation and the saved model, runs in float32."""
    from accelerate.utils import extract_model_from_parallel

    extract_model_from_parallel(model, keep_fp32_wrapper=False)


def trainer_class() -> type:
    """TRL's GRPOTrainer with the three things sparring adds to its step, all visible here:
    the critics' own step of the game, an optional interleaved SFT term, and completions that end
    at a stop string (``stop_strings``).

    TRL's transformers sampler stops only at the end token; a code model rarely emits it and goes
    on after its function with tests or the next task, which the reward never sees (the judged
    program is cut at the first stop string). Without the cut those tokens share the completion's
    advantage and the policy gradient trains them too; with it, a completion is the tokens up to
    the one that completes the first stop, as ``eval-code``'s sampler would have generated, and the
    rest are not trained on (the completion counts as unfinished: no end token is added)."""
    from trl import GRPOTrainer

    from sparring.hf.generation import token_logprobs, tokens_to_stop
    from sparring.hf.sft import masked_nll

    class SparringGRPOTrainer(GRPOTrainer):
        critics: tuple[Any, ...] = ()  # objects with update(): they learn from what they just scored
        sft_batches: Any = None  # an endless iterator of encoded (prompt, real response) batches
        sft_coef: float = 0.0
        stop_strings: tuple[str, ...] = ()  # completions end at the first of these (see above)

        def _generate_single_turn(self, prompt_ids, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - TRL's signature
            completion_ids, logprobs = super()._generate_single_turn(prompt_ids, *args, **kwargs)
            if not self.stop_strings:
                return completion_ids, logprobs
            keep = [tokens_to_stop(self.processing_class, ids, self.stop_strings) for ids in completion_ids]
            completion_ids = [ids[:k] for ids, k in zip(completion_ids, keep, strict=True)]
            if logprobs is not None:  # vLLM's sampling log-probabilities, one per completion token
                logprobs = [lp[:k] for lp, k in zip(logprobs, keep, strict=True)]
            return completion_ids, logprobs

        def training_step(self, model, inputs, num_items_in_batch=None):  # noqa: ANN001 - Trainer signature
            loss = super().training_step(model, inputs, num_items_in_batch)  # the generator's step on the critics' rewards
            for critic in self.critics:
                critic.update()  # each critic's step, on the completions it scored for this step
            return loss

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
            loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            if self.sft_coef > 0 and self.sft_batches is not None:  # interleaved MLE on real responses
                logp, mask = token_logprobs(model, next(self.sft_batches))
                loss = loss + self.sft_coef * masked_nll(logp, mask.sum().clamp_min(1.0))
            return loss

    return SparringGRPOTrainer
