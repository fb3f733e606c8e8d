"""``sparring rlvr``: GRPO on programming tasks with the sandbox as the verifier.

TRL's GRPOTrainer does the RL. The reward of a completion is the share of its task's ``assert``
lines that the parent saw hold, calling the completion in the sandbox (``judge``: the program under
test cannot report its own score, so the reward is in [0, 1] whatever it prints or how it exits;
graded rather than all-or-nothing, so a group of weak samples still has signal). With ``disc_weight > 0`` the adversarial discriminator of
``sparring align`` (MiniLM encoder + head, real = the reference solution) adds its reward: RLVR plus
human demonstrations, the "hybrid" objective; D and its optimiser are saved beside every
checkpoint and restored on resume. The pass-rate curve is what compares starts (base,
NTP, RA3): ``metrics.jsonl`` has it per step.

Prompts follow ``prompt_style`` (``sparring.code.prompting``): the MBPP docstring continued as code,
or EvalPlus's chat convention with the code extracted from the answer, exactly as ``eval-code``
asks and judges the same model. Under ``accelerate launch`` TRL shards the prompts and averages the
gradients; rank 0 writes the run, and ``samples.jsonl`` holds rank 0's share of the completions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sparring.code.benchmarks import Benchmark, load_benchmark
from sparring.code.config import RLVRConfig
from sparring.code.judge import Verdict, judge_many
from sparring.code.prompting import default_style, generation_stops, judged_completion, model_prompt
from sparring.code.sandbox import Limits, isolation
from sparring.code.tasks import MBPP_STOP
from sparring.config import to_dict
from sparring.devices import resolve_device
from sparring.errors import UserError
from sparring.files import atomic_torch_save
from sparring.hf.grpo import RunLogCallback, completion_text, grpo_checkpoints, grpo_config, restore, train_from, trainer_class
from sparring.hf.models import load_causal_lm, load_tokenizer, resolve_model, save_model
from sparring.parallel import launch_env
from sparring.precision import resolve_precision
from sparring.runs import check_run, start_run

SAMPLES_FILE = "samples.jsonl"


def programs_seen_by(model: str) -> set[str]:
    """The task ids a start model was trained on: a run directory's ``train_task_ids``, and those of
    the run it started from, back to a plain model (which has seen none that we know of).

    RLVR after mid-training on the same programs rewards recall: in the demo, NTP passed 55% of the
    asserts of the 24 programs it had been trained on and 3% of the 16 it had not."""
    seen: set[str] = set()
    run, hops = Path(model), 0
    while (run / "config.json").is_file() and hops < 16:
        config = json.loads((run / "config.json").read_text())
        if "algo" not in config:  # a Hugging Face model directory, not a run
            break
        seen.update(config.get("train_task_ids", []))
        run, hops = Path(str(config.get("model", ""))), hops + 1
    return seen


def verdict_key(task_id: str, completion: str) -> str:
    """The memo's key: the task and the exact completion text (two tasks never share a verdict)."""
    return hashlib.sha256(json.dumps([task_id, completion]).encode()).hexdigest()


