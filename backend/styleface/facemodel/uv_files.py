"""Per-vertex UVs and the UV face mask that users bring for the BFM.

StyleFaceUV ships its own UVs (``BFM_UV_refined.mat``, key ``UV_refine``, one row per front-model vertex)
and a 256x256 mask PNG; neither can be redistributed, so face3d's ``BFM_UV.mat`` (key ``UV``, one row per
vertex of the 53,215-vertex expression set or of the full BFM) plus an index file is the public stand-in.
UVs are (N, 2) in [0, 1] with v up, as FaceModel expects. Without any UV file a cylindrical projection
keeps the model usable (clearly labelled in the model's metadata).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ._matio import PathLike, existing_file, fail, matrix, one_based, read_mat, require, vector

_UV_TOL = 1e-3  # allowed rounding overshoot outside [0, 1]
FRONT_INDEX_NAMES = ("BFM_front_idx.mat", "select_vertex_id.mat")


def _check_uvs(uv: np.ndarray, path: PathLike, key: str) -> np.ndarray:
    lo, hi = float(uv.min()), float(uv.max())
    if lo < -_UV_TOL or hi > 1 + _UV_TOL:
        raise fail(path, f"'{key}' must hold UV coordinates in [0, 1], found values in [{lo:.4g}, {hi:.4g}]")
    return np.clip(uv, 0.0, 1.0).astype(np.float32)


def _uv_rows(arr: np.ndarray, path: PathLike, key: str, rows: int | None) -> np.ndarray:
    return matrix(arr, path, key, rows=rows, cols=2,
                  expected=f"({rows if rows is not None else 'N'}, 2) per-vertex UVs")


def load_uv_refine(path: PathLike, n_vertices: int | None = None) -> np.ndarray:
    """StyleFaceUV's ``BFM_UV_refined.mat``: key ``UV_refine`` (N, 2), one row per front-model vertex."""
    data = read_mat(path, "StyleFaceUV's BFM_UV_refined.mat with key 'UV_refine'", keys=["UV_refine"])
    uv = require(data, "UV_refine", path, "StyleFaceUV's BFM_UV_refined.mat with key 'UV_refine' (N, 2)")
    return _check_uvs(_uv_rows(uv, path, "UV_refine", n_vertices), path, "UV_refine")


def load_index_file(path: PathLike, upper: int, keys: tuple[str, ...] = ("idx", "select_id")) -> np.ndarray:
    """0-based vertex ids from a 1-based MATLAB index file (``BFM_front_idx.mat``: idx, ...)."""
    what = "a BFM index file with key " + " or ".join(f"'{k}'" for k in keys)
    data = read_mat(path, what, keys=list(keys))
    key = next((k for k in keys if k in data), keys[0])
    arr = vector(require(data, key, path, what), path, key, expected="an (M, 1) index vector")
    return one_based(arr, path, key, upper)


def _face3d_select(uv: np.ndarray, front_idx_path: PathLike | None,
                   exp_idx_path: PathLike | None) -> np.ndarray:
    if exp_idx_path is not None:
        uv = uv[load_index_file(exp_idx_path, len(uv), keys=("trimIndex",))]
    if front_idx_path is not None:
        uv = uv[load_index_file(front_idx_path, len(uv))]
    return uv


def load_face3d_uv(path: PathLike, front_idx_path: PathLike | None = None,
                   exp_idx_path: PathLike | None = None) -> np.ndarray:
    """face3d / 3DMMasSTN ``BFM_UV.mat`` (key ``UV``), optionally reduced to the front model.

    ``exp_idx_path`` (``BFM_exp_idx.mat``, trimIndex) first maps full-BFM rows to the 53,215-vertex set;
    ``front_idx_path`` (``BFM_front_idx.mat``, idx; or ``select_vertex_id.mat``) then picks the front
    model's vertices. Without either the rows come back unchanged.
    """
    what = "a BFM_UV.mat with key 'UV' (per-vertex UVs, M x 2)"
    data = read_mat(path, what, keys=["UV"])
    uv = _check_uvs(_uv_rows(require(data, "UV", path, what), path, "UV", None), path, "UV")
    return _face3d_select(uv, front_idx_path, exp_idx_path)


