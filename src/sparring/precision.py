"""One rule for the ``precision`` setting of every command: ``fp32``, ``bf16`` or ``auto``.

``bf16`` is mixed precision: master weights, optimiser states, losses, log-probabilities for
policy-gradient ratios, KL terms, metrics and evaluation stay float32; only the matrix products
(and what autocast lowers with them) run in bfloat16, under ``torch.autocast``. ``auto`` is bf16
where the device has bf16 matrix units, else fp32:

- CUDA: ``torch.cuda.is_bf16_supported()``.
- CPU: the start-up probe. A CPU flag for bf16 arithmetic (``amx_bf16`` or ``avx512_bf16``) is
  necessary but not enough: on a CPU whose bf16 path is no faster than its fp32 one (AVX-512 BF16
  without AMX can be such a CPU), autocast only adds casts. So the probe also times one matrix
  product in both precisions and picks bf16 only when it is measurably faster.

fp32 runs execute no autocast region at all, so they are bit-identical to runs made before the
setting existed. Same seed, same precision: the same result (bf16 kernels are deterministic on CPU).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PRECISIONS = ("auto", "fp32", "bf16")
PRECISION_HELP = (
    "auto (bf16 where the device's bf16 matrix units measure faster, else fp32), fp32, or bf16 (mixed: fp32 weights, optimiser, losses)"
)
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
# bf16 must beat fp32 by this factor on the probe's product to be chosen by ``auto``: a margin above
# the timing noise (two medians of the same code differ by up to 25% on the 2-core machine,
# bench/speed.py), and a product that gains less leaves little after the casts around it.
AUTO_MIN_SPEEDUP = 1.5
PROBE_SHAPE = (1024, 1024, 1024)  # (m, k, n): big enough to reach the units' throughput, ~10 ms in fp32


def need_precision(precision: str) -> None:
    """The validators' check of the setting: one line naming it, worded as ``sparring.config.need``
    words every check (this module cannot import the config engine: the run lifecycle imports it)."""
    from sparring.errors import UserError

    if precision not in PRECISIONS:
        raise UserError(f"config: 'precision' must be one of {', '.join(PRECISIONS)}")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is not readable, e.g. macOS)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def time_matmul(dtype: Any, shape: tuple[int, int, int] = PROBE_SHAPE, repeats: int = 5, device: str = "cpu") -> float:
    """Best-of-``repeats`` seconds for one (m, k) @ (k, n) product in ``dtype`` (after a warm-up)."""
    import torch

    m, k, n = shape
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(m, k, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(k, n, generator=gen).to(device=device, dtype=dtype)
    torch.matmul(a, b)  # warm-up: kernel selection, page faults
    best = float("inf")
    for _ in range(repeats):
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.matmul(a, b)
        if device != "cpu":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


@functools.cache
def probe(device: str = "cpu") -> dict[str, Any]:
    """What the device offers for bf16, measured once per process: the figures ``summary.json`` records."""
    import torch

    if device.startswith("cuda"):
        supported = bool(torch.cuda.is_bf16_supported())
        return {"device": device, "bf16_units": supported, "bf16_faster": supported, "gpu": torch.cuda.get_device_name(device)}
    flags = sorted(cpu_flags() & set(CPU_BF16_FLAGS))
    found: dict[str, Any] = {"device": "cpu", "cpu_bf16_flags": flags, "threads": torch.get_num_threads()}
    if not flags:
        return {**found, "bf16_units": False, "bf16_faster": False}
    flops = 2.0 * PROBE_SHAPE[0] * PROBE_SHAPE[1] * PROBE_SHAPE[2]
    fp32_s, bf16_s = time_matmul(torch.float32), time_matmul(torch.bfloat16)
    speedup = fp32_s / bf16_s
    return {
        **found,
        "bf16_units": True,
        "matmul_shape": list(PROBE_SHAPE),
        "fp32_gflops": round(flops / fp32_s / 1e9, 1),
        "bf16_gflops": round(flops / bf16_s / 1e9, 1),
        "bf16_speedup": round(speedup, 2),
        "bf16_faster": speedup >= AUTO_MIN_SPEEDUP,
    }


@dataclasses.dataclass(frozen=True)
class Precision:
    """The precision a command runs in: ``name`` is ``fp32`` or ``bf16``, whatever was ``requested``."""

    name: str
    requested: str
    device_type: str  # "cpu" or "cuda": what torch.autocast takes
    probe: dict[str, Any] | None = None

    @property
    def bf16(self) -> bool:
        return self.name == "bf16"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """bf16 autocast for ``bf16``; for ``fp32`` no autocast region at all (bit-identical to before)."""
        if not self.bf16:
            yield
            return
        import torch

        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            yield

    def record(self, scope: str, ran_bf16: bool = True) -> dict[str, Any]:
        """What ``summary.json`` says about it; ``scope``: what ran in bf16 when it is bf16.

        ``ran_bf16=False``: the setting resolved to bf16 but the command kept everything in fp32 (a
        GAN's narrow discriminator); ``precision`` then says fp32, what ran, and
        ``precision_resolved`` what the setting resolved to, and ``scope`` says why."""
        ran = self.name if ran_bf16 else "fp32"
        return {
            "precision": ran,
            "precision_requested": self.requested,
            "precision_resolved": self.name,
            "precision_scope": scope if self.bf16 else "everything in fp32",
            "precision_probe": self.probe,
        }


FP32 = Precision("fp32", "fp32", "cpu")  # the default of functions that take a precision


def model_precision(requested: str, model: Any) -> Precision:
    """``resolve_precision`` on the device ``model``'s weights are on (a command's training loops)."""
    return resolve_precision(requested, str(next(model.parameters()).device))


@contextlib.contextmanager
def full_precision() -> Iterator[None]:
    """A block computed in float32 inside a bf16 one (log-probabilities, losses, metrics); outside
    one it does nothing, so fp32 runs execute exactly as before. Inputs that are bf16 outputs of
    products still need ``.float()``."""
    import torch

    active = [d for d in ("cpu", "cuda") if torch.is_autocast_enabled(d)]
    if not active:
        yield
        return
    with contextlib.ExitStack() as stack:
        for device_type in active:
            stack.enter_context(torch.autocast(device_type, enabled=False))
        yield


def resolve_precision(requested: str, device: str) -> Precision:
    """``requested`` (fp32, bf16, auto) on a resolved ``device`` (cpu, cuda, cuda:N) -> the Precision that runs.

    ``bf16`` asked for explicitly runs even where it is slow (a user measuring it gets what they
    asked for); on a CUDA device without bf16 it is a one-line error.
    """
    from sparring.errors import UserError

    need_precision(requested)
    device_type = "cuda" if device.startswith("cuda") else "cpu"
    if requested == "fp32":
        return Precision("fp32", requested, device_type)
    found = probe(device)
    if requested == "bf16":
        if device_type == "cuda" and not found["bf16_units"]:
            raise UserError(f"precision 'bf16' requested but {found.get('gpu', device)} has no bf16 support (use --set precision=fp32)")
        return Precision("bf16", requested, device_type, found)
    return Precision("bf16" if found["bf16_faster"] else "fp32", requested, device_type, found)
