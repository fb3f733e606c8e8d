"""Output projection and weighted cross-entropy, fused and chunked so the logits never hit memory.

With a 5,000-word vocabulary and a 32-unit LSTM, the (tokens x vocabulary) logits are the whole
cost of a training step, and a CPU spends it moving them: a batch of 64 x 20 tokens makes 25 MB
of logits that ``nn.Linear`` + ``cross_entropy`` write, read and write again some ten times.
Here each chunk of rows is projected, turned into softmax probabilities and into its gradient
while it sits in cache, and the gradients with respect to the hidden states, the weight and the
bias are accumulated during the forward pass (the loss is a scalar, so they are known then);
backward only scales them. On the 2-core CPU this makes an MLE epoch about 3x faster.

``token_weights`` generalises the loss to sum_i w_i * -log p(y_i | h_i): 1/N gives the mean NLL
(MLE), and SeqGAN's Q-values / batch size give its policy-gradient loss.
"""

from __future__ import annotations

import math

import torch

CHUNK_ROWS = 128


FLOAT32_LOG_MAX = 88.0  # e^88 < float32's largest value (about e^88.72); e^-87 > its smallest normal


def safe_exp_bound(vocab_size: int) -> float:
    """Largest |logit| for which summing exp(logit) over the vocabulary can neither overflow nor underflow."""
    return min(FLOAT32_LOG_MAX - math.log(vocab_size), 87.0) - 1.0


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, token_weights, chunk, needs_grad):
        # The bias rides along as an extra input column: one matmul, no broadcast copy of it.
        hidden_aug = torch.cat([hidden, torch.ones_like(hidden[:, :1])], dim=1)
        weight_aug = torch.cat([weight, bias.unsqueeze(1)], dim=1)
        # |logit| <= max|h| * max_v ||W_v||_1 + max|b|: when that is small, exp cannot overflow and
        # the usual max-subtraction (two more passes over the logits) is unnecessary.
        bound = float(hidden.abs().max()) * float(weight.abs().sum(dim=1).max()) + float(bias.abs().max())
        shift = bound > safe_exp_bound(weight.shape[0])
        total = torch.zeros((), dtype=hidden.dtype, device=hidden.device)
        if needs_grad:
            grad_hidden = torch.empty_like(hidden_aug)
            grad_weight = torch.zeros_like(weight_aug)
        for start in range(0, hidden.shape[0], chunk):
            h = hidden_aug[start : start + chunk]
            target = targets[start : start + chunk].unsqueeze(1)
            w = token_weights[start : start + chunk]
            logits = h @ weight_aug.t()
            target_logit = logits.gather(1, target).squeeze(1)
            if shift:
                top = logits.amax(dim=1, keepdim=True)
                probs = logits.sub_(top).exp_()
            else:
                top = None
                probs = logits.exp_()
            norm = probs.sum(dim=1, keepdim=True)
            log_norm = norm.log() if top is None else top + norm.log()
            total += (w * (log_norm.squeeze(1) - target_logit)).sum()
            if needs_grad:
                # d/dlogits of w * (logsumexp - logit[target]) = w * (softmax - onehot)
                probs.mul_(w.unsqueeze(1) / norm).scatter_add_(1, target, -w.unsqueeze(1))
                grad_hidden[start : start + chunk] = probs @ weight_aug
                grad_weight.addmm_(probs.t(), h)
        if needs_grad:
            ctx.save_for_backward(grad_hidden[:, :-1], grad_weight[:, :-1], grad_weight[:, -1])
        return total

    @staticmethod
    def backward(ctx, grad_output):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        return grad_hidden * grad_output, grad_weight * grad_output, grad_bias * grad_output, None, None, None, None


def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    targets: torch.Tensor,
    token_weights: torch.Tensor | None = None,
    chunk: int = CHUNK_ROWS,
) -> torch.Tensor:
    """sum_i token_weights[i] * -log softmax(hidden[i] @ weight.T + bias)[targets[i]].

    ``hidden`` (N, H), ``targets`` (N,); ``token_weights`` (N,) defaults to 1/N (the mean NLL)
    and receives no gradient.
    """
    if token_weights is None:
        token_weights = torch.full((hidden.shape[0],), 1.0 / hidden.shape[0], dtype=hidden.dtype, device=hidden.device)
    if hidden.device.type != "cpu":
        chunk = max(chunk, 8192)  # GPUs want big kernels; cache residency is a CPU concern
    # Under no_grad (evaluation) the gradients are not even computed: half the work.
    needs_grad = torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad or bias.requires_grad)
    return _LinearCrossEntropy.apply(hidden.contiguous(), weight, bias, targets.contiguous(), token_weights.detach(), chunk, needs_grad)
