"""Files that are never half-written, and the append-only JSONL logs every line reads.

Whole files are replaced with ``os.replace`` after writing a temporary sibling (fsynced), so a crash
leaves the old or the new version, never half of one. A JSONL log is appended line by line; its one
reader (``read_jsonl_log``) ignores a torn last line, which is what a crash mid-append leaves.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from sparring.errors import UserError


def read_jsonl_log(path: Path) -> list[dict[str, Any]]:
    """All complete rows of an append-only JSONL log; a torn last line (a crash mid-append) is ignored."""
    if not path.exists():
        return []
    rows = []
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise UserError(f"{path}:{number}: not valid JSON") from None
    return rows


def truncate_jsonl_log(path: Path, n_rows: int) -> None:
    """Keep the first ``n_rows`` complete rows of a JSONL log (a torn last line goes too)."""
    if path.exists():
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in read_jsonl_log(path)[:n_rows]))


def atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give them the usual permissions
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(Path(path), lambda handle: handle.write(text.encode()))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(json_safe(data), indent=2) + "\n")


def atomic_torch_save(obj: Any, path: Path) -> None:
    import torch  # here, so that the CLI and the config engine start without torch

    atomic_write(Path(path), lambda handle: torch.save(obj, handle))


def json_safe(value: Any) -> Any:
    """NaN and infinity are not JSON; they become null so every reader can parse every file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
