"""The text-GAN line's commands: ``train``, ``sample``, ``report``, and ``evaluate`` of its runs."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from sparring.cli_options import add_run_arguments, settings_epilog
from sparring.config import resolve
from sparring.errors import UserError
from sparring.runs import writing_into

EVALUATE_DEFAULTS = {"temperature": [0.7, 0.85, 1.0, 1.2, 1.5], "pca_samples": 1000, "seed": 0}


def _methods() -> dict[str, Any]:
    from sparring.gans.registry import METHODS

    return METHODS


def add_parser(sub: Any, command: str) -> None:
    if command == "train":
        names = sorted(_methods())
        train = sub.add_parser(
            "train",
            help="train a generator into a run directory",
            description="Train ALGO on DATA and write config.json, metrics.jsonl, summary.json, samples.txt, "
            "checkpoints/ and curves.png into --out.",
            epilog=settings_epilog([_methods()[n].kind for n in names]),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        train.add_argument("algo", metavar="ALGO", help=f"algorithm: {', '.join(names)}")
        train.add_argument(
            "--data",
            default=None,
            help="training data: 'oracle' (the synthetic LSTM benchmark, default), a text file with one sentence per line, "
            "a .jsonl/.csv/.parquet file, or a Hugging Face dataset name",
        )
        train.add_argument(
            "--test", metavar="PATH", default=None, help="held-out file for real text (default: hold out text.test_fraction of --data)"
        )
        train.add_argument(
            "--valid", metavar="PATH", default=None, help="validation file for real text (default: hold out text.valid_fraction of --data)"
        )
        train.add_argument("--text-col", metavar="COL", default=None, help="text column of .jsonl/.csv/.parquet data (default 'text')")
        train.add_argument(
            "--label-col", metavar="COL", default=None, help="category column, for the category-conditional models (sentigan, catgan)"
        )
        train.add_argument(
            "--seq-len",
            type=int,
            default=None,
            help="sequence length of the oracle benchmark (20 by default; 40 is LeakGAN's setting "
            "and also sets the oracle's and the generator's embedding and hidden sizes to 64)",
        )
        add_run_arguments(
            train,
            "named schedule: paper (the published one, default), demo (< 5 min on 2 CPU cores), smoke (< 1 min)",
            "eval.n_samples=2000",
        )
    elif command == "sample":
        sample = sub.add_parser(
            "sample",
            help="print samples from a run's generator",
            description="Print N sequences (words on real text, token ids on the oracle) from the last checkpoint of RUN_DIR.",
        )
        sample.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by 'sparring train'")
        sample.add_argument("--n", type=int, default=10, help="number of sequences (default 10)")
        sample.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (default 1.0)")
        sample.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
        sample.add_argument("--label", metavar="CATEGORY", default=None, help="sentences of one category (sentigan, catgan runs)")
    elif command == "report":
        report = sub.add_parser(
            "report",
            help="compare the final metrics of runs",
            description="Print a table of final metrics of one or more runs, say which is ahead, and write curves.png.",
        )
        report.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="run directories")
        report.add_argument(
            "--plot",
            metavar="PATH",
            default=None,
            help="where to write curves.png (default: RUN_DIR/curves.png for one run, ./curves.png for several)",
        )


def _train(args: argparse.Namespace) -> int:
    implied = {}
    if args.seq_len == 40:  # LeakGAN's long-text oracle: embedding and hidden size 64 (--set can still change them)
        implied = {f"{part}.{dim}": 64 for part in ("oracle", "generator") for dim in ("emb_dim", "hidden_dim")}
    flags = {"oracle.seq_len": args.seq_len, "seed": args.seed, "data": args.data, "test": args.test, "valid": args.valid}
    flags["text.text_col"] = args.text_col
    flags["text.label_col"] = args.label_col
    methods = _methods()
    if args.algo not in methods:
        raise UserError(f"unknown algorithm '{args.algo}' (choose from: {', '.join(sorted(methods))})")
    cfg = resolve(methods[args.algo].kind, args.preset, args.config, args.set, flags, implied)

    from sparring.gans.api import train

    run = train(cfg, args.out, resume=args.resume, report_to=args.report_to)
    final = (run.summary or {}).get("final", {})
    if final.get("nll_oracle") is not None:
        print(
            f"{run.path}: NLL-oracle {final['nll_oracle']:.3f}, NLL-test {final['nll_test']:.3f}, "
            f"entropy floor {run.summary['entropy_floor']:.3f}"
        )
    else:
        print(
            f"{run.path}: NLL-test {final.get('nll_test'):.3f}, BLEU-4 {final.get('bleu_4'):.3f}, "
            f"Self-BLEU-4 {final.get('self_bleu_4'):.3f} (T={final.get('temperature')}, {final.get('n_samples')} samples)"
        )
    return 0


def _sample(args: argparse.Namespace) -> int:
    from sparring.gans.api import load_run

    lines = load_run(args.run_dir, "sample").sample_text(n=args.n, temperature=args.temperature, seed=args.seed, label=args.label)
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """``sparring evaluate`` of text-GAN runs (the root sends them here)."""
    from rich.console import Console
    from rich.table import Table

    from sparring.gans.evaluate import evaluate_runs

    for key, default in EVALUATE_DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    if args.pca_samples < 2:
        raise UserError(f"--pca-samples must be >= 2, got {args.pca_samples}")
    written = evaluate_runs(args.run_dirs, args.temperature, args.out, args.pca_samples, args.seed)
    rows = written["rows"]
    text = rows[0]["nll_oracle"] is None
    keys = ["nll_test", "bleu_2", "bleu_4", "self_bleu_2", "self_bleu_4", "distinct_2"] if text else ["nll_oracle", "nll_test"]
    table = Table(title="generator metrics by sampling temperature (NLL in nats/token; NLL-test scores the tempered model)")
    for col in ("run", "checkpoint", "T", "samples", *keys):
        table.add_column(col, justify="left" if col in ("run", "checkpoint") else "right")
    for r in rows:
        table.add_row(r["run"], r["checkpoint"], f"{r['temperature']:g}", str(r["n_samples"]), *(f"{r[k]:.3f}" for k in keys))
    console = Console() if Console().is_terminal else Console(width=160)
    console.print(table)
    for path, info in written["runs"].items():
        console.print(f"{path}: {info['dir']}/ (features-pca.png from {info['pca_source']})", highlight=False)
    if "combined" in written:
        console.print(f"combined: {written['combined']}/quality-diversity.png", highlight=False)
    return 0


def _report(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sparring.gans.api import load_run
    from sparring.gans.report import collapse_flags, frontier_verdicts, report_rows, verdict, write_curves

    runs = [load_run(p, "report") for p in args.run_dirs]
    rows = report_rows(runs)
    text = any(r["nll_oracle"] is None and r["bleu_4"] is not None for r in rows)
    table = Table(title="final metrics (per-token NLL in nats; lower is better)")
    quality = ("BLEU-4", "Self-BLEU-4") if text else ("NLL-oracle",)
    columns = ("run", "algo", "at", *quality, "NLL-test", "NLL-valid", "D acc start -> end", "entropy floor", "wall time", "status")
    for col in columns:
        table.add_column(col, justify="left" if col in ("run", "algo", "at", "status") else "right")

    def fmt(v: float | None, spec: str = ".3f") -> str:
        return "-" if v is None else format(v, spec)

    for r in rows:
        d = r["d_accuracy"] or {}
        table.add_row(
            r["run"],
            r["algo"],
            r["at"],
            *((fmt(r["bleu_4"]), fmt(r["self_bleu_4"])) if text else (fmt(r["nll_oracle"]),)),
            fmt(r["nll_test"]),
            fmt(r["nll_valid"]),
            f"{fmt(d.get('adversarial_start'))} -> {fmt(d.get('adversarial_end'))}" if d else "-",
            fmt(r["entropy_floor"]),
            fmt(r["wall_time_s"], ".0f") + ("s" if r["wall_time_s"] is not None else ""),
            r["status"],
        )
    console = Console()
    if not console.is_terminal:  # logs and pipes: wide enough that no column is cut
        console = Console(width=180)
    console.print(table)
    for line in [*verdict(rows), *frontier_verdicts(runs), *collapse_flags(rows)]:
        console.print(line, highlight=False)
    plot = Path(args.plot) if args.plot else (runs[0].path / "curves.png" if len(runs) == 1 else Path("curves.png"))
    inside = next((run.path for run in runs if plot.resolve().parent == run.path.resolve()), None)
    with writing_into(inside) if inside is not None else nullcontext():  # a run being written is not drawn into
        write_curves(runs, plot)
    console.print(f"curves: {plot}", highlight=False)
    return 0


HANDLERS = {"train": _train, "sample": _sample, "report": _report}
