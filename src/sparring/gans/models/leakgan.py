"""LeakGAN's hierarchical generator (Guo et al., AAAI 2018): a Manager and a Worker.

Indexing used throughout (B sequences, T tokens, F discriminator features, k goal size):
- f_t (t = 0..T) is D's feature vector of the first t tokens, padded to length T (leaked
  from D, with no gradient into D).
- The Manager LSTM reads f_0..f_t and emits a unit goal g_t (F dims) before token t.
- The Worker LSTM reads the previous token; its output is a (V x k) matrix O_t. The goal
  embedding w_t = normalise(psi(sum_{i=1..c} g_{t-i})) (k dims) turns it into logits O_t w_t.
  Before any goal exists, a learned ``goal_init`` stands in for g_{-1} (LeakGAN's goal_init).
  We use the paper's sliding window of the last c goals; LeakGAN's TF code sums them block-wise.

logits_t[v] = sum_{j,h} W[v, j, h] w_t[j] h_t[h] + sum_j b[v, j] w_t[j], so the Worker's output
layer is a plain linear layer over the outer product (w_t x h_t, w_t); that lets it reuse the
fused cross-entropy and the fused sampler of the LSTM generator unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sparring.gans.models.cnn_discriminator import CNNDiscriminator
from sparring.gans.models.fused_output import linear_cross_entropy
from sparring.gans.models.lstm import shift_right
from sparring.gans.models.sampling import sample_from_hidden


class LeakGANGenerator(nn.Module):
    def __init__(
        self, vocab_size: int, emb_dim: int, hidden_dim: int, feature_dim: int, goal_size: int = 16, step_size: int = 4, pad: int = 0
    ) -> None:
        super().__init__()
        self.vocab_size, self.goal_size, self.step_size, self.pad = vocab_size, goal_size, step_size, pad
        self.start_token = vocab_size
        self.embedding = nn.Embedding(vocab_size + 1, emb_dim)
        self.worker = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.worker_out = nn.Linear(hidden_dim, vocab_size * goal_size)
        self.manager = nn.LSTM(feature_dim, hidden_dim, batch_first=True)
        self.manager_out = nn.Linear(hidden_dim, feature_dim)
        self.goal_change = nn.Linear(feature_dim, goal_size, bias=False)  # psi
        self.goal_init = nn.Parameter(torch.empty(feature_dim))
        self._disc: list[CNNDiscriminator] = []  # leaked-from, not owned: kept out of state_dict
        self.init_normal_(0.1)

    def init_normal_(self, std: float) -> LeakGANGenerator:
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, std)
        return self

    def attach(self, disc: CNNDiscriminator) -> LeakGANGenerator:
        """The discriminator whose features are leaked to the Manager."""
        self._disc[:] = [disc]
        return self

    @property
    def disc(self) -> CNNDiscriminator:
        if not self._disc:
            raise RuntimeError("LeakGANGenerator needs attach(discriminator) before use")
        return self._disc[0]

    # ---- teacher-forced pass -------------------------------------------------------------
    def goals(self, features: torch.Tensor) -> torch.Tensor:
        """Unit goals g_0..g_{T-1} (B, T, F) from features f_0..f_{T-1}."""
        return F.normalize(self.manager_out(self.manager(features)[0]), dim=-1)

    def goal_embeddings(self, goals: torch.Tensor) -> torch.Tensor:
        """w_t (B, T, k) from the sum of the ``step_size`` goals before t."""
        batch, steps, _ = goals.shape
        previous = torch.cat([self.goal_init.expand(batch, 1, -1), goals[:, :-1]], dim=1)  # g_{t-1}
        running = previous.cumsum(dim=1)
        c = self.step_size
        window = running - torch.cat([torch.zeros_like(running[:, :c]), running[:, :-c]], dim=1)[:, :steps]
        return F.normalize(self.goal_change(window), dim=-1)

    def output_inputs(self, worker_h: torch.Tensor, goal_emb: torch.Tensor) -> torch.Tensor:
        """(..., k*H + k): the inputs of the Worker's output layer as a plain linear map."""
        outer = (goal_emb.unsqueeze(-1) * worker_h.unsqueeze(-2)).flatten(-2)
        return torch.cat([outer, goal_emb], dim=-1)

    def output_weight(self) -> torch.Tensor:
        """(V, k*H + k), matching :meth:`output_inputs`."""
        v, k = self.vocab_size, self.goal_size
        weight = self.worker_out.weight.view(v, k, -1).reshape(v, -1)
        return torch.cat([weight, self.worker_out.bias.view(v, k)], dim=1)

    def teacher_forced(self, tokens: torch.Tensor, features: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Everything the losses need for given sequences: features (B, T+1, F), goals, Worker outputs."""
        if features is None:
            features = self.disc.prefix_features(tokens, self.pad)
        goals = self.goals(features[:, :-1])
        worker_h = self.worker(self.embedding(shift_right(tokens, self.start_token)))[0]
        # The Worker's losses train the Worker (and psi, goal_init) only; the Manager learns from its own loss.
        goal_emb = self.goal_embeddings(goals.detach())
        return {"features": features, "goals": goals, "inputs": self.output_inputs(worker_h, goal_emb)}

    def mle_loss(self, tokens: torch.Tensor, token_weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Pre-training: the Worker's NLL plus the Manager's goal loss on real text. Returns (loss, NLL)."""
        parts = self.teacher_forced(tokens)
        nll = self.weighted_nll(tokens, token_weights, parts)
        return nll + manager_loss(parts["goals"], parts["features"], self.step_size), nll

    def weighted_nll(
        self, tokens: torch.Tensor, token_weights: torch.Tensor | None = None, parts: dict | None = None, temperature: float = 1.0
    ) -> torch.Tensor:
        """sum of weight * -log p(y_t | y_<t) over tokens (the Worker's loss); default: the mean NLL."""
        parts = parts or self.teacher_forced(tokens)
        inputs = parts["inputs"]
        weight = self.output_weight() / temperature
        zeros = torch.zeros(self.vocab_size, dtype=weight.dtype, device=weight.device)
        weights = None if token_weights is None else token_weights.reshape(-1)
        return linear_cross_entropy(inputs.reshape(-1, inputs.shape[-1]), weight, zeros, tokens.reshape(-1), weights)

    # ---- sampling ------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        n: int,
        seq_len: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        prefix: torch.Tensor | None = None,
        prefix_len: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sample ``n`` sequences; with ``prefix`` (n, T) and ``prefix_len`` (n,), row i keeps its
        first prefix_len[i] tokens (Monte Carlo completion, all prefix lengths in one batch)."""
        from sparring.gans.models.cnn_discriminator import PrefixFeatures

        device = self.goal_init.device
        weight = self.output_weight()
        zeros = torch.zeros(self.vocab_size, dtype=weight.dtype, device=device)
        stepper = PrefixFeatures(self.disc, n, seq_len, self.pad)
        w_h = w_c = m_h = m_c = None
        goals: list[torch.Tensor] = [self.goal_init.expand(n, -1)]
        token = torch.full((n,), self.start_token, dtype=torch.long, device=device)
        out = torch.empty(n, seq_len, dtype=torch.long, device=device)
        for t in range(seq_len):
            feature = stepper.current().unsqueeze(1)
            m_out, (m_h, m_c) = self.manager(feature, None if m_h is None else (m_h, m_c))
            window = torch.stack(goals[-self.step_size :]).sum(dim=0)
            goals.append(F.normalize(self.manager_out(m_out[:, 0]), dim=-1))
            goal_emb = F.normalize(self.goal_change(window), dim=-1)
            w_out, (w_h, w_c) = self.worker(self.embedding(token).unsqueeze(1), None if w_h is None else (w_h, w_c))
            token = sample_from_hidden(self.output_inputs(w_out[:, 0], goal_emb), weight, zeros, temperature, generator)
            if prefix is not None:
                token = torch.where(t < prefix_len, prefix[:, t], token)
            out[:, t] = token
            stepper.push(token)
        return out

    def params(self) -> dict[str, torch.Tensor]:
        return {name: p.detach() for name, p in self.named_parameters()}


# ---- LeakGAN's training signals, as pure functions -------------------------------------------
def feature_deltas(features: torch.Tensor, horizon: int) -> torch.Tensor:
    """f_{min(t+c, T)} - f_t for t = 0..T-1: how far the features moved over the goal's horizon."""
    steps = features.shape[1] - 1
    ahead = torch.clamp(torch.arange(steps, device=features.device) + horizon, max=steps)
    return features[:, ahead] - features[:, :steps]


def manager_loss(goals: torch.Tensor, features: torch.Tensor, horizon: int, rewards: torch.Tensor | None = None) -> torch.Tensor:
    """-mean_b sum_t Q_t cos(f_{t+c} - f_t, g_t); with no rewards (pre-training) Q = 1/T, i.e. the mean cosine.

    Gradient flows into the goals only: the features are the discriminator's, leaked as constants.
    """
    cos = F.cosine_similarity(feature_deltas(features.detach(), horizon), goals, dim=-1)  # (B, T)
    if rewards is None:
        return -cos.mean()
    return -(rewards.detach() * cos).sum(dim=1).mean()


@torch.no_grad()
def intrinsic_rewards(goals: torch.Tensor, features: torch.Tensor, horizon: int) -> torch.Tensor:
    """The Worker's reward for token t: (1/c) sum_{i=1..c} cos(f_{t+1} - f_{t+1-i}, g_{t+1-i}), (B, T).

    Terms with t+1-i < 0 do not exist and count as 0 (the sum is still divided by c).
    """
    batch, steps, _ = goals.shape
    total = torch.zeros(batch, steps, dtype=goals.dtype, device=goals.device)
    for i in range(1, horizon + 1):
        t = torch.arange(steps, device=goals.device)
        src = t + 1 - i
        valid = src >= 0
        src = src.clamp(min=0)
        cos = F.cosine_similarity(features[:, t + 1] - features[:, src], goals[:, src], dim=-1)
        total += cos * valid
    return total / horizon


def rank_rescale(scores: torch.Tensor, delta: float = 16.0) -> torch.Tensor:
    """LeakGAN's bootstrapped rescaled activation, per row: sigma(delta * (0.5 - rank / B)).

    ``scores`` (S, B): one row per reward step, B sequences. Rank 1 is the highest score in its
    row; ties keep their order in the batch (a stable sort), so the map is deterministic.
    """
    batch = scores.shape[1]
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(1, batch + 1, device=scores.device).expand_as(order))
    return torch.sigmoid(delta * (0.5 - ranks.to(scores.dtype) / batch))


def segment_ends(seq_len: int, step_size: int) -> list[int]:
    """Prefix lengths at which LeakGAN asks for a reward: c, 2c, ... below T, then T."""
    return [*range(step_size, seq_len, step_size), seq_len]


def per_step_rewards(segment_rewards: torch.Tensor, seq_len: int, step_size: int) -> torch.Tensor:
    """Spread (S, B) segment rewards to (B, T): step t is rewarded by the segment it belongs to."""
    segment_of_step = torch.arange(seq_len, device=segment_rewards.device) // step_size
    return segment_rewards[segment_of_step].t()
