"""The lines of sparring, composed by name.

Each line's package declares itself in a light ``line.py`` (no torch, no settings): its commands
with their one-line help, the module that builds their parsers and runs them, and where its kinds of
run (settings, presets, validator) are. The root imports a line's CLI or kinds only when a command
or a reader needs them, so ``import sparring`` and ``sparring --help`` load none of the three lines.
Adding a line is one ``line.py`` and one entry in ``LINE_MODULES``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

LINE_MODULES = ("sparring.gans.line", "sparring.llm.line", "sparring.code.line")


@dataclass(frozen=True)
class Line:
    """One line: ``commands`` (name -> one-line help) are built by ``cli``'s ``add_parser(sub, name)``
    and run by its ``HANDLERS[name](args)``; ``kinds`` is ``"module:ATTRIBUTE"`` of its ConfigKinds;
    ``readers`` names the commands that read its runs (for messages)."""

    name: str
    title: str
    commands: dict[str, str]
    cli: str
    kinds: str
    readers: str

    def cli_module(self) -> ModuleType:
        return importlib.import_module(self.cli)

    def kind_list(self) -> tuple[Any, ...]:
        module, _, attribute = self.kinds.partition(":")
        return tuple(getattr(importlib.import_module(module), attribute))


@cache
def lines() -> tuple[Line, ...]:
    return tuple(importlib.import_module(name).LINE for name in LINE_MODULES)


def line_named(name: str) -> Line:
    return next(line for line in lines() if line.name == name)


def line_of_command(command: str) -> Line | None:
    return next((line for line in lines() if command in line.commands), None)
