"""When is an exported face complete? Exactly when its JSON sidecar exists and names only files that
exist. The sidecar is written last (after every other file was atomically renamed into place), so an
interrupted export never looks complete; resumable batches (``styleface generate``, cluster runs) use
this one rule to skip finished faces.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

MAX_SIDECAR_BYTES = 16 << 20


def sidecar_path(out_dir: str | Path, stem: str) -> Path:
    """Where the sidecar of face ``stem`` lives."""
    return Path(out_dir) / f"{stem}.json"


def face_is_complete(out_dir: str | Path, stem: str, formats: Iterable[str] | None = None) -> bool:
    """True when ``<out_dir>/<stem>.json`` is a readable StyleFace sidecar whose listed files all exist
    (and, with ``formats``, lists every requested export format other than json)."""
    from .sidecar import SIDECAR_FORMAT

    path = sidecar_path(out_dir, stem)
    try:
        if not path.is_file() or path.stat().st_size > MAX_SIDECAR_BYTES:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        return False
    files = data.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        return False
    for name in files.values():
        if Path(name).name != name or not (Path(out_dir) / name).is_file():
            return False
    wanted = {str(f).lower() for f in (formats or ())} - {"json"}
    return wanted <= set(files)
