"""A small ellipsoid head (about 2,000 vertices) with regions, landmarks and smooth bases.

Tests of the training package run on it when they do not need the demo head's realism: it builds in
milliseconds and renders fast, and it has everything the stand-in reads (regions, UVs, 68 landmarks).
"""
from __future__ import annotations

import numpy as np
from styleface.facemodel import FaceModel

# Frontal (x, y) of the 68 landmarks on a head of half-width 0.75 (index 0 is the subject's right, -x).
_JAW = [(-0.68 + 1.36 * t, -0.95 * np.sin(np.pi * t) ** 0.8 + 0.15 * (1 - np.sin(np.pi * t)))
        for t in np.linspace(0.02, 0.98, 17)]
_BROWS = [(x, 0.36 + 0.05 * np.sin(np.pi * (abs(x) - 0.12) / 0.44)) for x in
          list(np.linspace(-0.56, -0.12, 5)) + list(np.linspace(0.12, 0.56, 5))]
_NOSE = [(0.0, y) for y in np.linspace(0.22, -0.16, 4)] + [(x, -0.28) for x in np.linspace(-0.14, 0.14, 5)]


def _eye(cx: float) -> list[tuple[float, float]]:
    a = np.array([np.pi, 2 * np.pi / 3, np.pi / 3, 0.0, -np.pi / 3, -2 * np.pi / 3])
    return [(cx + 0.13 * np.cos(t), 0.15 + 0.05 * np.sin(t)) for t in a]


def _mouth() -> list[tuple[float, float]]:
    outer = [(0.24 * np.cos(t), -0.55 + 0.09 * np.sin(t)) for t in np.linspace(np.pi, -np.pi, 13)[:12]]
    inner = [(0.17 * np.cos(t), -0.55 + 0.03 * np.sin(t)) for t in np.linspace(np.pi, -np.pi, 9)[:8]]
    return outer + inner


LANDMARK_XY = np.array(_JAW + _BROWS + _NOSE + _eye(-0.3) + _eye(0.3) + _mouth(), np.float64)


def toy_head(rows: int = 40, cols: int = 56, n_id: int = 12, n_exp: int = 4, seed: int = 0) -> FaceModel:
    """An ellipsoid head facing +z with a nose, 68 landmarks, region labels and smooth bases."""
    rng = np.random.default_rng(seed)
    theta = np.linspace(-0.45 * np.pi, 0.47 * np.pi, rows)          # latitude (bottom .. top)
    phi = np.linspace(-0.92 * np.pi, 0.92 * np.pi, cols)             # longitude, 0 faces +z
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    x = 0.75 * np.cos(th) * np.sin(ph)
    y = 1.1 * np.sin(th)
    z = 0.85 * np.cos(th) * np.cos(ph)
    nose = 0.28 * np.exp(-(x / 0.11) ** 2 - ((y + 0.12) / 0.2) ** 2) * (z > 0)
    z = z + nose
    verts = np.stack([x, y, z], -1).reshape(-1, 3).astype(np.float32)
    tris = []
    for r in range(rows - 1):
        for c in range(cols - 1):
            a = r * cols + c
            tris += [[a, a + 1, a + cols + 1], [a, a + cols + 1, a + cols]]
    tris = np.array(tris)
    # Counter-clockwise seen from outside: flip if the first face normal points inwards.
    v = verts
    fn = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])
    centre = v[tris].mean(1)
    if (np.einsum("fc,fc->f", fn, centre) < 0).mean() > 0.5:
        tris = tris[:, [0, 2, 1]]
    uvs = np.stack([(ph.reshape(-1) / (0.92 * np.pi) + 1) / 2,
                    (th.reshape(-1) + 0.45 * np.pi) / (0.92 * np.pi)], -1)
    front = v[:, 2] > 0
    lm = []
    for lx, ly in LANDMARK_XY:
        d = (v[:, 0] - lx) ** 2 + (v[:, 1] - ly) ** 2 + 10.0 * (~front)
        lm.append(int(np.argmin(d)))
    xx, yy, zz = v.T

    def blob(cx, cy, sx, sy):
        return np.exp(-((xx - cx) / sx) ** 2 - ((yy - cy) / sy) ** 2) * front

    regions = {
        "skin": (yy < 0.85).astype(np.float32),
        "scalp": (yy >= 0.85).astype(np.float32),
        "lips": (blob(0, -0.55, 0.22, 0.07) > 0.5).astype(np.float32),
        "eyes": ((blob(-0.3, 0.15, 0.11, 0.045) > 0.5) | (blob(0.3, 0.15, 0.11, 0.045) > 0.5)).astype(np.float32),
        "brows": ((blob(-0.34, 0.37, 0.2, 0.035) > 0.5) | (blob(0.34, 0.37, 0.2, 0.035) > 0.5)).astype(np.float32),
        "cheeks": np.clip(blob(-0.4, -0.15, 0.15, 0.15) + blob(0.4, -0.15, 0.15, 0.15), 0, 1).astype(np.float32),
        "nose": (nose > 0.05).astype(np.float32),
    }
    normals = v / np.linalg.norm(v, axis=1, keepdims=True)
    id_basis = np.zeros((len(v), 3, n_id), np.float32)
    for k in range(n_id):
        cx, cy = rng.uniform(-0.6, 0.6), rng.uniform(-0.9, 0.9)
        field = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.15) * 0.04
        id_basis[:, :, k] = normals * field[:, None]
    exp_basis = np.zeros((len(v), 3, n_exp), np.float32)
    jaw = np.clip(-(yy + 0.45) / 0.5, 0, 1) * front
    exp_basis[:, 1, 0] = -0.08 * jaw
    for k in range(1, n_exp):
        side = 1 if k % 2 else -1
        exp_basis[:, 1, k] = 0.04 * blob(side * 0.24, -0.55, 0.1, 0.1)
    return FaceModel(name="toy-head", mean_shape=v, id_basis=id_basis, exp_basis=exp_basis, triangles=tris,
                     uvs=uvs, landmarks=np.array(lm), exp_names=("jaw_open", "smile_left", "smile_right")[:n_exp],
                     metadata={"regions": {k: v.tolist() for k, v in regions.items()}, "uv_regions": {
                         "iris_centres": [(float(uvs[i, 0]), float(uvs[i, 1]), 0.01) for i in
                                          (int(np.argmin((xx + 0.3) ** 2 + (yy - 0.15) ** 2 + 10 * ~front)),
                                           int(np.argmin((xx - 0.3) ** 2 + (yy - 0.15) ** 2 + 10 * ~front)))]}})
