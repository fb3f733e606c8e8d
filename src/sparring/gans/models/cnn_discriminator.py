"""SeqGAN's CNN discriminator: embedding, many filter widths, max-over-time, highway, dropout.

Each convolution is computed as a matrix product over unfolded windows, and the bias and ReLU are
applied after the max over time (max(relu(x + b)) == relu(max(x) + b), since both are monotone).
That keeps the (batch, positions, filters) tensor free of two elementwise passes and their
backward, which is where a 2-core CPU spends its time with 1,720 filters.

With ``precision`` bf16 (the run's, ``sparring.precision``) the training and scoring passes run
their products in bfloat16 under its autocast, with the embeddings cast once before the windows are unfolded
(so the unfold, the window products and the max over time move half the bytes), and the logits
returned in float32 for the loss. The weights stay float32. ``full_precision()`` turns it off
for a block: evaluation is computed in float32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from sparring.precision import FP32, Precision, full_precision


class CNNDiscriminator(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        filter_sizes: tuple[int, ...],
        num_filters: tuple[int, ...],
        dropout: float,
        num_classes: int = 2,
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
        self.output = nn.Linear(features, num_classes)  # 2: generated, real; SentiGAN/CatGAN: generated, then each category
        self.precision: Precision = FP32  # of training and scoring (not saved: the run's setting)
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
        return self.features_from_embedded(self.embedding(tokens))

    def features_from_embedded(self, emb: torch.Tensor) -> torch.Tensor:
        """``features`` from embedded inputs (B, T, E): RelGAN feeds soft one-hots @ embedding."""
        with self._mixed() as emb_dtype:
            emb = emb.to(emb_dtype)
            pooled = []
            for width, weight, bias in zip(self.filter_sizes, self.conv_weights, self.conv_biases, strict=True):
                pooled.append(F.relu(self._window_scores(emb, width, weight).amax(dim=1) + bias))
            return self.highway_output(torch.cat(pooled, dim=1)).float()

    def relaxed_features(self, one_hots: torch.Tensor) -> torch.Tensor:
        """``features`` of (soft) one-hot sequences (B, T, V), differentiable in them: how the
        generators trained through D's gradient (RelGAN, GSGAN, TextGAN) are read."""
        return self.features_from_embedded(one_hots @ self.embedding.weight)

    @property
    def bf16(self) -> bool:
        return self.precision.bf16

    @contextlib.contextmanager
    def _mixed(self) -> Iterator[torch.dtype]:
        """The compute region of a pass (the precision's autocast); yields the dtype embeddings go in."""
        with self.precision.autocast():
            yield torch.bfloat16 if self.bf16 else self.embedding.weight.dtype

    @contextlib.contextmanager
    def full_precision(self) -> Iterator[None]:
        """A block computed in float32 whatever the run's precision (evaluation)."""
        was, self.precision = self.precision, FP32
        try:
            yield
        finally:
            self.precision = was

    def highway_output(self, flat: torch.Tensor) -> torch.Tensor:
        gate, candidate = self.highway(flat).chunk(2, dim=1)
        gate = torch.sigmoid(gate)
        return gate * F.relu(candidate) + (1.0 - gate) * flat

    @torch.no_grad()
    def prefix_features(self, tokens: torch.Tensor, pad: int) -> torch.Tensor:
        """Features of every prefix of ``tokens`` (B, T), padded to length T with ``pad``: (B, T+1, F).

        Entry t describes the first t tokens, as LeakGAN's Manager sees them before step t.
        """
        stepper = PrefixFeatures(self, tokens.shape[0], tokens.shape[1], pad)
        out = [stepper.current()]
        for t in range(tokens.shape[1]):
            stepper.push(tokens[:, t])
            out.append(stepper.current())
        return torch.stack(out, dim=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, 2), float32; class 1 means "real"."""
        return self.output(self.dropout(self.features(tokens)))

    @torch.no_grad()
    def prob_real(self, tokens: torch.Tensor) -> torch.Tensor:
        """D(Y): the probability that each sequence is real, in eval mode (no dropout)."""
        was_training = self.training
        self.eval()
        probs = torch.softmax(self(tokens), dim=1)
        probs = probs[:, 1] if probs.shape[1] == 2 else 1.0 - probs[:, 0]  # a multi-class D: anything but class 0 (generated)
        self.train(was_training)
        return probs

    @torch.no_grad()
    def class_probs(self, tokens: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, num_classes) in eval mode: a multi-class D's view (class 0: generated)."""
        was_training = self.training
        self.eval()
        probs = torch.softmax(self(tokens), dim=1)
        self.train(was_training)
        return probs

    @torch.no_grad()
    def prob_real_completions(self, seqs: torch.Tensor, completions: torch.Tensor, prefix_lens: list[int]) -> torch.Tensor:
        """``prob_real`` of Monte Carlo completions, reusing the windows they share with ``seqs``.

        ``completions`` (G, R, B, T): group g holds R completions of the first ``prefix_lens[g]``
        tokens of each of the B rows of ``seqs`` (B, T), so those tokens are the same as in ``seqs``.
        A window that lies inside the prefix has the same convolution output in all R completions
        and in ``seqs``; its share of the max over time is a running max over ``seqs``' windows,
        computed once. Only the windows that reach past the prefix are computed per completion,
        which saves about a third of the paper discriminator's convolution work in SeqGAN's search.
        Eval mode (no dropout), as ``prob_real``. Returns (G, R, B).
        """
        with self._mixed() as emb_dtype:
            return self._prob_real_completions(seqs, completions, prefix_lens, emb_dtype)

    def _prob_real_completions(
        self, seqs: torch.Tensor, completions: torch.Tensor, prefix_lens: list[int], emb_dtype: torch.dtype
    ) -> torch.Tensor:
        groups, rollouts, batch, seq_len = completions.shape
        seq_emb = self.embedding(seqs).to(emb_dtype)
        # running max over window starts of seqs' own convolutions: entry s = max over starts <= s
        widths = zip(self.filter_sizes, self.conv_weights, strict=True)
        prefix_max = [self._window_scores(seq_emb, w, weight).cummax(dim=1).values for w, weight in widths]
        probs = []
        for g, prefix_len in enumerate(prefix_lens):
            emb = self.embedding(completions[g].reshape(rollouts * batch, seq_len)).to(emb_dtype)
            pooled = []
            for w, weight, bias, inside in zip(self.filter_sizes, self.conv_weights, self.conv_biases, prefix_max, strict=True):
                first = max(0, prefix_len - w + 1)  # the first window start that reaches past the prefix
                best = self._window_scores(emb[:, first:], w, weight).amax(dim=1)
                if first > 0:  # windows starting at 0..first-1 lie inside the prefix
                    best = torch.maximum(best.view(rollouts, batch, -1), inside[:, first - 1]).view(rollouts * batch, -1)
                pooled.append(F.relu(best + bias))
            features = self.highway_output(torch.cat(pooled, dim=1)).float()
            with full_precision():  # the output layer and the probabilities in float32, as in ``forward``
                probs.append(torch.softmax(self.output(features), dim=1)[:, 1].view(rollouts, batch))
        return torch.stack(probs)

    @staticmethod
    def _window_scores(emb: torch.Tensor, width: int, weight: torch.Tensor) -> torch.Tensor:
        """Convolution outputs before bias, (B, positions, filters), as one 2-D product over unfolded windows.

        The windows are flattened to (B * positions, width * E) by hand: given the 3-D tensor,
        ``matmul`` folds it into one product in float32 but, for a bf16 operand under autocast,
        goes through a batched product that copies the weight once per sequence (3.7x slower
        Monte Carlo scoring than fp32 before this was written out)."""
        batch = emb.shape[0]
        windows = emb.unfold(1, width, 1).transpose(2, 3).reshape(-1, weight.shape[1])
        return torch.mm(windows, weight.t()).view(batch, -1, weight.shape[0])

    def l2_penalty(self) -> torch.Tensor:
        """SeqGAN's L2 term: on the output layer only, tf.nn.l2_loss style (sum of squares / 2)."""
        return 0.5 * (self.output.weight.pow(2).sum() + self.output.bias.pow(2).sum())


