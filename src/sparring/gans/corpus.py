"""One shape for every data source the text GANs train on: the oracle or a real corpus.

Algorithms only see a :class:`Corpus`: fixed-length id tensors for training, validation (model
selection, D's held-out accuracy) and test (reported, never chosen on),
the vocabulary size, and, depending on the source, the oracle (synthetic benchmark) or the word
vocabulary and ``<eos>`` id (real text). That keeps every training loop source-agnostic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import torch

from sparring.data.text import EOS_ID, Vocabulary, encode, eos_mask, pad_after_eos, read_columns, read_sentences, tokenize
from sparring.errors import UserError
from sparring.gans.models.lstm import LSTMLanguageModel
from sparring.gans.oracle import load_oracle_data
from sparring.metrics.diversity import distinct_n


@dataclass
class Corpus:
    train: torch.Tensor  # (n_train, seq_len) token ids
    test: torch.Tensor  # (n_test, seq_len), held out: NLL-test and BLEU references, never trained or chosen on
    valid: torch.Tensor  # (n_valid, seq_len), held out: NLL-valid (model selection) and D's held-out accuracy
    vocab_size: int
    oracle: LSTMLanguageModel | None = None  # synthetic benchmark only
    vocab: Vocabulary | None = None  # real text only
    stats: dict[str, Any] = field(default_factory=dict)
    test_sentences: list[list[str]] = field(default_factory=list)  # tokenised references for BLEU
    # category-conditional data (``text.label_col``): each split's category ids, and their names
    label_names: list[str] = field(default_factory=list)
    train_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    valid_labels: torch.Tensor | None = None

    @property
    def n_categories(self) -> int:
        """Categories of a labelled corpus; 1 otherwise (the conditional models then have one)."""
        return max(1, len(self.label_names))

    def category_prior(self) -> torch.Tensor:
        """The training split's share of each category (uniform 1 without labels)."""
        if self.train_labels is None:
            return torch.ones(1)
        counts = torch.bincount(self.train_labels.cpu(), minlength=self.n_categories).float()
        return counts / counts.sum()

    @property
    def seq_len(self) -> int:
        return self.train.shape[1]

    @property
    def eos(self) -> int | None:
        return EOS_ID if self.vocab is not None else None

    @property
    def is_text(self) -> bool:
        return self.vocab is not None

    def clean(self, generated: torch.Tensor) -> torch.Tensor:
        """Generated rows as a discriminator should see them (padding after ``<eos>`` on text)."""
        return generated if self.eos is None else pad_after_eos(generated, self.eos)

    def mask(self, tokens: torch.Tensor) -> torch.Tensor | None:
        """Which positions count for likelihoods (None: all of them)."""
        return None if self.eos is None else eos_mask(tokens, self.eos)

    def decode(self, tokens: torch.Tensor) -> list[str]:
        if self.vocab is None:
            return [" ".join(map(str, row)) for row in tokens.tolist()]
        return [self.vocab.decode(row) for row in tokens.tolist()]

    def to(self, device: torch.device | str) -> Corpus:
        self.train, self.test, self.valid = self.train.to(device), self.test.to(device), self.valid.to(device)
        if self.train_labels is not None:
            self.train_labels, self.test_labels, self.valid_labels = (
                t.to(device) for t in (self.train_labels, self.test_labels, self.valid_labels)
            )
        return self

    def words(self, tokens: torch.Tensor) -> list[list[str]]:
        """Token rows as word lists (the form BLEU and distinct-n take)."""
        if self.vocab is None:
            return [[str(t) for t in row] for row in tokens.tolist()]
        return [s.split() for s in self.decode(tokens)]


def load_corpus(cfg: Any, device: torch.device | str = "cpu") -> Corpus:
    """The corpus named by ``cfg.data`` ('oracle' or a file / dataset name)."""
    if cfg.data == "oracle":
        data = load_oracle_data(cfg.oracle, device)
        return Corpus(data.train, data.test, data.valid, cfg.oracle.vocab_size, oracle=data.oracle)
    return load_text_corpus(cfg.data, cfg.test, cfg.text, cfg.valid).to(device)


def _tokenised(source: str, text_cfg: Any, split: str) -> list[Any]:
    """Tokenised sentences; with ``text.label_col``, (tokens, label) pairs. Empty ones are dropped."""
    if text_cfg.label_col:
        columns = read_columns(source, [text_cfg.text_col, text_cfg.label_col], split, hint="--text-col/--label-col")
        sentences, labels = columns[text_cfg.text_col], columns[text_cfg.label_col]
    else:
        sentences = read_sentences(source, text_cfg.text_col, split)
        labels = None
    if not sentences:
        raise UserError(f"{source}: is empty (no sentences)")
    tokens = [tokenize(s, text_cfg.lowercase) for s in sentences]
    kept = [t for t in tokens if t] if labels is None else [(t, label) for t, label in zip(tokens, labels, strict=True) if t]
    if not kept:
        raise UserError(f"{source}: no sentences left after dropping empty lines")
    if labels is not None and any(not label.strip() for _, label in kept):
        raise UserError(f"{source}: a row has an empty '{text_cfg.label_col}' (every sentence needs a category)")
    return kept


