"""The oracle benchmark: the family on the synthetic LSTM oracle, over seeds, with 95% intervals.

For every seed, MLE trains first (model selection on the validation split: its best-NLL-valid
checkpoint is what every model with a plain LSTM generator starts from, and the MLE row reports
that checkpoint); LeakGAN, RelGAN, MaskGAN, SentiGAN and CatGAN pre-train their own generators. With ``--temperatures`` every
run is also swept over temperatures and compared with MLE at matched coverage (NLL-oracle at equal
NLL-test, along each run's Pareto front). Each metric is a mean over seeds with a 95% t interval;
a method is "ahead" of MLE only when the interval of the paired (same seed) difference excludes 0.

Writes bench/results/oracle-<len>-<preset>.json and .md after every seed, so a cut run keeps what
it finished. Runs go to bench/runs/ (not committed).

    python bench/oracle.py --preset demo --seq-len 20 --models mle,seqgan,leakgan --seeds 3
    python bench/oracle.py --preset demo --seq-len 40 --models mle,seqgan,leakgan   # LeakGAN's long-text setting
    python bench/oracle.py --preset demo --models mle,seqgan --set precision=fp32 --variant 'seqgan-bf16=seqgan:precision=bf16'
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    FAMILY,
    FROM_MLE,
    finished_seeds,
    frontier_gap,
    machine,
    parse_variant,
    phase_seconds,
    run_family,
    seed_header,
    seed_table,
    variant_lines,
    write_results,
)

PAPERS = {"mle": 9.04, "seqgan": 8.74, "leakgan": 7.04, "relgan": 6.68}  # length 20, each paper's own oracle and schedule
METRICS = [("nll_oracle", True, "NLL-oracle"), ("nll_test", True, "NLL-test")]


def run_metrics(run: Any, algo: str) -> dict[str, Any]:
    """What the table reports for one run: MLE at its best-validation checkpoint, the others final."""
    s = run.summary
    chosen = s["mle_best"] if algo == "mle" and s.get("mle_best") else s["final"]
    d = s.get("d_accuracy") or {}
    return {
        "nll_oracle": chosen["nll_oracle"],
        "nll_test": chosen["nll_test"],
        "nll_valid": chosen["nll_valid"],
        "epoch": chosen.get("epoch"),
        "mle_last_nll_test": s["final"]["nll_test"] if algo == "mle" else None,
        "d_acc_start": d.get("adversarial_start"),
        "d_acc_end": d.get("adversarial_end"),
        "entropy_floor": s["entropy_floor"],
        "phase_seconds": phase_seconds(run),
        "wall_time_s": s["wall_time_s"],
        "temperature": s["final"]["temperature"],
        "n_samples": s["final"]["n_samples"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", choices=["smoke", "demo", "paper"])
    parser.add_argument("--seq-len", type=int, default=20)
    parser.add_argument("--models", default=",".join(FAMILY), help="comma-separated subset of " + ",".join(FAMILY))
    parser.add_argument("--seeds", type=int, default=3, help="training seeds 0..N-1 (the oracle is the same for all)")
    parser.add_argument("--temperatures", default="0.8,1.0,1.25", help="sweep for the frontier comparison ('' to skip)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra settings for every run")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=ALGO:KEY=VALUE;...",
        help="one more row: ALGO with extra settings, compared with plain ALGO seed by seed",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--name", default=None, help="results name (default oracle-<len>-<preset>)")
    parser.add_argument("--runs", default=str(Path(__file__).resolve().parent / "runs"))
    parser.add_argument(
        "--continue",
        dest="resume",
        action="store_true",
        help="keep the seeds already in the results JSON (same preset, length and settings) and run the rest",
    )
    args = parser.parse_args()
    from sparring.config import parse_assignment
    from sparring.gans.evaluate import evaluate_runs

    name = args.name or f"oracle-{args.seq_len}-{args.preset}"
    temperatures = [float(t) for t in args.temperatures.split(",") if t]
    variants = dict(parse_variant(v) for v in args.variant)
    same = {"preset": args.preset, "seq_len": args.seq_len, "settings": args.set, "variants": variants or None}
    per_seed, frontier = finished_seeds(name, same) if args.resume else ({}, {})
    for seed in range(args.seeds):
        if seed in per_seed:
            continue
        base = Path(args.runs) / name / f"seed-{seed}"
        if not args.resume:
            shutil.rmtree(base, ignore_errors=True)  # with --continue, a cut seed's finished runs are kept and a cut run resumes
        common = {"seed": seed, "oracle.seq_len": args.seq_len, "device": args.device, **dict(parse_assignment(a) for a in args.set)}
        if args.seq_len == 40:  # LeakGAN's long-sequence oracle: embedding and hidden size 64 (generators to match)
            common.update({"oracle.emb_dim": 64, "oracle.hidden_dim": 64, "generator.emb_dim": 64, "generator.hidden_dim": 64})
        runs = run_family(base, args.preset, common, args.models.split(","), variants=variants, resume=args.resume)
        per_seed[seed] = {algo: run_metrics(run, algo) for algo, run in runs.items()}
        if temperatures:
            evaluate_runs([str(r.path) for r in runs.values()], temperatures, str(base / "evaluation"), pca_samples=200, seed=seed)
            frontier[seed] = {a: frontier_gap(base / a, base / "mle", "nll_test", "nll_oracle", 1.0) for a in runs if a != "mle"}
        papers = {a: f"{PAPERS[a]:.2f}" for a in PAPERS} if args.seq_len == 20 else {}
        table, rows = seed_table(per_seed, METRICS, frontier, papers)
        first = next(iter(per_seed[0].values()))
        mle_runs = [per_seed[s]["mle"] for s in per_seed if "mle" in per_seed[s]]
        notes = [
            f"Preset `{args.preset}`, length {args.seq_len}, seeds {sorted(per_seed)} ({len(per_seed)} of {args.seeds} done), "
            f"device {args.device}" + (f", extra settings {args.set}" if args.set else "") + ". "
            f"NLLs are per-token nats at temperature {first['temperature']} over {first['n_samples']} samples; the oracle's "
            f"entropy floor is {first['entropy_floor']:.3f}. Each cell: mean [95% t interval over seeds].",
            "MLE is reported at its best-validation epoch (chosen on NLL-valid, never on test); "
            f"{', '.join(sorted(FROM_MLE & set(args.models.split(','))))} start from that checkpoint; the others pre-train their own "
            "generators (MaskGAN with everything masked, an unconditional generator).",
            "'vs MLE' columns: paired difference (method - MLE, same seed), 'ahead' only when its 95% interval excludes 0, else 'tie'. "
            "The frontier column compares at matched coverage: mean NLL-oracle gap to MLE at equal NLL-test along the "
            f"Pareto fronts of the sweep over T = {args.temperatures} (positive: better than MLE), with each seed's verdict.",
            "D acc: the discriminator's held-out accuracy (validation real vs fresh samples) at the start of the adversarial phase.",
        ]
        if mle_runs:
            below = sum(m["nll_test"] < m["mle_last_nll_test"] for m in mle_runs)
            epochs = [m["epoch"] for m in mle_runs]
            notes.append(
                f"MLE's best-validation NLL-test is strictly below its last-epoch NLL-test in {below} of {len(mle_runs)} "
                f"seeds (best epochs {epochs}; with mle.patience the last epoch is a few after the best)."
            )
        notes.extend(variant_lines(per_seed, METRICS, variants))
        notes.append("The paper column is each paper's own oracle and full schedule: compare orderings, not values.")
        notes.append(f"Machine: {machine()}")
        write_results(
            name,
            {
                "preset": args.preset,
                "seq_len": args.seq_len,
                "seeds": sorted(per_seed),
                "device": args.device,
                "per_seed": per_seed,
                "frontier": frontier,
                "summary": table,
                "settings": args.set,
                "variants": variants or None,
                "machine": machine(),
            },
            seed_header(METRICS, "paper"),
            rows,
            notes,
        )
    print((Path(__file__).resolve().parent / "results" / f"{name}.md").read_text())


if __name__ == "__main__":
    main()
