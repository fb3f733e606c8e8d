"""SeqGAN's Monte Carlo search, with every rollout of every prefix advancing as one tensor.

For a batch Y of B sequences of length T and R rollouts, prefix length t (tokens y_0..y_{t-1}
kept) is completed R times for t = 1..T-1. Rows are laid out group by group (t ascending), R*B
rows per group. A single teacher-forced pass gives each group its starting LSTM state; then, for
each absolute position j = 1..T-1, the groups with t <= j are exactly the first j*R*B rows, so
one step samples position j for all of them at once. No Python loop runs over rollouts or rows:
only over the T-1 positions, and the total work is the minimum, sum_t (T - t) * R * B draws.

The rollout policy is a ``dict`` of tensors (a lagged copy of the generator's weights), updated
by :func:`lagged_update`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sparring.gans.models.lstm import Params, initial_state, lstm_step
from sparring.gans.models.sampling import sample_from_hidden


@torch.no_grad()
def rollout_completions(
    params: Params,
    seqs: torch.Tensor,
    rollouts: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Complete every prefix of ``seqs`` ``rollouts`` times.

    Returns a tensor of shape (T-1, R, B, T): entry [t-1, r] holds the r-th completion of the
    length-t prefixes of the batch.
    """
    batch, seq_len = seqs.shape
    groups = seq_len - 1
    rows_per_group = rollouts * batch
    weight, bias = params["output.weight"], params["output.bias"]
    start_token = params["embedding.weight"].shape[0] - 1

    # Teacher-forced states after consuming (start, y_0, .., y_{t-1}), for t = 1..T-1.
    h, c = initial_state(params, batch)
    h, c = lstm_step(params, torch.full((batch,), start_token, dtype=torch.long, device=seqs.device), h, c)
    prefix_h, prefix_c = [], []
    for t in range(1, seq_len):
        h, c = lstm_step(params, seqs[:, t - 1], h, c)
        prefix_h.append(h)
        prefix_c.append(c)
    # (groups, B, H) -> (groups, R, B, H) -> rows
    state_h = torch.stack(prefix_h).unsqueeze(1).expand(groups, rollouts, batch, -1).reshape(groups * rows_per_group, -1)
    state_c = torch.stack(prefix_c).unsqueeze(1).expand(groups, rollouts, batch, -1).reshape(groups * rows_per_group, -1)
    tokens = seqs.unsqueeze(0).expand(groups * rollouts, batch, seq_len).reshape(groups * rows_per_group, seq_len).clone()

    for j in range(1, seq_len):
        active = j * rows_per_group
        sampled = sample_from_hidden(state_h[:active], weight, bias, temperature, generator)
        tokens[:active, j] = sampled
        if j < seq_len - 1:
            h, c = lstm_step(params, sampled, state_h[:active], state_c[:active])
            state_h[:active] = h
            state_c[:active] = c
    return tokens.view(groups, rollouts, batch, seq_len)


def q_values(completion_scores: torch.Tensor, final_scores: torch.Tensor) -> torch.Tensor:
    """SeqGAN's action values from discriminator scores.

    ``completion_scores`` (T-1, R, B): D's probability that each rollout completion is real.
    ``final_scores`` (B,): D(Y) for the sampled sequences themselves.
    Returns Q of shape (B, T): the rollout mean for t < T, and D(Y) at t = T.
    """
    mean = completion_scores.mean(dim=1).t()  # (B, T-1)
    return torch.cat([mean, final_scores.unsqueeze(1)], dim=1)


@torch.no_grad()
def monte_carlo_q(
    params: Params,
    seqs: torch.Tensor,
    rollouts: int,
    score: Callable[[torch.Tensor], torch.Tensor],
    generator: torch.Generator | None = None,
    score_batch: int = 4096,
    score_completions: Callable[[torch.Tensor, torch.Tensor, list[int]], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Q(Y_1:t-1, y_t) for every position of every sequence in ``seqs`` (B, T).

    ``score`` maps a (N, T) batch of token ids to D's probability of "real", shape (N,).
    ``score_completions(seqs, completions, prefix_lens)``, when given, scores the (T-1, R, B, T)
    completions at once from the prefixes they share with ``seqs`` (the CNN discriminator's
    ``prob_real_completions``) and must agree with ``score`` on every completion.
    """
    groups, batch, seq_len = seqs.shape[1] - 1, seqs.shape[0], seqs.shape[1]
    completions = rollout_completions(params, seqs, rollouts, generator=generator)
    if score_completions is not None:
        scores = score_completions(seqs, completions, list(range(1, seq_len)))
    else:
        scores = torch.cat([score(part) for part in completions.reshape(-1, seq_len).split(score_batch)])
    return q_values(scores.view(groups, rollouts, batch), score(seqs))


@torch.no_grad()
def lagged_update(rollout_params: Params, params: Params, keep: float) -> None:
    """rollout <- keep * rollout + (1 - keep) * current, in place (SeqGAN's update rate)."""
    for name, value in params.items():
        rollout_params[name].mul_(keep).add_(value, alpha=1.0 - keep)
