"""The discriminator as a TRL reward callable that also trains itself on the batch it scores.

TRL calls a reward function with the prompts, the completions and every dataset column repeated
per completion. So the real response for each completion's prompt (column ``response``) arrives
next to the completion, which is exactly the (real, generated) pair D needs: one call scores the
completions with the current D (that is the generator's reward) and then takes ``d_steps`` D
updates on those pairs. Scoring happens before the update, as in a GAN's alternating game.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from sparring.llm.discriminators import discriminator_step
from sparring.llm.losses import discriminator_reward


def completion_text(completion: Any) -> str:
    """TRL passes conversational completions as [{"role": "assistant", "content": ...}]."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


class DiscriminatorReward:
    __name__ = "discriminator"  # TRL names the logged reward column after this

    def __init__(self, disc: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_kind: str, d_steps: int) -> None:
        self.disc = disc
        self.optimizer = optimizer
        self.loss_kind = loss_kind
        self.d_steps = d_steps
        self.seconds = 0.0  # D time (scoring + updates) since the last read, for the cost report
        self.last: dict[str, float] = {}

    def __call__(
        self, prompts: list[Any], completions: list[Any], instruction: list[str], response: list[str], **kwargs: Any
    ) -> list[float]:
        started = time.perf_counter()
        texts = [completion_text(c) for c in completions]
        self.disc.eval()
        with torch.no_grad():
            scores = self.disc(instruction, texts)
        rewards = discriminator_reward(self.loss_kind, scores).float().cpu()
        losses, accuracies = [], []
        for _ in range(self.d_steps):
            loss, acc = discriminator_step(self.disc, self.optimizer, self.loss_kind, instruction, response, texts)
            losses.append(loss)
            accuracies.append(acc)
        self.seconds += time.perf_counter() - started
        self.last = {
            "d_loss": sum(losses) / len(losses),
            "d_acc": sum(accuracies) / len(accuracies),
            "p_real": float(torch.sigmoid(scores).mean()),
        }
        log_metric = kwargs.get("log_metric")
        if log_metric is not None:
            for name, value in self.last.items():
                log_metric(name, value)
        return rewards.tolist()

    def take_seconds(self) -> float:
        seconds, self.seconds = self.seconds, 0.0
        return seconds
