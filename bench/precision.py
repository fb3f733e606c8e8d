"""Quality in bf16 against fp32: the same runs in both precisions, paired by seed (or by task), ties called ties.

Rows:
- ``oracle``: SeqGAN on the length-20 oracle, the demo schedule with the paper's 1,720-filter
  discriminator (the demo's own 300-filter D stays fp32 in a bf16 run, so it would compare a run with
  itself) and 2,000 negatives per D round, each seed's MLE run shared by both; NLL-oracle and NLL-test.
- ``align-sft``: ``sparring align --objective sft`` on the imitation task (demo schedule, fewer
  evaluation prompts); the two-sample accuracy and the model's NLL of the real responses after training.
- ``coco``: the oracle row's SeqGAN on COCO captions (../shared/data/coco; skipped when absent), with
  half the demo's D pre-training rounds and adversarial steps (``COCO_SCHEDULE``): BLEU-4 against the
  test set and NLL-test.
- ``mbpp``: the base model's pass@1 on the first MBPP test tasks (greedy, completion prompts),
  paired by task (a paired bootstrap over tasks).
- ``steps``: whole steps timed in both precisions, one after the other on a quiet machine: a GRPO step
  of ``sparring align``'s demo preset (imitation, LoRA) and an E-step update of ``sparring ra3``'s demo
  preset (mean of the steps after the first; the first pays for warming up).

Every run is an ordinary run directory under bench/runs/precision/; a finished one is kept and read
back, so ``--continue`` after a cut resumes where it stopped. Results go to
bench/results/precision.{json,md} after every run.

    python bench/precision.py --seeds 3            # all rows
    python bench/precision.py --only mbpp --continue
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, write_results  # noqa: E402

HERE = Path(__file__).resolve().parent
ORACLE = [  # the demo schedule with the paper's discriminator, 2,000 negatives per D round
    "discriminator.filter_sizes=1,2,3,4,5,6,7,8,9,10,15,20",
    "discriminator.num_filters=100,200,200,200,200,100,100,100,100,100,160,160",
    "pretrain_d.n_negatives=2000",
    "adversarial.n_negatives=2000",
]
ALIGN = ["--task", "imitation", "--objective", "sft", "--preset", "demo", "--set", "eval.n_prompts=60"]
COCO = HERE.parents[1] / "shared" / "data" / "coco"
# COCO's sequences are twice the oracle's length (41), so its Monte Carlo search costs about 4x: half the
# demo's D pre-training rounds and adversarial steps keep a seed's pair of runs near 20 minutes
COCO_SCHEDULE = ["pretrain_d.rounds=4", "adversarial.steps=10"]
GRPO_STEPS = ["align", "--task", "imitation", "--preset", "demo", "--set", "train.steps=4", "--set", "eval.n_prompts=6",
              "--set", "eval.folds=2", "--set", "eval.responses_per_prompt=1"]  # fmt: skip
ESTEP_STEPS = ["ra3", "--preset", "demo", "--set", "iterations=1", "--set", "mstep.epochs=1"]


def cli(args: list[str]) -> None:
    from sparring.cli import main

    code = main(args)
    if code != 0:
        raise SystemExit(f"sparring {' '.join(args)} exited {code}")


def finished(run: Path) -> dict[str, Any] | None:
    path = run / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None


def sets(items: list[str]) -> list[str]:
    return [a for item in items for a in ("--set", item)]


def oracle_runs(root: Path, seed: int, section: str = "oracle") -> dict[str, dict]:
    """MLE, then SeqGAN from its best checkpoint in fp32 and in bf16 (on the oracle, or on COCO)."""
    base = root / section / f"seed-{seed}"
    data = [] if section == "oracle" else ["--data", str(COCO / "train.txt"), "--test", str(COCO / "test.txt")]
    out: dict[str, dict] = {}
    mle = base / "mle"
    if not finished(mle):
        cli(["train", "mle", *data, "--preset", "demo", "--seed", str(seed), "--out", str(mle), *sets(["precision=fp32"]), *resume(mle)])
    for precision in ("fp32", "bf16"):
        run = base / f"seqgan-{precision}"
        if not finished(run):
            more = [*ORACLE, *(COCO_SCHEDULE if section == "coco" else []), f"pretrained={mle}", f"precision={precision}"]
            cli(["train", "seqgan", *data, "--preset", "demo", "--seed", str(seed), "--out", str(run), *sets(more), *resume(run)])
        final = finished(run)["final"]
        out[precision] = {"nll_oracle": final["nll_oracle"], "nll_test": final["nll_test"], "bleu_4": final.get("bleu_4"),
                          "wall_time_s": finished(run)["wall_time_s"], "precision": finished(run)["precision"]}  # fmt: skip
    return out


def coco_runs(root: Path, seed: int) -> dict[str, dict]:
    return oracle_runs(root, seed, "coco")


def step_times(root: Path) -> dict[str, dict]:
    """Seconds per GRPO step (align demo) and per E-step update (ra3 demo), fp32 and bf16, same seed."""
    out: dict[str, dict] = {"align_grpo_step_s": {}, "ra3_estep_update_s": {}}
    for precision in ("fp32", "bf16"):
        run = root / "steps" / f"align-{precision}"
        if not finished(run):
            cli([*GRPO_STEPS, "--set", f"precision={precision}", "--out", str(run), *resume(run)])
        out["align_grpo_step_s"][precision] = finished(run)["mean_step_time_s"]
        run = root / "steps" / f"ra3-{precision}"
        if not finished(run):
            cli([*ESTEP_STEPS, "--set", f"precision={precision}", "--out", str(run), *resume(run)])
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        times = [r["elapsed_s"] for r in rows if r.get("phase") == "estep" and r.get("iteration") == 1]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        out["ra3_estep_update_s"][precision] = round(sum(gaps) / len(gaps), 2)
    return out


def align_runs(root: Path, seed: int) -> dict[str, dict]:
    out = {}
    for precision in ("fp32", "bf16"):
        run = root / "align-sft" / f"{precision}-s{seed}"
        if not finished(run):
            cli(["align", *ALIGN, "--seed", str(seed), "--set", f"precision={precision}", "--out", str(run), *resume(run)])
        summary = finished(run)
        after = summary["evaluation"]["after"]
        out[precision] = {"c2st_acc": after["c2st_acc"], "c2st_low": after["c2st_low"], "c2st_high": after["c2st_high"],
                          "nll_of_real": after["nll_of_real"], "train_time_s": summary["train_time_s"],
                          "mean_step_time_s": summary["mean_step_time_s"], "precision": summary["precision"]}  # fmt: skip
    return out


def mbpp_runs(root: Path, limit: int) -> dict[str, dict]:
    out = {}
    for precision in ("fp32", "bf16"):
        run = root / "mbpp" / precision
        if not finished(run):
            if run.exists():
                import shutil

                shutil.rmtree(run)  # eval-code has no resume: a cut evaluation starts again
            cli(["eval-code", "--benchmark", "mbpp", "--model", "smollm2", "--n", "1",
                 "--temperature", "0", "--limit", str(limit), "--prompt-style", "completion", "--set", f"precision={precision}",
                 "--out", str(run)])  # fmt: skip
        summary = finished(run)
        passed = {task: float(c > 0) for task, (_, c) in summary["per_task_correct"].items()}  # n = 1
        out[precision] = {"pass_at_1": sum(passed.values()) / len(passed), "per_task": passed,
                          "generation_seconds": summary.get("generation_seconds"), "precision": summary.get("precision")}  # fmt: skip
    return out


def resume(run: Path) -> list[str]:
    return ["--resume"] if run.exists() else []


def report(data: dict) -> None:
    from sparring.metrics.intervals import format_interval, paired_bootstrap_verdict, paired_verdict

    rows, notes = [], []

    def by_seed(section: dict, label: str, metrics: tuple[tuple[str, str], ...]) -> None:
        """One row per metric (lower is better): bf16 against fp32, paired over the section's seeds."""
        seeds = sorted(int(s) for s in section)
        for key, name in metrics if len(seeds) >= 2 else ():
            b = [section[str(s)]["bf16"][key] for s in seeds]
            f = [section[str(s)]["fp32"][key] for s in seeds]
            verdict, *interval = paired_verdict(b, f, lower_is_better=True)
            rows.append([f"{label} {name}", f"{len(seeds)} seeds", f"{sum(f) / len(f):.3f}", f"{sum(b) / len(b):.3f}",
                         format_interval(*interval), "tie" if verdict == "tie" else f"bf16 {verdict}"])  # fmt: skip

    oracle = data.get("oracle", {})
    by_seed(oracle, "oracle SeqGAN", (("nll_oracle", "NLL-oracle"), ("nll_test", "NLL-test")))
    coco = data.get("coco", {})
    by_seed(coco, "COCO SeqGAN", (("nll_test", "NLL-test"),))
    seeds = sorted(int(s) for s in coco)
    if len(seeds) >= 2:  # BLEU: higher is better
        b = [coco[str(s)]["bf16"]["bleu_4"] for s in seeds]
        f = [coco[str(s)]["fp32"]["bleu_4"] for s in seeds]
        verdict, *interval = paired_verdict(b, f, lower_is_better=False)
        rows.append(["COCO SeqGAN BLEU-4", f"{len(seeds)} seeds", f"{sum(f) / len(f):.3f}", f"{sum(b) / len(b):.3f}",
                     format_interval(*interval), "tie" if verdict == "tie" else f"bf16 {verdict}"])  # fmt: skip
    for key, name in (("align_grpo_step_s", "align demo GRPO step"), ("ra3_estep_update_s", "RA3 demo E-step update")):
        times = data.get("steps", {}).get(key, {})
        if {"fp32", "bf16"} <= set(times):
            notes.append(f"{name}: fp32 {times['fp32']:.2f} s, bf16 {times['bf16']:.2f} s ({times['fp32'] / times['bf16']:.2f}x).")
    align = data.get("align", {})
    seeds = sorted(int(s) for s in align)
    if len(seeds) == 1:  # one seed: each run's own interval over held-out prompts, a tie when they overlap
        f, b = align[str(seeds[0])]["fp32"], align[str(seeds[0])]["bf16"]
        apart = f["c2st_high"] < b["c2st_low"] or b["c2st_high"] < f["c2st_low"]
        verdict = "tie" if not apart else ("bf16 ahead" if b["c2st_acc"] < f["c2st_acc"] else "bf16 behind")
        rows.append(["align SFT two-sample acc", "1 seed (prompt intervals)",
                     format_interval(f["c2st_acc"], f["c2st_low"], f["c2st_high"]),
                     format_interval(b["c2st_acc"], b["c2st_low"], b["c2st_high"]),
                     f"{b['c2st_acc'] - f['c2st_acc']:.3f}", verdict])  # fmt: skip
        rows.append(["align SFT model NLL of real", "1 seed", f"{f['nll_of_real']:.3f}", f"{b['nll_of_real']:.3f}",
                     f"{b['nll_of_real'] - f['nll_of_real']:.3f}", "no interval: context only"])  # fmt: skip
        notes.append(f"align SFT mean step time: fp32 {f['mean_step_time_s']:.2f} s, bf16 {b['mean_step_time_s']:.2f} s.")
    by_seed(align, "align SFT", (("c2st_acc", "two-sample acc"), ("nll_of_real", "model NLL of real")))
    mbpp = data.get("mbpp")
    if mbpp and {"fp32", "bf16"} <= set(mbpp):
        tasks = sorted(mbpp["fp32"]["per_task"])
        b = [mbpp["bf16"]["per_task"][t] for t in tasks]
        f = [mbpp["fp32"]["per_task"][t] for t in tasks]
        verdict, *interval = paired_bootstrap_verdict(b, f, higher_is_better=True)
        rows.append([f"MBPP pass@1 (base, greedy, first {len(tasks)} tasks)", f"{len(tasks)} tasks", f"{sum(f) / len(f):.3f}",
                     f"{sum(b) / len(b):.3f}", format_interval(*interval), "tie" if verdict == "tie" else f"bf16 {verdict}"])  # fmt: skip
        same = sum(x == y for x, y in zip(b, f, strict=True))
        notes.append(f"MBPP: {same} of {len(tasks)} tasks have the same verdict in both precisions; generation "
                     f"{mbpp['fp32']['generation_seconds']} s fp32, {mbpp['bf16']['generation_seconds']} s bf16.")  # fmt: skip
    timed = (("oracle SeqGAN wall time (s)", oracle, "wall_time_s"), ("COCO SeqGAN wall time (s)", coco, "wall_time_s"),
             ("align SFT train time (s)", align, "train_time_s"))  # fmt: skip
    for name, section, key in timed:
        if section:
            f = [v["fp32"][key] for v in section.values()]
            b = [v["bf16"][key] for v in section.values()]
            notes.append(f"{name}: fp32 {sum(f) / len(f):.0f}, bf16 {sum(b) / len(b):.0f} (mean over {len(f)} seeds).")
    write_results(
        "precision",
        data,
        ["comparison", "paired over", "fp32", "bf16", "bf16 - fp32 [95% interval]", "verdict"],
        rows,
        [
            "Each comparison runs the same settings and seeds in both precisions; the interval is the 95% t interval of the",
            "paired difference over seeds (a paired bootstrap over tasks for MBPP). 'tie': the interval contains 0.",
            "Oracle: SeqGAN demo schedule with the paper's discriminator (where bf16 acts) and 2,000 negatives per D round,",
            "from each seed's fp32 MLE run; COCO: the same on COCO captions with 4 D pre-training rounds and 10 adversarial steps.",
            "align SFT: imitation, demo schedule, 60 evaluation prompts. MBPP: SmolLM2-135M-Instruct,",
            "completion prompts, greedy, n=1.",
            *notes,
            f"Machine: {machine()}",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--mbpp-limit", type=int, default=100)
    sections = ["oracle", "coco", "align", "mbpp", "steps"]
    parser.add_argument("--only", nargs="+", choices=sections, default=sections)
    parser.add_argument("--continue", dest="resume", action="store_true", help="keep what results/precision.json holds")
    parser.add_argument("--runs", default=str(HERE / "runs" / "precision"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = Path(args.runs)
    path = RESULTS / "precision.json"
    data = json.loads(path.read_text()) if args.resume and path.exists() else {}
    data["machine"] = machine()
    for section in args.only:
        if section == "mbpp":
            data["mbpp"] = mbpp_runs(root, args.mbpp_limit)
            report(data)
            continue
        if section == "steps":
            data["steps"] = step_times(root)
            report(data)
            continue
        if section == "coco" and not (COCO / "train.txt").is_file():
            print(f"coco skipped: {COCO / 'train.txt'} not found (the shared COCO data is not on this machine)")
            continue
        for seed in range(args.seeds):
            if args.resume and {"fp32", "bf16"} <= set(data.get(section, {}).get(str(seed), {})):
                continue  # measured before (--continue)
            runner = {"oracle": oracle_runs, "coco": coco_runs, "align": align_runs}[section]
            data.setdefault(section, {})[str(seed)] = runner(root, seed)
            report(data)
    print((RESULTS / "precision.md").read_text())


if __name__ == "__main__":
    main()
