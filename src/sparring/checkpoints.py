"""The one checkpoint rule of every command and every phase.

A phase's checkpoints live in one folder, one sub-folder per numbered step::

    RUN_DIR/checkpoints/<phase>/step-<N>/<name>.pt     a named payload (torch.save, loaded weights_only)
    RUN_DIR/checkpoints/<phase>/step-<N>/<name>/       a named folder payload (a save_pretrained model)
    RUN_DIR/checkpoints/<phase>/step-<N>/complete.json written last: the step, the JSON state (where
                                                        the logs stood), and every file's size

A phase may also give one payload of its newest complete step a stable name (``latest_link``): the
GAN loops keep ``RUN_DIR/checkpoints/last.pt``, the run-directory contract scripts read, pointing at
the newest step's ``models.pt``.

Each file is written to a temporary sibling and renamed, and the marker comes last, so a folder
without ``complete.json`` was cut short and is never resumed from. A folder whose files do not match
the sizes its marker lists, or whose payload does not load, is torn (a disk that lost the tail of a
file): the resume says so in one line and continues from the previous complete step. That is why a
phase keeps its newest ``keep`` complete steps (two by default) and removes older ones.

Only the project's own files are loaded here, always with ``weights_only=True``: a payload holds
tensors, numbers, strings and containers of them, never arbitrary objects (an RNG's state included).
TRL's GRPO checkpoints follow the same rule with TRL's folder names: TRL writes its files into
``checkpoint-N``, then ``Checkpoints.complete`` adds sparring's payloads and the marker.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparring.errors import UserError
from sparring.files import atomic_torch_save, atomic_write_json

MARKER = "complete.json"
FORMAT = 2


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def _sizes(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` (the marker aside) by relative path, with its size."""
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MARKER and not p.name.endswith(".tmp")
    }


@dataclass
class Checkpoint:
    """One complete step of a phase: its folder, number, JSON state and loaded payloads."""

    folder: Path
    step: int
    state: dict[str, Any]
    payloads: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.payloads[name]

    def path(self, name: str) -> Path:
        """A folder payload (written by a ``folders`` writer of ``Checkpoints.save``)."""
        return self.folder / name


