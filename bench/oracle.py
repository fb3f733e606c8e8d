"""The oracle benchmark: every model of the family on the synthetic LSTM oracle, for one preset and length.

SeqGAN, MaliGAN and RankGAN start from the MLE run's final generator (so the MLE row is their
starting point); LeakGAN and RelGAN have their own generators and pre-train them themselves.
Writes bench/results/oracle-<len>-<preset>.json and .md. Runs go to bench/runs/ (not committed).

    python bench/oracle.py --preset demo --seq-len 20
    python bench/oracle.py --preset demo --seq-len 40      # LeakGAN's long-text setting (oracle 64/64)
    python bench/oracle.py --preset paper --device cuda    # the published schedules, on a GPU
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FAMILY, FROM_MLE, machine, phase_seconds, run_family, write_results  # noqa: E402

PAPERS = {"mle": 9.04, "seqgan": 8.74, "leakgan": 7.04, "relgan": 6.68}  # length 20, each paper's own oracle and schedule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", choices=["smoke", "demo", "paper"])
    parser.add_argument("--seq-len", type=int, default=20)
    parser.add_argument("--models", default=",".join(FAMILY), help="comma-separated subset of " + ",".join(FAMILY))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", default=str(Path(__file__).resolve().parent / "runs"))
    args = parser.parse_args()

    name = f"oracle-{args.seq_len}-{args.preset}"
    base = Path(args.runs) / name
    shutil.rmtree(base, ignore_errors=True)
    common = {"seed": args.seed, "oracle.seq_len": args.seq_len, "device": args.device}
    if args.seq_len == 40:  # LeakGAN's long-sequence oracle: embedding and hidden size 64 (generators to match)
        common.update({"oracle.emb_dim": 64, "oracle.hidden_dim": 64, "generator.emb_dim": 64, "generator.hidden_dim": 64})
    runs = run_family(base, args.preset, common, args.models.split(","))

    results = {}
    for algo, run in runs.items():
        s = run.summary
        results[algo] = {
            "nll_oracle": s["final"]["nll_oracle"],
            "nll_test": s["final"]["nll_test"],
            "best_nll_oracle": s["best"].get("nll_oracle", {}).get("value"),
            "entropy_floor": s["entropy_floor"],
            "phase_seconds": phase_seconds(run),
            "wall_time_s": s["wall_time_s"],
            "temperature": s["final"]["temperature"],
            "n_samples": s["final"]["n_samples"],
            "config": run.dir.read_config(),
        }
    rows = []
    for algo, r in results.items():
        paper = f"{PAPERS[algo]:.2f}" if args.seq_len == 20 and algo in PAPERS else "-"
        start = "MLE row" if algo in FROM_MLE else "own pre-training"
        rows.append([algo, f"{r['nll_oracle']:.3f}", f"{r['nll_test']:.3f}", f"{r['best_nll_oracle']:.3f}", paper, start,
                     f"{r['wall_time_s']:.0f}"])
    floor = next(iter(results.values()))["entropy_floor"]
    notes = [
        f"Preset `{args.preset}`, length {args.seq_len}, seed {args.seed}, device {args.device}. NLLs are per-token nats at "
        f"temperature {next(iter(results.values()))['temperature']} over {next(iter(results.values()))['n_samples']} samples; "
        f"the oracle's entropy floor is {floor:.3f}. 'final' is the last evaluation, 'best' the lowest seen during the run.",
        "The paper column is each paper's own oracle and full schedule: not the same oracle, so compare orderings, not values.",
    ]
    if "seqgan" in results and "leakgan" in results:
        lead = results["seqgan"]["nll_oracle"] - results["leakgan"]["nll_oracle"]
        notes.insert(0, f"LeakGAN's final NLL-oracle is {'below' if lead > 0 else 'not below'} SeqGAN's ({lead:+.3f} nats).")
    notes.append(f"Machine: {machine()}")
    md = write_results(
        name,
        {"preset": args.preset, "seq_len": args.seq_len, "seed": args.seed, "device": args.device, "results": results,
         "machine": machine()},
        ["model", "NLL-oracle (final)", "NLL-test (final)", "NLL-oracle (best)", "paper", "starts from", "wall time (s)"],
        rows,
        notes,
    )
    print(md.read_text())


if __name__ == "__main__":
    main()
