"""One rule for the ``device`` setting of every command, so ``auto`` and a missing GPU mean the same everywhere."""

from __future__ import annotations

from sparring.errors import UserError


def resolve_device(name: str) -> str:
    """``auto`` is CUDA when there is one, else the CPU; asking for CUDA without one is a one-line error."""
    import torch  # here, so that importing a command module stays cheap

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device '{name}' requested but no CUDA device is available (use --set device=cpu)")
    return name
