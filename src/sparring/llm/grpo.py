"""The ``reward`` and ``hybrid`` objectives of ``align``: GRPO with the discriminator as reward.

The training loop is TRL's, wired by ``sparring.hf.grpo``. Each step plays the game in order:
D scores the group's completions (the reward), the generator takes its GRPO step on them, then
D takes its own step on those (real, generated) pairs (``DiscriminatorReward.update``). The
dataset carries ``instruction`` and ``response`` columns so that D sees each completion's real
counterpart. Optional: an interleaved SFT loss on real responses (LeakGAN's remedy against mode
collapse). D and its optimiser are saved beside every TRL checkpoint and restored on resume.
"""

from __future__ import annotations

import random
from typing import Any

import torch

from sparring.critics.reward import DiscriminatorReward
from sparring.hf.generation import chat_prompt, conversation, encode_pairs
from sparring.hf.grpo import RunLogCallback, grpo_checkpoints, grpo_config, restore, train_from, trainer_class
from sparring.hf.models import lora_config
from sparring.llm.config import AlignConfig
from sparring.llm.tasks import PairData
from sparring.precision import model_precision
from sparring.runs import RunWriter


def _sft_batches(tokenizer: Any, cfg: AlignConfig, pairs: PairData) -> Any:
    rng = random.Random(cfg.seed + 1)
    prompts = [chat_prompt(tokenizer, cfg.model.system_prompt, p) for p in pairs.train_prompts]
    while True:
        pick = [rng.randrange(len(prompts)) for _ in range(cfg.train.sft_batch)]
        yield encode_pairs(tokenizer, [prompts[i] for i in pick], [pairs.train_responses[i] for i in pick])


def grpo_train(
    cfg: AlignConfig,
    writer: RunWriter,
    model: Any,
    tokenizer: Any,
    pairs: PairData,
    reward: DiscriminatorReward,
    d_optimizer: torch.optim.Optimizer,
    user_reward: Any,
    world_size: int,
    use_cpu: bool,
    before: dict[str, Any] | None,
) -> Any:
    """Run GRPO to ``cfg.train.steps`` (resuming from the last complete checkpoint); returns the policy.
    ``before``: where the logs stood when GRPO began (after D's pre-training), for a resume without a checkpoint."""
    from datasets import Dataset

    t = cfg.train
    dataset = Dataset.from_dict(
        {
            "prompt": [conversation(cfg.model.system_prompt, p) for p in pairs.train_prompts],
            "instruction": pairs.train_prompts,
            "response": pairs.train_responses,
        }
    )
    from accelerate.utils import is_peft_model

    peft_config = None
    if cfg.model.lora and not is_peft_model(model):  # a warm-started adapter is trained as it is
        m = cfg.model
        peft_config = lora_config(m.lora_rank, m.lora_alpha, m.lora_dropout, m.lora_targets)
    args = grpo_config(
        grpo_checkpoints(writer).folder,
        steps=t.steps,
        prompts_per_step=t.prompts_per_step,
        num_generations=t.num_generations,
        max_new_tokens=cfg.generation.max_new_tokens,
        temperature=cfg.generation.temperature,
        top_p=cfg.generation.top_p,
        lr=t.lr,
        beta=t.beta,
        reward_weights=list(t.hybrid_weights) if user_reward is not None else None,
        log_every=t.log_every,
        save_every=t.checkpoint_every,
        seed=cfg.seed,
        use_cpu=use_cpu,
        bf16=model_precision(cfg.precision, model).bf16,
        world_size=world_size,
        show_progress=writer.is_main,
        loss_type=t.loss_type,
        scale_rewards=t.scale_rewards,
    )
    critic_state = {"disc": reward.disc, "d_optimizer": d_optimizer}
    trainer = trainer_class()(
        model=model,
        reward_funcs=[reward] + ([user_reward] if user_reward is not None else []),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[RunLogCallback(writer, critic_state, critics=(reward,))],
    )
    trainer.critics = (reward,)
    if t.sft_coef > 0:
        trainer.sft_coef = t.sft_coef
        trainer.sft_batches = _sft_batches(tokenizer, cfg, pairs)
    if hasattr(reward.disc, "bind"):  # the seed D reads the live (possibly LoRA-wrapped) policy's hidden states
        reward.disc.bind(trainer.model, tokenizer, cfg.model.system_prompt, cfg.disc.max_length)
    train_from(trainer, restore(writer, critic_state, before), t.steps)
    return trainer.model
