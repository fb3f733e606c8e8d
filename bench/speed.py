"""Time SeqGAN's hot paths on this machine: median of N runs after a warm-up.

Writes bench/results/speed.json (keys rollout_s, mc_search_s, sample_10k_s, mle_epoch_s,
d_epoch_s) and speed.md. ``rollout_s`` is the generation of every Monte Carlo completion (16
rollouts x 64 sequences x 19 prefixes at length 20), the same work as a plain per-step loop
does; ``mc_search_s`` adds scoring all 19,456 completions with the paper's discriminator, which is
what one full Q computation costs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, median_time, write_results  # noqa: E402
from sparring.gans import leakgan  # noqa: E402
from sparring.gans.corpus import Corpus  # noqa: E402
from sparring.gans.engine import adam, build_discriminator, build_generator, discriminator_round, mle_epoch, sample  # noqa: E402
from sparring.gans.rollout import monte_carlo_q, rollout_completions  # noqa: E402
from sparring.kinds import build_config  # noqa: E402

# Targets from the foundation issue and TextGAN-PyTorch measured on the same 2-core CPU.
TARGETS = {"rollout_s": 4.0, "sample_10k_s": 4.0, "mle_epoch_s": 3.0, "d_epoch_s": 14.0}
TEXTGAN = {"rollout_s": 32.0, "sample_10k_s": 22.0, "mle_epoch_s": 4.4, "d_epoch_s": 21.0, "leakgan_adv_epoch_s": 32 * 60.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default="", help="comma-separated measures to rerun (others are kept from speed.json)")
    args = parser.parse_args()
    torch.manual_seed(0)
    device = torch.device(args.device)
    cfg = build_config("seqgan", "paper")
    gen, disc = build_generator(cfg, 5000, device), build_discriminator(cfg, 5000, device)
    shape = Corpus(torch.zeros(1, 20, dtype=torch.long), torch.zeros(1, 20, dtype=torch.long), torch.zeros(1, 20, dtype=torch.long), 5000)
    seqs = sample(gen, 64, shape)
    real = sample(gen, 10_000, shape)
    fake = sample(gen, 10_000, shape)
    corpus = Corpus(real, real[:1000], real[1000:2000], 5000)
    g_opt, d_opt = adam(gen.parameters(), 1e-2), adam(disc.parameters(), 1e-4)

    # LeakGAN's paper configuration: adversarial step = one generator update with its rollouts, then D rounds.
    lk_cfg = build_config("leakgan", "paper")
    lk = leakgan.build_models(lk_cfg, 5000, device)
    lk_gen, lk_disc = lk["generator"], lk["discriminator"]
    lk_g_opt, lk_d_opt = adam(lk_gen.parameters(), 1e-3), adam(lk_disc.parameters(), 1e-4)
    lk_adv = lk_cfg.adversarial

    def leakgan_d_round():
        negatives = sample(lk_gen, lk_adv.n_negatives, corpus)
        discriminator_round(lk_disc, lk_d_opt, real, negatives, lk_adv.d_epochs, 64, 0.2)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    shared_prefix = disc.prob_real_completions
    jobs = {
        "rollout_s": lambda: (rollout_completions(gen.params(), seqs, 16), sync()),
        # as SeqGAN scores it: the windows inside each shared prefix computed once per sequence
        "mc_search_s": lambda: (monte_carlo_q(gen.params(), seqs, 16, disc.prob_real, score_completions=shared_prefix), sync()),
        "sample_10k_s": lambda: (sample(gen, 10_000, shape), sync()),
        "mle_epoch_s": lambda: (mle_epoch(gen, g_opt, corpus, 64, 5.0), sync()),
        "d_epoch_s": lambda: (discriminator_round(disc, d_opt, real, fake, 1, 64, 0.2), sync()),
        "leakgan_g_step_s": lambda: (leakgan.generator_update(lk_gen, lk_disc, corpus, lk_g_opt, lk_cfg), sync()),
        "leakgan_d_round_s": lambda: (leakgan_d_round(), sync()),
    }
    only = set(args.only.split(",")) if args.only else set(jobs)
    results, runs = {}, {}
    for key, job in jobs.items():
        if key not in only:
            continue
        repeats = args.repeats if not key.startswith("leakgan_d") else max(1, args.repeats // 2)
        results[key], runs[key] = median_time(job, repeats)
        print(f"{key:14s} {results[key]:8.3f} s", flush=True)
    if "leakgan_g_step_s" in results and "leakgan_d_round_s" in results:
        # one adversarial epoch as TextGAN-PyTorch counts it: a generator step, then d_rounds D rounds
        results["leakgan_adv_epoch_s"] = results["leakgan_g_step_s"] + lk_adv.d_rounds * results["leakgan_d_round_s"]
        print(f"{'leakgan_adv_epoch_s':14s} {results['leakgan_adv_epoch_s']:8.3f} s", flush=True)
    previous = json.loads((RESULTS / "speed.json").read_text()) if args.only and (RESULTS / "speed.json").exists() else {}
    for key in jobs:
        if key not in results and key in previous:
            results[key], runs[key] = previous[key], previous.get("runs", {}).get(key, [])
    data = {**results, "runs": runs, "repeats": args.repeats, "device": str(device), "machine": machine()}
    rows = []
    for key in results:
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
            f"Machine: {data['machine']}; device {device}; median of {args.repeats} runs after one warm-up"
            + (f" for {', '.join(sorted(only))}; the other rows are kept from the previous full run (medians of 5)." if args.only else "."),
            "rollout_s: generating the 16 x 64 x 19 Monte Carlo completions at length 20 (the work TextGAN's rollout and the",
            "acceptance reference time); mc_search_s: the same plus scoring all 19,456 completions with the paper's discriminator",
            "(prob_real_completions: windows inside a completion's shared prefix are computed once per sequence).",
            "mle_epoch_s: 10,000 sequences, batch 64. d_epoch_s: 20,000 sequences (10,000 real + 10,000 generated), batch 64,",
            "paper discriminator (1,720 filters, widths 1-20, highway).",
            "leakgan_g_step_s: one LeakGAN adversarial generator update (64 samples, rollouts 4 at every 4th token, D features",
            "leaked at every step, rank rescaling, Manager and Worker backward). leakgan_d_round_s: 10,000 fresh negatives and",
            f"{lk_adv.d_epochs} D epochs on 20,000 sequences with LeakGAN's D. leakgan_adv_epoch_s = g step + {lk_adv.d_rounds} D rounds;",
            "TextGAN-PyTorch's LeakGAN was estimated at about 32 minutes per adversarial epoch on this CPU (after a patch to run at all).",
        ],
    )
    print(f"wrote {md} and {md.with_suffix('.json')}")


if __name__ == "__main__":
    main()