class PrefixFeatures:
    """``CNNDiscriminator.features`` of a growing prefix, updated token by token.

    LeakGAN needs D's features of the partial sentence (padded to full length) before every
    generated token. Recomputing them costs a full D pass per token, T times the work. Instead,
    each window's conv sum is accumulated as its tokens arrive; a window that still overlaps the
    padding adds the padding's precomputed contribution. Per token this costs one (E x sum of
    width * filters) projection plus the highway, whatever the sequence length.
    Dropout is not applied (eval-mode features), as in ``features``.
    """

    def __init__(self, disc: CNNDiscriminator, n: int, seq_len: int, pad: int) -> None:
        self.disc, self.seq_len, self.length = disc, seq_len, 0
        emb_dim = disc.embedding.weight.shape[1]
        pad_emb = disc.embedding.weight[pad]
        projections, self.pad_tails, self.sums, self.best, self.sizes = [], [], [], [], []
        for width, weight in zip(disc.filter_sizes, disc.conv_weights, strict=True):
            per_offset = weight.detach().view(weight.shape[0], width, emb_dim).transpose(0, 1)  # (w, n, E)
            projections.append(per_offset.reshape(-1, emb_dim))
            pad_part = per_offset @ pad_emb  # (w, n): the padding's contribution at each offset
            tail = torch.cat([pad_part.flip(0).cumsum(0).flip(0), torch.zeros_like(pad_part[:1])])  # tail[k] = sum_{i>=k}
            self.pad_tails.append(tail)
            self.sums.append(torch.zeros(n, width, weight.shape[0], dtype=pad_emb.dtype, device=pad_emb.device))
            self.best.append(torch.full((n, weight.shape[0]), float("-inf"), dtype=pad_emb.dtype, device=pad_emb.device))
            self.sizes.append(width * weight.shape[0])
        self.projection = torch.cat(projections)  # (sum_w w * n, E)

    def push(self, token: torch.Tensor) -> None:
        """Append one token per row at position ``self.length``."""
        pos = self.length
        parts = (self.disc.embedding.weight[token] @ self.projection.t()).split(self.sizes, dim=1)
        for width, part, sums, best in zip(self.disc.filter_sizes, parts, self.sums, self.best, strict=True):
            part = part.view(part.shape[0], width, -1)
            sums[:, pos % width] = 0.0  # the window starting here reuses the slot of one that has finished
            slots = (pos - torch.arange(width, device=part.device)) % width  # window starting at pos - i gets offset i
            sums.index_add_(1, slots, part)
            start = pos - width + 1
            if 0 <= start <= self.seq_len - width:  # that window is now complete
                torch.maximum(best, sums[:, start % width], out=best)
        self.length = pos + 1

    def current(self) -> torch.Tensor:
        """Features (n, F) of the prefix pushed so far, padded to ``seq_len``."""
        length, pooled = self.length, []
        for width, sums, best, tail, bias in zip(
            self.disc.filter_sizes, self.sums, self.best, self.pad_tails, self.disc.conv_biases, strict=True
        ):
            candidates = [best] if length >= width else []
            starts = range(max(0, length - width + 1), min(length - 1, self.seq_len - width) + 1)
            if len(starts):
                idx = torch.tensor(list(starts), device=sums.device)
                partial = sums[:, idx % width] + tail[length - idx]
                candidates.append(partial.amax(dim=1))
            if length <= self.seq_len - width:  # windows made only of padding
                candidates.append(tail[0].expand_as(best))
            pooled.append(F.relu(torch.stack(candidates).amax(dim=0) + bias))
        return self.disc.highway_output(torch.cat(pooled, dim=1))
