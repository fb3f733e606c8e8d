"""Slots: a uid and a cgroup per concurrent sandbox, and the clean-up of what a sandbox's uid left.

A slot's uid is held by an exclusive ``flock`` across sparring processes, so two live sandboxes never
share a uid; its cgroups (v2 where the kernel delegates memory and pids, else v1) cap its memory and
processes. Released slots are reused within a process; at exit their cgroups are removed.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sparring.errors import UserError

UID_BASE = 1_600_000_000  # sandbox uids: no account uses them; one per concurrent sandbox
MAX_SLOTS = 512


@dataclass
class Cgroups:
    version: str | None
    bases: list[Path]  # where our slot cgroups are made: one per hierarchy (v2: one; v1: memory, pids)


@cache
def cgroups() -> Cgroups:
    """Find cgroup directories we may create children in, with memory and pids control."""
    try:
        mounts = [line.split() for line in Path("/proc/self/mountinfo").read_text().splitlines()]
        own = [line.split(":", 2) for line in Path("/proc/self/cgroup").read_text().splitlines()]
    except OSError:
        return Cgroups(None, [])
    fs = {}  # fstype -> [(mount point, super options)]
    for fields in mounts:
        sep = fields.index("-")
        fs.setdefault(fields[sep + 1], []).append((fields[4], fields[sep + 3].split(",")))
    v2_path = next((p for h, c, p in own if h == "0" and c == ""), None)
    for point, _ in fs.get("cgroup2", []):
        if v2_path is None:
            break
        base = Path(point + v2_path)
        try:
            if not {"memory", "pids"} <= set((base / "cgroup.controllers").read_text().split()):
                continue
            home = base / "sparring-sandbox"
            home.mkdir(exist_ok=True)
            (base / "cgroup.subtree_control").write_text("+memory +pids")  # refused when our cgroup holds processes
            (home / "cgroup.subtree_control").write_text("+memory +pids")
            return Cgroups("v2", [home])
        except OSError:
            continue
    bases = []
    for controller in ("memory", "pids"):
        point = next((p for p, opts in fs.get("cgroup", []) if controller in opts), None)
        path = next((p for h, c, p in own if controller in c.split(",")), None)
        if point is None or path is None:
            return Cgroups(None, [])
        home = Path(point + path.rstrip("/")) / "sparring-sandbox"
        try:
            home.mkdir(exist_ok=True)
        except OSError:
            return Cgroups(None, [])
        bases.append(home)
    return Cgroups("v1", bases)


class Slot:
    """One uid (held by an exclusive flock, so other sparring processes skip it) and its cgroups."""

    def __init__(self, uid: int, lock_fd: int | None, cgroups: Cgroups) -> None:
        self.uid, self.lock_fd, self.version = uid, lock_fd, cgroups.version
        self.cgroups = [base / f"uid-{uid}" for base in cgroups.bases]
        for path in self.cgroups:
            path.mkdir(exist_ok=True)

    def configure(self, memory_mb: int, processes: int) -> None:
        memory = str(memory_mb * 1024 * 1024)
        for path in self.cgroups:
            names = (
                {"memory.max": memory, "memory.swap.max": "0", "pids.max": str(processes)}
                if self.version == "v2"
                else {"memory.limit_in_bytes": memory, "pids.max": str(processes)}
            )
            for name, value in names.items():
                if (path / name).exists():
                    (path / name).write_text(value)

    def pids(self, scan_uid: bool) -> list[int]:
        found: set[int] = set()
        for path in self.cgroups:
            try:
                found.update(int(p) for p in (path / "cgroup.procs").read_text().split())
            except OSError:
                pass
        if scan_uid and not self.cgroups and self.uid != os.geteuid():
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        if os.stat(f"/proc/{entry}").st_uid == self.uid:
                            found.add(int(entry))
                    except OSError:
                        pass
        return sorted(found)

    def reap(self, scan_uid: bool) -> None:
        """Kill whatever the last program left (a daemonised child in the fallback); wait until it is gone."""
        deadline = time.monotonic() + 2.0
        while (pids := self.pids(scan_uid)) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.005)

    def remove(self) -> None:
        for path in self.cgroups:
            try:
                path.rmdir()
            except OSError:
                pass


class SlotPool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.free: list[Slot] = []
        self.all: list[Slot] = []
        atexit.register(self.close)

    def acquire(self, own_uid: bool) -> Slot:
        with self.lock:
            if not own_uid:
                return Slot(os.geteuid(), None, Cgroups(None, []))
            if self.free:
                return self.free.pop()
            lock_dir = Path(tempfile.gettempdir()) / "sparring-sandbox-uids"
            lock_dir.mkdir(mode=0o700, exist_ok=True)
            taken = {s.uid for s in self.all}
            for uid in range(UID_BASE, UID_BASE + MAX_SLOTS):
                if uid in taken:
                    continue
                fd = os.open(lock_dir / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    continue
                slot = Slot(uid, fd, cgroups())
                slot.reap(scan_uid=True)  # what a sparring process that died with this uid left; later ones reap at close
                self.all.append(slot)
                return slot
            raise UserError(f"sandbox: all {MAX_SLOTS} sandbox uids are in use")

    def release(self, slot: Slot) -> None:
        if slot.lock_fd is not None:
            with self.lock:
                self.free.append(slot)

    def close(self) -> None:
        for slot in self.all:
            slot.remove()


SLOTS = SlotPool()


# The host's directories that anyone may write to: where the rlimits fallback's uid can leave files.
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue")


def remove_files_of(uid: int) -> None:
    """Remove what ``uid`` owns in the host's world-writable directories (and in their world-writable
    subdirectories, such as /tmp/.X11-unix), leaving everything else there as it was."""
    places = []
    for root in SHARED_WRITABLE:
        places.append(root)
        try:
            with os.scandir(root) as entries:
                places += [e.path for e in entries if e.is_dir(follow_symlinks=False) and e.stat(follow_symlinks=False).st_mode & 0o002]
        except OSError:
            continue
    for place in dict.fromkeys(os.path.realpath(p) for p in places):
        try:
            with os.scandir(place) as entries:
                owned = [e.path for e in entries if e.stat(follow_symlinks=False).st_uid == uid]
        except OSError:
            continue
        for path in owned:
            remove_tree(Path(path))


def remove_tree(path: Path) -> None:
    """Remove ``path`` whatever its shape: ``shutil.rmtree`` recurses and a tree deeper than Python's
    recursion limit (or wider than the open-file limit) defeats it, so whatever it leaves goes to
    ``rm -rf``, which has no depth limit."""
    try:
        if path.is_symlink() or not path.is_dir():
            path.unlink()
            return
        shutil.rmtree(path)
    except FileNotFoundError:
        return
    except (OSError, RecursionError):
        pass
    if os.path.lexists(path):
        if os.geteuid() != 0:  # a directory its own uid made unreadable stops rm too
            subprocess.run(["chmod", "-R", "u+rwx", "--", str(path)], capture_output=True, timeout=120, check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], capture_output=True, timeout=120, check=False)
