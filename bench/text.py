"""The real-text benchmark: the family on a corpus over seeds, scored by BLEU, Self-BLEU and NLL-test.

Defaults to COCO captions from ../shared/data/coco (10,000 training and 10,000 test sentences),
with the published Texygen numbers beside ours. As on the oracle (bench/oracle.py): MLE is chosen
on the validation split and SeqGAN, MaliGAN and RankGAN start from it; every metric is a mean over
seeds with a 95% t interval; "ahead" of MLE only when the paired interval excludes 0; with a
temperature sweep, BLEU-4 at equal Self-BLEU-4 along the Pareto fronts. A run whose samples fall
below 70% of the test sentences' mean length or distinct-2 is flagged as collapsed.
Writes bench/results/text-<corpus>-<preset>.json and .md after every seed.

    python bench/text.py --preset demo --models mle,seqgan --seeds 3
    python bench/text.py --preset demo --models mle,seqgan --variant 'seqgan+mle=seqgan:adversarial.mle_every=5'
    python bench/text.py --train my.txt --test my_test.txt --name mycorpus
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    FAMILY,
    FROM_MLE,
    frontier_gap,
    machine,
    parse_variant,
    run_family,
    seed_header,
    seed_table,
    variant_lines,
    write_results,
)  # noqa: E402

COCO = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco"
TEXYGEN_COCO = {  # BLEU-2/3/4/5 reported by Texygen (Zhu et al., 2018) on Image COCO
    "mle": (0.731, 0.497, 0.305, 0.189),
    "seqgan": (0.745, 0.498, 0.294, 0.180),
    "leakgan": (0.746, 0.528, 0.355, 0.230),
}


METRICS = [("bleu_4", False, "BLEU-4"), ("self_bleu_4", True, "Self-BLEU-4"), ("nll_test", True, "NLL-test")]


def run_metrics(run, algo: str) -> dict:
    """MLE at its best-validation checkpoint, the others final; plus D's accuracy and the data's statistics."""
    s = run.summary
    chosen = s["mle_best"] if algo == "mle" and s.get("mle_best") else s["final"]
    d = s.get("d_accuracy") or {}
    return {
        **{k: v for k, v in chosen.items() if k not in ("phase", "step")},
        "d_acc_start": d.get("adversarial_start"),
        "wall_time_s": s["wall_time_s"],
        "data": s.get("data"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=str(COCO / "train.txt"))
    parser.add_argument("--test", default=str(COCO / "test.txt"))
    parser.add_argument("--name", default="coco")
    parser.add_argument("--preset", default="demo", choices=["smoke", "demo", "paper"])
    parser.add_argument("--models", default=",".join(FAMILY))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--temperatures", default="0.8,1.0,1.25", help="sweep for the frontier comparison ('' to skip)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra setting for every model")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=ALGO:KEY=VALUE;...",
        help="one more row: ALGO with extra settings, e.g. seqgan+mle=seqgan:adversarial.mle_every=5",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", default=str(Path(__file__).resolve().parent / "runs"))
    parser.add_argument("--continue", dest="resume", action="store_true",
                        help="keep the runs already under --runs: finished ones are read back, a cut one resumes")  # fmt: skip
    args = parser.parse_args()
    variants = dict(parse_variant(v) for v in args.variant)
    if not Path(args.train).exists():
        sys.exit(f"skipped: {args.train} not found (the shared COCO data is not on this machine)")
    from sparring.gans.evaluate import evaluate_runs
    from sparring.gans.report import COLLAPSE_SHARE

    name = f"text-{args.name}-{args.preset}"
    temperatures = [float(t) for t in args.temperatures.split(",") if t]
    per_seed: dict[int, dict[str, dict]] = {}
    frontier: dict[int, dict[str, dict]] = {}
    for seed in range(args.seeds):
        base = Path(args.runs) / name / f"seed-{seed}"
        if not args.resume:
            shutil.rmtree(base, ignore_errors=True)  # with --continue, a cut seed's finished runs are kept and a cut run resumes
        common = {"seed": seed, "data": args.train, "test": args.test, "device": args.device, **dict(s.split("=", 1) for s in args.set)}
        runs = run_family(base, args.preset, common, args.models.split(","), variants=variants, resume=args.resume)
        per_seed[seed] = {algo: run_metrics(run, algo) for algo, run in runs.items()}
        if temperatures:
            evaluate_runs([str(r.path) for r in runs.values()], temperatures, str(base / "evaluation"), pca_samples=200, seed=seed)
            frontier[seed] = {a: frontier_gap(base / a, base / "mle", "self_bleu_4", "bleu_4", -1.0) for a in runs if a != "mle"}
        stats = next(iter(per_seed[0].values()))["data"]
        collapsed = {}
        for algo in per_seed[0]:
            flags = [
                f"seed {s}: {k}"
                for s in per_seed
                for k, ref in (
                    ("mean_words", stats["test_mean_words"]),
                    ("distinct_2", per_seed[s][algo].get("data_distinct_2") or stats["test_distinct_2"]),
                )  # same-size set
                if per_seed[s][algo].get(k) is not None and per_seed[s][algo][k] < COLLAPSE_SHARE * ref
            ]
            collapsed[algo] = "collapsed (" + ", ".join(flags) + ")" if flags else "no"
        table, rows = seed_table(per_seed, METRICS, frontier, collapsed)
        paper = [f"{m}: " + "/".join(f"{v:.3f}" for v in TEXYGEN_COCO[m]) for m in per_seed[0] if m in TEXYGEN_COCO]
        notes = [
            f"Preset `{args.preset}`, seeds 0..{seed} ({seed + 1} of {args.seeds} done), device {args.device}"
            + (f", extra settings {args.set}" if args.set else "")
            + "".join(f"; {label} = {algo} with {settings}" for label, (algo, settings) in variants.items())
            + ". Each cell: mean [95% t interval over seeds]. "
            "BLEU against all test sentences, Self-BLEU leave-one-out, NLTK method1 smoothing (sparring/metrics/bleu.py); "
            "NLL-test: nats per token over words and the ending <eos>.",
            f"Data: {stats['train_sentences']} training and {stats['valid_sentences']} validation sentences "
            f"({stats['valid_source']}), {stats['test_sentences']} test; vocabulary {stats['vocab_size']}, max {stats['max_len']} "
            f"words; test sentences: mean length {stats['test_mean_words']}, distinct-2 {stats['test_distinct_2']}.",
            f"MLE is reported at its best-validation epoch; {', '.join(sorted(FROM_MLE & set(args.models.split(','))))} start "
            "from that checkpoint. 'vs MLE': "
            "paired difference (method - MLE), 'ahead' only when its 95% interval excludes 0. Frontier: mean BLEU-4 gap to MLE at "
            f"equal Self-BLEU-4 along the Pareto fronts of the sweep over T = {args.temperatures} (positive: better than MLE).",
            *variant_lines(per_seed, METRICS, variants),
            f"Collapsed: mean length or distinct-2 below {COLLAPSE_SHARE:.0%} of the test sentences'.",
            "Texygen's BLEU-2/3/4/5 (own schedules, hidden sampling setup): " + "; ".join(paper) if paper else "",
            f"Machine: {machine()}",
        ]
        write_results(
            name,
            {
                "preset": args.preset,
                "train": args.train,
                "test": args.test,
                "seeds": sorted(per_seed),
                "settings": args.set,
                "variants": variants,
                "per_seed": per_seed,
                "frontier": frontier,
                "summary": table,
                "machine": machine(),
            },
            seed_header(METRICS, "collapsed"),
            rows,
            [n for n in notes if n],
        )
    print((Path(__file__).resolve().parent / "results" / f"{name}.md").read_text())


if __name__ == "__main__":
    main()
