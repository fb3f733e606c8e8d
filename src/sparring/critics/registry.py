"""The critics by name: what ``--disc`` (align) and ``disc_weight`` (rlvr) choose from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from sparring.critics.discriminators import EncoderDiscriminator, LMCritic, SeedDiscriminator, resolve_encoder


def _encoder(encoder: str = "minilm", max_length: int = 256, **_: Any) -> nn.Module:
    return EncoderDiscriminator(resolve_encoder(encoder), max_length)


def _seed(generator_hidden_size: int, seed_heads: int = 4, seed_layers: int = 1, seed_lstm: int = 128, **_: Any) -> nn.Module:
    return SeedDiscriminator(generator_hidden_size, 128, seed_heads, seed_layers, seed_lstm)


def _lm(lm_model: str, system_prompt: str, max_length: int = 256, lm_lora: tuple | None = None, **_: Any) -> nn.Module:
    return LMCritic(lm_model, system_prompt, max_length, lm_lora)


# name -> builder(**settings): a critic takes what it needs from the settings and ignores the rest
CRITICS: dict[str, Callable[..., nn.Module]] = {"encoder": _encoder, "seed": _seed, "lm": _lm}


def build_critic(name: str, **settings: Any) -> nn.Module:
    return CRITICS[name](**settings)
