"""MLE: the teacher-forced baseline. One phase, ``mle``."""

from __future__ import annotations

from typing import Any

import torch

from sparring.gans.config import DEMO_COMMON, SMOKE_COMMON, MLERunConfig
from sparring.gans.corpus import Corpus
from sparring.gans.engine import adam, build_generator, mle_phase
from sparring.gans.method import GanMethod
from sparring.gans.models.lstm import LSTMLanguageModel
from sparring.gans.session import Session


def build_models(cfg: Any, vocab_size: int, device: torch.device) -> dict[str, torch.nn.Module]:
    return {"generator": build_generator(cfg, vocab_size, device)}


def train_mle(session: Session, cfg: Any, data: Corpus, device: torch.device, pretrained: dict | None = None) -> LSTMLanguageModel:
    """Run (or resume) MLE; ``pretrained`` is a generator state dict to continue from."""
    gen = build_models(cfg, data.vocab_size, device)["generator"]
    opt = adam(gen.parameters(), cfg.mle.lr)
    session.track(generator=gen, g_opt=opt)
    if not session.restore() and pretrained is not None:
        gen.load_state_dict(pretrained)
    mle_phase(session, gen, opt, data, cfg)
    return gen


PRESETS: dict[str, dict[str, Any]] = {"paper": {}, "smoke": dict(SMOKE_COMMON), "demo": dict(DEMO_COMMON)}

METHOD = GanMethod("mle", MLERunConfig, PRESETS, train_mle, build_models)
