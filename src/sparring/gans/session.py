"""A training session: phases of numbered steps, checkpoints after steps, exact resume, progress bars.

An algorithm is written as plain loops over ``session.steps(phase, total)``. The session yields
only the steps that are not yet done, saves a checkpoint after every ``checkpoint_every`` steps
(and at the end of each phase), and on ``--resume`` restores models, optimisers, the algorithm's
extra state and the RNG, so the resumed run draws exactly the random numbers the uninterrupted
run would have drawn. That is why a resumed run ends with the same final metrics.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sparring.checkpoints import restore_rng, rng_state
from sparring.runs import RunWriter

# The GAN loops' checkpoints: RUN_DIR/checkpoints/train/step-N (every phase of a GAN run in one numbering).
PHASE = "train"
LATEST = ("last.pt", "models")  # checkpoints/last.pt: the newest step's models (the run-directory contract)

# A non-finite value of one of these means the weights are gone: stop with one line instead of logging nulls.
DIVERGENCE_KEYS = ("train_nll", "nll_test", "nll_oracle", "d_loss")


class Session:
    def __init__(self, writer: RunWriter, checkpoint_every: int = 1, console: Console | None = None) -> None:
        self.writer = writer
        self.run = writer.dir
        self.checkpoint_every = checkpoint_every
        self.console = console or Console(stderr=True)
        self.tracked: dict[str, Any] = {}
        self.state: dict[str, Any] = {}  # algorithm-owned values that must survive a resume
        self.progress: dict[str, int] = {}  # phase -> steps completed
        self.phase_seconds: dict[str, float] = {}
        self._bars = Progress(
            TextColumn("[bold]{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[latest]}"),
            console=self.console,
            disable=not self.console.is_terminal,  # logs get one line per evaluation instead
        )

    # ---- state ------------------------------------------------------------------------------
    def track(self, **objects: Any) -> None:
        """Register models/optimisers (anything with state_dict/load_state_dict) for checkpoints."""
        self.tracked.update(objects)

    def elapsed(self) -> float:
        return self.writer.elapsed()

    def restore(self) -> bool:
        """Load the newest complete checkpoint into everything tracked; False when starting fresh."""
        checkpoint = self.run.checkpoints(PHASE).latest()
        if checkpoint is None:
            self.writer.rewind(None)  # rows from an attempt killed before its first checkpoint
            return False
        models, session = checkpoint["models"], checkpoint["session"]
        for name, obj in self.tracked.items():
            obj.load_state_dict(models[name])
        self.state = session["state"]
        self.progress = dict(session["progress"])
        self.phase_seconds = dict(session["phase_seconds"])
        restore_rng(session["rng"])
        self.writer.rewind(checkpoint.state["log"])
        return True

    def save(self) -> None:
        """A numbered checkpoint (the steps done in all phases so far): models, the session's state, RNG, log position."""
        session = {"state": self.state, "progress": self.progress, "phase_seconds": self.phase_seconds, "rng": rng_state()}
        self.run.checkpoints(PHASE, latest_link=LATEST).save(
            sum(self.progress.values()),
            {"models": {name: obj.state_dict() for name, obj in self.tracked.items()}, "session": session},
            {"log": self.writer.rows()},
        )

    # ---- phases -----------------------------------------------------------------------------
    def done(self, phase: str) -> int:
        return self.progress.get(phase, 0)

    def steps(self, phase: str, total: int, label: str | None = None) -> Iterator[int]:
        """Yield the remaining step numbers 1..total of ``phase``, checkpointing after each."""
        first = self.done(phase) + 1
        if first > total:
            return
        task = self._bars.add_task(label or phase, total=total, completed=first - 1, latest="")
        self._bars.start()
        for step in range(first, total + 1):
            t0 = time.perf_counter()
            yield step
            self.phase_seconds[phase] = self.phase_seconds.get(phase, 0.0) + time.perf_counter() - t0
            self.progress[phase] = step
            if step % self.checkpoint_every == 0 or step == total:
                self.save()
            self._bars.update(task, completed=step)

    def end_phase(self, phase: str, total: int) -> None:
        """Mark ``phase`` finished before its last step (early stopping) and checkpoint that, so a
        resumed run does not train it further."""
        self.progress[phase] = total
        self.save()
        for task in self._bars.tasks:
            if not task.finished:
                self._bars.update(task.id, completed=task.total)

    def close(self) -> None:
        self._bars.stop()

    def log(self, phase: str, step: int, **metrics: Any) -> dict[str, Any]:
        """Append one evaluation row to metrics.jsonl and show it on the current progress bar."""
        row = self.writer.log({"phase": phase, "step": step, **metrics}, guard=DIVERGENCE_KEYS, where=f"{phase} step {step}")
        shown = "  ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float))
        for task in self._bars.tasks:
            if not task.finished:
                self._bars.update(task.id, latest=shown)
        if not self.console.is_terminal:
            self.console.print(f"{phase} {step}: {shown}", highlight=False)
        return row