def _category_ids(labelled: list[tuple[list[str], str]], names: list[str], source: str, column: str) -> torch.Tensor:
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted({label for _, label in labelled if label not in index})
    if unknown:
        raise UserError(f"{source}: category '{unknown[0]}' of column '{column}' is not in the training data ({', '.join(names)})")
    return torch.tensor([index[label] for _, label in labelled], dtype=torch.long)


def _hold_out(words: list[list[str]], fraction: float, seed: int, source: str, flag: str) -> tuple[list[list[str]], list[list[str]]]:
    """(kept, held out): a fixed, seeded share of ``words``, the kept ones in their original order."""
    order = list(range(len(words)))
    random.Random(seed).shuffle(order)
    n = max(1, int(round(len(order) * fraction)))
    if n >= len(order):
        raise UserError(f"{source}: too few sentences ({len(order)}) to hold out a {flag.strip('-')} split; pass {flag}")
    return [words[i] for i in sorted(order[n:])], [words[i] for i in order[:n]]


def _split(
    train_words: list[list[str]], train_source: str, file: str, text_cfg: Any, split: str, seed: int
) -> tuple[list[list[str]], list[list[str]], str]:
    """(training sentences left, the ``split`` sentences, where they came from): the file given with
    ``--test`` / ``--valid``, else a seeded ``text.<split>_fraction`` of the training sentences."""
    if file:
        return train_words, _tokenised(file, text_cfg, "validation" if split == "valid" else split), file
    fraction = getattr(text_cfg, f"{split}_fraction")
    kept, held = _hold_out(train_words, fraction, seed, train_source, f"--{split}")
    return kept, held, f"{train_source} ({len(held)} sentences held out, text.{split}_fraction={fraction})"


def load_text_corpus(train_source: str, test_source: str, text_cfg: Any, valid_source: str = "") -> Corpus:
    """Tokenise, build the vocabulary on the training split only, and encode the three splits.

    Without ``--test`` (``--valid``), a seeded ``text.test_fraction`` (``valid_fraction``) of the
    training sentences is held out; the test share first, with its own seed, so that adding a
    validation split never changes which sentences are test."""
    train_words = _tokenised(train_source, text_cfg, "train")
    train_words, test_words, held_out_from = _split(train_words, train_source, test_source, text_cfg, "test", 0)
    train_words, valid_words, valid_from = _split(train_words, train_source, valid_source, text_cfg, "valid", 1)
    categories: dict[str, Any] = {}
    if text_cfg.label_col:  # (tokens, label) pairs: the labels become id tensors beside the splits
        names = sorted({label for _, label in train_words})
        categories = {
            "label_names": names,
            "train_labels": _category_ids(train_words, names, train_source, text_cfg.label_col),
            "test_labels": _category_ids(test_words, names, test_source or train_source, text_cfg.label_col),
            "valid_labels": _category_ids(valid_words, names, valid_source or train_source, text_cfg.label_col),
        }
        train_words, test_words, valid_words = ([t for t, _ in split] for split in (train_words, test_words, valid_words))
    vocab = Vocabulary.build(train_words, text_cfg.vocab_size)
    train = encode(train_words, vocab, text_cfg.max_len)
    test = encode(test_words, vocab, text_cfg.max_len)
    valid = encode(valid_words, vocab, text_cfg.max_len)
    if test.unk_rate >= 1.0:
        raise UserError(f"{test_source or train_source}: no test word is in the training vocabulary (all are <unk>)")
    references = [w[: text_cfg.max_len] for w in test_words]
    stats = {
        "train_sentences": len(train_words),
        "test_sentences": len(test_words),
        "test_source": held_out_from,
        "valid_sentences": len(valid_words),
        "valid_source": valid_from,
        "vocab_size": len(vocab),
        "max_len": text_cfg.max_len,
        "train_truncated": train.truncated,
        "test_truncated": test.truncated,
        "train_unk_rate": round(train.unk_rate, 5),
        "test_unk_rate": round(test.unk_rate, 5),
        # what a collapsed generator falls short of (report flags samples below 70% of these)
        "test_mean_words": round(sum(map(len, references)) / len(references), 4),
        "test_distinct_2": round(distinct_n(references, 2), 4),
    }
    if categories:
        counts = torch.bincount(categories["train_labels"], minlength=len(categories["label_names"])).tolist()
        stats["categories"] = dict(zip(categories["label_names"], counts, strict=True))
    return Corpus(train.ids, test.ids, valid.ids, len(vocab), vocab=vocab, stats=stats, test_sentences=references, **categories)
