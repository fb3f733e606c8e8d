"""D's pre-training in ``align``: the critic learns real vs the starting policy's answers before the
generator moves, so its first rewards mean something; checkpointed as its own phase."""

from __future__ import annotations

import random
from typing import Any

from sparring.llm.config import AlignConfig
from sparring.runs import RunWriter

D_PRETRAIN = "d_pretrain"  # RUN_DIR/checkpoints/d_pretrain/step-N


def pretrain_or_restore_discriminator(
    writer: RunWriter, cfg: AlignConfig, policy: Any, tokenizer: Any, pairs: Any, disc: Any, d_optimizer: Any, start: dict | None = None
) -> dict[str, Any]:
    """D learns real vs the starting policy's answers before the generator moves, so its first rewards
    mean something; a resumed run reloads that D instead. ``start``: where the logs stood before
    (after an SFT warm-up). Returns where they stood after it."""
    from sparring.checkpoints import restore_rng, rng_state

    checkpoints = writer.dir.checkpoints(D_PRETRAIN, enabled=writer.is_main)
    last = checkpoints.latest() if writer.resumed else None
    if last is not None:
        disc.load_state_dict(last["disc"])
        d_optimizer.load_state_dict(last["optimizer"])
        restore_rng(last["rng"])
        return last.state["log"]
    writer.rewind(start)  # rows of an attempt that died during pre-training
    if cfg.disc.pretrain_steps:
        _pretrain_discriminator(cfg, policy, tokenizer, pairs, disc, d_optimizer, writer)
    position = writer.rows()
    payloads = {"disc": disc.state_dict(), "optimizer": d_optimizer.state_dict(), "rng": rng_state()}
    checkpoints.save(cfg.disc.pretrain_steps, payloads, {"log": position})
    return position


def _pretrain_discriminator(
    cfg: AlignConfig, policy: Any, tokenizer: Any, pairs: Any, disc: Any, d_optimizer: Any, writer: RunWriter
) -> None:
    """D learns real vs the starting policy's answers before the generator moves."""
    from sparring.critics.discriminators import discriminator_step
    from sparring.critics.reward import capped_shares, cut_to_cap
    from sparring.hf.generation import chat_prompt, generate
    from sparring.precision import model_precision

    d, g = cfg.disc, cfg.generation
    n = min(len(pairs.train_prompts), d.pretrain_steps * d.pretrain_batch)
    prompts = [chat_prompt(tokenizer, cfg.model.system_prompt, p) for p in pairs.train_prompts[:n]]
    precision = model_precision(cfg.precision, policy)
    with precision.autocast():
        fake = generate(
            policy, tokenizer, prompts, g.max_new_tokens, g.temperature, g.top_p, g.batch_size, cfg.seed + 104729, "D negatives"
        )
    rng = random.Random(cfg.seed + 2)
    for step in range(1, d.pretrain_steps + 1):
        pick = [rng.randrange(n) for _ in range(d.pretrain_batch)]
        real = cut_to_cap((tokenizer, g.max_new_tokens), [pairs.train_responses[i] for i in pick])  # cut where generated ones are
        negatives = [fake[i] for i in pick]
        loss, acc = discriminator_step(disc, d_optimizer, d.loss, [pairs.train_prompts[i] for i in pick], real, negatives, precision)
        row = {"step": step, "phase": "d_pretrain", "d_loss": loss, "d_accuracy": acc}
        row.update(capped_shares((tokenizer, g.max_new_tokens), real, None, negatives))  # the length shortcut, per batch
        writer.log(row, guard=("d_loss",), where=f"D pre-training step {step}")
