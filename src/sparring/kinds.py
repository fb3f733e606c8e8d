"""Every kind of run by the ``algo`` name its config.json carries, and the config engine by name.

The one place that knows all three lines' settings: the CLI, the Python API and the readers of
finished runs (``report``, ``sample``, ``evaluate``) go through it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sparring.code.config import KINDS as CODE_KINDS
from sparring.config import ConfigKind, describe, load, resolve
from sparring.errors import UserError
from sparring.gans.config import KINDS as GAN_KINDS
from sparring.llm.config import KINDS as ALIGN_KINDS

KINDS: dict[str, ConfigKind] = {kind.name: kind for kind in (*GAN_KINDS, *ALIGN_KINDS, *CODE_KINDS)}
LINES = {"gan": "text GANs (sparring train)", "align": "sparring align", "code": "sparring ra3 / ntp / rlvr"}


def names(line: str | None = None) -> list[str]:
    return sorted(name for name, kind in KINDS.items() if line is None or kind.line == line)


def kind_of(name: str, line: str | None = None) -> ConfigKind:
    if name not in KINDS or (line is not None and KINDS[name].line != line):
        raise UserError(f"unknown algorithm '{name}' (choose from: {', '.join(names(line))})")
    return KINDS[name]


def build_config(
    kind: str,
    preset: str = "paper",
    toml_file: str | Path | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
    flags: dict[str, Any] | None = None,
    implied: dict[str, Any] | None = None,
) -> Any:
    """The settings of a run of ``kind``: defaults < preset < TOML < ``--set`` < flags (``sparring.config.resolve``)."""
    return resolve(kind_of(kind), preset, toml_file, overrides, flags, implied)


def load_config(data: dict[str, Any], source: str = "config.json") -> Any:
    """A finished or interrupted run's settings, typed and validated, from its config.json."""
    algo = data.get("algo")
    if algo not in KINDS:
        raise UserError(f"{source}: unknown algorithm {algo!r}")
    return load(KINDS[algo], data, source)


def describe_settings(kind: str) -> list[tuple[str, str, Any, str]]:
    return describe(kind_of(kind))


def settings_help(kind_names: list[str], title: str) -> str:
    """The ``--help`` epilog: every setting of the given kinds with its default and its help."""
    lines = [title]
    for name in kind_names:
        if len(kind_names) > 1:
            lines.append(f"  {name}:")
        for key, kind, default, text in describe_settings(name):
            lines.append(f"    {key} ({kind}) = {default!r}" + (f"  {text}" if text else ""))
    return "\n".join(lines)


def require_line(run_path: Path, algo: str, line: str, verb: str) -> None:
    """One line for a verb given a run of another line: which kinds it takes, and what to use instead."""
    if algo in KINDS and KINDS[algo].line == line:
        return
    other = {
        "gan": "sparring sample / report / evaluate",
        "align": "sparring generate / evaluate",
        "code": "sparring eval-code --model RUN",
    }
    instead = other[KINDS[algo].line] if algo in KINDS else "its summary.json and results.jsonl"
    raise UserError(f"{verb} takes runs of {', '.join(names(line))}; {run_path} is a {algo} run (use {instead})")
