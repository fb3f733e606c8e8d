"""The config engine of every line: one builder, one loader, one validator helper, one help text.

A run's settings are a dataclass per kind of run (``sparring.gans.config``, ``sparring.llm.config``,
``sparring.code.config``), each registered here as a ``ConfigKind`` with its named presets and its
validator (``sparring.kinds`` holds them by name). Every command resolves its settings in one order, so a run is reproducible from
``config.json`` alone:

    defaults (the paper's schedule) < preset < TOML file < --set key=value < explicit CLI flags

Every override is checked against the dataclass field it targets, so a typo or a wrong type is a
one-line ``UserError`` instead of a silently ignored setting. A field's help is its metadata
(``setting(default, "help")``, as in TRL's config dataclasses), which ``--help`` prints.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparring.errors import UserError
from sparring.runs import RUN_FACTS

DEVICES = "auto, cpu, cuda or cuda:N"


def setting(default: Any = dataclasses.MISSING, help: str = "", *, factory: Any = dataclasses.MISSING) -> Any:  # noqa: A002
    """A config field with its help text (shown by ``--help`` and ``describe_settings``)."""
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ConfigKind:
    """One kind of run: its settings class, named presets (dotted key -> value) and validator."""

    name: str
    make: Callable[[], Any]
    presets: dict[str, dict[str, Any]]
    validate: Callable[[Any], None]
    line: str  # "gan", "align" or "code": which part of the library trains it


def resolve(
    spec: ConfigKind,
    preset: str = "paper",
    toml_file: str | Path | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
    flags: dict[str, Any] | None = None,
    implied: dict[str, Any] | None = None,
) -> Any:
    """Resolve the settings of ``spec``: defaults < ``preset`` < TOML file < ``overrides`` (``--set``,
    a list of ``key=value`` strings or a dict) < ``flags`` (explicit CLI flags; None values are
    flags not given). ``implied`` holds what a flag implies for other settings (``--seq-len 40``
    sets the model sizes); it sits just below ``--set``, so ``--set`` can still change it."""
    if preset not in spec.presets:
        raise UserError(f"unknown preset '{preset}' for {spec.name} (choose from: {', '.join(sorted(spec.presets))})")
    cfg = spec.make()
    layers: list[tuple[str, dict[str, Any]]] = [(f"preset {preset}", spec.presets[preset])]
    if toml_file is not None:
        layers.append((str(toml_file), read_toml(Path(toml_file))))
    layers.append(("flags", implied or {}))
    if isinstance(overrides, list):
        overrides = dict(parse_assignment(a) for a in overrides)
    layers.append(("--set", overrides or {}))
    layers.append(("flags", {k: v for k, v in (flags or {}).items() if v is not None}))
    for source, values in layers:
        for key, value in values.items():
            set_value(cfg, key, value, source=source)
    spec.validate(cfg)
    return cfg


def load(spec: ConfigKind, data: dict[str, Any], source: str = "config.json") -> Any:
    """Rebuild a config from ``config.json`` (typed, validated); unknown or mistyped keys are a UserError."""
    cfg = spec.make()
    for key, value in _flatten({k: v for k, v in data.items() if k not in RUN_FACTS}).items():
        if key != "algo":
            set_value(cfg, key, value, source=source)
    spec.validate(cfg)
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """The config as plain JSON types (tuples become lists), exactly as config.json holds it."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def parse_assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set expects key=value, got '{text}'")
    return key.strip(), value.strip()


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML settings file as dotted keys."""
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    return _flatten(raw)


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def set_value(cfg: Any, dotted: str, value: Any, source: str = "--set") -> None:
    """Set ``cfg.<dotted>`` to ``value`` converted to the field's declared type."""
    parts = dotted.split(".")
    target = cfg
    for part in parts[:-1]:
        sub = getattr(target, part, None) if _has_field(target, part) else None
        if sub is None or not dataclasses.is_dataclass(sub):
            raise UserError(f"{source}: unknown config key '{dotted}' for {cfg.algo}")
        target = sub
    name = parts[-1]
    if not _has_field(target, name) or dataclasses.is_dataclass(getattr(target, name)):
        raise UserError(f"{source}: unknown config key '{dotted}' for {cfg.algo}")
    if name == "algo":
        raise UserError(f"{source}: 'algo' is chosen by the command, not by a setting")
    hint = typing.get_type_hints(type(target))[name]
    setattr(target, name, _convert(value, hint, dotted, source))


def _has_field(obj: Any, name: str) -> bool:
    return dataclasses.is_dataclass(obj) and name in {f.name for f in dataclasses.fields(obj)}


def _convert(value: Any, hint: Any, key: str, source: str) -> Any:
    def fail(kind: str) -> UserError:
        return UserError(f"{source}: '{key}' expects {kind}, got {value!r}")

    if typing.get_origin(hint) is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise fail("a comma-separated list of integers")
        try:
            return tuple(_to_int(v) for v in items)
        except ValueError:
            raise fail("a comma-separated list of integers") from None
    if typing.get_origin(hint) is list:
        (item_hint,) = typing.get_args(hint)
        items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise fail("a comma-separated list")
        return [_convert(v, item_hint, key, source) for v in items]
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "1", "yes", "false", "0", "no"}:
            return value.lower() in {"true", "1", "yes"}
        raise fail("true or false")
    if hint is int:
        try:
            return _to_int(value)
        except ValueError:
            raise fail("an integer") from None
    if hint is float:
        if isinstance(value, bool):
            raise fail("a number")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise fail("a number") from None
    if hint is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise fail("a string")
        return str(value)
    raise fail(str(hint))


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.replace("_", ""))
    raise ValueError


def without(overrides: dict[str, Any], *sections: str) -> dict[str, Any]:
    """A preset minus the keys of sections (or single keys) a kind does not have (a kind derived from another's presets)."""
    return {k: v for k, v in overrides.items() if not any(k == s or k.startswith(s + ".") for s in sections)}


def need(ok: bool, key: str, what: str) -> None:
    """The validators' one check: a setting outside its range is a one-line error naming it."""
    if not ok:
        raise UserError(f"config: '{key}' must be {what}")


def need_device(device: str) -> None:
    """The one device rule (``sparring.devices``): ``auto`` is accepted by every command."""
    need(device in {"auto", "cpu", "cuda"} or device.startswith("cuda:"), "device", DEVICES)


def describe(spec: ConfigKind) -> list[tuple[str, str, Any, str]]:
    """(dotted key, type name, default, help) for every setting of ``spec``."""
    rows: list[tuple[str, str, Any, str]] = []

    def walk(obj: Any, prefix: str) -> None:
        hints = typing.get_type_hints(type(obj))
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")
            elif f.name != "algo":
                hint = hints[f.name]
                origin = typing.get_origin(hint)
                name = "ints" if origin is tuple else "list" if origin is list else hint.__name__
                rows.append((prefix + f.name, name, value, f.metadata.get("help", "")))

    walk(spec.make(), "")
    return rows
