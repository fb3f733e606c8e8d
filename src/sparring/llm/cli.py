"""The alignment line's commands: ``align``, ``generate``, and ``evaluate`` of its runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sparring.cli_options import add_run_arguments, settings_epilog
from sparring.config import resolve
from sparring.errors import UserError
from sparring.llm.config import KINDS
from sparring.runs import writing_into


def add_parser(sub: Any, command: str) -> None:
    if command == "align":
        from sparring.critics.registry import CRITICS

        align = sub.add_parser(
            "align",
            help="adversarial alignment of an instruction-tuned LLM: a discriminator is the reward",
            description="Train an instruction-tuned causal LM against a discriminator of real vs generated responses "
            "(TRL GRPO with D's score as the reward, the seed's objective, or D plus your own reward). Writes config.json, "
            "metrics.jsonl, model/ (save_pretrained), samples.csv, evaluation.json/.md, curves.png and summary.json into --out. "
            "Data-parallel: accelerate launch -m sparring align ...",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=settings_epilog(KINDS),
        )
        align.add_argument(
            "--model", default=None, help="generator: a local HF directory, a hub id, or smollm2 (embedded default, from PyPI)"
        )
        align.add_argument("--task", choices=["imitation"], default=None, help="imitation (default): learn a hidden teacher's style")
        align.add_argument("--data", metavar="FILE", default=None, help="(prompt, response) pairs from a .csv/.jsonl/.parquet file instead")
        align.add_argument("--test", metavar="FILE", default=None, help="held-out pairs (default: hold out task.test_fraction of --data)")
        align.add_argument("--prompt-col", default=None, help="prompt column of --data (default 'prompt')")
        align.add_argument("--response-col", default=None, help="response column of --data (default 'response')")
        align.add_argument(
            "--system", default=None, help="system instruction of the chat template (default 'You are a helpful AI assistant.')"
        )
        align.add_argument("--chat-template", metavar="FILE", default=None, help="Jinja chat template for models without one")
        align.add_argument(
            "--objective",
            choices=["reward", "seed", "hybrid", "sft", "soda"],
            default=None,
            help="reward (default), seed, hybrid, sft (the baseline: supervised fine-tuning on the real responses), "
            "or soda (DPO: the real response over the starting policy's own answer)",
        )
        align.add_argument("--init", metavar="RUN", default=None, help="start the policy from a finished align run (SFT or adversarial)")
        align.add_argument(
            "--disc",
            choices=sorted(CRITICS),
            default=None,
            help="encoder (MiniLM + head, default), seed (TransLSTM) or lm (GAD's: the student's base LM + a scalar head)",
        )
        align.add_argument("--d-loss", choices=["bce", "bt"], default=None, help="bce (original GAN, default) or bt (Bradley-Terry pairs)")
        align.add_argument("--reward", metavar="MODULE:FUNC", default=None, help="the user reward of the hybrid objective")
        align.add_argument("--lora", action="store_true", help="train a LoRA adapter instead of all weights")
        add_run_arguments(
            align,
            "paper (GPU scale, default), demo (~15 min on 2 CPU cores), gad (demo + SFT warm-up, Bradley-Terry D), smoke (~1 min)",
            "train.beta=0",
        )
    elif command == "generate":
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
    if args.disc == "lm":
        implied["disc.loss"] = "bt"  # GAD trains its LM critic with the Bradley-Terry loss (--d-loss still chooses)
    cfg = resolve(KINDS[0], args.preset, args.config, args.set, flags, implied)

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


def _generate(args: argparse.Namespace) -> int:
    from sparring.llm.generate import generate_from_run

    if args.n < 1:
        raise UserError(f"--n must be >= 1, got {args.n}")
    for text in generate_from_run(args.run_dir, args.prompt, args.n, args.temperature, args.max_new_tokens, args.seed):
        print(text)
        print("---")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """``sparring evaluate`` of align runs: the before/after evaluation again, with the run's own
    generation settings (the text-GAN sweep's options do not apply and are refused)."""
    given = [f"--{k.replace('_', '-')}" for k in ("temperature", "out", "pca_samples", "seed") if getattr(args, k) is not None]
    if given:
        raise UserError(f"evaluate of align runs takes no {', '.join(given)} (it uses each run's own generation settings and seed)")
    from sparring.llm.before_after import evaluate_run, evaluation_markdown

    for path in args.run_dirs:
        with writing_into(path):
            result = evaluate_run(Path(path))
        print(f"{path}:")
        print(evaluation_markdown(result))
    return 0


HANDLERS = {"align": _align, "generate": _generate}
