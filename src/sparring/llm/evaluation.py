"""How close generated responses are to real ones, on held-out prompts, before and after training.

- ``c2st_accuracy``: a classifier two-sample test. A fresh logistic regression on frozen MiniLM
  embeddings is cross-validated on real vs generated responses; 0.5 means it cannot tell them
  apart. Reported with a 95% Wilson interval over the held-out predictions.
- ``frechet_distance``: the Frechet distance between Gaussians fitted to the two embedding sets
  (FID's formula on sentence embeddings).
- distinct-1/2 and Self-BLEU-4 of the generated set (diversity), length statistics.
- the teacher's NLL of the responses (imitation task only) and KL(policy || reference).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sparring.data.text import tokenize
from sparring.metrics.bleu import self_bleu
from sparring.metrics.diversity import distinct_n


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion; sensible at small n and near 0 or 1."""
    if n == 0:
        return (0.0, 1.0)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def c2st_accuracy(real: np.ndarray, fake: np.ndarray, folds: int, seed: int) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.concatenate([real, fake])
    y = np.concatenate([np.ones(len(real)), np.zeros(len(fake))])
    folds = max(2, min(folds, len(real), len(fake)))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = cross_val_predict(LogisticRegression(C=1.0, max_iter=2000), x, y, cv=split)
    correct = int((predicted == y).sum())
    low, high = wilson_interval(correct, len(y))
    return {"c2st_acc": correct / len(y), "c2st_low": low, "c2st_high": high}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    root = np.real(root)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def diversity(responses: Sequence[str]) -> dict[str, float]:
    words = [tokenize(r) for r in responses]
    lengths = [len(w) for w in words]
    nonempty = [w for w in words if w]
    sb = self_bleu(nonempty, orders=(4,))[4] if len(nonempty) >= 2 else float("nan")
    return {
        "distinct_1": distinct_n(words, 1),
        "distinct_2": distinct_n(words, 2),
        "self_bleu_4": sb,
        "mean_words": float(np.mean(lengths)),
        "std_words": float(np.std(lengths)),
        "empty_share": float(np.mean([n == 0 for n in lengths])),
    }


class SentenceEmbedder:
    """Frozen all-MiniLM-L6-v2 (or any HF encoder), mean-pooled and L2-normalised, as sentence-transformers does."""

    def __init__(self, path: str, device: str = "cpu") -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.device = device

    @torch.no_grad()
    def __call__(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        from sparring.llm.discriminators import mean_pool

        out = []
        for i in range(0, len(texts), batch_size):
            enc = self.tokenizer(list(texts[i : i + batch_size]), padding=True, truncation=True, max_length=256, return_tensors="pt").to(
                self.device
            )
            pooled = mean_pool(self.model(**enc).last_hidden_state, enc["attention_mask"])
            out.append(torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy())
        return np.concatenate(out)


def compare_sets(embedder: SentenceEmbedder, real: Sequence[str], generated: Sequence[str], folds: int, seed: int) -> dict[str, float]:
    e_real, e_fake = embedder(real), embedder(generated)
    return {**c2st_accuracy(e_real, e_fake, folds, seed), "frechet": frechet_distance(e_real, e_fake), **diversity(generated)}


def write_predictions(path: Path, prompts: Sequence[str], references: Sequence[str], before: Sequence[str], after: Sequence[str]) -> None:
    """The seed's predictions file, extended: prompt, reference, and the response before and after training."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt", "reference", "before", "after"])
        writer.writerows(zip(prompts, references, before, after, strict=True))


def evaluation_table(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows real / before / after with the headline metrics, for printing and for the benchmark."""
    rows = []
    for name in ("real", "before", "after"):
        if name in result:
            rows.append({"set": name, **result[name]})
    return rows
