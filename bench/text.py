"""The real-text benchmark: every model of the family on a corpus, scored by BLEU, Self-BLEU and NLL-test.

Defaults to COCO captions from ../shared/data/coco (10,000 training and 10,000 test sentences),
with the published Texygen numbers beside ours. Writes bench/results/text-<corpus>-<preset>.json and .md.

    python bench/text.py --preset demo
    python bench/text.py --train my.txt --test my_test.txt --name mycorpus
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FAMILY, machine, phase_seconds, run_family, write_results  # noqa: E402

COCO = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco"
TEXYGEN_COCO = {  # BLEU-2/3/4/5 reported by Texygen (Zhu et al., 2018) on Image COCO
    "mle": (0.731, 0.497, 0.305, 0.189),
    "seqgan": (0.745, 0.498, 0.294, 0.180),
    "leakgan": (0.746, 0.528, 0.355, 0.230),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=str(COCO / "train.txt"))
    parser.add_argument("--test", default=str(COCO / "test.txt"))
    parser.add_argument("--name", default="coco")
    parser.add_argument("--preset", default="demo", choices=["smoke", "demo", "paper"])
    parser.add_argument("--models", default=",".join(FAMILY))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra setting for every model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", default=str(Path(__file__).resolve().parent / "runs"))
    args = parser.parse_args()
    if not Path(args.train).exists():
        sys.exit(f"skipped: {args.train} not found (the shared COCO data is not on this machine)")

    name = f"text-{args.name}-{args.preset}"
    base = Path(args.runs) / name
    shutil.rmtree(base, ignore_errors=True)
    common = {"seed": args.seed, "data": args.train, "test": args.test, "device": args.device}
    common.update(dict(s.split("=", 1) for s in args.set))
    runs = run_family(base, args.preset, common, args.models.split(","))

    results, rows = {}, []
    for algo, run in runs.items():
        f = run.summary["final"]
        results[algo] = {**{k: f[k] for k in f if k not in ("phase", "step")}, "wall_time_s": run.summary["wall_time_s"],
                         "phase_seconds": phase_seconds(run), "data": run.summary.get("data"), "config": run.dir.read_config()}
        bleu = [f"{f[f'bleu_{n}']:.3f}" for n in (2, 3, 4, 5)]
        selfb = [f"{f[f'self_bleu_{n}']:.3f}" for n in (2, 3, 4, 5)]
        paper = TEXYGEN_COCO.get(algo) if args.name == "coco" else None
        rows.append([algo, "/".join(bleu), "/".join(f"{v:.3f}" for v in paper) if paper else "-", "/".join(selfb),
                     f"{f['nll_test']:.3f}", f"{f['mean_length']:.1f}", f"{run.summary['wall_time_s']:.0f}"])
    stats = next(iter(results.values()))["data"]
    first = next(iter(results.values()))
    notes = [
        f"Preset `{args.preset}`, seed {args.seed}, device {args.device}. {first['n_samples']} generated sentences at temperature "
        f"{first['temperature']}; BLEU against all {stats['test_sentences']} test sentences, Self-BLEU leave-one-out, NLTK method1 "
        "smoothing, mean of sentence scores (sparring/metrics/bleu.py). NLL-test: nats per token over words and the ending <eos>.",
        f"Data: {stats['train_sentences']} training sentences, vocabulary {stats['vocab_size']}, max {stats['max_len']} words "
        f"({stats['train_truncated']} training sentences truncated), test <unk> rate {stats['test_unk_rate']}.",
        "Texygen's numbers come from its own schedules and a hidden sampling setup (LeakGAN's code samples at temperature 1.5); "
        "for reference, the training sentences themselves score BLEU-2..5 of about 0.736/0.512/0.329/0.211 against this test set.",
        f"Machine: {machine()}",
    ]
    md = write_results(
        name,
        {"preset": args.preset, "train": args.train, "test": args.test, "results": results, "machine": machine()},
        ["model", "BLEU-2/3/4/5", "Texygen BLEU-2/3/4/5", "Self-BLEU-2/3/4/5", "NLL-test", "mean length", "wall time (s)"],
        rows,
        notes,
    )
    print(md.read_text())


if __name__ == "__main__":
    main()
