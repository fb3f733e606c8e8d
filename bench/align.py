"""Adversarial LLM alignment benchmark: before/after tables for the imitation task and TWON.

    python bench/align.py --preset demo                   # imitation (reward + seed ablation) and TWON right
    python bench/align.py --preset demo --only imitation-reward-sft   # adds a row to the existing table

Each run is a normal ``sparring align`` run directory under bench/runs/align-<preset>/<name>; the
table goes to bench/results/align-<preset>.{json,md}. The targets of the issue are checked and
printed, met or not: two-sample accuracy down by >= 0.15, teacher NLL down, distinct-2 >= 80% of
the real responses', D's share of a step <= 15%.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from _common import RESULTS, machine, write_results

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TWON = SHARED / "twon"
TWON_SYSTEM = "You are a social media user. Write a matching post to the given topic."

RUNS = {
    "imitation-reward": {"overrides": [], "system": None},
    "imitation-reward-sft": {"overrides": ["train.sft_coef=0.1"], "system": None},  # + interleaved SFT on real responses
    "imitation-seed": {"overrides": ["train.objective=seed", "disc.kind=seed"], "system": None},
    "twon-right-reward": {
        "overrides": [
            "task.name=data",
            f"task.data={TWON / 'right.train.parquet'}",
            f"task.test_data={TWON / 'right.test.parquet'}",
            "task.prompt_col=annotation",
            "task.response_col=full_text",
            "task.max_examples=2000",
        ],
        "system": TWON_SYSTEM,
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--only", nargs="+", choices=list(RUNS), default=None)
    parser.add_argument("--set", action="append", default=[], help="extra overrides for every run")
    args = parser.parse_args()

    from sparring.kinds import build_config
    from sparring.llm.align import align

    base = Path(__file__).resolve().parent / "runs" / f"align-{args.preset}"
    results = {}
    previous = RESULTS / f"align-{args.preset}.json"
    if args.only and previous.is_file():  # --only adds to / replaces rows of the existing table
        results = json.loads(previous.read_text()).get("runs", {})
    for name in args.only or [n for n in RUNS if n != "imitation-reward-sft"]:
        spec = RUNS[name]
        if name.startswith("twon") and not TWON.is_dir():
            print(f"skip {name}: {TWON} is absent", file=sys.stderr)
            continue
        cfg = build_config("align", args.preset, None, [f"model.name={args.model}", *spec["overrides"], *args.set])
        if spec["system"]:
            cfg.model.system_prompt = spec["system"]
        out = base / name
        if out.exists():
            shutil.rmtree(out)
        started = time.perf_counter()
        summary = align(cfg, out)
        summary["bench_wall_s"] = time.perf_counter() - started
        results[name] = summary
        print(f"{name}: done in {summary['bench_wall_s']:.0f} s", file=sys.stderr)

    header = ["run", "set", "two-sample acc [95% CI]", "Frechet", "teacher NLL", "distinct-2", "Self-BLEU-4", "words", "KL to base"]
    rows, verdicts = [], []
    for name, s in results.items():
        ev = s["evaluation"]
        for which in ("real", "before", "after"):
            r = ev[which]
            acc = f"{r['c2st_acc']:.3f} [{r['c2st_low']:.2f}, {r['c2st_high']:.2f}]" if "c2st_acc" in r else "-"
            rows.append(
                [
                    name,
                    which,
                    acc,
                    _f(r.get("frechet")),
                    _f(r.get("teacher_nll")),
                    _f(r.get("distinct_2")),
                    _f(r.get("self_bleu_4")),
                    _f(r.get("mean_words"), ".1f"),
                    _f(r.get("kl_to_reference")),
                ]
            )
        drop = ev["before"]["c2st_acc"] - ev["after"]["c2st_acc"]
        ratio = ev["after"]["distinct_2"] / ev["real"]["distinct_2"] if ev["real"]["distinct_2"] else float("nan")
        line = (
            f"{name}: two-sample accuracy {ev['before']['c2st_acc']:.3f} -> {ev['after']['c2st_acc']:.3f} (drop {drop:+.3f}, "
            f"target >= 0.15: {'met' if drop >= 0.15 else 'NOT met'}); distinct-2 {ratio:.0%} of real "
            f"(target >= 80%: {'met' if ratio >= 0.8 else 'NOT met'})"
        )
        if "teacher_nll" in ev["after"]:
            better = ev["after"]["teacher_nll"] < ev["before"]["teacher_nll"]
            verdict = "improved" if better else "NOT improved"
            line += f"; teacher NLL {ev['before']['teacher_nll']:.3f} -> {ev['after']['teacher_nll']:.3f} ({verdict})"
        share = s.get("mean_d_share")
        line += (
            f"; wall {s['wall_time_s']:.0f} s, step {s['mean_step_time_s']:.1f} s, D share "
            f"{share:.1%} (target <= 15%: {'met' if share is not None and share <= 0.15 else 'NOT met'}), "
            f"peak RSS {s['peak_rss_gib']:.2f} GiB"
        )
        verdicts.append(line)
    notes = [
        f"preset {args.preset}, model {args.model}; machine: {machine()}",
        "two-sample acc: 5-fold logistic regression on frozen MiniLM embeddings of real vs generated held-out responses "
        "(0.5 = indistinguishable). teacher NLL: nats per token under the hidden teacher (imitation only).",
        "",
        *[f"- {v}" for v in verdicts],
    ]
    md = write_results(f"align-{args.preset}", {"machine": machine(), "runs": results}, header, rows, notes)
    print(md.read_text())
    return 0


def _f(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


if __name__ == "__main__":
    raise SystemExit(main())
