"""Where a cluster run puts its files: a local folder or any fsspec URL the nodes can reach.

Every file is written whole or not at all: on a local (or mounted shared) file system under a
hidden temporary name and renamed; on object stores (s3://, gs://, ...) a PUT only becomes visible
once complete. Picklable (URL + options), so each Ray actor opens its own.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Mapping

from ..errors import StyleFaceError

PART_MARK = ".part-"


def _is_url(text: str) -> bool:
    return "://" in text or text.startswith("memory:")


def normalise_output(out: str | os.PathLike) -> str:
    """An fsspec URL unchanged; a local path made absolute (actors may run in another folder)."""
    text = os.fspath(out)
    return text if _is_url(text) else str(Path(text).expanduser().resolve())


class OutputStore:
    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        import fsspec

        self.url = url
        self.storage_options = dict(storage_options or {})
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **self.storage_options)
        except (ImportError, ValueError) as e:
            raise StyleFaceError(f"cannot open output location {url}: {e}") from None
        self.root = root.rstrip("/") or "/"
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.local = "file" in protocols or "local" in protocols

    def __reduce__(self):
        return OutputStore, (self.url, self.storage_options)

    def path(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def makedirs(self) -> None:
        try:
            self.fs.makedirs(self.root, exist_ok=True)
        except OSError as e:
            raise StyleFaceError(f"cannot create output location {self.url}: {e.strerror or e}") from None

    def names(self) -> set[str]:
        """File names directly in the output location (one listing, cheap on object stores)."""
        try:
            entries = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return set()
        return {str(p).rstrip("/").rsplit("/", 1)[-1] for p in entries}

    def exists(self, name: str) -> bool:
        return bool(self.fs.exists(self.path(name)))

    def put_file(self, local_path: str | os.PathLike, name: str) -> None:
        """Copy one local file to ``name`` atomically."""
        final = self.path(name)
        if not self.local:
            self.fs.put_file(os.fspath(local_path), final)
            return
        tmp = self.path(f".{name}{PART_MARK}{uuid.uuid4().hex[:12]}")
        try:
            self.fs.put_file(os.fspath(local_path), tmp)
            os.replace(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def remove_stale_parts(self) -> int:
        """Delete temporary files a killed run left (local stores only); returns how many."""
        if not self.local:
            return 0
        n = 0
        for name in self.names():
            if name.startswith(".") and PART_MARK in name:
                try:
                    os.unlink(self.path(name))
                    n += 1
                except OSError:
                    pass
        return n
