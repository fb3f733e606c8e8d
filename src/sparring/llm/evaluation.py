"""How close generated responses are to real ones, on held-out prompts, before and after training.

- ``c2st_acc``: a classifier two-sample test. A fresh logistic regression on frozen MiniLM
  embeddings is cross-validated on real vs generated responses (folds keep a prompt's responses
  together); 0.5 means it cannot tell them apart.
- ``frechet``: the Frechet distance between Gaussians fitted to the two embedding sets
  (FID's formula on sentence embeddings).
- ``mauve``: MAUVE on the same embeddings (``mauve_score``); 1 = the same distribution.
- ``capped_share``: the share of responses cut at the generation cap (real answers: as long as the
  cap or longer), so a discriminator that wins by reading truncation can be seen.
- distinct-1/2 and Self-BLEU-4 of the generated set (diversity), length statistics.
- the teacher's NLL of the responses (imitation task only), the model's NLL of the real responses
  and KL(policy || reference).

Every metric comes with a 95% interval over held-out prompts (delete-one-prompt jackknife,
``sparring.metrics.intervals``): a prompt's responses rise and fall together."""

from __future__ import annotations

import contextlib
import csv
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sparring.data.text import tokenize
from sparring.metrics.bleu import self_bleu_scores
from sparring.metrics.diversity import distinct_n


