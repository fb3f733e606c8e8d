"""RelGAN's generator (Nie et al., ICLR 2019): a relational memory core and a Gumbel-softmax output.

The relational memory (Santoro et al., 2018) keeps ``mem_slots`` memory rows of size
num_heads * head_size. Each step the rows attend over themselves and the new input
(``nn.MultiheadAttention``), pass a residual MLP with layer norms, and are written back through
LSTM-style input and forget gates. The flattened memory is the output state; a linear layer maps
it to logits, reusing the fused cross-entropy and sampler of the LSTM generator.

Adversarial training needs a differentiable sample: ``gumbel_generate`` draws y_t = argmax(o_t + g_t)
(an exact categorical sample) and also returns softmax(beta * (o_t + g_t)), the relaxed one-hot
that the discriminator reads and that carries the gradient back to the generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sparring.gans.models.fused_output import linear_cross_entropy
from sparring.gans.models.lstm import shift_right
from sparring.gans.models.sampling import sample_from_hidden


class RelationalMemoryGenerator(nn.Module):
    def __init__(self, vocab_size: int, emb_dim: int, mem_slots: int, num_heads: int, head_size: int) -> None:
        super().__init__()
        self.vocab_size, self.start_token, self.mem_slots = vocab_size, vocab_size, mem_slots
        size = num_heads * head_size
        self.embedding = nn.Embedding(vocab_size + 1, emb_dim)
        self.input_proj = nn.Linear(emb_dim, size)
        self.attention = nn.MultiheadAttention(size, num_heads, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(size), nn.LayerNorm(size)
        self.mlp = nn.Sequential(nn.Linear(size, size), nn.ReLU(), nn.Linear(size, size))
        self.gate_input = nn.Linear(size, 2 * size)
        self.gate_memory = nn.Linear(size, 2 * size)
        self.initial_memory = nn.Parameter(torch.eye(mem_slots, size))  # Santoro et al.'s identity start
        self.output = nn.Linear(mem_slots * size, vocab_size)

    def step(self, token: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: (output state (B, slots * size), new memory (B, slots, size))."""
        x = self.input_proj(self.embedding(token)).unsqueeze(1)  # (B, 1, size)
        keys = torch.cat([memory, x], dim=1)
        attended = self.norm1(memory + self.attention(memory, keys, keys, need_weights=False)[0])
        candidate = self.norm2(attended + self.mlp(attended))
        gate_i, gate_f = (self.gate_input(x) + self.gate_memory(torch.tanh(memory))).chunk(2, dim=-1)
        memory = torch.sigmoid(gate_i) * torch.tanh(candidate) + torch.sigmoid(gate_f + 1.0) * memory  # forget bias 1
        return memory.flatten(1), memory

    def initial(self, batch: int) -> torch.Tensor:
        return self.initial_memory.unsqueeze(0).expand(batch, -1, -1)

    def hidden_states(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced output states (B, T, slots * size)."""
        inputs = shift_right(tokens, self.start_token)
        memory, states = self.initial(len(tokens)), []
        for t in range(tokens.shape[1]):
            out, memory = self.step(inputs[:, t], memory)
            states.append(out)
        return torch.stack(states, dim=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden_states(tokens))

    def weighted_nll(self, tokens: torch.Tensor, token_weights: torch.Tensor | None = None, temperature: float = 1.0) -> torch.Tensor:
        hidden = self.hidden_states(tokens)
        weights = None if token_weights is None else token_weights.reshape(-1)
        w, b = self.output.weight / temperature, self.output.bias / temperature
        return linear_cross_entropy(hidden.reshape(-1, hidden.shape[-1]), w, b, tokens.reshape(-1), weights)

    def mle_loss(self, tokens: torch.Tensor, token_weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        nll = self.weighted_nll(tokens, token_weights)
        return nll, nll

    @torch.no_grad()
    def generate(self, n: int, seq_len: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        device = self.initial_memory.device
        memory = self.initial(n)
        token = torch.full((n,), self.start_token, dtype=torch.long, device=device)
        out = torch.empty(n, seq_len, dtype=torch.long, device=device)
        for t in range(seq_len):
            state, memory = self.step(token, memory)
            token = sample_from_hidden(state, self.output.weight, self.output.bias, temperature, generator)
            out[:, t] = token
        return out

    def gumbel_generate(self, n: int, seq_len: int, inverse_temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Sampled tokens (n, T) and their relaxed one-hots (n, T, V), differentiable in the weights."""
        device = self.initial_memory.device
        memory = self.initial(n)
        token = torch.full((n,), self.start_token, dtype=torch.long, device=device)
        tokens, soft = [], []
        for _ in range(seq_len):
            state, memory = self.step(token, memory)
            logits = self.output(state)
            uniform = torch.rand_like(logits).clamp_(1e-10, 1.0 - 1e-7)
            perturbed = logits - torch.log(-torch.log(uniform))
            token = perturbed.argmax(dim=-1)
            tokens.append(token)
            soft.append(F.softmax(inverse_temperature * perturbed, dim=-1))
        return torch.stack(tokens, dim=1), torch.stack(soft, dim=1)


def inverse_temperature(step: int, total: int, maximum: float) -> float:
    """RelGAN's exponential annealing of beta: 1 at step 0, ``maximum`` at the last step."""
    return float(maximum ** (step / max(total, 1)))
