"""Reading user-supplied MATLAB files with one-line errors that name the file and what was expected.

Shared by the BFM and UV loaders. Every check raises StyleFaceError("<file>: <problem>") so the CLI can
print it as is; none of them lets a numpy or scipy traceback reach the user.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import StyleFaceError

PathLike = str | os.PathLike


def fail(path: PathLike, problem: str) -> StyleFaceError:
    """The project error for ``path``, squeezed onto one line."""
    text = f"{path}: {problem}"
    return StyleFaceError(" ".join(text.split()))


def existing_file(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise fail(p, f"file not found (expected {what})")
    return p


def _short(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return msg if len(msg) <= 120 else msg[:117] + "..."


def read_mat(path: PathLike, what: str, keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Variables of a MATLAB v5/v7 file (only ``keys`` if given); header entries are dropped."""
    import scipy.io

    p = existing_file(path, what)
    names = None if keys is None else list(keys)
    try:
        data = scipy.io.loadmat(str(p), variable_names=names)
    except NotImplementedError:
        raise fail(p, f"MATLAB v7.3 (HDF5) files are not supported; re-save it in MATLAB with "
                      f"save(..., '-v7') (expected {what})") from None
    except Exception as exc:  # scipy raises many types for damaged files
        raise fail(p, f"not a readable MATLAB .mat file, or truncated ({_short(exc)}); "
                      f"expected {what}") from None
    return {k: v for k, v in data.items() if not k.startswith("__")}


def _keys_in_file(path: Path) -> str:
    import scipy.io

    try:
        names = [name for name, _, _ in scipy.io.whosmat(str(path))]
    except Exception:
        return "the file is truncated or damaged"
    return "found keys: " + (", ".join(names) if names else "none")


def require(data: dict[str, np.ndarray], key: str, path: PathLike, what: str) -> np.ndarray:
    """``data[key]`` or an error that lists the keys actually in the file."""
    if key not in data:
        raise fail(path, f"missing key '{key}' (expected {what}); {_keys_in_file(Path(path))}")
    return np.asarray(data[key])


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def matrix(arr: np.ndarray, path: PathLike, key: str, rows: int | None = None, cols: int | None = None,
           expected: str | None = None) -> np.ndarray:
    """A numeric 2-D array with the given row/column counts (None = any)."""
    want = expected or _shape_text(("R" if rows is None else rows, "C" if cols is None else cols))
    ok = arr.ndim == 2 and (rows is None or arr.shape[0] == rows) and (cols is None or arr.shape[1] == cols)
    if not ok or arr.size == 0:
        raise fail(path, f"'{key}' has shape {_shape_text(arr.shape)}, expected {want}")
    numeric(arr, path, key)
    return arr


def vector(arr: np.ndarray, path: PathLike, key: str, length: int | None = None,
           expected: str | None = None) -> np.ndarray:
    """A row or column vector (any orientation) flattened to 1-D."""
    want = expected or f"a vector of {length if length is not None else 'L'} values"
    non_single = [s for s in arr.shape if s != 1]
    ok = arr.ndim <= 2 and len(non_single) <= 1 and arr.size > 0 and (length is None or arr.size == length)
    if not ok:
        raise fail(path, f"'{key}' has shape {_shape_text(arr.shape)}, expected {want}")
    numeric(arr, path, key)
    return arr.reshape(-1)


def numeric(arr: np.ndarray, path: PathLike, key: str) -> None:
    if arr.dtype.kind not in "biuf":
        raise fail(path, f"'{key}' holds {arr.dtype} data, expected numbers")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise fail(path, f"'{key}' contains NaN or infinite values")


def one_based(arr: np.ndarray, path: PathLike, key: str, upper: int) -> np.ndarray:
    """MATLAB indices in [1, upper] -> int64 0-based indices (same shape)."""
    if arr.size and arr.dtype.kind == "f" and not np.array_equal(arr, np.round(arr)):
        raise fail(path, f"'{key}' must hold integer indices")
    idx = arr.astype(np.int64)
    if idx.size and (idx.min() < 1 or idx.max() > upper):
        raise fail(path, f"'{key}' must hold 1-based MATLAB indices in [1, {upper}], "
                         f"found values in [{idx.min()}, {idx.max()}]")
    return idx - 1
