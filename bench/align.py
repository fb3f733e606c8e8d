"""Adversarial LLM alignment against its SFT baseline, over seeds, with intervals.

    python bench/align.py --preset demo                 # the whole table (imitation and TWON right)
    python bench/align.py --preset demo --continue      # keep the finished runs, run the rest
    python bench/align.py --preset demo --only sft gad  # some rows only

Rows: base (the "before" of every run: the model itself); ``sft`` (``--objective sft``, the same
model, LoRA, prompts, steps and sequences per step as GRPO); ``soda`` (``--objective soda``: DPO of
the real answers over the base model's own, SFT's matching rule); ``grpo`` (GRPO on the encoder D's
reward from the base model); ``gad`` (the GAD protocol: ``--init`` the SFT run of the same seed, D
warmed up on that policy's answers, GRPO with a Bradley-Terry D); ``gad-lm`` (the same with GAD's
LM critic, ``--disc lm``); ``sft-grpo-sft`` (from the same SFT run, GRPO with interleaved SFT 0.1).
Imitation: every row but the last with ``--seeds`` seeds; TWON ``right``: one seed each.

Each run is an ordinary ``sparring align`` run directory under bench/runs/align-<preset>/; the
table goes to bench/results/align-<preset>.{json,md} after every run, so a cut bench keeps what it
finished. A row with several seeds shows the mean and the 95% t interval over seeds; a row with one
seed shows the run's own 95% interval over held-out prompts. Verdicts: GAD vs SFT (paired by seed
when both have several, else by the prompt intervals), each "ahead / tie / behind".
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from _common import RESULTS, machine, write_results

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TWON = SHARED / "twon"
TWON_SYSTEM = "You are a social media user. Write a matching post to the given topic."
TWON_TASK = [
    "task.name=data",
    f"task.data={TWON / 'right.train.parquet'}",
    f"task.test_data={TWON / 'right.test.parquet'}",
    "task.prompt_col=annotation",
    "task.response_col=full_text",
    "task.max_examples=2000",
    "eval.responses_per_prompt=1",
    f"model.system_prompt={TWON_SYSTEM}",
]
# (label, overrides, the label of the run it starts from)
METHODS = {
    "sft": (["train.objective=sft"], None),
    "soda": (["train.objective=soda"], None),
    "grpo": ([], None),
    "gad": (["disc.loss=bt"], "sft"),
    "gad-lm": (["disc.kind=lm", "disc.loss=bt"], "sft"),
    "sft-grpo-sft": (["train.sft_coef=0.1"], "sft"),
}
METRICS = [  # (key, label, lower is better)
    ("c2st_acc", "two-sample acc", True),
    ("frechet", "Frechet", True),
    ("mauve", "MAUVE", False),
    ("capped_share", "cut at the cap", None),
    ("teacher_nll", "teacher NLL", None),  # neither: bland text scores well (see docs/llm.md)
    ("nll_of_real", "model NLL of real", True),
    ("distinct_2", "distinct-2", None),
    ("self_bleu_4", "Self-BLEU-4", None),
    ("kl_to_reference", "KL to base", None),
]


def plan(seeds: int, only: list[str] | None) -> list[tuple[str, str, int]]:
    """(task, method, seed): every warm start's SFT run first, and the headline comparisons (GAD vs SFT, on
    both tasks) before the single-seed context rows."""
    runs = [("imitation", "sft", s) for s in range(seeds)] + [("imitation", "gad", s) for s in range(seeds)]
    runs += [("imitation", "soda", s) for s in range(seeds)] + [("imitation", "gad-lm", s) for s in range(seeds)]
    runs += [("imitation", "grpo", s) for s in range(seeds)]
    runs += [("twon", m, 0) for m in ("sft", "soda", "grpo", "gad", "gad-lm")]
    runs += [("imitation", "sft-grpo-sft", 0)]
    return [r for r in runs if only is None or r[1] in only or any(METHODS[m][1] == r[1] for m in only)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the imitation SFT and GAD rows")
    parser.add_argument("--only", nargs="+", choices=list(METHODS), default=None, help="these methods (and the SFT runs they start from)")
    parser.add_argument("--continue", dest="resume", action="store_true", help="keep finished run directories")
    parser.add_argument("--set", action="append", default=[], help="extra overrides for every run")
    args = parser.parse_args()

    from sparring.kinds import build_config
    from sparring.llm.align import align

    base = Path(__file__).resolve().parent / "runs" / f"align-{args.preset}"
    summaries: dict[str, dict[str, Any]] = {}
    for task, method, seed in plan(args.seeds, args.only):
        if task == "twon" and not TWON.is_dir():
            print(f"skip twon: {TWON} is absent", file=sys.stderr)
            continue
        name = f"{task}-{method}-s{seed}"
        out = base / name
        overrides, start_from = METHODS[method]
        settings = [f"model.name={args.model}", f"seed={seed}", *overrides, *(TWON_TASK if task == "twon" else []), *args.set]
        if start_from:
            settings.append(f"model.init={base / f'{task}-{start_from}-s{seed}'}")
        if args.resume and (out / "summary.json").is_file():
            summaries[name] = json.loads((out / "summary.json").read_text())
        else:
            shutil.rmtree(out, ignore_errors=True)
            started = time.perf_counter()
            summaries[name] = align(build_config("align", args.preset, None, settings), out)
            print(f"{name}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        write_table(args, summaries)
    print((RESULTS / f"align-{args.preset}.md").read_text())
    return 0


def row_cells(values: list[dict], key: str) -> str:
    """Mean [95% interval]: over seeds when there are several, else the run's interval over prompts."""
    from sparring.metrics.intervals import format_interval, mean_interval

    present = [v for v in values if v.get(key) is not None]
    if not present:
        return "-"
    if len(present) > 1:
        return format_interval(*mean_interval([v[key] for v in present]))
    ci = present[0].get("ci", {}).get(key)
    return format_interval(present[0][key], *ci) if ci else f"{present[0][key]:.3f}"


