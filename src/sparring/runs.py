"""The run directory: every file a run writes, written atomically, and read back with clear errors.

Layout (the contract scripts rely on)::

    RUN_DIR/config.json          fully resolved config
    RUN_DIR/metrics.jsonl        one JSON object per evaluation
    RUN_DIR/summary.json         written last: its presence means the run finished
    RUN_DIR/samples.txt          samples from the final generator
    RUN_DIR/checkpoints/last.pt  everything needed to resume
    RUN_DIR/curves.png           NLL curves with phase boundaries

Whole files are replaced with ``os.replace`` after writing a temporary sibling, so a crash leaves
either the old or the new version, never half of one. ``metrics.jsonl`` is appended line by line;
the checkpoint records how many rows it covers and a resume cuts the file back to that count.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from sparring.errors import UserError

CHECKPOINT_FORMAT = 1


def read_jsonl_log(path: Path) -> list[dict[str, Any]]:
    """All complete rows of an append-only JSONL log; a torn last line (a crash mid-append) is ignored."""
    if not path.exists():
        return []
    rows = []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise UserError(f"{path}:{number}: not valid JSON") from None
    return rows


def keep_jsonl_rows(path: Path, keep: Callable[[dict[str, Any]], bool]) -> None:
    """Rewrite a JSONL log with only the rows ``keep`` accepts (a torn last line goes too)."""
    if path.exists():
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in read_jsonl_log(path) if keep(r)))


def atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give them the usual permissions
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(Path(path), lambda handle: handle.write(text.encode()))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(_json_safe(data), indent=2) + "\n")


def atomic_torch_save(obj: Any, path: Path) -> None:
    atomic_write(Path(path), lambda handle: torch.save(obj, handle))


def _json_safe(value: Any) -> Any:
    """NaN and infinity are not JSON; they become null so every reader can parse every file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


CLAIM_FILE = ".sparring-claim"


@contextmanager
def claimed_run_dir(path: str | Path) -> Iterator[Path]:
    """Claim a fresh run directory atomically, for the length of the block.

    The claim is an ``O_EXCL`` file inside the directory (made here, or found empty), so of two runs
    started on the same ``--out`` exactly one gets it and the other stops with one line. If the block
    fails, what it wrote goes and the directory is left as it was found: no half-written run."""
    run = Path(path)
    created = False
    try:
        run.mkdir(parents=True)
        created = True
    except FileExistsError:
        if not run.is_dir() or any(p.name != CLAIM_FILE for p in run.iterdir()):
            raise UserError(f"{run} already exists (choose a new --out)") from None
    except OSError as exc:
        raise UserError(f"{run}: cannot create the run directory ({exc.strerror})") from None
    try:
        os.close(os.open(run / CLAIM_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        raise UserError(f"{run} is being written by another run (choose a new --out)") from None
    try:
        yield run
    except BaseException:
        if created:
            shutil.rmtree(run, ignore_errors=True)
        else:
            for child in run.iterdir():
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        raise


class RunDir:
    """Paths and readers/writers of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    summary_path = property(lambda self: self.path / "summary.json")
    samples_path = property(lambda self: self.path / "samples.txt")
    checkpoint_path = property(lambda self: self.path / "checkpoints" / "last.pt")
    curves_path = property(lambda self: self.path / "curves.png")

    # ---- opening -------------------------------------------------------------------------
    @classmethod
    def open_existing(cls, path: str | Path) -> RunDir:
        """A run directory to read; anything else is a one-line UserError."""
        run = cls(path)
        if not run.path.is_dir():
            raise UserError(f"{run.path} is not a sparring run directory (no such directory)")
        if not run.config_path.is_file():
            raise UserError(f"{run.path} is not a sparring run directory (no config.json)")
        return run

    def is_complete(self) -> bool:
        return self.summary_path.is_file()

    # ---- config ---------------------------------------------------------------------------
    def read_config(self) -> dict[str, Any]:
        try:
            data = json.loads(self.config_path.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{self.config_path}: unreadable config ({exc})") from None
        if not isinstance(data, dict) or "algo" not in data:
            raise UserError(f"{self.config_path}: not a sparring config (no 'algo')")
        return data

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_json(self.config_path, config)

    # ---- metrics --------------------------------------------------------------------------
    def read_metrics(self) -> list[dict[str, Any]]:
        return read_jsonl_log(self.metrics_path)

    def append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.metrics_path, "a") as handle:
            handle.write(json.dumps(_json_safe(row)) + "\n")
            handle.flush()

    def truncate_metrics(self, n_rows: int) -> None:
        rows = self.read_metrics()[:n_rows]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))

    def keep_metrics(self, keep: Callable[[dict[str, Any]], bool]) -> None:
        """Drop the rows a resumed run will write again (those after its checkpoint)."""
        keep_jsonl_rows(self.metrics_path, keep)

    # ---- summary, samples ------------------------------------------------------------------
    def read_summary(self) -> dict[str, Any] | None:
        if not self.summary_path.exists():
            return None
        try:
            return json.loads(self.summary_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{self.summary_path}: unreadable ({exc})") from None

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_json(self.summary_path, summary)

    def write_samples(self, lines: list[str]) -> None:
        atomic_write_text(self.samples_path, "".join(line + "\n" for line in lines))

    # ---- checkpoints ------------------------------------------------------------------------
    def save_checkpoint(self, payload: dict[str, Any]) -> None:
        atomic_torch_save({"format": CHECKPOINT_FORMAT, **payload}, self.checkpoint_path)

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file()

    def load_checkpoint(self, map_location: str | torch.device = "cpu") -> dict[str, Any]:
        if not self.has_checkpoint():
            raise UserError(f"{self.path} has no checkpoint yet ({self.checkpoint_path} is missing)")
        try:
            payload = torch.load(self.checkpoint_path, map_location=map_location, weights_only=True)
        except Exception as exc:  # torch raises many types for a damaged zip or pickle
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"corrupt checkpoint {self.checkpoint_path}: {first_line}") from None
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
            raise UserError(f"corrupt checkpoint {self.checkpoint_path}: not a sparring checkpoint")
        return payload
