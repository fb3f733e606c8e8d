"""``sparring rlvr``: GRPO on programming tasks with the sandbox as the verifier.

TRL's GRPOTrainer does the RL. The reward of a completion is the share of its task's ``assert``
lines that the parent saw hold, calling the completion in the sandbox (``judge``: the program under
test cannot report its own score, so the reward is in [0, 1] whatever it prints or how it exits;
graded rather than all-or-nothing, so a group of weak samples still has signal). With ``disc_weight > 0`` the adversarial discriminator of
``sparring align`` (MiniLM encoder + head, real = the reference solution) adds its reward: RLVR plus
human demonstrations, the "hybrid" objective. The pass-rate curve is what compares starts (base,
NTP, RA3): ``metrics.jsonl`` has it per step.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from sparring.code.benchmarks import MBPP_STOP, Benchmark, load_benchmark
from sparring.code.config import RLVRConfig
from sparring.code.judge import judge_many
from sparring.code.lm import load_code_lm, truncate_at_stop
from sparring.code.sandbox import Limits, isolation
from sparring.devices import resolve_device
from sparring.errors import UserError
from sparring.llm.models import save_model
from sparring.llm.reward import completion_text
from sparring.runs import RunDir, keep_jsonl_rows

SAMPLES_FILE = "samples.jsonl"


class PassRateReward:
    """A TRL reward callable: the share of each completion's task tests that pass (``judge.Verdict.share``).

    With ``samples_path`` every judged completion is appended there (step, task, text, share, status),
    so a pass-rate curve can be traced back to what the model wrote.
    """

    __name__ = "pass_rate"  # TRL logs rewards/pass_rate/mean

    def __init__(self, benchmark: Benchmark, limits: Limits, workers: int, samples_path: Path | None = None) -> None:
        self.benchmark, self.limits, self.workers, self.samples_path = benchmark, limits, workers, samples_path

    def __call__(self, prompts: list[Any], completions: list[Any], task_id: list[str], **kwargs: Any) -> list[float]:
        texts = [truncate_at_stop(completion_text(c), MBPP_STOP) for c in completions]
        verdicts = judge_many(self.benchmark, list(zip(task_id, texts, strict=True)), self.limits, self.workers, "verifying")
        shares = [v.share for v in verdicts]
        if self.samples_path is not None:
            state = kwargs.get("trainer_state")
            step = state.global_step + 1 if state is not None else None  # the optimizer step these completions feed
            with open(self.samples_path, "a") as handle:
                for t, text, verdict in zip(task_id, texts, verdicts, strict=True):
                    row = {"step": step, "task_id": t, "completion": text, "pass_share": verdict.share, "status": verdict.status}
                    handle.write(json.dumps(row) + "\n")
        return shares


def _callback(run: RunDir, started: float) -> Any:
    from transformers import TrainerCallback

    class PassRateLog(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001 - TrainerCallback signature
            logs = logs or {}
            if "loss" in logs and not math.isfinite(float(logs["loss"])):
                raise UserError(f"rlvr: the loss is {logs['loss']} at step {state.global_step}; lower lr")
            if "rewards/pass_rate/mean" not in logs:
                return
            row = {"step": state.global_step, "pass_rate": float(logs["rewards/pass_rate/mean"])}
            names = {"reward": "reward_mean", "kl": "kl", "completions/mean_length": "completion_length", "d_acc": "d_acc"}
            for key, name in names.items():
                if key in logs:
                    row[name] = float(logs[key])
            if "rewards/discriminator/mean" in logs:
                row["reward_d_mean"] = float(logs["rewards/discriminator/mean"])
            run.append_metrics({**row, "elapsed_s": round(time.perf_counter() - started, 1)})

    return PassRateLog()


def train_rlvr(cfg: RLVRConfig, out: str | Path, resume: bool = False) -> dict[str, Any]:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from sparring.llm.grpo import last_checkpoint

    run = RunDir(out)
    if not resume and run.path.exists() and any(run.path.iterdir()):
        raise UserError(f"{run.path} already exists (choose a new --out)")
    bench = load_benchmark("mbpp", cfg.data.mbpp_file)
    ids = bench.ids_in_split("train")
    ids = ids[: cfg.data.train_limit] if cfg.data.train_limit else ids
    if not ids:
        raise UserError(f"{cfg.data.mbpp_file}: no training tasks (MBPP ids 511-1000)")
    print(f"sandbox: {isolation().describe()}")
    device = resolve_device(cfg.device)
    model, tokenizer, model_path = load_code_lm(cfg.model, device)
    rewards: list[Any] = [PassRateReward(bench, Limits(timeout_s=cfg.timeout_s), cfg.workers, run.path / SAMPLES_FILE)]
    if cfg.disc_weight > 0:
        from sparring.llm.discriminators import EncoderDiscriminator, resolve_encoder
        from sparring.llm.reward import DiscriminatorReward

        disc = EncoderDiscriminator(resolve_encoder("minilm"), 256).to(device)
        rewards.append(DiscriminatorReward(disc, torch.optim.AdamW(disc.parameters(), lr=cfg.disc_lr), "bce", 1))
    run.path.mkdir(parents=True, exist_ok=True)
    if not resume:
        run.write_config({**dataclasses.asdict(cfg), "model_path": model_path, "train_task_ids": ids})
    torch.manual_seed(cfg.seed)
    dataset = Dataset.from_dict(
        {
            "prompt": [bench.tasks[t].prompt for t in ids],
            "task_id": ids,
            "instruction": [bench.tasks[t].prompt for t in ids],
            "response": [bench.tasks[t].reference for t in ids],
        }
    )
    args = GRPOConfig(
        output_dir=str(run.path / "checkpoints"),
        max_steps=cfg.steps,
        per_device_train_batch_size=cfg.num_generations,
        gradient_accumulation_steps=cfg.prompts_per_step,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_new_tokens,
        temperature=cfg.temperature,
        learning_rate=cfg.lr,
        lr_scheduler_type="constant",
        beta=cfg.beta,
        reward_weights=[1.0, cfg.disc_weight] if cfg.disc_weight > 0 else None,
        logging_steps=1,
        save_strategy="steps",
        save_steps=cfg.checkpoint_every,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=False,
        fp16=False,
        use_cpu=device == "cpu",
        report_to="none",
    )
    started = time.perf_counter()
    trainer = GRPOTrainer(
        model=model, reward_funcs=rewards, args=args, train_dataset=dataset, processing_class=tokenizer, callbacks=[_callback(run, started)]
    )
    resume_from = last_checkpoint(run.path / "checkpoints", "trainer_state.json") if resume else None
    if resume_from is not None:
        saved_step = int(resume_from.name.split("-")[-1])
        run.keep_metrics(lambda row: row.get("step", 0) <= saved_step)
        keep_jsonl_rows(run.path / SAMPLES_FILE, lambda row: (row.get("step") or 0) <= saved_step)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    save_model(trainer.model, tokenizer, run.path / "model")
    rows = run.read_metrics()
    from sparring.code.plots import plot_rlvr_curves

    plot_rlvr_curves(rows, run.curves_path)
    window = max(1, min(3, len(rows)))
    rates = [r["pass_rate"] for r in rows]
    summary = {
        "algo": "rlvr",
        "steps": cfg.steps,
        "pass_rate_first": sum(rates[:window]) / window if rates else float("nan"),
        "pass_rate_last": sum(rates[-window:]) / window if rates else float("nan"),
        "wall_time_s": round(time.perf_counter() - started, 1),
    }
    run.write_summary(summary)
    return summary