def verdict(a: list[dict], b: list[dict], key: str, lower: bool) -> str:
    """a vs b on one metric: paired over seeds when both have the same several seeds, else by the
    prompt intervals of single runs (disjoint intervals, or a tie)."""
    from sparring.metrics.intervals import format_interval, paired_verdict

    if len(a) > 1 and len(a) == len(b):
        call, mean, low, high = paired_verdict([x[key] for x in a], [y[key] for y in b], lower)
        return f"{call} ({format_interval(mean, low, high)}, paired over {len(a)} seeds)"
    (x,), (y,) = a[:1], b[:1]
    (xl, xh), (yl, yh) = x["ci"][key], y["ci"][key]
    better = (xh < yl) if lower else (xl > yh)
    worse = (xl > yh) if lower else (xh < yl)
    return f"{'ahead' if better else 'behind' if worse else 'tie'} ({x[key]:.3f} vs {y[key]:.3f}, prompt intervals)"


def write_table(args: argparse.Namespace, summaries: dict[str, dict]) -> None:
    groups: dict[tuple[str, str], list[dict]] = {}
    for name, s in summaries.items():
        task, method = name.rsplit("-s", 1)[0].split("-", 1)
        groups.setdefault((task, method), []).append(s)
    header = ["task", "row", "seeds", *(label for _, label, _ in METRICS), "distinct-2 / real", "wall (s)", "D share"]
    # METRICS' keys missing from runs made before a metric existed show as "-"
    rows, lines = [], []
    for task in ("imitation", "twon"):
        runs = {m: g for (t, m), g in groups.items() if t == task}
        if not runs:
            continue
        first = next(iter(runs.values()))
        real = first[0]["evaluation"]["real"]
        rows.append([task, "real responses", "-", *(row_cells([real], k) if k in real else "-" for k, _, _ in METRICS), "1.00", "-", "-"])
        base_rows = [s["evaluation"]["before"] for s in runs.get("sft", first)]
        rows.append([task, "base (before)", str(len(base_rows)), *(row_cells(base_rows, k) for k, _, _ in METRICS), "-", "-", "-"])
        for method in METHODS:
            if method not in runs:
                continue
            after = [s["evaluation"]["after"] for s in runs[method]]
            ratio = sum(a["distinct_2"] for a in after) / len(after) / real["distinct_2"] if real.get("distinct_2") else float("nan")
            wall = sum(s["wall_time_s"] for s in runs[method]) / len(after)
            shares = [s["mean_d_share"] for s in runs[method] if s.get("mean_d_share") is not None]
            share = f"{sum(shares) / len(shares):.1%}" if shares else "-"
            cells = [row_cells(after, k) for k, _, _ in METRICS]
            rows.append([task, method, str(len(after)), *cells, f"{ratio:.2f}", f"{wall:.0f}", share])
        for a, b in (("soda", "sft"), ("grpo", "sft"), ("gad", "sft"), ("gad-lm", "sft"), ("gad-lm", "gad"), ("sft", "base")):
            if a not in runs or (b not in runs and b != "base"):
                continue
            left = [s["evaluation"]["after"] for s in runs[a]]
            right = [s["evaluation"]["before"] for s in runs[a]] if b == "base" else [s["evaluation"]["after"] for s in runs[b]]
            calls = [f"{label} {verdict(left, right, key, lower)}" for key, label, lower in METRICS if lower is not None and key in left[0]]
            lines.append(f"{task}, {a} vs {b}: " + "; ".join(calls) + ".")
    notes = [
        f"Preset `{args.preset}`, model {args.model}{', extra settings ' + str(args.set) if args.set else ''}; machine: {machine()}.",
        "Several seeds: mean [95% t interval over seeds]; one seed: the run's value [95% jackknife interval over held-out prompts]. "
        "two-sample acc: logistic regression on frozen MiniLM embeddings of real vs generated held-out responses, "
        "cross-validated with a prompt's responses in one fold (0.5 = indistinguishable). teacher NLL: nats per token under "
        "the hidden teacher (imitation only); model NLL of real: the trained model's NLL of the real held-out responses.",
        "Matching rule: SFT takes the GRPO runs' steps, learning rate and LoRA setting, with prompts_per_step x num_generations "
        "real pairs per step (as many sequences as a GRPO step trains on). gad and sft-grpo-sft start from the SFT run of "
        "the same seed, so they have had that SFT budget plus their own GRPO steps.",
        "",
        *[f"- {line}" for line in lines],
    ]
    write_results(f"align-{args.preset}", {"machine": machine(), "runs": summaries, "seeds": args.seeds}, header, rows, notes)


if __name__ == "__main__":
    raise SystemExit(main())
