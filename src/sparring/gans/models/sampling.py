"""Fast categorical sampling from a recurrent generator's hidden states through its output layer.

``torch.multinomial`` normalises, copies and samples row by row; on a 2-core CPU it is the
bottleneck of SeqGAN. Here the output projection, the softmax and the draw are fused per chunk
of rows (so the logits stay in cache) and the draw is inverse-CDF: one uniform per row, a
cumulative sum of the unnormalised probabilities, and a binary search. Dividing by the total is
never needed: the uniform is scaled by the last cumulative value instead.
"""

from __future__ import annotations

import torch

ROW_CHUNK = 256  # measured fastest on the 2-core CPU for a 5,000-word vocabulary


def sample_from_hidden(
    h: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    chunk: int = ROW_CHUNK,
) -> torch.Tensor:
    """Draw one token per row from softmax((h @ weight.T + bias) / temperature)."""
    rows, vocab = h.shape[0], weight.shape[0]
    uniforms = torch.rand(rows, 1, generator=generator, device=h.device, dtype=h.dtype)
    out = torch.empty(rows, dtype=torch.long, device=h.device)
    if h.device.type != "cpu":
        chunk = rows  # on an accelerator one big kernel beats cache-sized pieces
    buf = torch.empty(min(chunk, rows), vocab, dtype=h.dtype, device=h.device)
    scale = 1.0 / temperature
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        logits = torch.addmm(bias, h[start : start + n], weight.t(), beta=scale, alpha=scale, out=buf[:n])
        logits.sub_(logits.amax(dim=1, keepdim=True)).exp_()
        cdf = logits.cumsum_(dim=1)
        targets = uniforms[start : start + n] * cdf[:, -1:]
        out[start : start + n] = torch.searchsorted(cdf, targets, right=True).squeeze(1)
    return out.clamp_(max=vocab - 1)  # guards the u == 1.0 rounding edge
