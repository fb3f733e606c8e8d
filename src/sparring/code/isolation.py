"""What separates a sandbox from the parent here: the isolation levels and what each takes.

``sparring.code.sandbox.best_isolation`` probes the levels in order and keeps the strongest one a
trivial program runs under; this module says what a level is, describes it, and knows the facts a
level depends on (the interpreter a sandbox uid may run, whether uids can change, whether the user
allowed running without any separation).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SAFE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


@dataclass(frozen=True)
class Isolation:
    namespaces: bool
    own_uid: bool  # one uid per concurrent sandbox
    cgroup: str | None  # "v2", "v1" or None
    user_namespace: bool = False  # the namespaces come from an unprivileged user namespace (no root needed)
    syscall_filter: bool = False  # seccomp: keyrings, ptrace, io_uring, new namespaces, mounts, vsock, locks, watches denied

    @property
    def separated(self) -> bool:
        """Whether anything stands between a sandbox and the parent's own uid (namespaces or a uid of its own)."""
        return self.namespaces or self.own_uid

    def describe(self) -> str:
        if self.namespaces:
            how = "an unprivileged user namespace" if self.user_namespace else "root"
            parts = [f"namespaces via {how} (net, mount, pid with its own /proc, ipc, uts), read-only root, private tmpfs, no pty"]
        else:
            parts = ["no namespaces: host filesystem, network and process table visible"]
        if self.own_uid:
            parts.append("a uid per sandbox")
        elif self.user_namespace:
            parts.append("the user namespace's root, with no capabilities")
        else:
            parts.append("UNSAFE: the current user's uid (a completion can signal the parent and leave processes behind)")
        parts.append(f"cgroup {self.cgroup} memory+pids caps" if self.cgroup else "no cgroup (rlimits per process only)")
        parts.append("syscall filter" if self.syscall_filter else "no syscall filter")
        parts.append("rlimits")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "namespaces": self.namespaces, "user_namespace": self.user_namespace, "uid_per_sandbox": self.own_uid,
            "cgroup": self.cgroup, "syscall_filter": self.syscall_filter, "unsafe_no_isolation": not self.separated,
            "description": self.describe(),
        }  # fmt: skip


def _world_executable(path: str) -> bool:
    """Can an unprivileged user run ``path``: every directory on the way searchable, the file executable by others."""
    real = Path(os.path.realpath(path))
    try:
        return real.is_file() and all(p.stat().st_mode & 0o001 for p in [real, *real.parents])
    except OSError:
        return False


@cache
def program_interpreter() -> str:
    """The Python that runs programs. Programs need only the standard library, and a sandbox uid may not
    be allowed into the directory of a venv or a pyenv build, so the first world-executable of this
    interpreter, python3.11 and python3 on the system path is used."""
    candidates = [sys.executable, shutil.which("python3.11", path=SAFE_ENV["PATH"]), shutil.which("python3", path=SAFE_ENV["PATH"])]
    for candidate in candidates:
        if candidate and _world_executable(candidate):
            return os.path.realpath(candidate)
    return os.path.realpath(sys.executable)  # then only the current user can run it: no uid change


def can_change_uid() -> bool:
    return os.geteuid() == 0 and _world_executable(program_interpreter())


_UNSAFE_ALLOWED = [False]


def allow_unsafe_isolation() -> None:
    """The user asked for it (``--unsafe-no-isolation``): judge even where nothing separates a
    sandbox from this user's uid. ``isolation().separated`` is then False, and summaries say so."""
    _UNSAFE_ALLOWED[0] = True


def unsafe_allowed() -> bool:
    return _UNSAFE_ALLOWED[0]
