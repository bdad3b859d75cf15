"""Atomic file writes for the rigged-face writers: a reader (Blender, a watcher) never sees half a file."""
from __future__ import annotations

import os
from pathlib import Path


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``.

    A plain ``open`` keeps the user's umask (``mkstemp`` would leave private 0600 files)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
