"""The ``ra3``, ``ntp`` and ``rlvr`` subcommands (parsers and handlers), kept beside the code they drive."""

from __future__ import annotations

import argparse
from typing import Any

from sparring.cli_options import add_run_arguments, add_unsafe_argument, allow_unsafe_if_asked, settings_epilog
from sparring.errors import UserError
from sparring.kinds import build_config


def _common(parser: argparse.ArgumentParser, preset_help: str) -> None:
    parser.add_argument("--model", default=None, help="starting model: smollm2 (default), a model directory, a hub id, or a run directory")
    parser.add_argument(
        "--mbpp-file", default=None, help="sanitized-mbpp.json whose training ids (511-1000) are the data (default ../shared/data/mbpp/)"
    )
    add_run_arguments(parser, preset_help, "estep.think_cost=0.1")


def _parser(sub: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    return sub.add_parser(name, epilog=settings_epilog([name]), formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def add_parsers(sub: Any) -> None:
    ra3 = _parser(
        sub,
        "ra3",
        help="RA3 mid-training for code: EM over latent '# comment' abstractions (temporal ELBO)",
        description="E-step: a proposal policy learns, by group-relative RL, comments that raise a frozen model's likelihood of "
        "the next k expert lines (minus c per thought). M-step: SFT on the expert code with the chosen comments. Writes "
        "config.json, metrics.jsonl (E-step reward, ELBO, think rate), annotated/iter-N.jsonl, checkpoints/, model/, curves.png.",
    )
    _common(ra3, "paper (GPU), demo (2-core CPU, 24 programs, 2 EM iterations), smoke (tiny, seconds)")
    ra3.add_argument("--think-cost", type=float, default=None, help="c, nats per <think> (default 0.05)")

    ntp = _parser(
        sub,
        "ntp",
        help="the NTP baseline of RA3: SFT on the same expert code without latents, at the same token budget",
        description="Next-token-prediction mid-training on the same MBPP training documents. --match RA3_RUN trains for as "
        "many tokens as that run did; --tokens N sets the budget; neither: iterations x mstep.epochs passes.",
    )
    _common(ntp, "paper, demo or smoke (the same presets as ra3, so the SFT settings match)")
    budget = ntp.add_mutually_exclusive_group()
    budget.add_argument("--match", metavar="RA3_RUN", default=None, help="a finished ra3 run whose trained-token count to match")
    budget.add_argument("--tokens", type=int, default=None, help="tokens to train on")

    rlvr = _parser(
        sub,
        "rlvr",
        help="RL with verifiable rewards: GRPO on MBPP training tasks, the sandbox's test pass rate as the reward",
        description="TRL GRPO from any checkpoint (base, ntp or ra3 run). The reward of a completion is the share of its "
        "task's asserts that pass in the sandbox; --disc-weight adds the adversarial discriminator's reward against the "
        "reference solutions (RLVR plus demonstrations). Writes metrics.jsonl (pass-rate curve), curves.png, model/.",
    )
    _common(rlvr, "paper (GPU), demo (2-core CPU), smoke (tiny)")
    rlvr.add_argument("--disc-weight", type=float, default=None, help="weight of the discriminator reward (default 0: pure RLVR)")
    rlvr.add_argument(
        "--prompt-style", choices=["chat", "completion"], default=None,
        help="how tasks are asked: EvalPlus's chat convention or plain continuation (default: chat when the model has a chat template)",
    )  # fmt: skip
    add_unsafe_argument(rlvr)


def _config(algo: str, args: argparse.Namespace, extra: dict[str, Any]) -> Any:
    flags = {"model": args.model, "data.mbpp_file": args.mbpp_file, "seed": args.seed, **extra}
    return build_config(algo, args.preset, args.config, args.set, flags)


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
    from sparring import ntp

    if args.tokens is not None and args.tokens < 1:
        raise UserError(f"--tokens must be >= 1, got {args.tokens}")
    summary = ntp(_config("ntp", args, {}), args.out, tokens=args.tokens, match=args.match, resume=args.resume, report_to=args.report_to)
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


HANDLERS = {"ra3": run_ra3, "ntp": run_ntp, "rlvr": run_rlvr}