def load_uvs(path: PathLike, n_vertices: int, front_idx_path: PathLike | None = None,
             exp_idx_path: PathLike | None = None) -> np.ndarray:
    """Per-vertex UVs for an ``n_vertices`` model from either UV file format (detected by its key).

    A face3d ``UV`` table with more rows than the model is reduced with ``front_idx_path``; when that is
    not given, a ``BFM_front_idx.mat`` (or ``select_vertex_id.mat``) next to the UV file is used.
    """
    what = "a UV file with key 'UV_refine' (StyleFaceUV) or 'UV' (face3d BFM_UV.mat)"
    data = read_mat(path, what, keys=["UV_refine", "UV"])
    if "UV_refine" in data:
        uv = _uv_rows(np.asarray(data["UV_refine"]), path, "UV_refine", n_vertices)
        return _check_uvs(uv, path, "UV_refine")
    uv = _check_uvs(_uv_rows(require(data, "UV", path, what), path, "UV", None), path, "UV")
    if front_idx_path is None:
        rows = len(_face3d_select(uv, None, exp_idx_path))
        if rows != n_vertices:
            front_idx_path = default_front_index(Path(path))
            if front_idx_path is None:
                raise fail(path, f"'UV' has {rows} rows but the face model has {n_vertices} vertices; pass "
                                 f"the BFM_front_idx.mat that selects them (or place it next to the UV file)")
    uv = _face3d_select(uv, front_idx_path, exp_idx_path)
    if len(uv) != n_vertices:
        raise fail(path, f"'UV' gives {len(uv)} vertices after index selection, expected {n_vertices} "
                         f"(the face model's vertex count)")
    return uv


def cylindrical_uvs(vertices: np.ndarray, margin: float = 0.02) -> np.ndarray:
    """Fallback UVs when the user brings none: a vertical cylinder around a face that looks along +z.

    u follows arc length around the y axis (increasing with +x), v follows +y (v up); both share one
    scale so texels stay square, and the larger extent spans [margin, 1 - margin].
    """
    v = np.asarray(vertices, dtype=np.float64)
    v = v - v.mean(axis=0)
    radius = max(0.5 * float(np.ptp(v[:, 0])), 1e-9)
    axis_z = float(v[:, 2].max()) - radius
    s = np.arctan2(v[:, 0], v[:, 2] - axis_z) * radius
    t = v[:, 1]
    scale = (1.0 - 2.0 * margin) / max(float(np.ptp(s)), float(np.ptp(t)), 1e-12)
    u = 0.5 + (s - 0.5 * (s.max() + s.min())) * scale
    w = 0.5 + (t - 0.5 * (t.max() + t.min())) * scale
    return np.clip(np.stack([u, w], axis=1), 0.0, 1.0).astype(np.float32)


def load_uv_mask(path: PathLike, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """UV-space face mask (H, W) bool from a grayscale PNG (pixels > 0 are face), row 0 is v = 1.

    ``size`` (int or (H, W)) resamples with nearest neighbour so the mask stays binary.
    """
    from PIL import Image, UnidentifiedImageError

    p = existing_file(path, "a grayscale UV mask image (pixels > 0 are face)")
    try:
        with Image.open(p) as img:
            img.load()
            gray = img.convert("L")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise fail(p, f"not a readable image ({type(exc).__name__}); expected a grayscale UV mask PNG") from None
    if size is not None:
        h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        if h <= 0 or w <= 0:
            raise fail(p, f"mask size must be positive, got {size}")
        gray = gray.resize((w, h), resample=Image.NEAREST)
    mask = np.asarray(gray) > 0
    if not mask.any():
        raise fail(p, "the mask has no face pixels (expected pixels > 0 where the face is)")
    return mask


def default_front_index(near: Path) -> Path | None:
    """A front-index file beside ``near``, if the user keeps the BFM files together."""
    return next((near.parent / n for n in FRONT_INDEX_NAMES if (near.parent / n).is_file()), None)
