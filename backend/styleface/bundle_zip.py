"""Unpacking a zipped bundle without trusting the zip.

Refused before anything is written: entry names with backslashes, drive letters, absolute paths,
``..`` or NUL; symlink and other non-regular entries; duplicate names; more than MAX_ENTRIES entries;
declared sizes over MAX_ENTRY_BYTES / MAX_TOTAL_BYTES; compression ratios over MAX_RATIO for entries
larger than 1 MiB (zip bombs). While unpacking, each entry's actual size is counted against its
declared size, so a lying header cannot inflate past it.
``STYLEFACE_MAX_BUNDLE_MB`` raises the total size limit.
"""
from __future__ import annotations

import os
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

from .errors import StyleFaceError

MAX_ENTRIES = 256
MAX_TOTAL_BYTES = 2 << 30  # a 1024 px StyleGAN2 bundle is ~0.4 GiB
MAX_ENTRY_BYTES = 2 << 30
MAX_RATIO = 100  # float weights compress ~1.1x; a ratio of 100 over 1 MiB is a bomb
_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


def max_total_bytes() -> int:
    text = os.environ.get("STYLEFACE_MAX_BUNDLE_MB", "").strip()
    return (int(text) << 20) if text.isascii() and text.isdigit() else MAX_TOTAL_BYTES


def check_entries(zf: zipfile.ZipFile, where: str) -> list[zipfile.ZipInfo]:
    """The zip's entries after every check above; raises StyleFaceError naming the first bad entry."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise StyleFaceError(f"{where}: the zip has {len(infos)} entries, at most {MAX_ENTRIES}")
    seen: set[str] = set()
    total = 0
    limit = max_total_bytes()
    for info in infos:
        name = info.filename
        if ("\\" in name or "\0" in name or _DRIVE.match(name) or name.startswith("/")
                or ".." in PurePosixPath(name).parts):
            raise StyleFaceError(f"{where}: refusing unsafe path '{name[:80]}' in the zip")
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise StyleFaceError(f"{where}: refusing '{name[:80]}': symlinks and special files are not allowed")
        key = name.rstrip("/").lower()
        if key in seen:
            raise StyleFaceError(f"{where}: the zip lists '{name[:80]}' twice")
        seen.add(key)
        if info.file_size > MAX_ENTRY_BYTES:
            raise StyleFaceError(f"{where}: '{name[:80]}' declares {info.file_size} bytes, limit {MAX_ENTRY_BYTES}")
        if info.file_size > _CHUNK and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise StyleFaceError(f"{where}: '{name[:80]}' inflates {info.file_size // max(1, info.compress_size)}"
                                 f"x (limit {MAX_RATIO}x): refusing a likely zip bomb")
        total += info.file_size
        if total > limit:
            raise StyleFaceError(f"{where}: the zip unpacks to more than {limit} bytes "
                                 "(set STYLEFACE_MAX_BUNDLE_MB to allow more)")
    return infos


def safe_extract(zip_path: Path, root: Path) -> None:
    """Unpack ``zip_path`` into the empty folder ``root`` after ``check_entries``."""
    where = str(zip_path)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in check_entries(zf, where):
                target = root / info.filename
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                left = info.file_size
                with zf.open(info) as src, open(target, "xb") as dst:
                    while chunk := src.read(min(_CHUNK, left + 1)):
                        left -= len(chunk)
                        if left < 0:
                            raise StyleFaceError(f"{where}: '{info.filename[:80]}' inflates past its declared size")
                        dst.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as e:
        raise StyleFaceError(f"{where}: not a valid zip file ({str(e)[:100]})") from None
    except FileExistsError as e:
        raise StyleFaceError(f"{where}: the zip lists '{Path(e.filename).name}' twice") from None
    except OSError as e:
        raise StyleFaceError(f"{where}: cannot unpack ({e.strerror or e})") from None


__all__ = ["safe_extract", "check_entries", "MAX_ENTRIES", "MAX_TOTAL_BYTES", "MAX_RATIO"]
