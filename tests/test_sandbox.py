"""The sandbox: correct, wrong and endless programs, and hostile ones that must leave the host unchanged."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from sparring.code.sandbox import Limits, isolation, run_program

FAST = Limits(timeout_s=2.0)
needs_namespaces = pytest.mark.skipif(
    os.name != "posix" or isolation() != "namespaces", reason="full containment needs root and unshare (net/mount/pid namespaces)"
)


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
    while os.popen("pgrep -u nobody -c python").read().strip() not in {"", "0"} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert os.popen("pgrep -u nobody -c python").read().strip() in {"", "0"}


@needs_namespaces
def test_killing_the_parent_does_not_reach_it() -> None:
    program = f"import os, signal\nfor pid in (os.getppid(), {os.getpid()}):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
    run_program(program + "    except OSError:\n        pass", FAST)
    assert run_program("print(1)", FAST).passed  # we are still here, and so is the sandbox
