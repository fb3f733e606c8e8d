"""The ``sparring`` command: the lines' commands composed, parsed and run. No training logic lives here.

Each line declares its commands (``sparring.lines``); only the command being run has its parser
built (and its line imported), so ``sparring --help`` lists every command without loading any line.
``evaluate`` is the one verb shared across lines: it goes to the line that trained the runs it is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sparring.errors import UserError
from sparring.lines import Line, line_of_command, lines

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2), like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


EVALUATE_HELP = "sweep sampling temperatures (text GANs) or re-run the before/after evaluation (align) of finished runs"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``command`` in full, every other command by its one-line help (all of them with ``None``)."""
    parser = _Parser(prog="sparring", description="Train text generators by sparring with a critic.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for line in lines():
        for name, help_text in line.commands.items():
            if name == command:
                line.cli_module().add_parser(sub, name)
            else:
                sub.add_parser(name, help=help_text)
    if command == "evaluate":
        _add_evaluate(sub)
    else:
        sub.add_parser("evaluate", help=EVALUATE_HELP)
    return parser


def _add_evaluate(sub: Any) -> None:
    evaluate = sub.add_parser(
        "evaluate",
        help=EVALUATE_HELP,
        description="Text-GAN runs: evaluate the generator of each RUN_DIR at every --temperature (NLL-oracle vs NLL-test on "
        "the oracle, BLEU vs Self-BLEU on real text); writes RUN_DIR/evaluation/{temperatures.json,temperatures.md,"
        "quality-diversity.png,features-pca.png}, and with several runs a combined table and plot in --out. Align runs: the "
        "before/after evaluation again, into RUN_DIR/evaluation.json and .md (the other options are the text GANs').",
    )
    evaluate.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="finished run directories, all of one line")
    evaluate.add_argument(
        "--temperature", type=float, nargs="+", default=None, metavar="T", help="sampling temperatures (default: 0.7 0.85 1.0 1.2 1.5)"
    )
    evaluate.add_argument("--out", metavar="DIR", default=None, help="where the combined table and plot go for several runs (./evaluation)")
    evaluate.add_argument("--pca-samples", type=int, default=None, help="real and generated sentences in features-pca.png (default 1000)")
    evaluate.add_argument("--seed", type=int, default=None, help="sampling seed (default 0)")


def _evaluate(args: argparse.Namespace) -> int:
    """Send ``evaluate`` to the line that trained the runs (all of one line)."""
    from sparring.kinds import line_of_run
    from sparring.runs import RunDir

    found = {}
    for path in args.run_dirs:
        algo = RunDir.open_existing(path).read_config().get("algo")
        found[path] = line_of_run(str(algo))
    if len(set(found.values())) > 1:
        raise UserError("evaluate takes runs of one line at a time: all text-GAN runs, or all align runs")
    line = next(iter(found.values()))
    module = next((ln.cli_module() for ln in lines() if ln.name == line), None)
    if module is None or not hasattr(module, "evaluate"):
        raise UserError(f"evaluate takes text-GAN and align runs; {args.run_dirs[0]} is a {_algo(args.run_dirs[0])} run")
    return module.evaluate(args)


def _algo(path: str) -> str:
    try:
        return str(json.loads((Path(path) / "config.json").read_text()).get("algo"))
    except (OSError, ValueError, AttributeError):
        return "unknown"


def _command_in(argv: list[str]) -> str | None:
    """The command word: the first argument that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _command_in(argv)
    args = build_parser(command).parse_args(argv)
    line: Line | None = line_of_command(args.command)
    try:
        if args.command == "evaluate":
            return _evaluate(args)
        return line.cli_module().HANDLERS[args.command](args)
    except UserError as exc:
        sys.stderr.write(f"sparring {args.command}: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("sparring: interrupted (a run continues with --resume)\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
