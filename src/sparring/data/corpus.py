"""One shape for every data source the text GANs train on: the oracle or a real corpus.

Algorithms only see a :class:`Corpus`: fixed-length id tensors for training and held-out test,
the vocabulary size, and, depending on the source, the oracle (synthetic benchmark) or the word
vocabulary and ``<eos>`` id (real text). That keeps every training loop source-agnostic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import torch

from sparring.data.oracle import load_oracle_data
from sparring.data.text import EOS_ID, Vocabulary, encode, eos_mask, pad_after_eos, read_sentences, tokenize
from sparring.errors import UserError
from sparring.models.lstm import LSTMLanguageModel


@dataclass
class Corpus:
    train: torch.Tensor  # (n_train, seq_len) token ids
    test: torch.Tensor  # (n_test, seq_len), held out: NLL-test and BLEU references, never trained on
    vocab_size: int
    oracle: LSTMLanguageModel | None = None  # synthetic benchmark only
    vocab: Vocabulary | None = None  # real text only
    stats: dict[str, Any] = field(default_factory=dict)
    test_sentences: list[list[str]] = field(default_factory=list)  # tokenised references for BLEU

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
        self.train, self.test = self.train.to(device), self.test.to(device)
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
        return Corpus(data.train, data.test, cfg.oracle.vocab_size, oracle=data.oracle)
    return load_text_corpus(cfg.data, cfg.test, cfg.text).to(device)


def _tokenised(source: str, text_cfg: Any, split: str) -> list[list[str]]:
    sentences = read_sentences(source, text_cfg.text_col, split)
    if not sentences:
        raise UserError(f"{source}: is empty (no sentences)")
    tokens = [tokenize(s, text_cfg.lowercase) for s in sentences]
    kept = [t for t in tokens if t]
    if not kept:
        raise UserError(f"{source}: no sentences left after dropping empty lines")
    return kept


def load_text_corpus(train_source: str, test_source: str, text_cfg: Any) -> Corpus:
    """Tokenise, build the vocabulary on the training split only, and encode both splits."""
    train_words = _tokenised(train_source, text_cfg, "train")
    if test_source:
        test_words = _tokenised(test_source, text_cfg, "test")
        held_out_from = test_source
    else:  # no test file: hold out a fixed, seeded share of the training sentences
        order = list(range(len(train_words)))
        random.Random(0).shuffle(order)
        n_test = max(1, int(round(len(order) * text_cfg.test_fraction)))
        if n_test >= len(order):
            raise UserError(f"{train_source}: too few sentences ({len(order)}) to hold out a test split; pass --test")
        test_words = [train_words[i] for i in order[:n_test]]
        train_words = [train_words[i] for i in sorted(order[n_test:])]
        held_out_from = f"{train_source} ({n_test} sentences held out, text.test_fraction={text_cfg.test_fraction})"
    vocab = Vocabulary.build(train_words, text_cfg.vocab_size)
    train = encode(train_words, vocab, text_cfg.max_len)
    test = encode(test_words, vocab, text_cfg.max_len)
    if test.unk_rate >= 1.0:
        raise UserError(f"{test_source or train_source}: no test word is in the training vocabulary (all are <unk>)")
    stats = {
        "train_sentences": len(train_words),
        "test_sentences": len(test_words),
        "test_source": held_out_from,
        "vocab_size": len(vocab),
        "max_len": text_cfg.max_len,
        "train_truncated": train.truncated,
        "test_truncated": test.truncated,
        "train_unk_rate": round(train.unk_rate, 5),
        "test_unk_rate": round(test.unk_rate, 5),
    }
    references = [w[: text_cfg.max_len] for w in test_words]
    return Corpus(train.ids, test.ids, len(vocab), vocab=vocab, stats=stats, test_sentences=references)
