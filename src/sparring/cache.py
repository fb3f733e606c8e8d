"""Where sparring keeps what it can rebuild (oracle data, converted models, teacher answers)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``SPARRING_CACHE``, else ``$XDG_CACHE_HOME/sparring``, else ``~/.cache/sparring``."""
    root = os.environ.get("SPARRING_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "sparring")
    return Path(root)