class PassRateReward:
    """A TRL reward callable: the share of each completion's task tests that pass (``judge.Verdict.share``).

    Verdicts are memoised by (task, completion) within a run: a group of 4-8 samples from a small
    model often repeats a completion, and the sandbox is the slowest part of a step. ``hit_rate``
    says how often the memo answered. With ``record`` every judged completion is handed to it (step,
    task, text, share, status, whether the memo answered, and how many tokens the model generated
    before the cut, when TRL passes ``completion_ids``): the run appends them to ``samples.jsonl``,
    so a pass-rate curve can be traced back to what the model wrote, and a completion the length
    cap cut off (``tokens`` equal to ``max_new_tokens``) can be told from one that ended.
    """

    __name__ = "pass_rate"  # TRL logs rewards/pass_rate/mean

    def __init__(
        self,
        benchmark: Benchmark,
        limits: Limits,
        workers: int,
        record: Callable[[dict[str, Any]], None] | None = None,
        style: str = "completion",
    ) -> None:
        self.benchmark, self.limits, self.workers, self.record, self.style = benchmark, limits, workers, record, style
        self.memo: dict[str, Verdict] = {}
        self.lookups = self.hits = 0

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.lookups if self.lookups else None

    def verdicts(self, task_ids: list[str], texts: list[str]) -> tuple[list[Verdict], list[bool]]:
        """The verdict of each (task, completion), judged once per distinct pair; and which came from the memo."""
        keys = [verdict_key(t, text) for t, text in zip(task_ids, texts, strict=True)]
        cached = [k in self.memo for k in keys]
        todo = {k: (t, text) for k, t, text, hit in zip(keys, task_ids, texts, cached, strict=True) if not hit}
        judged = judge_many(self.benchmark, list(todo.values()), self.limits, self.workers, "verifying") if todo else []
        self.memo.update(zip(todo, judged, strict=True))
        self.lookups += len(keys)
        self.hits += len(keys) - len(todo)  # a repeat within the batch is judged once, and counts as a hit
        return [self.memo[k] for k in keys], cached

    def __call__(self, prompts: list[Any], completions: list[Any], task_id: list[str], **kwargs: Any) -> list[float]:
        texts = [judged_completion(self.style, completion_text(c), MBPP_STOP) for c in completions]
        verdicts, cached = self.verdicts(list(task_id), texts)
        if self.record is not None:
            state = kwargs.get("trainer_state")
            step = state.global_step + 1 if state is not None else None  # the optimizer step these completions feed
            lengths = [len(ids) for ids in kwargs["completion_ids"]] if kwargs.get("completion_ids") is not None else [None] * len(texts)
            for t, text, verdict, hit, tokens in zip(task_id, texts, verdicts, cached, lengths, strict=True):
                row = {"step": step, "task_id": t, "completion": text, "pass_share": verdict.share, "status": verdict.status, "memo": hit}
                self.record(row | ({"tokens": tokens} if tokens is not None else {}))
        return [v.share for v in verdicts]


