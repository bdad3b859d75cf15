"""Reading ``torch.save`` files without executing code from them.

Everything goes through ``torch.load(weights_only=True)``; a loader names the few extra types its
format really contains (e.g. ``argparse.Namespace`` in rosinality checkpoints). Names of classes the
project never needs (Lightning callbacks used as dict keys, AttributeDict) are mapped to inert
stand-ins so such files load without importing those libraries. Every failure becomes a one-line
StyleFaceError: missing file, corrupt or truncated file, or a reference outside the allow-list.
"""
from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from ..errors import StyleFaceError

GlobalSpec = Callable[..., Any] | tuple[Callable[..., Any], str]

REFUSED_GLOBAL = re.compile(r"(?:unsupported GLOBAL|Unsupported global: GLOBAL)\s+([\w.]+)", re.IGNORECASE)


def existing_file(path: str | os.PathLike[str], what: str) -> Path:
    """The path as a Path, or a StyleFaceError saying what is missing."""
    p = Path(path).expanduser()
    if not p.exists():
        raise StyleFaceError(f"{what} not found: {p}")
    if not p.is_file():
        raise StyleFaceError(f"{what} is not a file: {p}")
    return p


def refusal(path: Path, name: str) -> StyleFaceError:
    """The error for a file that references something outside the allow-list."""
    return StyleFaceError(
        f"refusing to load {path}: it references '{name}', which is not on the allow-list of data types "
        "(loading it could run code from the file)")


def describe_failure(path: Path, what: str, exc: BaseException) -> StyleFaceError:
    """Translate an exception from torch.load / unpickling into a one-line StyleFaceError."""
    text = str(exc)
    m = REFUSED_GLOBAL.search(text)
    if m:
        return refusal(path, m.group(1))
    detail = re.search(r"WeightsUnpickler error:\s*(.+?)\n\s*\n", text, re.S)
    if detail and "Unsupported operand" not in detail.group(1):
        reason = " ".join(detail.group(1).split())[:160]
        return StyleFaceError(f"cannot read {what} {path}: unsupported content ({reason})")
    if isinstance(exc, EOFError) or "unexpected EOF" in text or "central directory" in text:
        reason = "the file is truncated or corrupt"
    elif isinstance(exc, (pickle.UnpicklingError, UnicodeDecodeError, IndexError, KeyError, ValueError,
                          TypeError, AttributeError)) or "not a ZIP archive" in text:
        reason = "it is not a PyTorch checkpoint or it is corrupt"
    else:
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        reason = first[:160]
    return StyleFaceError(f"cannot read {what} {path}: {reason}")


class _Inert:
    """Stand-in for a class that only appears as a marker (e.g. a Lightning callback type used as key)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


class InertDict(dict):
    """Stand-in for dict subclasses such as Lightning's AttributeDict or dnnlib's EasyDict."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.update(state)


def inert(name: str) -> tuple[type, str]:
    """An allow-list entry that maps the pickled class ``name`` to a fresh inert class."""
    cls = type(name.rsplit(".", 1)[-1], (_Inert,), {"__module__": __name__})
    return cls, name


def load_torch_file(
    path: str | os.PathLike[str], what: str, allow: Iterable[GlobalSpec] = (),
) -> Any:
    """``torch.load(path, weights_only=True, map_location='cpu')`` with ``allow`` added to the safe types."""
    p = existing_file(path, what)
    if not hasattr(torch.serialization, "safe_globals"):
        raise StyleFaceError(f"reading {what} safely needs PyTorch 2.5 or newer (found {torch.__version__})")
    try:
        with torch.serialization.safe_globals(list(allow)):
            return torch.load(p, map_location="cpu", weights_only=True)
    except StyleFaceError:
        raise
    except MemoryError:
        raise StyleFaceError(f"not enough memory to read {what} {p}") from None
    except Exception as e:  # torch raises many types for bad files; all become one line
        raise describe_failure(p, what, e) from None