class Checkpoints:
    """The numbered checkpoints of one phase in ``folder`` (see the module docstring).

    ``prefix`` names the step folders (TRL's are ``checkpoint-``); ``keep`` complete steps stay
    (None: all, when someone else, TRL, rotates them); ``enabled=False`` (a data-parallel rank other
    than 0) makes every write a no-op."""

    def __init__(self, folder: str | Path, prefix: str = "step-", keep: int | None = 2, enabled: bool = True,
                 say: Callable[[str], None] = _say, latest_link: tuple[Path, str] | None = None) -> None:
        self.folder = Path(folder)
        self.latest_link = latest_link  # (path, payload): a stable name for that payload of the newest complete step
        self.prefix = prefix
        self.keep = keep
        self.enabled = enabled
        self.say = say

    # ---- writing ------------------------------------------------------------------------------
    def step_folder(self, step: int) -> Path:
        return self.folder / f"{self.prefix}{step}"

    def save(
        self,
        step: int,
        payloads: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        folders: dict[str, Callable[[Path], None]] | None = None,
    ) -> None:
        """Write step ``step``: each payload as ``<name>.pt``, each folder writer into ``<name>/``,
        then the marker; then remove the steps beyond ``keep``."""
        if not self.enabled:
            return
        target = self.step_folder(step)
        if target.exists():  # a torn attempt at this step, or this step saved again: start it afresh
            (target / MARKER).unlink(missing_ok=True)
            shutil.rmtree(target)
        target.mkdir(parents=True)
        self.complete(step, payloads, state, folders)

    def complete(
        self,
        step: int,
        payloads: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        folders: dict[str, Callable[[Path], None]] | None = None,
    ) -> None:
        """Add payloads to step ``step``'s folder (which may hold another writer's files, TRL's) and
        write its marker, last."""
        if not self.enabled:
            return
        target = self.step_folder(step)
        target.mkdir(parents=True, exist_ok=True)
        for name, obj in (payloads or {}).items():
            atomic_torch_save(obj, target / f"{name}.pt")
        for name, write in (folders or {}).items():
            write(target / name)
        marker = {"format": FORMAT, "step": step, "state": state or {}, "payloads": sorted(payloads or {}), "files": _sizes(target)}
        atomic_write_json(target / MARKER, marker)
        self._prune()
        if self.latest_link is not None:
            self._link(target / f"{self.latest_link[1]}.pt", self.latest_link[0])

    @staticmethod
    def _link(payload: Path, link: Path) -> None:
        """Point ``link`` at ``payload`` (relative, so a copied run keeps it), replacing it atomically."""
        tmp = link.with_name(f".{link.name}.tmp")
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.relpath(payload, link.parent), tmp)
        os.replace(tmp, link)

    def _prune(self) -> None:
        """Remove the complete steps beyond ``keep`` and any torn attempt older than the newest."""
        if self.keep is None:
            return
        steps = self.complete_steps()
        for step in steps[self.keep :]:
            shutil.rmtree(self.step_folder(step), ignore_errors=True)
        for folder in self.folder.glob(f"{self.prefix}*"):
            number = folder.name[len(self.prefix) :]
            if number.isdigit() and int(number) < steps[0] and not (folder / MARKER).is_file():
                shutil.rmtree(folder, ignore_errors=True)

    # ---- reading ------------------------------------------------------------------------------
    def complete_steps(self) -> list[int]:
        """The numbers of the steps with a marker, newest first."""
        steps = []
        for folder in self.folder.glob(f"{self.prefix}*"):
            number = folder.name[len(self.prefix) :]
            if number.isdigit() and (folder / MARKER).is_file():
                steps.append(int(number))
        return sorted(steps, reverse=True)

    def latest(self, map_location: Any = "cpu", required: bool = False) -> Checkpoint | None:
        """The newest step that is whole, its ``.pt`` payloads loaded. A torn newer step is named in
        one line and skipped. With none whole: None (a resume starts the phase again, and says so
        when it skipped a torn one), or with ``required`` a one-line UserError."""
        skipped: list[str] = []
        for step in self.complete_steps():
            folder = self.step_folder(step)
            try:
                checkpoint = self._load(folder, step, map_location)
            except _Torn as torn:
                skipped.append(f"{folder} ({torn})")
                continue
            if skipped:
                self.say(f"resume: skipping torn checkpoint {'; '.join(skipped)}; continuing from {folder}")
            return checkpoint
        if required:
            reason = f"corrupt checkpoint {'; '.join(skipped)}" if skipped else f"no complete checkpoint in {self.folder}"
            raise UserError(f"{reason}; nothing to load")
        if skipped:
            self.say(f"resume: skipping torn checkpoint {'; '.join(skipped)}; no complete one left, starting the phase again")
        return None

    def _load(self, folder: Path, step: int, map_location: Any) -> Checkpoint:
        import torch

        try:
            marker = json.loads((folder / MARKER).read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            raise _Torn("unreadable complete.json") from None
        if not isinstance(marker, dict) or marker.get("format") != FORMAT or marker.get("step") != step:
            raise _Torn("not a sparring checkpoint marker")
        sizes = _sizes(folder)
        for name, size in marker.get("files", {}).items():
            if sizes.get(name) != size:
                raise _Torn(f"{name} is {sizes.get(name, 'missing')} bytes, its marker says {size}")
        payloads = {}
        for name in marker.get("payloads", []):
            path = folder / f"{name}.pt"
            try:
                payloads[path.stem] = torch.load(path, map_location=map_location, weights_only=True)
            except Exception as exc:  # torch raises many types for a damaged zip or pickle
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise _Torn(f"{path.name}: {text[:200]}") from None
        return Checkpoint(folder, step, marker.get("state", {}), payloads)


class _Torn(Exception):
    """A step whose marker exists but whose files do not hold what it says."""


# ---- random state -------------------------------------------------------------------------------


def rng_state(*generators: random.Random) -> dict[str, Any]:
    """torch's CPU (and CUDA) generators and the given Python ones, as a weights-only payload."""
    import torch

    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": [g.getstate() for g in generators],
    }


def restore_rng(state: dict[str, Any], *generators: random.Random) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if torch.cuda.is_available() and state.get("cuda"):
        torch.cuda.set_rng_state_all(state["cuda"])
    for generator, saved in zip(generators, state["python"], strict=True):
        generator.setstate(_as_tuple(saved))


def _as_tuple(value: Any) -> Any:
    """``Random.setstate`` wants tuples; a payload may give them back as lists."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value
