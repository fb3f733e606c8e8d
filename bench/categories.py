"""Category-conditional generation on TWON's left and right posts: SentiGAN and CatGAN against MLE.

The corpus is built from ../shared/data/twon/{left,right}.{train,test}.parquet (column ``full_text``):
each post labelled ``left`` or ``right`` into bench/runs/twon-categories/{train,test}.jsonl (never
committed: the data stays in ../shared). MLE trains on the same posts without their labels (the
unconditional baseline); SentiGAN and CatGAN with ``--label-col side``. For every seed and model:
NLL-test, BLEU-4 and Self-BLEU-4 of the mixture (the conditional models as the mixture of their
categories), and for the conditional ones, per category, NLL-test, BLEU-4 and faithfulness (the share
of a category's samples that a classifier fit on held-out validation posts assigns to it). Mean [95%
t interval] over seeds; paired verdicts against MLE.

    python bench/categories.py --preset demo --seeds 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, seed_header, seed_table, write_results  # noqa: E402

HERE = Path(__file__).resolve().parent
TWON = HERE.parents[1] / "shared" / "data" / "twon"
METRICS = [("nll_test", True, "NLL-test"), ("bleu_4", False, "BLEU-4"), ("self_bleu_4", True, "Self-BLEU-4")]
MODELS = ("mle", "sentigan", "catgan")


def build_corpus(out: Path, limit: int) -> None:
    """train.jsonl / test.jsonl of labelled posts, the first ``limit`` training posts of each side."""
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        rows = []
        for side in ("left", "right"):
            texts = pq.read_table(TWON / f"{side}.{split}.parquet", columns=["full_text"]).column("full_text").to_pylist()
            rows += [{"text": t, "side": side} for t in (texts[:limit] if split == "train" else texts)]
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def run_metrics(run) -> dict:
    s = run.summary
    chosen = s["mle_best"] if run.config.algo == "mle" and s.get("mle_best") else s["final"]
    d = s.get("d_accuracy") or {}
    return {
        **{key: chosen.get(key) for key, _, _ in METRICS},
        "d_acc_start": d.get("adversarial_start"),
        "category_metrics": s["final"].get("category_metrics"),
        "category_faithfulness": s["final"].get("category_faithfulness"),
        "category_judge_test_accuracy": s["final"].get("category_judge_test_accuracy"),
        "wall_time_s": s["wall_time_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", choices=["smoke", "demo", "paper"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--train-limit", type=int, default=5000, help="training posts per side (TWON has 14,250)")
    parser.add_argument("--runs", default=str(HERE / "runs"))
    parser.add_argument("--continue", dest="resume", action="store_true", help="keep finished runs, resume a cut one")
    args = parser.parse_args()
    if not (TWON / "left.train.parquet").is_file():
        sys.exit(f"skipped: {TWON} not found (the shared TWON data is not on this machine)")
    from sparring import build_config, train
    from sparring.metrics.intervals import format_interval, mean_interval

    root = Path(args.runs) / f"twon-categories-{args.preset}"
    if not args.resume:
        shutil.rmtree(root, ignore_errors=True)
    corpus = root / "data"
    build_corpus(corpus, args.train_limit)
    per_seed: dict[int, dict[str, dict]] = {}
    for seed in range(args.seeds):
        runs = {}
        for algo in MODELS:
            out = root / f"seed-{seed}" / algo
            flags = {"data": str(corpus / "train.jsonl"), "test": str(corpus / "test.jsonl"), "seed": seed}
            if algo != "mle":  # MLE reads the same posts without their categories
                flags["text.label_col"] = "side"
            print(f"== seed {seed} {algo}", flush=True)
            runs[algo] = train(build_config(algo, args.preset, flags=flags), out, resume=args.resume and (out / "config.json").exists())
        per_seed[seed] = {algo: run_metrics(run) for algo, run in runs.items()}
        table, rows = seed_table(per_seed, METRICS, {}, {})
        notes = [
            f"Preset `{args.preset}`, seeds 0..{seed} ({seed + 1} of {args.seeds} done); TWON left and right posts, "
            f"{args.train_limit} training posts per side (5% held out for validation), all 750 + 750 test posts.",
            "MLE: the same posts without labels, at its best-validation epoch. SentiGAN and CatGAN: the mixture of their "
            "categories (prior: the training shares) for NLL-test, BLEU-4 and Self-BLEU-4; 'vs MLE': paired difference, "
            "'ahead' only when its 95% interval excludes 0.",
        ]
        for algo in ("sentigan", "catgan"):
            faith = [per_seed[s][algo]["category_faithfulness"] for s in per_seed]
            judge = [per_seed[s][algo]["category_judge_test_accuracy"] for s in per_seed]
            cells = []
            for name in ("left", "right"):
                nll = [per_seed[s][algo]["category_metrics"][name]["nll_test"] for s in per_seed]
                bleu = [per_seed[s][algo]["category_metrics"][name]["bleu_4"] for s in per_seed]
                cells.append(f"{name}: NLL-test {format_interval(*mean_interval(nll))}, BLEU-4 {format_interval(*mean_interval(bleu))}")
            notes.append(f"{algo}: faithfulness {format_interval(*mean_interval(faith))} (the judge's own test accuracy "
                         f"{format_interval(*mean_interval(judge))}); " + "; ".join(cells) + ".")  # fmt: skip
        notes.append(f"Machine: {machine()}")
        write_results(f"categories-twon-{args.preset}", {"preset": args.preset, "per_seed": per_seed, "summary": table,
                      "machine": machine()}, seed_header(METRICS, "-"), rows, notes)  # fmt: skip
    print((HERE / "results" / f"categories-twon-{args.preset}.md").read_text())


if __name__ == "__main__":
    main()
