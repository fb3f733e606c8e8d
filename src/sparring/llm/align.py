"""``sparring align``: the whole run, from inputs to a finished run directory.

Order matters for the run-directory contract: everything the user can get wrong (model directory,
chat template, data columns, empty responses, the hybrid reward's import path) is checked before
RUN_DIR is created, so bad input never leaves a half-written run. Then: the real pairs (imitation:
the teacher's cached answers), D pre-training on base-model answers, the objective, the saved
model/adapter, the before/after evaluation, curves and the summary (written last: a run with
``summary.json`` is finished).

Layout::

    RUN_DIR/config.json  metrics.jsonl  summary.json  samples.csv  curves.png
    RUN_DIR/eval_pairs.jsonl         held-out prompts and real responses (what evaluate uses)
    RUN_DIR/model/                   save_pretrained output: a full model, or a LoRA adapter
    RUN_DIR/discriminator.pt         the trained D
    RUN_DIR/evaluation.json / .md    before/after metrics
    RUN_DIR/checkpoints/             TRL checkpoints (+ D) or the seed objective's checkpoint
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import random
import resource
from pathlib import Path
from typing import Any

from sparring.config import to_dict
from sparring.devices import resolve_device
from sparring.errors import UserError
from sparring.files import atomic_torch_save, atomic_write_text
from sparring.hf.models import save_model
from sparring.llm.before_after import evaluate_run
from sparring.llm.config import AlignConfig, require_llm_stack
from sparring.llm.d_pretrain import pretrain_or_restore_discriminator
from sparring.parallel import launch_env
from sparring.precision import resolve_precision
from sparring.runs import RunDir, RunWriter, check_run, require_algo, start_run


def load_user_reward(spec: str) -> Any:
    """``module:function`` or ``path/to/file.py:function``: a TRL reward callable."""
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise UserError(f"train.hybrid_reward '{spec}': expected module:function or file.py:function")
    try:
        if target.endswith(".py"):
            if not Path(target).is_file():
                raise UserError(f"train.hybrid_reward: no such file {target}")
            module_spec = importlib.util.spec_from_file_location(Path(target).stem, target)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except UserError:
        raise
    except Exception as exc:  # the user's module failed to import
        raise UserError(f"train.hybrid_reward: cannot import {target} ({type(exc).__name__}: {exc})") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise UserError(f"train.hybrid_reward: {target} has no function '{name}'")
    return function


def _rss_gib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def align(cfg: AlignConfig, out: str | Path, resume: bool = False, console: Any = None, report_to: str = "none") -> dict[str, Any]:
    """The whole run: inputs checked, the run claimed, real pairs, D's pre-training, the game, the evaluation."""
    require_llm_stack()
    import torch

    from sparring.critics.registry import build_critic
    from sparring.hf.generation import chat_prompt
    from sparring.hf.models import load_causal_lm, load_tokenizer, resolve_model
    from sparring.llm.tasks import imitation_pairs, load_pairs

    rank, _, world_size = launch_env()
    is_main = rank == 0
    # ---- everything the user can get wrong, before the run directory exists ----------------------
    if is_main:
        check_run(out, to_dict(cfg), resume, report_to=report_to)
    model_path = resolve_model(cfg.model.name)
    critic_path = resolve_model(cfg.disc.model) if cfg.disc.kind == "lm" and cfg.disc.model else model_path  # GAD: the student's
    init_model = check_init(cfg, model_path) if cfg.model.init else None
    if world_size > 1 and (cfg.train.objective in {"sft", "soda"} or cfg.train.sft_warmup_steps):
        raise UserError("SFT and SODA run in one process: run them alone and start a data-parallel run from them with --init")
    template = None
    if cfg.model.chat_template:
        if not Path(cfg.model.chat_template).is_file():
            raise UserError(f"--chat-template {cfg.model.chat_template}: no such file")
        template = Path(cfg.model.chat_template).read_text(encoding="utf-8")
    tokenizer = load_tokenizer(model_path, template)
    chat_prompt(tokenizer, cfg.model.system_prompt, "check")  # a broken template fails here, in one line
    pairs = load_pairs(cfg) if cfg.task.name == "data" else None
    user_reward = load_user_reward(cfg.train.hybrid_reward) if cfg.train.objective == "hybrid" else None

    writer = start_run(out, to_dict(cfg), resume, facts={"model_path": model_path}, report_to=report_to, is_main=is_main)
    with writer:
        if writer.already_complete:
            return writer.dir.read_summary() or {}
        device = resolve_device(cfg.device)
        random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        base = load_causal_lm(model_path, device)
        if pairs is None:
            pairs = imitation_pairs(base, tokenizer, model_path, cfg)  # the teacher is the base model: before any adapter
        eval_file = writer.path / "eval_pairs.jsonl"
        if is_main and not eval_file.exists():
            eval_prompts, eval_responses = held_out_pairs(base, tokenizer, model_path, cfg, pairs)
            lines = (json.dumps({"prompt": p, "response": r}) + "\n" for p, r in zip(eval_prompts, eval_responses, strict=True))
            atomic_write_text(eval_file, "".join(lines))

        # ---- the starting policy: a finished run's, or the base model (with a fresh adapter) -------
        policy = starting_policy(cfg, base, init_model, device)
        if cfg.train.objective == "sft":
            from sparring.llm.sft import sft_train

            policy, _ = sft_train(cfg, writer, policy, tokenizer, pairs, cfg.train.steps, None)
            return finish_align(writer, cfg, policy, tokenizer, None, pairs, model_path, device, writer.elapsed())
        if cfg.train.objective == "soda":
            from sparring.llm.soda import soda_train

            reference = starting_policy(cfg, load_causal_lm(model_path, device), init_model, device).eval() if init_model else None
            if reference is not None:
                reference.requires_grad_(False)
            policy = soda_train(cfg, writer, policy, tokenizer, pairs, model_path, device == "cpu", reference)
            return finish_align(writer, cfg, policy, tokenizer, None, pairs, model_path, device, writer.elapsed())
        start = None
        if cfg.train.sft_warmup_steps:  # GAD's warm-up: the student first imitates the real responses
            from sparring.llm.sft import sft_train

            policy, start = sft_train(cfg, writer, policy, tokenizer, pairs, cfg.train.sft_warmup_steps, None)

        # ---- the discriminator, warmed up on the starting policy's answers ---------------------------
        torch.manual_seed(cfg.seed)
        d = cfg.disc
        m = cfg.model
        disc = build_critic(
            d.kind,
            encoder=d.encoder,
            max_length=d.max_length,
            generator_hidden_size=base.config.hidden_size,
            seed_heads=d.seed_heads,
            seed_layers=d.seed_layers,
            seed_lstm=d.seed_lstm,
            lm_model=critic_path,
            system_prompt=m.system_prompt,
            lm_lora=(m.lora_rank, m.lora_alpha, m.lora_dropout, m.lora_targets) if d.lora else None,
        ).to(device)
        d_optimizer = torch.optim.AdamW(disc.parameters(), lr=cfg.disc.lr)
        if hasattr(disc, "bind"):
            disc.bind(policy, tokenizer, cfg.model.system_prompt, cfg.disc.max_length)
        before = pretrain_or_restore_discriminator(writer, cfg, policy, tokenizer, pairs, disc, d_optimizer, start)

        # ---- the game -----------------------------------------------------------------------------
        if cfg.train.objective == "seed":
            from sparring.llm.seed_objective import seed_train

            policy = seed_train(cfg, writer, policy, tokenizer, pairs, disc, d_optimizer, before)
        else:
            from sparring.critics.reward import DiscriminatorReward
            from sparring.llm.grpo import grpo_train

            cap = (tokenizer, cfg.generation.max_new_tokens)
            reward = DiscriminatorReward(disc, d_optimizer, cfg.disc.loss, cfg.disc.d_steps, resolve_precision(cfg.precision, device), cap)
            policy = grpo_train(
                cfg, writer, policy, tokenizer, pairs, reward, d_optimizer, user_reward, world_size, use_cpu=device == "cpu", before=before
            )
        train_seconds = writer.elapsed()
        if not is_main:
            return {}

        return finish_align(writer, cfg, policy, tokenizer, disc, pairs, model_path, device, train_seconds)


