"""The seed's original generator objective, reproduced as an ablation.

The seed (LLM-Reinforcement-GAN) samples responses, re-encodes them with the generator, and trains
the generator with BCE("real") on D's output, the gradient flowing through the re-encoded hidden
states. Nothing in that gradient touches the sampling distribution directly: the generator can
move its hidden states to fool D without changing what it writes. We keep the objective as it was
(3 D updates per batch, the generator update skipped with probability 0.25) and fix only what was
broken around it: D sees the instruction, padding is masked, and the logged losses are per step.
"""

from __future__ import annotations

import random
import time
from typing import Any

import torch
from rich.progress import Progress

from sparring.checkpoints import restore_rng, rng_state
from sparring.critics.discriminators import SeedDiscriminator, discriminator_step, hidden_state_featurizer
from sparring.critics.losses import seed_generator_loss
from sparring.hf.generation import chat_prompt, generate
from sparring.hf.grpo import weights_finite
from sparring.hf.models import trainable_state
from sparring.llm.config import AlignConfig
from sparring.llm.tasks import PairData
from sparring.runs import RunWriter, TrainingDiverged, check_finite

PHASE = "seed"  # RUN_DIR/checkpoints/seed/step-N


def seed_train(
    cfg: AlignConfig,
    writer: RunWriter,
    model: Any,
    tokenizer: Any,
    pairs: PairData,
    disc: SeedDiscriminator,
    d_optimizer: torch.optim.Optimizer,
    before: dict[str, Any] | None,
) -> Any:
    t, g = cfg.train, cfg.generation
    params = [p for p in model.parameters() if p.requires_grad]
    g_optimizer = torch.optim.AdamW(params, lr=t.lr)
    disc.bind(model, tokenizer, cfg.model.system_prompt, cfg.disc.max_length)
    featurize_with_grad = hidden_state_featurizer(model, tokenizer, cfg.model.system_prompt, cfg.disc.max_length, grad=True)
    rng = random.Random(cfg.seed)
    start = 0
    checkpoints = writer.dir.checkpoints(PHASE)
    last = checkpoints.latest() if writer.resumed else None
    if last is None:
        writer.rewind(before)
    else:
        model.load_state_dict(last["model"], strict=False)
        g_optimizer.load_state_dict(last["g_optimizer"])
        disc.load_state_dict(last["disc"])
        d_optimizer.load_state_dict(last["d_optimizer"])
        restore_rng(last["rng"], rng)
        start = last.step
        writer.rewind(last.state["log"])
    with Progress(disable=False) as bar:
        task = bar.add_task("seed objective", total=t.steps, completed=start)
        for step in range(start + 1, t.steps + 1):
            started = time.perf_counter()
            pick = [rng.randrange(len(pairs.train_prompts)) for _ in range(t.prompts_per_step)]
            instructions = [pairs.train_prompts[i] for i in pick]
            real = [pairs.train_responses[i] for i in pick]
            prompts = [chat_prompt(tokenizer, cfg.model.system_prompt, p) for p in instructions]
            fake = generate(model, tokenizer, prompts, g.max_new_tokens, g.temperature, g.top_p, g.batch_size, cfg.seed * 1000 + step)
            d_started = time.perf_counter()
            d_stats = [discriminator_step(disc, d_optimizer, cfg.disc.loss, instructions, real, fake) for _ in range(t.seed_d_repeats)]
            d_seconds = time.perf_counter() - d_started
            g_loss, p_real = None, None
            if rng.random() >= t.seed_skip_prob:
                model.train()
                hidden, mask = featurize_with_grad(instructions, fake)
                logits = disc.classify(hidden, mask)
                loss = seed_generator_loss(logits)
                check_finite({"g_loss": float(loss)}, None, f"step {step}", writer.path)
                g_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                g_optimizer.step()
                if not weights_finite(model):
                    raise TrainingDiverged(f"training diverged: the weights became non-finite at step {step} (lower the learning rate)")
                g_loss, p_real = float(loss.detach()), float(torch.sigmoid(logits.detach()).mean())
            lengths = [len(tokenizer(f, add_special_tokens=False)["input_ids"]) for f in fake]
            step_time = time.perf_counter() - started
            writer.log(
                {
                    "step": step,
                    "phase": "adversarial",
                    "d_loss": sum(s[0] for s in d_stats) / len(d_stats),
                    "d_accuracy": sum(s[1] for s in d_stats) / len(d_stats),
                    "g_loss": g_loss,
                    "p_real": p_real,
                    "g_skipped": g_loss is None,
                    "completion_length": sum(lengths) / len(lengths),
                    "clipped_ratio": sum(n >= g.max_new_tokens for n in lengths) / len(lengths),
                    "step_time": step_time,
                    "d_seconds": d_seconds,
                    "d_share": d_seconds / step_time,
                }
            )
            if step % t.checkpoint_every == 0 or step == t.steps:
                payloads = {
                    "model": trainable_state(model),
                    "g_optimizer": g_optimizer.state_dict(),
                    "disc": disc.state_dict(),
                    "d_optimizer": d_optimizer.state_dict(),
                    "rng": rng_state(rng),
                }
                checkpoints.save(step, payloads, {"log": writer.rows()})
            bar.advance(task)
    return model
