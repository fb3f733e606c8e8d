"""Category-conditional generators: one LSTM per category (SentiGAN) or one LSTM that reads its
category (CatGAN).

Both are also unconditional models, the mixture sum over k of prior_k G(x | k) with the training
split's category shares as the prior: ``generate`` draws a category per row, then a sentence of it,
and ``weighted_nll`` is the mixture's NLL, so NLL-test, BLEU and the frontier of the family table
read them like every other generator. ``for_category(k)`` is the model of one category, with the
``generate`` / ``weighted_nll`` pair the evaluation and ``sparring sample --label`` use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sparring.gans.models.lstm import LSTMLanguageModel, initial_state, lstm_cell, shift_right

MIXTURE_ROWS = 64  # rows per chunk of the mixture's NLL: K x rows x T x V logits at a time


def mixture_nll(per_category_token_nll: torch.Tensor, log_prior: torch.Tensor, token_weights: torch.Tensor) -> torch.Tensor:
    """The mixture's NLL from each category's token NLLs (K, B, T) and 0/1 ``token_weights`` (B, T):
    the sum over sequences of -log sum_k prior_k exp(-sum_t w_t nll_kt)."""
    seq_nll = (per_category_token_nll * token_weights.unsqueeze(0)).sum(dim=-1)  # (K, B)
    return -torch.logsumexp(log_prior.unsqueeze(1) - seq_nll, dim=0).sum()


def chunked_mixture_nll(model: nn.Module, tokens: torch.Tensor, token_weights: torch.Tensor | None, temperature: float) -> torch.Tensor:
    """``weighted_nll`` of a mixture ``model`` (with ``token_nll`` and ``prior``): the sum of weight * NLL,
    or without weights the mean per token, computed MIXTURE_ROWS sequences at a time."""
    weights = torch.ones_like(tokens, dtype=torch.float32) if token_weights is None else token_weights
    total = tokens.new_zeros((), dtype=torch.float32)
    for part, w in zip(tokens.split(MIXTURE_ROWS), weights.split(MIXTURE_ROWS), strict=True):
        total = total + mixture_nll(model.token_nll(part, temperature), model.prior.log(), w)
    return total / tokens.numel() if token_weights is None else total


def _draw_categories(prior: torch.Tensor, n: int, generator: torch.Generator | None) -> torch.Tensor:
    return torch.multinomial(prior, n, replacement=True, generator=generator)


class CategoryGenerators(nn.Module):
    """SentiGAN's K generators, one plain LSTM language model per category."""

    conditional = True

    def __init__(self, n_categories: int, vocab_size: int, emb_dim: int, hidden_dim: int, init_std: float) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.generators = nn.ModuleList(
            [LSTMLanguageModel(vocab_size, emb_dim, hidden_dim).init_normal_(init_std) for _ in range(n_categories)]
        )
        self.register_buffer("prior", torch.full((n_categories,), 1.0 / n_categories))

    @property
    def n_categories(self) -> int:
        return len(self.generators)

    def for_category(self, k: int) -> LSTMLanguageModel:
        return self.generators[k]

    def token_nll(self, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """(K, B, T): every category's token NLLs of ``tokens``."""
        return torch.stack([F.cross_entropy((g(tokens) / temperature).transpose(1, 2), tokens, reduction="none") for g in self.generators])

    def weighted_nll(self, tokens: torch.Tensor, token_weights: torch.Tensor | None = None, temperature: float = 1.0) -> torch.Tensor:
        return chunked_mixture_nll(self, tokens, token_weights, temperature)

    def mle_loss(self, tokens: torch.Tensor, token_weights: torch.Tensor | None, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each sentence trains its own category's generator; the mean NLL over the batch's tokens that count."""
        weights = torch.ones_like(tokens, dtype=torch.float32) if token_weights is None else (token_weights > 0).float()
        total = tokens.new_zeros((), dtype=torch.float32)
        for k, gen in enumerate(self.generators):
            rows = labels == k
            if rows.any():
                total = total + gen.weighted_nll(tokens[rows], weights[rows])
        loss = total / weights.sum().clamp_min(1)
        return loss, loss

    def generate(self, n: int, seq_len: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` sentences of the mixture: a category per row drawn from the prior, then a sentence of it."""
        categories = _draw_categories(self.prior, n, generator)
        out = torch.empty(n, seq_len, dtype=torch.long, device=self.prior.device)
        for k, gen in enumerate(self.generators):
            rows = (categories == k).nonzero().squeeze(1)
            if len(rows):
                out[rows] = gen.generate(len(rows), seq_len, temperature, generator)
        return out


class ConditionalLSTM(nn.Module):
    """CatGAN's generator: one LSTM whose input at every step is the token's embedding and the category's."""

    conditional = True

    def __init__(self, n_categories: int, vocab_size: int, emb_dim: int, hidden_dim: int, init_std: float) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.start_token = vocab_size
        self.embedding = nn.Embedding(vocab_size + 1, emb_dim)
        self.category_embedding = nn.Embedding(n_categories, emb_dim)
        self.lstm = nn.LSTM(2 * emb_dim, hidden_dim, batch_first=True)
        self.output = nn.Linear(hidden_dim, vocab_size)
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, init_std)
        self.register_buffer("prior", torch.full((n_categories,), 1.0 / n_categories))

    @property
    def n_categories(self) -> int:
        return self.category_embedding.num_embeddings

    def logits(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        emb = self.embedding(shift_right(tokens, self.start_token))
        cat = self.category_embedding(labels).unsqueeze(1).expand(-1, tokens.shape[1], -1)
        return self.output(self.lstm(torch.cat([emb, cat], dim=-1))[0])

    def token_nll(self, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        out = []
        for k in range(self.n_categories):
            labels = torch.full((len(tokens),), k, dtype=torch.long, device=tokens.device)
            out.append(F.cross_entropy((self.logits(tokens, labels) / temperature).transpose(1, 2), tokens, reduction="none"))
        return torch.stack(out)

    def weighted_nll(self, tokens: torch.Tensor, token_weights: torch.Tensor | None = None, temperature: float = 1.0) -> torch.Tensor:
        return chunked_mixture_nll(self, tokens, token_weights, temperature)

    def mle_loss(self, tokens: torch.Tensor, token_weights: torch.Tensor | None, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = torch.ones_like(tokens, dtype=torch.float32) if token_weights is None else (token_weights > 0).float()
        nll = F.cross_entropy(self.logits(tokens, labels).transpose(1, 2), tokens, reduction="none")
        loss = (nll * weights).sum() / weights.sum().clamp_min(1)
        return loss, loss

    def relaxed_generate(self, labels: torch.Tensor, seq_len: int, inverse_temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Gumbel-softmax sentences of the given categories: tokens (B, T) and relaxed one-hots (B, T, V),
        the relaxation fed back as the next input (as ``LSTMLanguageModel.relaxed_generate``)."""
        params = dict(self.named_parameters())
        n = len(labels)
        h, c = initial_state(params, n)
        cat = self.category_embedding(labels)
        x = self.embedding.weight[self.start_token].expand(n, -1)
        tokens, soft = [], []
        for _ in range(seq_len):
            h, c = lstm_cell(params, torch.cat([x, cat], dim=-1), h, c)
            logits = self.output(h)
            uniform = torch.rand_like(logits).clamp_(1e-10, 1.0 - 1e-7)
            logits = logits - torch.log(-torch.log(uniform))
            relaxed = torch.softmax(inverse_temperature * logits, dim=-1)
            tokens.append(logits.argmax(dim=-1))
            soft.append(relaxed)
            x = relaxed @ self.embedding.weight[: self.vocab_size]
        return torch.stack(tokens, dim=1), torch.stack(soft, dim=1)

    @torch.no_grad()
    def generate_labelled(
        self, labels: torch.Tensor, seq_len: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        params = dict(self.named_parameters())
        n = len(labels)
        h, c = initial_state(params, n)
        cat = self.category_embedding(labels)
        token = torch.full((n,), self.start_token, dtype=torch.long, device=labels.device)
        out = torch.empty(n, seq_len, dtype=torch.long, device=labels.device)
        for t in range(seq_len):
            h, c = lstm_cell(params, torch.cat([self.embedding(token), cat], dim=-1), h, c)
            probs = torch.softmax(self.output(h) / temperature, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            out[:, t] = token
        return out

    def generate(self, n: int, seq_len: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.generate_labelled(_draw_categories(self.prior, n, generator), seq_len, temperature, generator)

    def for_category(self, k: int) -> _OneCategory:
        return _OneCategory(self, k)


class _OneCategory:
    """A ConditionalLSTM with its category fixed: what the evaluation of one category reads."""

    def __init__(self, model: ConditionalLSTM, k: int) -> None:
        self.model, self.k = model, k
        self.training = model.training

    def _labels(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.full((n,), self.k, dtype=torch.long, device=device)

    def eval(self) -> _OneCategory:
        self.model.eval()
        return self

    def train(self, mode: bool = True) -> _OneCategory:
        self.model.train(mode)
        return self

    def weighted_nll(self, tokens: torch.Tensor, token_weights: torch.Tensor | None = None, temperature: float = 1.0) -> torch.Tensor:
        nll = F.cross_entropy((self.model.logits(tokens, self._labels(len(tokens), tokens.device)) / temperature).transpose(1, 2),
                              tokens, reduction="none")  # fmt: skip
        return nll.mean() if token_weights is None else (nll * token_weights).sum()

    def generate(self, n: int, seq_len: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.model.generate_labelled(self._labels(n, self.model.prior.device), seq_len, temperature, generator)
