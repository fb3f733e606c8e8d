"""Time SeqGAN's hot paths on this machine: median of N runs after a warm-up.

Writes bench/results/speed.json (keys rollout_s, mc_search_s, sample_10k_s, mle_epoch_s,
d_epoch_s) and speed.md. ``rollout_s`` is the generation of every Monte Carlo completion (16
rollouts x 64 sequences x 19 prefixes at length 20), the same work as a plain per-step loop
does; ``mc_search_s`` adds scoring all 19,456 completions with the paper's discriminator, which is
what one full Q computation costs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, median_time, write_results  # noqa: E402
from sparring.config import build_config  # noqa: E402
from sparring.gans.engine import adam, build_discriminator, build_generator, discriminator_round, mle_epoch, sample  # noqa: E402
from sparring.rl.rollout import monte_carlo_q, rollout_completions  # noqa: E402

# Targets from the foundation issue and TextGAN-PyTorch measured on the same 2-core CPU.
TARGETS = {"rollout_s": 4.0, "sample_10k_s": 4.0, "mle_epoch_s": 3.0, "d_epoch_s": 14.0}
TEXTGAN = {"rollout_s": 32.0, "sample_10k_s": 22.0, "mle_epoch_s": 4.4, "d_epoch_s": 21.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    device = torch.device(args.device)
    cfg = build_config("seqgan", "paper")
    gen, disc = build_generator(cfg, device), build_discriminator(cfg, device)
    seqs = sample(gen, 64, 20)
    real = sample(gen, 10_000, 20)
    fake = sample(gen, 10_000, 20)
    g_opt, d_opt = adam(gen.parameters(), 1e-2), adam(disc.parameters(), 1e-4)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    jobs = {
        "rollout_s": lambda: (rollout_completions(gen.params(), seqs, 16), sync()),
        "mc_search_s": lambda: (monte_carlo_q(gen.params(), seqs, 16, disc.prob_real), sync()),
        "sample_10k_s": lambda: (sample(gen, 10_000, 20), sync()),
        "mle_epoch_s": lambda: (mle_epoch(gen, g_opt, real, 64, 5.0), sync()),
        "d_epoch_s": lambda: (discriminator_round(disc, d_opt, real, fake, 1, 64, 0.2), sync()),
    }
    results, runs = {}, {}
    for key, job in jobs.items():
        results[key], runs[key] = median_time(job, args.repeats)
        print(f"{key:14s} {results[key]:8.3f} s", flush=True)
    data = {**results, "runs": runs, "repeats": args.repeats, "device": str(device), "machine": machine()}
    rows = []
    for key in jobs:
        target = TARGETS.get(key)
        rows.append(
            [
                key,
                f"{results[key]:.2f}",
                f"{target:.0f}" if target else "-",
                f"{TEXTGAN[key]:.1f}" if key in TEXTGAN else "-",
                ("yes" if results[key] <= target else "no") if target else "-",
            ]
        )
    md = write_results(
        "speed",
        data,
        ["measure", "sparring (s, median)", "target (s)", "TextGAN-PyTorch (s)", "meets target"],
        rows,
        [
            f"Machine: {data['machine']}; device {device}; median of {args.repeats} runs after one warm-up.",
            "rollout_s: generating the 16 x 64 x 19 Monte Carlo completions at length 20 (the work TextGAN's rollout and the",
            "acceptance reference time); mc_search_s: the same plus scoring all 19,456 completions with the paper's discriminator.",
            "mle_epoch_s: 10,000 sequences, batch 64. d_epoch_s: 20,000 sequences (10,000 real + 10,000 generated), batch 64,",
            "paper discriminator (1,720 filters, widths 1-20, highway).",
        ],
    )
    print(f"wrote {md} and {md.with_suffix('.json')}")


if __name__ == "__main__":
    main()
