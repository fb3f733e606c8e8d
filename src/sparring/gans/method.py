"""What the GAN registry holds for one method: everything a command needs to run it by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sparring.config import ConfigKind
from sparring.gans.config import validate


@dataclass(frozen=True)
class GanMethod:
    """One text-GAN method: its settings class (sections that check themselves), named presets,
    training loop ``train(session, cfg, corpus, device, pretrained)`` and network builder
    ``build(cfg, vocab_size, device) -> {name: module}`` (the names its checkpoints use; a
    ``conditional`` method's also takes ``n_categories``)."""

    name: str
    settings: type
    presets: dict[str, dict[str, Any]]
    train: Callable[..., Any]
    build: Callable[..., dict[str, Any]]
    conditional: bool = False  # category-conditional: ``build`` also takes ``n_categories``

    @property
    def kind(self) -> ConfigKind:
        return ConfigKind(self.name, self.settings, self.presets, validate, "gan")
