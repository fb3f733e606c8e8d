"""The text-GAN algorithms by name. Each is one module with an explicit training loop.

``ALGORITHMS[name].train(session, cfg, corpus, device, pretrained)`` runs (or resumes) it;
``ALGORITHMS[name].build(cfg, vocab_size, device)`` makes its networks, named as in checkpoints,
so a finished run can be reloaded for sampling and evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from sparring.gans import leakgan, maligan, mle, rankgan, relgan, seqgan
from sparring.gans.engine import build_lstm_gan


@dataclass(frozen=True)
class Algorithm:
    train: Callable[..., Any]
    build: Callable[[Any, int, torch.device], dict[str, torch.nn.Module]]


ALGORITHMS: dict[str, Algorithm] = {
    "mle": Algorithm(mle.train_mle, mle.build_models),
    "seqgan": Algorithm(seqgan.train_seqgan, build_lstm_gan),
    "leakgan": Algorithm(leakgan.train_leakgan, leakgan.build_models),
    "maligan": Algorithm(maligan.train_maligan, build_lstm_gan),
    "rankgan": Algorithm(rankgan.train_rankgan, build_lstm_gan),
    "relgan": Algorithm(relgan.train_relgan, relgan.build_models),
}
