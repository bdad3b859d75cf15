"""Bake per-vertex attributes into a UV map by rasterising the UV layout (numpy, no torch).

Used for procedural textures, the UV face mask and texel footprints. Texel (r, c) has its centre at
u = (c + 0.5) / W, v = 1 - (r + 0.5) / H (row 0 is v = 1, the grid_sample convention).
"""
from __future__ import annotations

import numpy as np


def texel_centres(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) of every texel centre, each (size, size)."""
    c = (np.arange(size) + 0.5) / size
    return np.meshgrid(c, 1.0 - c)


def triangle_pixels(x: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every integer pixel centre inside each triangle's bounding box, clipped to the image.

    ``x``, ``y`` (T, 3) are continuous pixel coordinates (centre of pixel c at c). Returns flat arrays
    (triangle index, column, row): the candidates an edge test then accepts or rejects.
    """
    x0 = np.clip(np.ceil(x.min(1)), 0, size).astype(np.int64)
    x1 = np.clip(np.floor(x.max(1)), -1, size - 1).astype(np.int64)
    y0 = np.clip(np.ceil(y.min(1)), 0, size).astype(np.int64)
    y1 = np.clip(np.floor(y.max(1)), -1, size - 1).astype(np.int64)
    w, h = np.maximum(x1 - x0 + 1, 0), np.maximum(y1 - y0 + 1, 0)
    n = w * h
    t = np.repeat(np.arange(len(x)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    wt = np.maximum(w[t], 1)
    return t, x0[t] + k % wt, y0[t] + k // wt


def rasterize_uv(uvs: np.ndarray, triangles: np.ndarray, size: int,
                 chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Which triangle covers each texel centre, and the barycentrics there.

    Returns face_id (size, size) int64 (-1 where none) and bary (size, size, 3) float32. Where UV
    triangles overlap, the last one wins (layouts are meant to have none).
    """
    face_id = np.full((size, size), -1, dtype=np.int64)
    bary = np.zeros((size, size, 3), dtype=np.float32)
    px = uvs[:, 0].astype(np.float64) * size - 0.5            # continuous column of the texel centre
    py = (1.0 - uvs[:, 1].astype(np.float64)) * size - 0.5    # continuous row
    for s in range(0, len(triangles), chunk):
        tri = triangles[s:s + chunk]
        x, y = px[tri], py[tri]                                   # (T, 3)
        t, cx, cy = triangle_pixels(x, y, size)
        ax, ay, bx, by, qx, qy = x[t, 0], y[t, 0], x[t, 1], y[t, 1], x[t, 2], y[t, 2]
        area = (bx - ax) * (qy - ay) - (by - ay) * (qx - ax)
        ok = np.abs(area) > 1e-12
        safe = np.where(ok, area, 1.0)
        l1 = ((qx - bx) * (cy - by) - (qy - by) * (cx - bx)) / safe
        l2 = ((ax - qx) * (cy - qy) - (ay - qy) * (cx - qx)) / safe
        l3 = 1.0 - l1 - l2
        eps = -1e-9
        inside = ok & (l1 >= eps) & (l2 >= eps) & (l3 >= eps)
        face_id[cy[inside], cx[inside]] = t[inside] + s
        bary[cy[inside], cx[inside]] = np.stack([l1, l2, l3], 1)[inside]
    return face_id, bary


def bake_vertex_attributes(uvs: np.ndarray, triangles: np.ndarray, values: np.ndarray, size: int,
                           fill: float | np.ndarray = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate per-vertex values (N, C) over the UV layout -> map (C, size, size) and coverage mask."""
    face_id, bary = rasterize_uv(uvs, triangles, size)
    covered = face_id >= 0
    vals = np.asarray(values, dtype=np.float32)
    out = np.empty((size, size, vals.shape[1]), dtype=np.float32)
    out[...] = fill
    tri = triangles[face_id[covered]]
    out[covered] = np.einsum("pk,pkc->pc", bary[covered], vals[tri])
    return np.ascontiguousarray(out.transpose(2, 0, 1)), covered


def dilate(map_chw: np.ndarray, covered: np.ndarray, iterations: int = 4) -> np.ndarray:
    """Grow a baked map into uncovered texels (mean of covered 4-neighbours) so bilinear lookups at
    seams and borders never blend with the fill colour."""
    m = map_chw.copy()
    cov = covered.copy()
    for _ in range(iterations):
        acc = np.zeros_like(m)
        cnt = np.zeros(cov.shape, np.float32)
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            sh_cov = np.roll(cov, (dy, dx), (0, 1))
            acc += np.roll(m, (dy, dx), (1, 2)) * sh_cov
            cnt += sh_cov
        grow = (~cov) & (cnt > 0)
        m[:, grow] = acc[:, grow] / cnt[grow]
        cov = cov | grow
    return m