def c2st_correct(real: np.ndarray, fake: np.ndarray, folds: int, seed: int, groups: Sequence[int] | None = None) -> np.ndarray:
    """Whether each item (real rows, then fake rows) is classified right by a logistic regression
    that never saw it (cross-validated). With ``groups``, the folds keep all the responses to one
    prompt together, so the classifier cannot recognise a prompt it trained on."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_predict

    x = np.concatenate([real, fake])
    y = np.concatenate([np.ones(len(real)), np.zeros(len(fake))])
    folds = max(2, min(folds, len(real), len(fake)))
    if groups is not None and len(set(groups)) > 1:
        split = GroupKFold(n_splits=min(folds, len(set(groups))), shuffle=True, random_state=seed)
        predicted = cross_val_predict(LogisticRegression(C=1.0, max_iter=2000), x, y, cv=split, groups=list(groups) * 2)
    else:
        split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        predicted = cross_val_predict(LogisticRegression(C=1.0, max_iter=2000), x, y, cv=split)
    return predicted == y


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    root = np.real(root)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


MAUVE_REDO = 2  # k-means restarts per MAUVE (the package's default is 5; the jackknife computes it once per prompt)


def mauve_score(real: np.ndarray, fake: np.ndarray, seed: int) -> float:
    """MAUVE (Pillutla et al., 2021; the ``mauve-text`` package) between two sets of sentence features:
    both are quantised by k-means into n/10 clusters, and the area under the divergence frontier of
    the two histograms is 1 for the same distribution and near 0 for disjoint ones. The features are
    the frozen MiniLM embeddings every other metric here reads (the package's default, GPT-2 large,
    would be a download and a 774M-parameter forward per response)."""
    from mauve import compute_mauve

    with native_stderr_silenced():  # faiss warns on stderr, from C++, for every small clustering
        out = compute_mauve(p_features=real, q_features=fake, kmeans_num_redo=MAUVE_REDO, seed=seed, verbose=False)
    return float(out.mauve)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null for the block: what native code (faiss) writes there is
    dropped; Python exceptions still propagate (they are printed later, by whoever catches them)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def capped_share(lengths: Sequence[int], cap: int) -> float:
    """The share of responses whose token count reaches ``cap``: cut by the length limit, not ended."""
    return float(np.mean([n >= cap for n in lengths])) if len(lengths) else float("nan")


def prompt_clusters(groups: Sequence[int]) -> list[list[int]]:
    """Item indices per prompt, in order of first appearance: the units the intervals resample."""
    by_prompt: dict[int, list[int]] = {}
    for index, group in enumerate(groups):
        by_prompt.setdefault(group, []).append(index)
    return list(by_prompt.values())


def diversity_statistics(responses: Sequence[str]) -> dict[str, Any]:
    """Per-response pieces from which every diversity metric of any subset is computed."""
    words = [tokenize(r) for r in responses]
    nonempty = [i for i, w in enumerate(words) if w]
    self_bleu_of = {}
    if len(nonempty) >= 2:
        self_bleu_of = dict(zip(nonempty, self_bleu_scores([words[i] for i in nonempty], orders=(4,))[4], strict=True))
    return {"words": words, "self_bleu_4": self_bleu_of}


def diversity_on(stats: dict[str, Any], items: Sequence[int]) -> dict[str, float]:
    """distinct-1/2, Self-BLEU-4 and lengths of the responses ``items``.

    Self-BLEU-4 of a subset is the mean of its members' leave-one-out scores against the whole set
    (recomputing the references for every jackknife subset changes them by one response in hundreds)."""
    words = [stats["words"][i] for i in items]
    lengths = [len(w) for w in words]
    bleu4 = [stats["self_bleu_4"][i] for i in items if i in stats["self_bleu_4"]]
    return {
        "distinct_1": distinct_n(words, 1),
        "distinct_2": distinct_n(words, 2),
        "self_bleu_4": float(np.mean(bleu4)) if bleu4 else float("nan"),
        "mean_words": float(np.mean(lengths)),
        "std_words": float(np.std(lengths)),
        "empty_share": float(np.mean([n == 0 for n in lengths])),
    }


def diversity(responses: Sequence[str]) -> dict[str, float]:
    return diversity_on(diversity_statistics(responses), range(len(responses)))


def with_intervals(statistic: Any, clusters: list[list[int]], keys: Sequence[str], progress: str | None = None) -> dict[str, Any]:
    """``statistic(items) -> dict`` on all items, with a 95% jackknife interval over prompts for each of
    ``keys``; ``progress``: the description of a progress bar over the leave-one-prompt-out subsets."""
    from sparring.hf.generation import progress_over
    from sparring.metrics.intervals import jackknife_interval, leave_one_out

    out = dict(statistic([i for c in clusters for i in c]))
    subsets = list(leave_one_out(clusters))
    partial = [statistic(items) for items in (progress_over(subsets, progress) if progress else subsets)]
    out["ci"] = {key: list(jackknife_interval(out[key], [p[key] for p in partial])) for key in keys}
    return out


class SentenceEmbedder:
    """Frozen all-MiniLM-L6-v2 (or any HF encoder), mean-pooled and L2-normalised, as sentence-transformers does."""

    def __init__(self, path: str, device: str = "cpu") -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.device = device

    @torch.no_grad()
    def __call__(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        from sparring.critics.discriminators import mean_pool

        out = []
        for i in range(0, len(texts), batch_size):
            enc = self.tokenizer(list(texts[i : i + batch_size]), padding=True, truncation=True, max_length=256, return_tensors="pt").to(
                self.device
            )
            pooled = mean_pool(self.model(**enc).last_hidden_state, enc["attention_mask"])
            out.append(torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy())
        return np.concatenate(out)


def compare_sets(
    embedder: SentenceEmbedder, real: Sequence[str], generated: Sequence[str], groups: Sequence[int], folds: int, seed: int
) -> dict[str, Any]:
    """Two-sample accuracy, Frechet distance and diversity of ``generated`` against ``real``, each
    with a 95% interval over prompts. ``groups[i]`` is the prompt of ``real[i]`` and ``generated[i]``
    (several responses per prompt on the imitation task)."""
    e_real, e_fake = embedder(real), embedder(generated)
    correct = c2st_correct(e_real, e_fake, folds, seed, groups)
    n = len(real)
    stats = diversity_statistics(generated)

    def statistic(items: Sequence[int]) -> dict[str, float]:
        items = list(items)
        both = items + [i + n for i in items]
        return {"c2st_acc": float(correct[both].mean()), "frechet": frechet_distance(e_real[items], e_fake[items]),
                "mauve": mauve_score(e_real[items], e_fake[items], seed), **diversity_on(stats, items)}  # fmt: skip

    keys = ("c2st_acc", "frechet", "mauve", "distinct_2", "self_bleu_4", "mean_words")
    out = with_intervals(statistic, prompt_clusters(groups), keys, "two-sample test, Frechet, MAUVE")
    out["c2st_low"], out["c2st_high"] = out["ci"]["c2st_acc"]
    return out


def write_predictions(path: Path, prompts: Sequence[str], references: Sequence[str], before: Sequence[str], after: Sequence[str]) -> None:
    """The seed's predictions file, extended: prompt, reference, and the response before and after training."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prompt", "reference", "before", "after"])
        writer.writerows(zip(prompts, references, before, after, strict=True))
