"""The category-conditional models' own evaluation: metrics per category and category faithfulness.

Faithfulness asks whether a sentence generated for category k reads as category k. The judge is a
classifier fit on held-out real sentences (the validation split, which no generator trains on):
TF-IDF of word 1- and 2-grams and a logistic regression (scikit-learn). Its accuracy on the test
split is reported beside it, so a faithfulness figure is read against what the judge can tell.
"""

from __future__ import annotations

from typing import Any

import torch

from sparring.gans.corpus import Corpus
from sparring.gans.engine import category_labels, sample
from sparring.gans.nll import per_token_nll
from sparring.metrics.bleu import bleu

CATEGORY_BLEU = 4  # the BLEU order of the per-category rows


class CategoryJudge:
    """The faithfulness classifier of a labelled corpus, fit once on its validation split."""

    def __init__(self, data: Corpus) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.names = data.label_names
        self.model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1), LogisticRegression(max_iter=1000))
        self.model.fit(data.decode(data.valid), category_labels(data, "valid").tolist())
        predicted = self.model.predict(data.decode(data.test))
        truth = category_labels(data, "test").tolist()
        self.test_accuracy = sum(int(p == t) for p, t in zip(predicted, truth, strict=True)) / len(truth)

    def share_of(self, sentences: list[str], k: int) -> float | None:
        """The share of ``sentences`` the judge assigns to category ``k``."""
        if not sentences:
            return None
        return float((self.model.predict(sentences) == k).mean())


def category_metrics(gen: Any, data: Corpus, eval_cfg: Any, judge: CategoryJudge | None) -> dict[str, Any]:
    """Per category: NLL-test of its test sentences under its own model, BLEU-4 of its samples against
    its test sentences, and (with a judge) the share of its samples the judge assigns to it; plus
    ``category_faithfulness``, their mean over categories. Nothing on a corpus without categories."""
    if not data.label_names:
        return {}
    per_category, shares = {}, []
    test_labels = category_labels(data, "test")
    n = max(2, eval_cfg.n_bleu // data.n_categories)
    for k, name in enumerate(data.label_names):
        model = gen.for_category(k)
        test = data.test[test_labels == k]
        samples = data.clean(model.generate(n, data.seq_len, eval_cfg.temperature))
        references = [data.test_sentences[i] for i in (test_labels == k).nonzero().squeeze(1).tolist()]
        words = data.words(samples)
        row = {
            "nll_test": per_token_nll(model, test, data.mask(test), temperature=eval_cfg.temperature) if len(test) else None,
            f"bleu_{CATEGORY_BLEU}": bleu(words, references, (CATEGORY_BLEU,))[CATEGORY_BLEU] if references else None,
        }
        if judge is not None:
            row["faithfulness"] = judge.share_of(data.decode(samples), k)
            shares.append(row["faithfulness"])
        per_category[name] = row
    out: dict[str, Any] = {"category_metrics": per_category}
    if judge is not None:
        out["category_faithfulness"] = sum(shares) / len(shares)
        out["category_judge_test_accuracy"] = judge.test_accuracy
    return out


def samples_by_category(gen: Any, data: Corpus, n: int, temperature: float) -> list[str]:
    """``samples.txt`` of a conditional run: n/K sentences of each category, as 'category<TAB>sentence'."""
    lines = []
    for k, name in enumerate(data.label_names):
        tokens = sample(gen.for_category(k), max(1, n // data.n_categories), data, temperature)
        lines += [f"{name}\t{sentence}" for sentence in data.decode(tokens)]
    return lines


@torch.no_grad()
def set_prior(gen: Any, data: Corpus) -> None:
    """The mixture's prior: the training split's category shares."""
    gen.prior.copy_(data.category_prior().to(gen.prior.device))
