"""The command-line options every training command shares, and the settings epilog of ``--help``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sparring.config import ConfigKind, describe

PRECEDENCE = "defaults < --preset < --config FILE.toml < --set KEY=VALUE < explicit flags"


def settings_epilog(kinds: Sequence[ConfigKind]) -> str:
    """The ``--help`` epilog: every setting of the given kinds with its default and its help."""
    lines = [f"settings for --set KEY=VALUE and --config FILE.toml (applied in the order {PRECEDENCE}):"]
    for kind in kinds:
        if len(kinds) > 1:
            lines.append(f"  {kind.name}:")
        for key, type_name, default, text in describe(kind):
            lines.append(f"    {key} ({type_name}) = {default!r}" + (f"  {text}" if text else ""))
    return "\n".join(lines)


def add_run_arguments(
    parser: argparse.ArgumentParser, preset_help: str, set_example: str, resume: bool = True, report_to: bool = True
) -> None:
    """The options every training command shares: one spelling, one meaning, one precedence."""
    parser.add_argument("--preset", default="paper", help=preset_help)
    parser.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    parser.add_argument("--config", metavar="FILE.toml", default=None, help="TOML file of settings, applied after the preset")
    parser.add_argument(
        "--set", metavar="KEY=VALUE", action="append", default=[], help=f"override one setting (repeatable), e.g. --set {set_example}"
    )
    parser.add_argument("--out", metavar="RUN_DIR", required=True, help="run directory to create (must not exist unless --resume)")
    if resume:
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue RUN_DIR from its last checkpoint: give the same command again; a changed setting is refused "
            "unless it is safe to change on resume (device, checkpoint_every, workers)",
        )
    if report_to:
        parser.add_argument(
            "--report-to", choices=["none", "tensorboard"], default="none", help="also log metrics to TensorBoard (RUN_DIR/tensorboard)"
        )
