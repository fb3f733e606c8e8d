"""Helpers shared by the benchmark scripts: timing and writing results as JSON plus a markdown table."""

from __future__ import annotations

import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def machine() -> dict[str, object]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_results(name: str, data: dict, table_header: list[str], table_rows: list[list[str]], notes: list[str]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = ["| " + " | ".join(table_header) + " |", "|" + "---|" * len(table_header)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows]
    md = RESULTS / f"{name}.md"
    md.write_text("\n".join([f"# {name}", "", *lines, "", *notes]) + "\n")
    return md


def _family() -> tuple[list[str], set[str]]:
    """Every registered text GAN (the registry's order), and those that start from the MLE run's
    best-validation generator: the ones whose settings accept ``pretrained=RUN`` (a plain LSTM
    generator). The others (LeakGAN, RelGAN, MaskGAN, SentiGAN, CatGAN) pre-train their own."""
    from sparring.errors import UserError
    from sparring.gans.registry import METHODS
    from sparring.kinds import build_config

    from_mle = set()
    for name in METHODS:
        try:
            build_config(name, "smoke", overrides={"pretrained": "runs/mle"})
        except UserError:
            continue
        if name != "mle":
            from_mle.add(name)
    return list(METHODS), from_mle


FAMILY, FROM_MLE = _family()
# the family table's setting of a model, where its default is not the comparable one
FAMILY_SETTINGS = {"maskgan": {"maskgan.mask_rate": 1.0}}  # everything masked: MaskGAN as an unconditional generator


def finished_seeds(name: str, same: dict) -> tuple[dict[int, dict], dict[int, dict]]:
    """(per_seed, frontier) of the seeds an earlier run of this bench wrote to ``name``.json, when it
    ran with the same settings ``same`` (else nothing: those seeds are not comparable)."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return {}, {}
    data = json.loads(path.read_text())
    if any(data.get(key) != value for key, value in same.items()):
        raise SystemExit(f"--continue: {path} was written with other settings ({ {k: data.get(k) for k in same} }); rerun without it")
    return ({int(k): v for k, v in data.get("per_seed", {}).items()}, {int(k): v for k, v in data.get("frontier", {}).items()})


def parse_variant(text: str) -> tuple[str, tuple[str, dict[str, str]]]:
    """``LABEL=ALGO:KEY=VALUE;KEY=VALUE``: one more row, ALGO with extra settings (e.g.
    ``seqgan+mle=seqgan:adversarial.mle_every=5``), trained beside the others of the same seed."""
    label, _, rest = text.partition("=")
    algo, _, settings = rest.partition(":")
    if not label or algo not in FAMILY or label in FAMILY:
        raise SystemExit(f"--variant {text!r}: expected LABEL=ALGO:KEY=VALUE;... with ALGO one of {', '.join(FAMILY)} and a new LABEL")
    return label, (algo, dict(item.split("=", 1) for item in settings.split(";") if item))


def run_family(
    base: Path,
    preset: str,
    common: dict,
    models: list[str],
    extra: dict[str, dict] | None = None,
    variants: dict[str, tuple[str, dict]] | None = None,
    resume: bool = False,
) -> dict:
    """Train each model of ``models`` (MLE first when any model starts from it) into ``base/<model>``.

    ``variants`` maps a label to (algorithm, extra settings): run after the family, into ``base/<label>``.
    ``resume``: a run directory already there is continued (a finished one is read back as it is)."""
    from sparring import build_config, train
    from sparring.kinds import describe_settings

    variants = variants or {}
    extra = {m: {**FAMILY_SETTINGS.get(m, {}), **(extra or {}).get(m, {})} for m in FAMILY}
    plan = [(m, m, extra[m]) for m in sorted(models, key=lambda m: FAMILY.index(m))]
    plan += [(label, algo, settings) for label, (algo, settings) in variants.items()]
    if FROM_MLE & {algo for _, algo, _ in plan} and "mle" not in models:
        plan.insert(0, ("mle", "mle", extra["mle"]))
    runs = {}
    for label, algo, settings in plan:
        known = {key for key, _, _, _ in describe_settings(algo)}
        overrides = {k: v for k, v in {**common, **settings}.items() if k in known}  # e.g. no adversarial.* for MLE
        if algo in FROM_MLE:
            overrides["pretrained"] = str(base / "mle")
        print(f"== {label}", flush=True)
        out = base / label
        runs[label] = train(build_config(algo, preset, overrides=overrides), out, resume=resume and (out / "config.json").exists())
    return runs


def phase_seconds(run) -> dict:
    return {k: v["seconds"] for k, v in run.summary["phases"].items()}


def seed_table(
    per_seed: dict[int, dict[str, dict]],
    metrics: list[tuple[str, bool, str]],
    frontier: dict[int, dict[str, dict]],
    extra: dict[str, str] | None = None,
) -> tuple[dict, list[list[str]]]:
    """Mean and 95% t interval over seeds of each metric per model, and each model against MLE:
    a paired (same seed) verdict per metric and, with a sweep, the frontier gap at matched coverage.

    ``metrics``: (key, lower is better, label). ``frontier[seed][model]``: ``compare_fronts`` of the
    model against MLE (``mean_gap`` > 0: the model is better). ``extra[model]``: one more cell."""
    from sparring.metrics.intervals import format_interval, mean_interval, paired_verdict

    seeds = sorted(per_seed)
    models = [m for m in per_seed[seeds[0]] if all(m in per_seed[s] for s in seeds)]  # in run order, MLE first
    table, rows = {}, []
    for model in models:
        entry: dict = {}
        line = [model, str(len(seeds))]
        for key, _, _ in metrics:
            entry[key] = mean_interval([per_seed[s][model][key] for s in seeds])
            line.append(format_interval(*entry[key]))
        d_start = [per_seed[s][model].get("d_acc_start") for s in seeds]
        d_start = [d for d in d_start if d is not None]
        entry["d_acc_start"] = mean_interval(d_start) if d_start else None
        line.append(format_interval(*entry["d_acc_start"], digits=2) if d_start else "-")
        for key, lower, _ in metrics:
            if model == "mle" or "mle" not in models:
                line.append("-")
                continue
            verdict = paired_verdict([per_seed[s][model][key] for s in seeds], [per_seed[s]["mle"][key] for s in seeds], lower)
            entry[f"vs_mle_{key}"] = verdict
            line.append(f"{verdict[0]} ({format_interval(*verdict[1:])})")
        gaps = [frontier[s][model]["mean_gap"] for s in seeds if (frontier.get(s, {}).get(model) or {}).get("mean_gap") is not None]
        if gaps:
            mean, low, high = mean_interval(gaps)
            call = "tie" if math.isnan(low) or low <= 0 <= high else ("ahead" if low > 0 else "behind")
            names = {"a dominates": f"{model} dominates", "b dominates": "MLE dominates"}
            calls = [frontier[s][model]["verdict"] for s in seeds if model in frontier.get(s, {})]
            per_seed_verdicts = [names.get(c, c) for c in calls]
            entry["frontier_vs_mle"] = {"mean_gap": (mean, low, high), "call": call, "per_seed": per_seed_verdicts}
            line.append(f"{call} ({format_interval(mean, low, high)}; {', '.join(entry['frontier_vs_mle']['per_seed'])})")
        else:
            line.append("-")
        line.append((extra or {}).get(model, "-"))
        wall = mean_interval([per_seed[s][model]["wall_time_s"] for s in seeds])
        line.append(format_interval(*wall, digits=0))
        table[model] = entry
        rows.append(line)
    return table, rows


def variant_lines(
    per_seed: dict[int, dict[str, dict]], metrics: list[tuple[str, bool, str]], variants: dict[str, tuple[str, dict]]
) -> list[str]:
    """One line per variant: the paired (same seed) verdict against its plain algorithm, per metric."""
    from sparring.metrics.intervals import format_interval, paired_verdict

    seeds, lines = sorted(per_seed), []
    for label, (algo, _) in variants.items():
        if not all(label in per_seed[s] and algo in per_seed[s] for s in seeds):
            continue
        cells = []
        for key, lower, name in metrics:
            verdict = paired_verdict([per_seed[s][label][key] for s in seeds], [per_seed[s][algo][key] for s in seeds], lower)
            cells.append(f"{name} {verdict[0]} ({format_interval(*verdict[1:])})")
        lines.append(f"{label} vs {algo} (paired over {len(seeds)} seeds, {label} - {algo}): " + "; ".join(cells) + ".")
    return lines


def seed_header(metrics: list[tuple[str, bool, str]], extra: str) -> list[str]:
    return [
        "model",
        "seeds",
        *(m[2] for m in metrics),
        "D acc (adv. start)",
        *(f"vs MLE: {m[2]}" for m in metrics),
        "frontier vs MLE",
        extra,
        "wall time (s)",
    ]


def frontier_gap(run_dir: Path, mle_dir: Path, x_key: str, y_key: str, y_sign: float) -> dict:
    """``compare_fronts`` of a run's temperature sweep against MLE's: both axes as costs."""
    from sparring.gans.api import load_run
    from sparring.gans.frontier import compare_fronts
    from sparring.gans.report import sweep_rows

    fronts = [[(r[x_key], y_sign * r[y_key]) for r in sweep_rows(load_run(p))] for p in (run_dir, mle_dir)]
    return compare_fronts(fronts[0], fronts[1])
