"""Speed ideas for the paper discriminator, measured against what the library does now.

1. ``sparse_maxpool``: the backward of max-over-time only needs the winning window of each
   (sequence, filter). The library's path lets autograd route the gradient through the dense
   (batch, positions, filters) scores and two dense matrix products; the idea gathers the winning
   windows instead, (batch, filters, width x emb), and does two small products. Timed as one D
   epoch (20,000 sequences, batch 64, length 20), same weights and batches.
2. ``prefix_reuse``: scoring SeqGAN's 19,456 Monte Carlo completions with
   ``CNNDiscriminator.prob_real_completions`` (windows inside the shared prefix computed once per
   sequence) against ``prob_real`` on every completion.

Writes bench/results/speed-ideas.json and .md; the library keeps an idea only when it measures faster.

    python bench/speed_ideas.py --repeats 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, median_time, write_results  # noqa: E402
from sparring.gans.corpus import Corpus  # noqa: E402
from sparring.gans.engine import adam, build_discriminator, build_generator, discriminator_round, sample  # noqa: E402
from sparring.gans.losses import discriminator_loss  # noqa: E402
from sparring.gans.rollout import rollout_completions  # noqa: E402
from sparring.kinds import build_config  # noqa: E402


class WinningWindowMax(torch.autograd.Function):
    """max over positions of windows @ weight.T, with a backward through the winning windows only."""

    @staticmethod
    def forward(ctx, windows: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        best, where = torch.matmul(windows, weight.t()).max(dim=1)  # (B, n)
        ctx.save_for_backward(windows, weight, where)
        return best

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        windows, weight, where = ctx.saved_tensors
        index = where.unsqueeze(-1).expand(-1, -1, windows.shape[2])  # (B, n, K)
        winners = windows.gather(1, index)
        grad_weight = torch.einsum("bn,bnk->nk", grad, winners)
        grad_windows = torch.zeros_like(windows).scatter_add_(1, index, grad.unsqueeze(-1) * weight)
        return grad_windows, grad_weight


def sparse_features(disc, tokens: torch.Tensor) -> torch.Tensor:
    emb = disc.embedding(tokens)
    pooled = []
    for width, weight, bias in zip(disc.filter_sizes, disc.conv_weights, disc.conv_biases, strict=True):
        windows = emb.unfold(1, width, 1).transpose(2, 3).reshape(emb.shape[0], -1, weight.shape[1])
        pooled.append(F.relu(WinningWindowMax.apply(windows, weight) + bias))
    return disc.highway_output(torch.cat(pooled, dim=1))


def sparse_round(disc, opt, real: torch.Tensor, fake: torch.Tensor, batch_size: int, l2_reg: float) -> None:
    """discriminator_round's single epoch, with the sparse max-pool backward."""
    disc.train()
    tokens = torch.cat([real, fake])
    labels = torch.cat([torch.ones(len(real), dtype=torch.long), torch.zeros(len(fake), dtype=torch.long)])
    for idx in torch.randperm(len(tokens)).split(batch_size):
        logits = disc.output(disc.dropout(sparse_features(disc, tokens[idx])))
        loss = discriminator_loss(logits, labels[idx], disc.l2_penalty(), l2_reg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    cfg = build_config("seqgan", "paper")
    gen, disc = build_generator(cfg, 5000, torch.device("cpu")), build_discriminator(cfg, 5000, torch.device("cpu"))
    shape = Corpus(torch.zeros(1, 20, dtype=torch.long), torch.zeros(1, 20, dtype=torch.long), torch.zeros(1, 20, dtype=torch.long), 5000)
    real, fake = sample(gen, 10_000, shape), sample(gen, 10_000, shape)
    opt = adam(disc.parameters(), 1e-4)

    # the two backward paths give the same gradients (up to float order) before anything is timed
    batch = torch.cat([real[:32], fake[:32]])
    disc.eval()
    dense = torch.autograd.grad(disc.features(batch).sum(), list(disc.conv_weights))
    sparse = torch.autograd.grad(sparse_features(disc, batch).sum(), list(disc.conv_weights))
    grad_error = max(float((a - b).abs().max()) for a, b in zip(dense, sparse, strict=True))

    seqs = sample(gen, 64, shape)
    completions = rollout_completions(gen.params(), seqs, 16)
    prefix_lens = list(range(1, 20))
    score_error = float(
        (disc.prob_real_completions(seqs, completions, prefix_lens) - disc.prob_real(completions.reshape(-1, 20)).view(19, 16, 64))
        .abs()
        .max()
    )

    jobs = {
        "d_epoch_dense_s": lambda: discriminator_round(disc, opt, real, fake, 1, 64, 0.2),
        "d_epoch_sparse_maxpool_s": lambda: sparse_round(disc, opt, real, fake, 64, 0.2),
        "score_completions_plain_s": lambda: torch.cat([disc.prob_real(p) for p in completions.reshape(-1, 20).split(4096)]),
        "score_completions_prefix_reuse_s": lambda: disc.prob_real_completions(seqs, completions, prefix_lens),
    }
    results, runs = {}, {}
    for key, job in jobs.items():
        results[key], runs[key] = median_time(job, args.repeats)
        print(f"{key:34s} {results[key]:8.3f} s", flush=True)
    data = {
        **results,
        "runs": runs,
        "max_grad_difference": grad_error,
        "max_score_difference": score_error,
        "repeats": args.repeats,
        "machine": machine(),
    }
    pairs = [
        ("D epoch (paper D, 20,000 sequences)", "d_epoch_dense_s", "d_epoch_sparse_maxpool_s", "sparse max-pool backward"),
        ("scoring 19,456 MC completions", "score_completions_plain_s", "score_completions_prefix_reuse_s", "prefix window reuse"),
    ]
    rows = [
        [
            what,
            idea,
            f"{results[a]:.2f}",
            f"{results[b]:.2f}",
            f"{results[a] / results[b]:.2f}x",
            "kept" if results[b] < results[a] else "not kept",
        ]
        for what, a, b, idea in pairs
    ]
    md = write_results(
        "speed-ideas",
        data,
        ["work", "idea", "library before (s)", "with the idea (s)", "speed-up", "verdict"],
        rows,
        [
            f"Median of {args.repeats} runs after one warm-up, 2 threads. Largest difference between the two paths: "
            f"conv-weight gradients {grad_error:.1e}, completion scores {score_error:.1e}.",
            "Prefix reuse is what SeqGAN's and LeakGAN's Monte Carlo rewards now use (CNNDiscriminator.prob_real_completions); "
            "the sparse max-pool backward stays here as an experiment when it does not measure faster.",
            f"Machine: {machine()}",
        ],
    )
    print(md.read_text())


if __name__ == "__main__":
    main()
