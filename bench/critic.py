"""How informative is the critic? D's held-out accuracy on the oracle for several D settings.

The generator is fixed (an MLE run at the demo budget); each setting trains a fresh CNN
discriminator for ``rounds`` rounds on the fixed training sequences against fresh generator
samples (SeqGAN's D pre-training) and after every round measures its accuracy on held-out
sequences: the validation split (real) against as many new samples. Training accuracy is logged
beside it, so memorising the positives (train high, held-out at 0.5) shows.

Writes bench/results/critic-<len>.json and .md after every setting.

    python bench/critic.py --mle-epochs 20 --rounds 10
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_results  # noqa: E402

# name -> overrides of the demo SeqGAN config (discriminator.*, pretrain_d.*)
SETTINGS = {
    "demo (paper D, lr 1e-4, 1 epoch/round)": {},
    "paper D, lr 1e-3": {"discriminator.lr": 1e-3},
    "paper D, lr 1e-3, dropout 0.75": {"discriminator.lr": 1e-3, "discriminator.dropout": 0.75},
    "small D (widths 2,3; 100+200), lr 1e-3": {
        "discriminator.filter_sizes": "2,3",
        "discriminator.num_filters": "100,200",
        "discriminator.lr": 1e-3,
    },
    "small D, lr 1e-3, dropout 0.75": {
        "discriminator.filter_sizes": "2,3",
        "discriminator.num_filters": "100,200",
        "discriminator.lr": 1e-3,
        "discriminator.dropout": 0.75,
    },
    "small D, lr 1e-3, no L2": {
        "discriminator.filter_sizes": "2,3",
        "discriminator.num_filters": "100,200",
        "discriminator.lr": 1e-3,
        "discriminator.l2_reg": 0.0,
    },
    "small D (widths 2,3,4; 200 each), lr 1e-3, no L2": {
        "discriminator.filter_sizes": "2,3,4",
        "discriminator.num_filters": "200,200,200",
        "discriminator.lr": 1e-3,
        "discriminator.l2_reg": 0.0,
    },
    "tiny D (width 2; 50), lr 1e-3, dropout 0.5, emb 16": {
        "discriminator.filter_sizes": "2",
        "discriminator.num_filters": "50",
        "discriminator.lr": 1e-3,
        "discriminator.dropout": 0.5,
        "discriminator.emb_dim": 16,
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, default=20)
    parser.add_argument("--mle-epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--negatives", type=int, default=5000)
    parser.add_argument("--only", default="", help="comma-separated setting indices (default: all)")
    args = parser.parse_args()
    from sparring.gans.corpus import load_corpus
    from sparring.gans.engine import (
        adam,
        build_discriminator,
        build_generator,
        discriminator_accuracy,
        discriminator_round,
        held_out_d_accuracy,
        mle_epoch,
        sample,
    )
    from sparring.kinds import build_config

    torch.manual_seed(0)
    base = build_config("seqgan", "demo", overrides={"oracle.seq_len": args.seq_len})
    data = load_corpus(base)
    gen = build_generator(base, data.vocab_size, torch.device("cpu"))
    opt = adam(gen.parameters(), base.mle.lr)
    for _ in range(args.mle_epochs):
        mle_epoch(gen, opt, data, base.mle.batch_size, base.mle.grad_clip)
    gen.eval()
    chosen = [s for i, s in enumerate(SETTINGS) if not args.only or str(i) in args.only.split(",")]
    previous = Path(__file__).resolve().parent / "results" / f"critic-{args.seq_len}.json"
    results: dict[str, dict] = json.loads(previous.read_text())["results"] if previous.exists() else {}  # settings run before
    for label in chosen:
        cfg = build_config("seqgan", "demo", overrides={"oracle.seq_len": args.seq_len, **SETTINGS[label]})
        torch.manual_seed(1)
        disc = build_discriminator(cfg, data.vocab_size, torch.device("cpu"))
        d_opt = adam(disc.parameters(), cfg.discriminator.lr)
        curve, started = [], time.perf_counter()
        for rnd in range(1, args.rounds + 1):
            loss = discriminator_round(
                disc, d_opt, data.train, sample(gen, args.negatives, data), 1, cfg.discriminator.batch_size, cfg.discriminator.l2_reg
            )
            disc.eval()
            held_out = held_out_d_accuracy(gen, disc, data, cfg.eval)
            train_acc = discriminator_accuracy(disc, data.train[: cfg.eval.n_d_eval], sample(gen, cfg.eval.n_d_eval, data))
            curve.append({"round": rnd, "d_loss": loss, "held_out_acc": held_out, "train_acc": train_acc})
            print(f"{label}: round {rnd} loss {loss:.3f} held-out {held_out:.3f} train {train_acc:.3f}", flush=True)
        best = max(curve, key=lambda r: r["held_out_acc"])
        results[f"{label}, {args.rounds} rounds"] = {
            "settings": SETTINGS[label],
            "curve": curve,
            "best_round": best["round"],
            "best_held_out": best["held_out_acc"],
            "seconds": round(time.perf_counter() - started, 1),
        }
        rows = [
            [
                k,
                f"{v['best_held_out']:.3f} (round {v['best_round']})",
                f"{v['curve'][-1]['held_out_acc']:.3f}",
                f"{v['curve'][-1]['train_acc']:.3f}",
                f"{v['seconds']:.0f}",
            ]
            for k, v in results.items()
        ]
        write_results(
            f"critic-{args.seq_len}",
            {
                "seq_len": args.seq_len,
                "mle_epochs": args.mle_epochs,
                "rounds": args.rounds,
                "negatives": args.negatives,
                "results": results,
                "machine": machine(),
            },
            ["D setting", "best held-out acc", "held-out acc, last round", "train acc (positives seen)", "seconds"],
            rows,
            [
                f"Generator: MLE, {args.mle_epochs} epochs on the length-{args.seq_len} oracle (demo data). Settings from earlier "
                "runs of this script are kept. Each round: one D epoch on "
                f"{args.negatives} training positives and {args.negatives} fresh samples. Held-out: {base.eval.n_d_eval} validation "
                "sequences against as many fresh samples (0.5 = chance). Target: 0.65 at the start of the adversarial phase.",
                f"Machine: {machine()}",
            ],
        )


if __name__ == "__main__":
    main()
