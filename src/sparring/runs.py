"""The run directory and its lifecycle, the same for every command that writes a run.

Layout (the contract scripts rely on; each line adds its own files)::

    RUN_DIR/config.json          fully resolved config (plus run facts such as the resolved model path)
    RUN_DIR/metrics.jsonl        one JSON object per logged step or evaluation
    RUN_DIR/summary.json         written last, with library versions: its presence means the run finished
    RUN_DIR/checkpoints/         everything needed to resume
    RUN_DIR/curves.png           the run's curves
    RUN_DIR/tensorboard/         with --report-to tensorboard: the same rows as TensorBoard scalars

The lifecycle (``start_run`` -> ``RunWriter``):

1. **claim** ``--out`` atomically (an ``O_EXCL`` claim file), after every input check has passed;
2. **config.json**, or on ``--resume`` a **config check**: a setting that differs from the saved one
   is refused with one line naming it, unless it is in ``SAFE_ON_RESUME`` (then it is applied);
3. **metrics cut back to the checkpoint**: every checkpoint records how many metrics rows it covers
   (``RunWriter.rows``) and a resume truncates the log to that count (``RunWriter.rewind``);
4. a **divergence guard** (``check_finite``) on the values a loop names, before they are logged;
5. **summary.json last**, with versions (``RunWriter.finish``).

Whole files are replaced with ``os.replace`` after writing a temporary sibling, so a crash leaves
either the old or the new version, never half of one. ``metrics.jsonl`` is appended line by line.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from sparring.errors import UserError
from sparring.files import atomic_write_json, atomic_write_text, json_safe, read_jsonl_log, truncate_jsonl_log
from sparring.metrics.vocabulary import current_names


class RunDir:
    """Paths and readers/writers of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    summary_path = property(lambda self: self.path / "summary.json")
    samples_path = property(lambda self: self.path / "samples.txt")
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
        """The metrics rows, in the current vocabulary (an older run's names translated)."""
        return current_names(read_jsonl_log(self.metrics_path))

    def append_jsonl(self, name: str, row: dict[str, Any]) -> None:
        with open(self.path / name, "a") as handle:
            handle.write(json.dumps(json_safe(row)) + "\n")
            handle.flush()

    # ---- summary, samples ------------------------------------------------------------------
    def read_summary(self) -> dict[str, Any] | None:
        if not self.summary_path.exists():
            return None
        try:
            return current_names(json.loads(self.summary_path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{self.summary_path}: unreadable ({exc})") from None

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_json(self.summary_path, summary)

    def write_samples(self, lines: list[str]) -> None:
        atomic_write_text(self.samples_path, "".join(line + "\n" for line in lines))

    # ---- checkpoints ------------------------------------------------------------------------
    def checkpoints(
        self, phase: str, prefix: str = "step-", keep: int | None = 2, enabled: bool = True, latest_link: tuple[str, str] | None = None
    ) -> Any:
        """The numbered checkpoints of one phase of this run (``sparring.checkpoints``); ``latest_link``
        (file name under ``checkpoints/``, payload) names that payload of the newest complete step."""
        from sparring.checkpoints import Checkpoints

        link = (self.path / "checkpoints" / latest_link[0], latest_link[1]) if latest_link else None
        return Checkpoints(self.path / "checkpoints" / phase, prefix, keep, enabled, latest_link=link)


def require_algo(run_path: Path, algo: Any, accepted: list[str], verb: str) -> None:
    """One line for a verb given a run it cannot read: which kinds it takes, and what the run is."""
    if algo not in accepted:
        raise UserError(f"{verb} takes runs of {', '.join(sorted(accepted))}; {run_path} is a {algo} run")


# ---- the lifecycle ---------------------------------------------------------------------------------

CLAIM_FILE = ".sparring-claim"
METRICS = "metrics.jsonl"

# Facts a run records in config.json beside its settings; they are not settings, so neither the
# config loader nor the resume check reads them.
RUN_FACTS = ("model_path", "train_task_ids", "token_budget", "sft_epochs", "precision_ran")

# Settings that may differ on --resume: they change where or how fast a run computes, or how often
# it saves, never what it computes. Any other difference is refused with one line naming it.
SAFE_ON_RESUME = ("device", "checkpoint_every", "train.checkpoint_every", "train.log_every", "workers")

REPORT_TO = ("none", "tensorboard")


class TrainingDiverged(UserError):
    """A loss, a metric or the weights became non-finite; the run keeps its last good checkpoint."""


def check_finite(values: dict[str, Any], keys: tuple[str, ...] | None, where: str, run: Path | None = None) -> None:
    """The divergence guard: stop with one line when one of ``keys`` (all numbers when None) is not finite."""
    for key in values if keys is None else keys:  # in the caller's order: the first to break is named
        value = values.get(key)
        if isinstance(value, float) and not math.isfinite(value):
            kept = f"; {run} keeps its last good checkpoint and can be resumed" if run is not None else ""
            raise TrainingDiverged(f"training diverged: {key} is {value} at {where} (lower the learning rate{kept})")


def versions() -> dict[str, str]:
    """Versions of what computed a run's numbers: sparring, Python, the platform and the libraries loaded."""
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for package in ("sparring", "torch", "numpy", "transformers", "trl", "peft", "accelerate"):
        if package == "sparring" or package in sys.modules:
            try:
                found[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                found[package] = "unknown"
    return found


def flat_settings(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value of a config as JSON holds it, without the run facts."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if not prefix and key in RUN_FACTS:
            continue
        if isinstance(value, dict):
            flat.update(flat_settings(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def resume_differences(saved: dict[str, Any], now: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(refused, applied): the dotted settings that differ between a run's config.json and this command."""
    before, after = flat_settings(saved), flat_settings(now)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return [k for k in changed if k not in SAFE_ON_RESUME], [k for k in changed if k in SAFE_ON_RESUME]


class RunWriter:
    """A run directory being written: the metrics (and other JSONL logs) with their row counts,
    the clock across resumes, optional TensorBoard scalars, and the summary written last.

    On a data-parallel rank other than 0 (``is_main=False``) every write is a no-op: rank 0 owns
    the directory."""

    def __init__(self, run: RunDir, resumed: bool, is_main: bool = True) -> None:
        self.dir = run
        self.resumed = resumed
        self.is_main = is_main
        self.counts: dict[str, int] = {}
        self._elapsed_before = 0.0
        self._started = time.perf_counter()
        self._tensorboard: Any = None
        self._lock: int | None = None

    @property
    def already_complete(self) -> bool:
        """A ``--resume`` of a finished run: ``start_run`` has said so; the command returns its summary."""
        return self.resumed and self.dir.is_complete()

    @property
    def path(self) -> Path:
        return self.dir.path

    # ---- the clock -------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self._elapsed_before + time.perf_counter() - self._started

    # ---- logs ------------------------------------------------------------------------------
    def log(self, row: dict[str, Any], guard: tuple[str, ...] | None = (), where: str = "") -> dict[str, Any]:
        """Append one row to metrics.jsonl (with ``elapsed_s``) after the divergence guard on ``guard``."""
        if guard != ():
            check_finite(row, guard, where or f"step {row.get('step')}", self.path)
        row = {**row, "elapsed_s": round(self.elapsed(), 3)}
        self.append(METRICS, row)
        if self._tensorboard is not None:
            step = row.get("step", self.counts[METRICS])
            phase = row.get("phase") or "train"
            for key, value in row.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in ("step", "elapsed_s"):
                    self._tensorboard.add_scalar(f"{phase}/{key}", value, step)
            self._tensorboard.flush()
        return row

    def declare_log(self, name: str) -> None:
        """Make ``name`` one of the run's append-only logs, so that a rewind cuts it even before its
        first row of this attempt (what a crashed attempt appended goes too)."""
        self.counts.setdefault(name, 0)

    def append(self, name: str, row: dict[str, Any]) -> None:
        """Append a row to the run's JSONL log ``name``, counting rows for the checkpoints."""
        if self.is_main:
            self.dir.append_jsonl(name, row)
        self.counts[name] = self.counts.get(name, 0) + 1

    def rows(self) -> dict[str, Any]:
        """What a checkpoint records: the rows of every log so far and the elapsed time."""
        return {"rows": dict(self.counts), "elapsed": self.elapsed()}

    def rewind(self, position: dict[str, Any] | None) -> None:
        """Cut every log back to a checkpoint's ``rows()`` (None: the start), and restore the clock."""
        position = position or {"rows": {}, "elapsed": 0.0}
        for name in {*self.counts, *position["rows"], METRICS}:
            n = int(position["rows"].get(name, 0))
            if self.is_main:
                truncate_jsonl_log(self.path / name, n)
            self.counts[name] = n
        self._elapsed_before = float(position["elapsed"])
        self._started = time.perf_counter()

    # ---- the end ---------------------------------------------------------------------------
    def finish(self, summary: dict[str, Any]) -> dict[str, Any]:
        """summary.json, written last (it marks the run finished), with the wall time and versions."""
        summary = {**summary, "wall_time_s": summary.get("wall_time_s", round(self.elapsed(), 1)), "versions": versions()}
        if self.is_main:
            self.dir.write_summary(summary)
        return summary

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _tensorboard_writer(path: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError("--report-to tensorboard needs the tensorboard package: pip install 'sparring[tb]'") from None
    return SummaryWriter(log_dir=str(path))


def _lock(run: Path, busy: str = "choose a new --out") -> int:
    """An flock on the claim file for the run's lifetime: two processes never write one run."""
    fd = os.open(run / CLAIM_FILE, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UserError(f"{run} is being written by another sparring process ({busy})") from None
    return fd


@contextmanager
def writing_into(run: str | Path) -> Iterator[Path]:
    """The claim of an existing run for a command that adds files to it (``evaluate``, ``report``):
    the same lock a training run holds, so a run being trained or evaluated is never written twice."""
    path = Path(run)
    lock = _lock(path, "try again when it has finished")
    try:
        yield path
    finally:
        os.close(lock)


def _claim(run: Path, resumable: bool) -> int:
    """Create ``run`` (or take it when it holds nothing but a stale claim file) and lock its claim
    file; returns the lock. Of two runs started on the same ``--out`` exactly one gets it."""
    hint = "pass --resume to continue it or choose another --out" if resumable else "choose a new --out"
    try:
        run.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"--out {run} exists and is not a directory") from None
    except OSError as exc:
        raise UserError(f"cannot create run directory {run}: {exc.strerror}") from None
    if not os.access(run, os.W_OK):
        raise UserError(f"run directory {run} is not writable")
    if any(p.name != CLAIM_FILE for p in run.iterdir()):
        raise UserError(f"--out {run} already exists; {hint}")
    lock = _lock(run)
    if any(p.name != CLAIM_FILE for p in run.iterdir()):  # another run claimed it and wrote first
        os.close(lock)
        raise UserError(f"--out {run} already exists; {hint}")
    return lock


def check_run(
    out: str | Path, config: dict[str, Any], resume: bool = False, resumable: bool = True, report_to: str = "none"
) -> tuple[list[str], list[str]]:
    """What ``start_run`` refuses, checked without writing anything, so that a command can call it
    before its slow set-up (loading a model): ``--out`` taken without ``--resume``, or a resume with a
    changed setting, or a ``--report-to`` that cannot work. Returns the (refused: none, applied) settings."""
    if report_to not in REPORT_TO:
        raise UserError(f"--report-to {report_to}: choose from {', '.join(REPORT_TO)}")
    if report_to == "tensorboard" and importlib.util.find_spec("tensorboard") is None:
        raise UserError("--report-to tensorboard needs the tensorboard package: pip install 'sparring[tb]'")
    run = RunDir(out)
    if not (resume and run.config_path.is_file()):
        hint = "pass --resume to continue it or choose another --out" if resumable else "choose a new --out"
        if run.path.exists() and not run.path.is_dir():
            raise UserError(f"--out {run.path} exists and is not a directory")
        if run.path.is_dir() and any(p.name != CLAIM_FILE for p in run.path.iterdir()):
            raise UserError(f"--out {run.path} already exists; {hint}")
        return [], []
    saved = run.read_config()
    refused, applied = resume_differences(saved, config)
    ran, now = saved.get("precision_ran"), precision_ran(config)
    if not refused and ran is not None and now is not None and ran != now:  # precision=auto, resolved otherwise here
        raise UserError(
            f"--resume: {run.path} ran precision=auto as {ran} where it started; here auto resolves to {now}, "
            f"so it would not continue the same computation (resume it on a machine where auto is {ran})"
        )
    if refused:
        shown = ", ".join(f"{k} ({flat_settings(saved).get(k)!r} -> {flat_settings(config).get(k)!r})" for k in refused[:4])
        more = f" and {len(refused) - 4} more" if len(refused) > 4 else ""
        raise UserError(
            f"--resume: {run.path} was started with a different config: {shown}{more} "
            f"(resume with the same command; safe to change on resume: {', '.join(SAFE_ON_RESUME)})"
        )
    return refused, applied


def precision_ran(config: dict[str, Any]) -> str | None:
    """The precision a run of ``config`` computes in here (``auto`` resolved), for the resume check."""
    if "precision" not in config:
        return None
    from sparring.devices import resolve_device
    from sparring.precision import resolve_precision

    return resolve_precision(config["precision"], resolve_device(config.get("device", "auto"))).name


def start_run(
    out: str | Path,
    config: dict[str, Any],
    resume: bool = False,
    *,
    facts: dict[str, Any] | None = None,
    report_to: str = "none",
    is_main: bool = True,
    resumable: bool = True,
) -> RunWriter:
    """Claim ``out`` for a new run, or reopen it for ``resume`` after the config check.

    ``config`` is the run's settings as JSON (``config.to_dict``); ``facts`` are written beside them.
    A resumed run that is already finished is returned with ``dir.is_complete()`` true: the caller
    says so and stops. A ``--resume`` of a directory that does not exist yet starts the run."""
    run = RunDir(out)
    if not is_main:
        return RunWriter(run, resumed=resume, is_main=False)
    resumed = resume and run.config_path.is_file()
    if resumed:
        saved = run.read_config()
        _, applied = check_run(out, config, resume, resumable, report_to)
        writer = RunWriter(run, resumed=True)
        writer._lock = _lock(run.path)
        if applied and not run.is_complete():
            run.write_config({**config, **{k: saved[k] for k in RUN_FACTS if k in saved}})
    else:
        check_run(out, config, resume, resumable, report_to)
        lock = _claim(run.path, resumable)
        writer = RunWriter(run, resumed=False)
        writer._lock = lock
        ran = precision_ran(config)
        run.write_config({**config, **(facts or {}), **({"precision_ran": ran} if ran else {})})
    if writer.already_complete:
        print(f"{writer.path} is already complete; nothing to resume.", file=sys.stderr)
    elif report_to == "tensorboard":
        writer._tensorboard = _tensorboard_writer(run.path / "tensorboard")
    return writer


@contextmanager
def disposable_run(out: str | Path, config: dict[str, Any]) -> Iterator[RunWriter]:
    """A run that cannot resume (an evaluation): claimed like any run, and if the block fails, what it
    wrote goes and the directory is left as it was found, so no half-written run remains."""
    existed = Path(out).is_dir()
    writer = start_run(out, config, resumable=False)
    try:
        yield writer
    except BaseException:
        writer.close()
        if not existed:
            shutil.rmtree(writer.path, ignore_errors=True)
        else:
            for child in writer.path.iterdir():
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        raise
    finally:
        writer.close()
