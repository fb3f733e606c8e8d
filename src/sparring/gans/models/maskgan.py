"""MaskGAN's networks (Fedus, Goodfellow and Dai, ICLR 2018): an in-filling encoder-decoder and a
per-token discriminator with a critic head.

Both read a sentence whose masked positions are replaced by a ``<mask>`` token (id ``vocab_size``)
through a bidirectional LSTM encoder; the decoder at position t reads the previous output token
and the encoder's state at t. The paper's decoder attends over the encoder; here the positions are
aligned one to one (a filled sentence has the masked one's length), so the encoder state of the
same position is given directly instead of an attention over all of them.

- ``InfillingGenerator.fill`` copies every unmasked token and samples the masked ones left to right,
  each conditioned on everything before it and on the whole masked sentence.
- With every position masked it is an unconditional generator: ``generate`` and ``weighted_nll``
  (NLL-test, NLL-valid) use that, so MaskGAN enters the family table like the other models.
- ``mle_loss`` is the paper's MaskMLE: teacher-forced NLL of the masked tokens of real sentences
  under fresh random contiguous masks (``mask_rate``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sparring.data.text import eos_mask
from sparring.gans.models.fused_output import linear_cross_entropy
from sparring.gans.models.lstm import shift_right


def contiguous_mask(tokens: torch.Tensor, rate: float, eos: int | None) -> torch.Tensor:
    """One contiguous masked span per row (B, T) bool, of ceil(rate * L) positions at a uniformly drawn
    start, L being the row's length (up to and including its first ``eos`` on text, T on the oracle).
    ``rate`` 1 masks every position, padding included: the unconditional generator."""
    batch, seq_len = tokens.shape
    if rate >= 1.0:
        return torch.ones(batch, seq_len, dtype=torch.bool, device=tokens.device)
    lengths = torch.full((batch,), seq_len, device=tokens.device) if eos is None else eos_mask(tokens, eos).sum(dim=1).long()
    span = torch.clamp(torch.ceil(lengths.float() * rate).long(), min=1)
    start = (torch.rand(batch, device=tokens.device) * (lengths - span + 1).float()).long()
    positions = torch.arange(seq_len, device=tokens.device).unsqueeze(0)
    return (positions >= start.unsqueeze(1)) & (positions < (start + span).unsqueeze(1))


class _MaskedReader(nn.Module):
    """Embedding and bidirectional encoder of a masked sentence, shared by generator and discriminator."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.mask_token = vocab_size
        self.start_token = vocab_size + 1
        self.embedding = nn.Embedding(vocab_size + 2, emb_dim)
        self.encoder = nn.LSTM(emb_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.decoder = nn.LSTM(emb_dim + 2 * hidden_dim, hidden_dim, batch_first=True)

    def encode(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Encoder states (B, T, 2H) of ``tokens`` with the ``mask`` positions hidden."""
        return self.encoder(self.embedding(tokens.masked_fill(mask, self.mask_token)))[0]


class InfillingGenerator(_MaskedReader):
    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int, mask_rate: float, eos: int | None) -> None:
        super().__init__(vocab_size, emb_dim, hidden_dim)
        self.output = nn.Linear(hidden_dim, vocab_size)
        self.mask_rate = mask_rate
        self.eos = eos

    def hidden_states(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoder states (B, T, H): position t has read the masked sentence and tokens[:, :t]."""
        inputs = torch.cat([self.embedding(shift_right(tokens, self.start_token)), self.encode(tokens, mask)], dim=-1)
        return self.decoder(inputs)[0]

    def logits(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V): position t predicts ``tokens[:, t]``."""
        return self.output(self.hidden_states(tokens, mask))

    def token_logprobs(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log G(tokens_t | ...) per position (B, T), differentiable."""
        return torch.log_softmax(self.logits(tokens, mask), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Unconditional teacher-forced logits (everything masked), like the LSTM generators' ``forward``."""
        return self.logits(tokens, torch.ones_like(tokens, dtype=torch.bool))

    def weighted_nll(self, tokens: torch.Tensor, token_weights: torch.Tensor | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Unconditional NLL (everything masked): the mean, or the sum of weight * NLL with ``token_weights``;
        through the fused output layer (no (B, T, V) logits)."""
        return self.masked_nll(tokens, torch.ones_like(tokens, dtype=torch.bool), token_weights, temperature)

    def masked_nll(self, tokens: torch.Tensor, mask: torch.Tensor, token_weights: torch.Tensor | None, temperature: float) -> torch.Tensor:
        """Teacher-forced NLL of ``tokens`` given the sentence masked by ``mask``: the sum of weight * NLL (the mean without weights)."""
        hidden = self.hidden_states(tokens, mask)
        w, b = self.output.weight / temperature, self.output.bias / temperature
        weights = None if token_weights is None else token_weights.reshape(-1)
        return linear_cross_entropy(hidden.reshape(-1, hidden.shape[-1]), w, b, tokens.reshape(-1), weights)

    def mle_loss(self, tokens: torch.Tensor, token_weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """MaskMLE: the mean NLL of the masked tokens (that count) under a fresh random contiguous mask."""
        mask = contiguous_mask(tokens, self.mask_rate, self.eos)
        weights = mask.float() if token_weights is None else mask.float() * (token_weights > 0).float()
        loss = self.masked_nll(tokens, mask, weights / weights.sum().clamp_min(1), 1.0)
        return loss, loss

    @torch.no_grad()
    def fill(
        self, tokens: torch.Tensor, mask: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``tokens`` with the ``mask`` positions sampled left to right; unmasked positions are copied."""
        enc = self.encode(tokens, mask)
        out = tokens.clone()
        prev = torch.full_like(tokens[:, 0], self.start_token)
        state = None
        for t in range(tokens.shape[1]):
            x = torch.cat([self.embedding(prev), enc[:, t]], dim=-1).unsqueeze(1)
            h, state = self.decoder(x, state)
            probs = torch.softmax(self.output(h[:, 0]) / temperature, dim=-1)
            drawn = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            out[:, t] = torch.where(mask[:, t], drawn, tokens[:, t])
            prev = out[:, t]
        return out

    def generate(self, n: int, seq_len: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` unconditional sequences: everything masked."""
        device = self.output.weight.device
        blank = torch.zeros(n, seq_len, dtype=torch.long, device=device)
        return self.fill(blank, torch.ones_like(blank, dtype=torch.bool), temperature, generator)


class InfillingDiscriminator(_MaskedReader):
    """Per-token logits that each token of a filled sentence is the real one, given the masked sentence,
    and the critic's value of each prefix (the expected return from position t on, before reading it)."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int) -> None:
        super().__init__(vocab_size, emb_dim, hidden_dim)
        self.real_head = nn.Linear(hidden_dim, 1)
        self.value_head = nn.Linear(hidden_dim, 1)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(real logits (B, T), values (B, T)); position t's logit has read tokens[:, :t+1], its value tokens[:, :t].
        The critic reads D's states detached: its loss does not shape D's features."""
        inputs = torch.cat([self.embedding(tokens), self.encode(tokens, mask)], dim=-1)
        states = self.decoder(inputs)[0]
        before = torch.cat([torch.zeros_like(states[:, :1]), states[:, :-1]], dim=1).detach()
        return self.real_head(states).squeeze(-1), self.value_head(before).squeeze(-1)


def unique_share(tokens: list[int]) -> float:
    """Distinct filled tokens over filled tokens (the paper's mode-collapse measure, on 1-grams)."""
    return len(set(tokens)) / len(tokens) if tokens else math.nan