def train_rlvr(cfg: RLVRConfig, out: str | Path, resume: bool = False, report_to: str = "none") -> dict[str, Any]:
    from datasets import Dataset

    rank, _, world_size = launch_env()
    is_main = rank == 0
    if is_main:
        check_run(out, to_dict(cfg), resume, report_to=report_to)
    bench = load_benchmark("mbpp", cfg.data.mbpp_file)
    seen = programs_seen_by(cfg.model) if cfg.skip_start_programs else set()
    ids = [t for t in bench.ids_in_split("train") if t not in seen]
    ids = ids[: cfg.data.train_limit] if cfg.data.train_limit else ids
    if not ids:
        left = f" not seen by {cfg.model} (skip_start_programs=false keeps them)" if seen else ""
        raise UserError(f"{cfg.data.mbpp_file}: no training tasks{left} (MBPP ids 511-1000)")
    device = resolve_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    model_path = resolve_model(cfg.model)
    tokenizer = load_tokenizer(model_path, need_chat_template=False)
    style = default_style(tokenizer) if cfg.prompt_style == "auto" else cfg.prompt_style
    if style == "chat" and not getattr(tokenizer, "chat_template", None):
        raise UserError(f"prompt_style chat: {cfg.model} has no chat template (use prompt_style=completion)")
    model = load_causal_lm(model_path, device)
    facts = {"model_path": model_path, "train_task_ids": ids}
    isolation()  # refused here, before the run directory exists, where nothing would separate the sandbox from this user
    with start_run(out, to_dict(cfg), resume, facts=facts, report_to=report_to, is_main=is_main) as writer:
        if writer.already_complete:
            return writer.dir.read_summary() or {}
        if is_main:
            print(f"sandbox: {isolation().describe()}; {style} prompts")
        writer.declare_log(SAMPLES_FILE)
        record = lambda row: writer.append(SAMPLES_FILE, row)  # noqa: E731 - one line, one job
        pass_rate = PassRateReward(bench, Limits(timeout_s=cfg.timeout_s), cfg.workers, record, style)
        rewards: list[Any] = [pass_rate]
        critic_state: dict[str, Any] = {}
        if cfg.disc_weight > 0:
            from sparring.critics.registry import build_critic
            from sparring.critics.reward import DiscriminatorReward

            disc = build_critic(cfg.disc_kind, encoder="minilm", max_length=256, lm_model=model_path, system_prompt="").to(device)
            d_optimizer = torch.optim.AdamW(disc.parameters(), lr=cfg.disc_lr)
            rewards.append(DiscriminatorReward(disc, d_optimizer, cfg.disc_loss, 1, precision, (tokenizer, cfg.max_new_tokens)))
            critic_state = {"disc": disc, "d_optimizer": d_optimizer}
        torch.manual_seed(cfg.seed)
        dataset = Dataset.from_dict(
            {
                "prompt": [model_prompt(style, tokenizer, bench.tasks[t].prompt) for t in ids],
                "task_id": ids,
                "instruction": [bench.tasks[t].prompt for t in ids],
                "response": [bench.tasks[t].reference for t in ids],
            }
        )
        args = grpo_config(
            grpo_checkpoints(writer).folder,
            steps=cfg.steps,
            prompts_per_step=cfg.prompts_per_step,
            num_generations=cfg.num_generations,
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature,
            lr=cfg.lr,
            beta=cfg.beta,
            reward_weights=[1.0, cfg.disc_weight] if cfg.disc_weight > 0 else None,
            save_every=cfg.checkpoint_every,
            seed=cfg.seed,
            use_cpu=device == "cpu",
            bf16=precision.bf16,
            world_size=world_size,
            loss_type=cfg.loss_type,
            scale_rewards=cfg.scale_rewards,
        )
        critics = tuple(r for r in rewards if hasattr(r, "update"))
        callback = RunLogCallback(writer, critic_state, phase="rl", renames={"rewards/pass_rate/mean": "pass_rate"}, critics=critics)
        trainer = trainer_class()(
            model=model, reward_funcs=rewards, args=args, train_dataset=dataset, processing_class=tokenizer, callbacks=[callback]
        )
        trainer.critics = critics
        trainer.stop_strings = generation_stops(style, MBPP_STOP)  # train on the program the sandbox judges, not what follows
        train_from(trainer, restore(writer, critic_state), cfg.steps)
        if not is_main:
            return {}
        save_model(trainer.model, tokenizer, writer.path / "model")
        if critic_state:
            atomic_torch_save(critic_state["disc"].state_dict(), writer.path / "discriminator.pt")
        rows = writer.dir.read_metrics()
        from sparring.code.plots import plot_rlvr_curves

        plot_rlvr_curves(rows, writer.dir.curves_path)
        window = max(1, min(3, len(rows)))
        rates = [r["pass_rate"] for r in rows]
        summary = {
            "algo": "rlvr",
            "steps": cfg.steps,
            "pass_rate_first": sum(rates[:window]) / window if rates else float("nan"),
            "pass_rate_last": sum(rates[-window:]) / window if rates else float("nan"),
            "prompt_style": style,
            "completions_end_at": list(trainer.stop_strings),  # the stops the trained completions were cut at
            "start_programs_skipped": len(seen),  # the start's own training programs, left out of the prompts
            "verdict_memo_hit_rate": pass_rate.hit_rate,  # of this process (a resumed run starts with an empty memo)
            "isolation_detail": isolation().as_dict(),  # what held the rewarded completions (unsafe_no_isolation among it)
            **precision.record("the policy's GRPO forward passes and generation (TRL's bf16) and the critic's passes"),
        }
        return writer.finish(summary)