def check_init(cfg: AlignConfig, model_path: str) -> Path:
    """``--init RUN`` checked before anything is written: a finished align run of the same base
    model whose policy has the same form (adapter or full weights) as this run's. Returns its model."""
    run = RunDir.open_existing(cfg.model.init)
    data = run.read_config()
    require_algo(run.path, data.get("algo"), ["align"], "--init")
    if not run.is_complete() or not (run.path / "model").is_dir():
        raise UserError(f"--init {run.path}: the run has not finished (no summary.json or model/)")
    theirs = data.get("model_path")
    if theirs and Path(theirs).resolve() != Path(model_path).resolve() and theirs != model_path:
        raise UserError(f"--init {run.path}: that run trained {theirs}, not this run's base model {model_path}")
    adapter = (run.path / "model" / "adapter_config.json").is_file()
    if adapter != bool(cfg.model.lora):
        form = "a LoRA adapter" if adapter else "full weights"
        raise UserError(f"--init {run.path}: its policy is {form}; give the same --lora setting as that run")
    return run.path / "model"


def starting_policy(cfg: AlignConfig, base: Any, init_model: Path | None, device: str) -> Any:
    """The policy before this run's first step. From ``--init``: the run's adapter on ``base`` (still
    trainable) or its full weights. Otherwise ``base``, with a fresh LoRA adapter when this run trains
    one itself (SFT, the seed objective); GRPO from the base model lets TRL add the adapter."""
    from sparring.hf.models import add_lora, load_causal_lm

    m = cfg.model
    if init_model is not None:
        if not m.lora:
            return load_causal_lm(str(init_model), device)
        from peft import PeftModel

        return PeftModel.from_pretrained(base, str(init_model), is_trainable=True).to(device)
    if m.lora and (cfg.train.objective in {"seed", "sft"} or cfg.train.sft_warmup_steps):
        return add_lora(base, m.lora_rank, m.lora_alpha, m.lora_dropout, m.lora_targets)
    return base


