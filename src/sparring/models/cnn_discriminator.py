"""SeqGAN's CNN discriminator: embedding, many filter widths, max-over-time, highway, dropout.

Each convolution is computed as a matrix product over unfolded windows, and the bias and ReLU are
applied after the max over time (max(relu(x + b)) == relu(max(x) + b), since both are monotone).
That keeps the (batch, positions, filters) tensor free of two elementwise passes and their
backward, which is where a 2-core CPU spends its time with 1,720 filters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CNNDiscriminator(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        filter_sizes: tuple[int, ...],
        num_filters: tuple[int, ...],
        dropout: float,
    ) -> None:
        super().__init__()
        self.filter_sizes = tuple(filter_sizes)
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        # weight (n, width * emb_dim), laid out as a window of consecutive embeddings
        self.conv_weights = nn.ParameterList(
            [nn.Parameter(torch.empty(n, w * emb_dim)) for w, n in zip(filter_sizes, num_filters, strict=True)]
        )
        self.conv_biases = nn.ParameterList([nn.Parameter(torch.empty(n)) for n in num_filters])
        features = sum(num_filters)
        self.feature_dim = features
        self.highway = nn.Linear(features, 2 * features)  # transform gate and candidate, fused
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(features, 2)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.embedding.weight, -1.0, 1.0)  # SeqGAN's random_uniform(-1, 1)
        for weight, bias in zip(self.conv_weights, self.conv_biases, strict=True):
            nn.init.trunc_normal_(weight, std=0.1)  # SeqGAN's truncated_normal(stddev=0.1)
            nn.init.constant_(bias, 0.1)
        nn.init.xavier_uniform_(self.highway.weight)
        nn.init.zeros_(self.highway.bias)
        nn.init.xavier_uniform_(self.output.weight)
        nn.init.constant_(self.output.bias, 0.1)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """The highway layer's output, (B, features): what LeakGAN leaks to its generator."""
        emb = self.embedding(tokens)  # (B, T, E)
        pooled = []
        for width, weight, bias in zip(self.filter_sizes, self.conv_weights, self.conv_biases, strict=True):
            windows = emb.unfold(1, width, 1).transpose(2, 3).reshape(emb.shape[0], -1, weight.shape[1])
            pooled.append(F.relu(torch.matmul(windows, weight.t()).amax(dim=1) + bias))
        flat = torch.cat(pooled, dim=1)
        gate, candidate = self.highway(flat).chunk(2, dim=1)
        gate = torch.sigmoid(gate)
        return gate * F.relu(candidate) + (1.0 - gate) * flat

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, 2); class 1 means "real"."""
        return self.output(self.dropout(self.features(tokens)))

    @torch.no_grad()
    def prob_real(self, tokens: torch.Tensor) -> torch.Tensor:
        """D(Y): the probability that each sequence is real, in eval mode (no dropout)."""
        was_training = self.training
        self.eval()
        probs = torch.softmax(self(tokens), dim=1)[:, 1]
        self.train(was_training)
        return probs

    def l2_penalty(self) -> torch.Tensor:
        """SeqGAN's L2 term: on the output layer only, tf.nn.l2_loss style (sum of squares / 2)."""
        return 0.5 * (self.output.weight.pow(2).sum() + self.output.bias.pow(2).sum())
