"""The oracle benchmark: MLE, then SeqGAN starting from that very MLE generator, for one preset.

Writes bench/results/oracle-<len>-<preset>.json and .md with NLL-oracle, NLL-test, the entropy
floor and wall time per phase. Runs go to bench/runs/ (not committed).

    python bench/oracle.py --preset demo
    python bench/oracle.py --preset paper --device cuda     # the published schedule, on a GPU
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_results  # noqa: E402
from sparring import build_config, train  # noqa: E402

PAPER = "SeqGAN paper (its own oracle): MLE 9.04, SeqGAN 8.74 NLL-oracle."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", choices=["smoke", "demo", "paper"])
    parser.add_argument("--seq-len", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", default=str(Path(__file__).resolve().parent / "runs"))
    args = parser.parse_args()

    name = f"oracle-{args.seq_len}-{args.preset}"
    base = Path(args.runs) / name
    shutil.rmtree(base, ignore_errors=True)
    common = {"seed": args.seed, "oracle.seq_len": args.seq_len, "device": args.device}
    mle = train(build_config("mle", args.preset, overrides=common), base / "mle")
    seqgan = train(build_config("seqgan", args.preset, overrides={**common, "pretrained": str(base / "mle")}), base / "seqgan")

    results = {}
    for label, run in (("MLE", mle), ("SeqGAN", seqgan)):
        s = run.summary
        results[label] = {
            "nll_oracle": s["final"]["nll_oracle"],
            "nll_test": s["final"]["nll_test"],
            "entropy_floor": s["entropy_floor"],
            "phase_seconds": {k: v["seconds"] for k, v in s["phases"].items()},
            "wall_time_s": s["wall_time_s"],
            "temperature": s["final"]["temperature"],
            "n_samples": s["final"]["n_samples"],
        }
    start = next(r for r in seqgan.metrics if r["phase"] == "adversarial" and r["step"] == 0)
    results["SeqGAN"]["start_nll_oracle"] = start["nll_oracle"]
    data = {
        "preset": args.preset,
        "seq_len": args.seq_len,
        "seed": args.seed,
        "device": args.device,
        "results": results,
        "machine": machine(),
        "config": {"mle": mle.dir.read_config(), "seqgan": seqgan.dir.read_config()},
    }
    rows = []
    for label, r in results.items():
        phases = ", ".join(f"{k} {v:.0f}s" for k, v in r["phase_seconds"].items())
        rows.append(
            [label, f"{r['nll_oracle']:.3f}", f"{r['nll_test']:.3f}", f"{r['entropy_floor']:.3f}", phases, f"{r['wall_time_s']:.0f}"]
        )
    gap = results["MLE"]["nll_oracle"] - results["SeqGAN"]["nll_oracle"]
    verdict = (
        f"SeqGAN's NLL-oracle is {'below' if gap > 0 else 'not below'} its MLE-pretrained generator's "
        f"({results['SeqGAN']['nll_oracle']:.3f} vs {results['MLE']['nll_oracle']:.3f}, difference {gap:+.3f})."
    )
    md = write_results(
        name,
        data,
        ["model", "NLL-oracle", "NLL-test", "entropy floor", "wall time per phase", "total (s)"],
        rows,
        [
            verdict,
            "SeqGAN starts from the MLE run's final generator (`pretrained`), so the MLE row is its starting point.",
            f"Preset `{args.preset}`, length {args.seq_len}, seed {args.seed}, device {args.device}; NLLs are per-token nats at "
            f"temperature {results['MLE']['temperature']} over {results['MLE']['n_samples']} samples. {PAPER}",
            f"Machine: {data['machine']}",
        ],
    )
    print(md.read_text())


if __name__ == "__main__":
    main()
