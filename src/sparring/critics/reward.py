"""The discriminator as a TRL reward callable, and D's own step of the game on what it scored.

TRL calls a reward function with the prompts, the completions and every dataset column repeated
per completion. So the real response for each completion's prompt (column ``response``) arrives
next to the completion, which is exactly the (real, generated) pair D needs. The game, as the
trainer runs it (``sparring.hf.grpo.SparringGRPOTrainer.training_step``):

1. **score** (``__call__``): the current D scores the completions; that is the generator's reward;
2. **generator step**: GRPO on those rewards (TRL);
3. **discriminator step** (``update``): ``d_steps`` D updates on the (real, generated) pairs just scored.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from sparring.critics.discriminators import discriminator_step
from sparring.critics.losses import discriminator_reward
from sparring.hf.grpo import completion_text
from sparring.precision import FP32, Precision


class DiscriminatorReward:
    __name__ = "discriminator"  # TRL names the logged reward column after this

    def __init__(
        self,
        disc: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_kind: str,
        d_steps: int,
        precision: Precision = FP32,
        length_cap: tuple[Any, int] | None = None,
    ) -> None:
        self.disc = disc
        # (tokenizer, max_new_tokens): each batch also reports the share of real and of generated
        # answers as long as the cap (a D that reads truncation would win on it)
        self.length_cap = length_cap
        self.precision = precision  # bf16: D's forward passes under autocast, rewards and losses in float32
        self.optimizer = optimizer
        self.loss_kind = loss_kind
        self.d_steps = d_steps
        self.seconds = 0.0  # D time (scoring + updates) since the last read, for the cost report
        self.last: dict[str, float] = {}  # D's loss, accuracy and mean P(real) of its last step: the logged row shows them
        self.pending: tuple[list[str], list[str], list[str]] | None = None  # scored, not yet learned from

    def __call__(
        self, prompts: list[Any], completions: list[Any], instruction: list[str], response: list[str], **kwargs: Any
    ) -> list[float]:
        started = time.perf_counter()
        texts = [completion_text(c) for c in completions]
        self.disc.eval()
        with torch.no_grad(), self.precision.autocast():
            scores = self.disc(instruction, texts).float()
        rewards = discriminator_reward(self.loss_kind, scores).float().cpu()
        self.pending = (list(instruction), list(response), texts)
        self.last = {"p_real": float(torch.sigmoid(scores).mean())}
        if self.length_cap is not None:
            self.last.update(capped_shares(self.length_cap, response, kwargs.get("completion_ids"), texts))
        self.seconds += time.perf_counter() - started
        return rewards.tolist()

    def update(self) -> None:
        """D's step: ``d_steps`` updates on the pairs scored last (after the generator's step on them)."""
        if self.pending is None:
            return
        started = time.perf_counter()
        instruction, response, texts = self.pending
        self.pending = None
        if self.length_cap is not None:  # D never sees a real answer longer than a generated one can be
            response = cut_to_cap(self.length_cap, response)
        losses, accuracies = [], []
        for _ in range(self.d_steps):
            loss, acc = discriminator_step(self.disc, self.optimizer, self.loss_kind, instruction, response, texts, self.precision)
            losses.append(loss)
            accuracies.append(acc)
        self.last.update(d_loss=sum(losses) / len(losses), d_accuracy=sum(accuracies) / len(accuracies))
        self.seconds += time.perf_counter() - started

    def take_seconds(self) -> float:
        seconds, self.seconds = self.seconds, 0.0
        return seconds


def capped_shares(length_cap: tuple[Any, int], real: list[str], completion_ids: list[Any] | None, texts: list[str]) -> dict[str, float]:
    """``real_capped_share`` and ``fake_capped_share`` of one D batch: answers of at least ``cap`` tokens
    (the generated ones counted on their own token ids when TRL passes them, else re-tokenised)."""
    tokenizer, cap = length_cap

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    fake = [len(ids) for ids in completion_ids] if completion_ids is not None else [count(t) for t in texts]
    real_lengths = [count(t) for t in real]
    return {
        "real_capped_share": sum(n >= cap for n in real_lengths) / len(real_lengths),
        "fake_capped_share": sum(n >= cap for n in fake) / len(fake),
    }


def cut_to_cap(length_cap: tuple[Any, int], texts: list[str]) -> list[str]:
    """Each text cut to its first ``cap`` tokens (the generation cap), so that a real answer longer than
    the cap reaches D cut where a generated one would be: D never sees a truncation on one side only."""
    tokenizer, cap = length_cap
    out = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        out.append(text if len(ids) <= cap else tokenizer.decode(ids[:cap], skip_special_tokens=True))
    return out
