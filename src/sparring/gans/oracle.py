"""The synthetic oracle benchmark: a seeded random LSTM and its cached training and test samples.

The oracle's parameters come from NumPy's platform-independent generator, so they are identical
everywhere. Its samples come from a torch generator seeded from the oracle seed, so they are
identical on the same machine and torch version; the cache key therefore includes every parameter
that affects them, the torch version and the device type.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import torch

from sparring.cache import cache_dir
from sparring.files import atomic_torch_save
from sparring.gans.models.lstm import LSTMLanguageModel, sample_sequences, seeded_normal_lm

CACHE_VERSION = 1


@dataclass
class OracleData:
    oracle: LSTMLanguageModel
    train: torch.Tensor  # (n_train, seq_len) token ids
    test: torch.Tensor  # (n_test, seq_len), a separate sample, used only for NLL-test and the floor
    valid: torch.Tensor  # (n_valid, seq_len), a third sample: model selection and D's held-out accuracy


def build_oracle(cfg: Any) -> LSTMLanguageModel:
    return seeded_normal_lm(cfg.vocab_size, cfg.emb_dim, cfg.hidden_dim, cfg.seed).eval()


def cache_key(cfg: Any) -> str:
    fields = {**asdict(cfg), "version": CACHE_VERSION, "torch": torch.__version__}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def _sample_split(oracle: LSTMLanguageModel, cfg: Any, n: int, stream: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + stream)
    return sample_sequences(oracle.params(), n, cfg.seq_len, temperature=1.0, generator=generator)


def load_oracle_data(cfg: Any, device: str | torch.device = "cpu") -> OracleData:
    """The oracle and its train/test/validation samples (one seed stream each), from the on-disk cache when present.

    Sampling always happens on the CPU so that the cached data does not depend on the device.
    """
    oracle = build_oracle(cfg)
    path = cache_dir() / "oracle" / f"{cache_key(cfg)}.pt"
    data = None
    if path.exists():
        try:
            data = torch.load(path, weights_only=True)
        except Exception:  # a damaged cache entry is rebuilt, never trusted
            data = None
    if data is None:
        data = {
            "train": _sample_split(oracle, cfg, cfg.n_train, 1),
            "test": _sample_split(oracle, cfg, cfg.n_test, 2),
            "valid": _sample_split(oracle, cfg, cfg.n_valid, 3),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(data, path)
    return OracleData(oracle.to(device), data["train"].to(device), data["test"].to(device), data["valid"].to(device))
