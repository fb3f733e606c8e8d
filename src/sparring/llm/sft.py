"""Supervised fine-tuning on the real responses: the baseline an adversarial run must beat, and
the warm-up of the GAD protocol (``train.sft_warmup_steps``).

The matching rule with GRPO: an optimiser step takes ``prompts_per_step x num_generations`` real
(prompt, response) pairs, as many sequences as a GRPO step trains on, with the same model, LoRA
setting, learning rate, optimiser (AdamW without weight decay, TRL's default), gradient clipping
(1.0, TRL's ``max_grad_norm``) and number of steps; the prompts are the training prompts GRPO
draws from. The loss is the mean negative log-likelihood per response token of the step's batch,
the prompt masked out (TRL's completion-only loss). Pairs are visited in seeded epochs (every pair
once before any twice), so a resumed run continues with exactly the batches it would have seen.
"""

from __future__ import annotations

import random
import time
from typing import Any

import torch
from rich.progress import Progress

from sparring.checkpoints import restore_rng, rng_state
from sparring.hf.generation import chat_prompt, encode_pairs
from sparring.hf.grpo import weights_finite
from sparring.hf.models import trainable_state
from sparring.hf.sft import sft_step, target_tokens
from sparring.llm.config import AlignConfig
from sparring.llm.tasks import PairData
from sparring.precision import model_precision
from sparring.runs import RunWriter, TrainingDiverged, check_finite

PHASE = "sft"


def visit_order(n: int, count: int, seed: int) -> list[int]:
    """``count`` indices into ``n`` pairs: seeded permutations, one after another."""
    rng, order = random.Random(seed), []
    while len(order) < count:
        epoch = list(range(n))
        rng.shuffle(epoch)
        order.extend(epoch)
    return order[:count]


def sft_train(
    cfg: AlignConfig, writer: RunWriter, model: Any, tokenizer: Any, pairs: PairData, steps: int, before: dict | None
) -> tuple[Any, dict]:
    """``steps`` SFT steps (resuming from this phase's checkpoint); returns the model and where the
    logs stood at the end of the phase (what the next phase cuts back to if it has to start over).
    ``before``: where the logs stood when the phase began. A resumed run whose SFT phase finished
    reloads the weights and leaves the logs alone (a later phase cuts them back to its own checkpoint)."""
    t = cfg.train
    precision = model_precision(cfg.precision, model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=t.lr, weight_decay=0.0)
    per_step, micro = t.prompts_per_step * t.num_generations, t.num_generations
    order = visit_order(len(pairs.train_prompts), steps * per_step, cfg.seed + 11)
    prompts = [chat_prompt(tokenizer, cfg.model.system_prompt, p) for p in pairs.train_prompts]
    checkpoints = writer.dir.checkpoints(PHASE, enabled=writer.is_main)
    start = 0
    last = checkpoints.latest() if writer.resumed else None
    if last is not None:
        model.load_state_dict(last["model"], strict=False)
        if last.step >= steps:  # a finished phase: its rows stay, and so do the later phases'
            return model, last.state["log"]
        optimizer.load_state_dict(last["optimizer"])
        restore_rng(last["rng"])  # LoRA's dropout draws from it
        start = last.step
        writer.rewind(last.state["log"])
    else:
        writer.rewind(before)
    with Progress(disable=not writer.is_main) as bar:
        task = bar.add_task("SFT", total=steps, completed=start)
        for step in range(start + 1, steps + 1):
            started = time.perf_counter()
            picked = order[(step - 1) * per_step : step * per_step]
            batches = [
                encode_pairs(tokenizer, [prompts[i] for i in chunk], [pairs.train_responses[i] for i in chunk])
                for chunk in (picked[k : k + micro] for k in range(0, per_step, micro))
            ]
            tokens = float(sum(target_tokens(b) for b in batches))
            model.train()
            guard = lambda loss, step=step: check_finite({"sft_loss": loss}, None, f"SFT step {step}", writer.path)  # noqa: E731
            loss_value, grad_norm = sft_step(model, optimizer, params, batches, tokens, check=guard, precision=precision)
            if not weights_finite(model):
                raise TrainingDiverged(f"training diverged: the weights became non-finite at SFT step {step} (lower the learning rate)")
            writer.log(
                {
                    "step": step,
                    "phase": PHASE,
                    "sft_loss": loss_value,
                    "grad_norm": grad_norm,
                    "tokens": int(tokens),
                    "step_time": time.perf_counter() - started,
                }
            )
            if step % t.checkpoint_every == 0 or step == steps:
                payloads = {"model": trainable_state(model), "optimizer": optimizer.state_dict(), "rng": rng_state()}
                checkpoints.save(step, payloads, {"log": writer.rows()})
            bar.advance(task)
    return model, writer.rows()
