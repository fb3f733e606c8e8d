"""Running a sparring command under ``accelerate launch`` with 2 CPU processes (gloo), as a user would."""

from __future__ import annotations

import os
import subprocess
import sys


def accelerate_launch(args: list[str], processes: int = 2, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    launch = ["-m", "accelerate.commands.launch", "--num_processes", str(processes), "--cpu", "--num_machines", "1"]
    launch += ["--mixed_precision", "no", "--dynamo_backend", "no"]
    return subprocess.run([sys.executable, *launch, "-m", "sparring", *args], env=env, capture_output=True, text=True, timeout=timeout)
