"""Every kind of run by the ``algo`` name its config.json carries, composed from the lines.

The lines declare their kinds (``sparring.lines``); this module gathers them the first time a
reader needs them (``report``, ``sample``, ``evaluate``, the Python API), so importing it loads no line.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from sparring.config import ConfigKind, describe, load, resolve
from sparring.errors import UserError
from sparring.lines import lines


@cache
def all_kinds() -> dict[str, ConfigKind]:
    return {kind.name: kind for line in lines() for kind in line.kind_list()}


def names(line: str | None = None) -> list[str]:
    return sorted(name for name, kind in all_kinds().items() if line is None or kind.line == line)


def kind_of(name: str, line: str | None = None) -> ConfigKind:
    kinds = all_kinds()
    if name not in kinds or (line is not None and kinds[name].line != line):
        raise UserError(f"unknown algorithm '{name}' (choose from: {', '.join(names(line))})")
    return kinds[name]


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
    if algo not in all_kinds():
        raise UserError(f"{source}: unknown algorithm {algo!r}")
    return load(all_kinds()[algo], data, source)


def describe_settings(kind: str) -> list[tuple[str, str, Any, str]]:
    return describe(kind_of(kind))


def line_of_run(algo: str) -> str | None:
    """The line that trains runs of ``algo`` (None: not a sparring training run, e.g. an eval-code run)."""
    kind = all_kinds().get(algo)
    return kind.line if kind is not None else None
