"""The LSTM language model used both as the generator and as the hidden oracle.

Token ids ``0..vocab_size-1`` are words; id ``vocab_size`` is the start token, which is only ever
fed as input (the output layer has ``vocab_size`` rows, so it can never be generated).

Training uses ``nn.LSTM`` (fused kernels). Sampling and Monte Carlo rollouts step the same
equations by hand through :func:`lstm_step`, which reads weights from a plain ``dict`` of
tensors. That is what lets the SeqGAN rollout policy be a lagged *copy of the weights* instead of
a second module tree.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sparring.gans.models.fused_output import linear_cross_entropy
from sparring.gans.models.sampling import sample_from_hidden

Params = dict[str, torch.Tensor]


class LSTMLanguageModel(nn.Module):
    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.start_token = vocab_size
        self.embedding = nn.Embedding(vocab_size + 1, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.output = nn.Linear(hidden_dim, vocab_size)

    def init_normal_(self, std: float, generator: torch.Generator | None = None) -> LSTMLanguageModel:
        """SeqGAN's generator initialisation: every parameter ~ N(0, std)."""
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, std, generator=generator)
        return self

    def hidden_states(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced LSTM outputs (B, T, H); position t has read the start token and tokens[:, :t]."""
        return self.lstm(self.embedding(shift_right(tokens, self.start_token)))[0]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V): position t predicts ``tokens[:, t]`` from ``tokens[:, :t]``."""
        return self.output(self.hidden_states(tokens))

    def weighted_nll(self, tokens: torch.Tensor, token_weights: torch.Tensor | None = None, temperature: float = 1.0) -> torch.Tensor:
        """sum over tokens of weight * -log p(y_t | y_<t); the default weights give the mean NLL.

        Same value as cross-entropy over ``forward``'s logits, without materialising them. With a
        ``temperature``, p is the tempered distribution softmax(logits / T) that sampling at T draws from.
        """
        hidden = self.hidden_states(tokens)
        weights = None if token_weights is None else token_weights.reshape(-1)
        w, b = self.output.weight, self.output.bias
        if temperature != 1.0:
            w, b = w / temperature, b / temperature
        return linear_cross_entropy(hidden.reshape(-1, hidden.shape[-1]), w, b, tokens.reshape(-1), weights)

    def mle_loss(self, tokens: torch.Tensor, token_weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss to minimise, NLL): the same thing for a plain language model."""
        nll = self.weighted_nll(tokens, token_weights)
        return nll, nll

    def generate(self, n: int, seq_len: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` sampled sequences (n, seq_len); no gradient."""
        return sample_sequences(self.params(), n, seq_len, temperature, generator)

    def relaxed_generate(self, n: int, seq_len: int, inverse_temperature: float, gumbel: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens (n, T) and their relaxed one-hots (n, T, V), differentiable in the weights.

        Step t's logits o_t are perturbed by Gumbel noise g_t (``gumbel``); the token is
        argmax(o_t + g_t), a draw from softmax(o_t), and its relaxation softmax(beta (o_t + g_t)).
        The next input is the relaxation's mixture of embeddings, so the gradient runs through
        the whole sequence (GSGAN's Gumbel-softmax; TextGAN's soft-argmax, where beta is large).
        """
        params = dict(self.named_parameters())
        emb = params["embedding.weight"]
        h, c = initial_state(params, n)
        x = emb[self.start_token].expand(n, -1)
        tokens, soft = [], []
        for _ in range(seq_len):
            h, c = lstm_cell(params, x, h, c)
            logits = self.output(h)
            if gumbel:
                uniform = torch.rand_like(logits).clamp_(1e-10, 1.0 - 1e-7)
                logits = logits - torch.log(-torch.log(uniform))
            relaxed = torch.softmax(inverse_temperature * logits, dim=-1)
            tokens.append(logits.argmax(dim=-1))
            soft.append(relaxed)
            x = relaxed @ emb[: self.vocab_size]
        return torch.stack(tokens, dim=1), torch.stack(soft, dim=1)

    def params(self) -> Params:
        """Detached views of the weights, in the form :func:`lstm_step` and the samplers take."""
        return {name: p.detach() for name, p in self.named_parameters()}


def shift_right(tokens: torch.Tensor, start_token: int) -> torch.Tensor:
    start = torch.full_like(tokens[:, :1], start_token)
    return torch.cat([start, tokens[:, :-1]], dim=1)


def lstm_step(params: Params, token: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step with PyTorch's gate order (input, forget, cell, output)."""
    return lstm_cell(params, params["embedding.weight"][token], h, c)


def lstm_cell(params: Params, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``lstm_step`` on an input vector ``x`` (B, E): an embedded token, or a soft mixture of embeddings."""
    gates = torch.addmm(params["lstm.bias_ih_l0"] + params["lstm.bias_hh_l0"], x, params["lstm.weight_ih_l0"].t())
    gates.addmm_(h, params["lstm.weight_hh_l0"].t())
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def initial_state(params: Params, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    hidden = params["lstm.weight_hh_l0"].shape[1]
    weight = params["lstm.weight_hh_l0"]
    zeros = torch.zeros(batch, hidden, dtype=weight.dtype, device=weight.device)
    return zeros, zeros.clone()


def seeded_normal_lm(vocab_size: int, emb_dim: int, hidden_dim: int, seed: int, std: float = 1.0) -> LSTMLanguageModel:
    """An LSTM LM whose every parameter is drawn from N(0, std) by NumPy's PCG64 generator.

    NumPy's ``default_rng`` stream is platform independent, so the same seed gives bit-identical
    oracle parameters on any machine (torch's CPU ``randn`` makes no such promise across versions).
    """
    model = LSTMLanguageModel(vocab_size, emb_dim, hidden_dim)
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            values = rng.standard_normal(tuple(p.shape), dtype=np.float64) * std
            p.copy_(torch.from_numpy(values.astype(np.float32)))
    return model


@torch.no_grad()
def sample_sequences(
    params: Params,
    n: int,
    seq_len: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sample ``n`` sequences of ``seq_len`` tokens, all rows advancing together."""
    weight, bias = params["output.weight"], params["output.bias"]
    start_token = params["embedding.weight"].shape[0] - 1
    h, c = initial_state(params, n)
    token = torch.full((n,), start_token, dtype=torch.long, device=weight.device)
    out = torch.empty(n, seq_len, dtype=torch.long, device=weight.device)
    for t in range(seq_len):
        h, c = lstm_step(params, token, h, c)
        token = sample_from_hidden(h, weight, bias, temperature, generator)
        out[:, t] = token
    return out