def held_out_pairs(base: Any, tokenizer: Any, model_path: str, cfg: AlignConfig, pairs: Any) -> tuple[list[str], list[str]]:
    """The evaluation's (prompt, real response) rows: one per held-out pair, or on the imitation task
    ``eval.responses_per_prompt`` teacher answers per prompt (the first is the pair's own)."""
    from sparring.llm.tasks import teacher_responses

    k = cfg.eval.responses_per_prompt
    if k == 1 or cfg.task.name != "imitation":
        return list(pairs.eval_prompts), list(pairs.eval_responses)
    draws = [pairs.eval_responses] + [teacher_responses(base, tokenizer, model_path, cfg, pairs.eval_prompts, draw) for draw in range(1, k)]
    return [p for p in pairs.eval_prompts for _ in range(k)], [d[i] for i in range(len(pairs.eval_prompts)) for d in draws]


def finish_align(
    writer: RunWriter,
    cfg: AlignConfig,
    policy: Any,
    tokenizer: Any,
    disc: Any,
    pairs: Any,
    model_path: str,
    device: str,
    train_seconds: float,
) -> dict[str, Any]:
    """The trained model and D saved, the before/after evaluation, the curves, and summary.json last."""
    import torch

    from sparring.llm.plots import plot_align_curves

    save_model(policy, tokenizer, writer.path / "model")
    if disc is not None:  # the sft objective has no discriminator
        atomic_torch_save(disc.state_dict(), writer.path / "discriminator.pt")
    result = evaluate_run(writer.path, policy=policy, tokenizer=tokenizer, cfg=cfg, model_path=model_path, device=device)
    rows = writer.dir.read_metrics()
    plot_align_curves(rows, writer.dir.curves_path)
    training_phase = {"sft": "sft", "soda": "soda"}.get(cfg.train.objective, "adversarial")
    adversarial = [r for r in rows if r.get("phase") == training_phase]
    summary = {
        "algo": "align",
        "objective": cfg.train.objective,
        "init": cfg.model.init or None,
        "sft_warmup_steps": cfg.train.sft_warmup_steps,
        "disc": cfg.disc.kind if disc is not None else None,
        "model": cfg.model.name,
        "task": cfg.task.name if cfg.task.name == "imitation" else cfg.task.data,
        "data": pairs.stats(),
        "steps": cfg.train.steps,
        "wall_time_s": round(writer.elapsed(), 1),
        "train_time_s": round(train_seconds, 1),
        "mean_step_time_s": _mean(adversarial, "step_time"),
        "mean_d_share": _mean(adversarial, "d_share"),
        "peak_rss_gib": round(_rss_gib(), 2),
        "peak_cuda_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None,
        "evaluation": result,
        "final": adversarial[-1] if adversarial else {},
        **resolve_precision(cfg.precision, device).record(
            "the policy's SFT and GRPO forward passes, its generation in training, the critic's passes; the evaluation in fp32"
        ),
    }
    return writer.finish(summary)


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
    return sum(values) / len(values) if values else None
