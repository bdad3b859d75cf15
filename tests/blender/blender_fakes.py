"""Face generators for the Blender tests, loaded by the worker via STYLEFACE_WORKER_GENERATOR.

Why: the add-on tests exercise the real worker process and protocol but must not depend on torch or
on the demo face model being finished; these faces are numpy-only and deterministic in the seed, so a
test can rebuild the exact arrays the worker sent. They also carry what the add-on consumes beyond
``FaceAssets.to_arrays()`` today: ``expression_deltas`` (K, N, 3) + ``meta['expression_names']`` (shape
keys) and the SH lighting in the coefficients (lighting match).

This module is imported in two processes: the worker (backend Python) and the bpy test process; it
imports ``styleface.assets`` only inside the worker-side functions.
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

EXPRESSIONS = ("jaw_open", "smile")
KILL_ENV = "STYLEFACE_TEST_KILL_AFTER"


def face_arrays(seed: int, texture_size: int = 32, n: int = 24) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A small curved patch ('face') with seed-dependent shape, maps, expression deltas and lighting."""
    rng = np.random.default_rng(seed)
    u, v = np.meshgrid(np.linspace(0.02, 0.98, n), np.linspace(0.02, 0.98, n))
    uvs = np.stack([u, v], -1).reshape(-1, 2).astype(np.float32)
    x = (uvs[:, 0] - 0.5) * 1.6
    y = (uvs[:, 1] - 0.5) * 2.0
    z = 0.6 - 0.35 * (x ** 2 + 0.6 * y ** 2) + rng.normal(0, 0.01, len(x))
    verts = np.stack([x, y, z], 1).astype(np.float32)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)]).astype(np.int64)
    s = texture_size
    base = rng.uniform(0.35, 0.8, 3)
    diffuse = np.clip(base[:, None, None] + rng.normal(0, 0.05, (3, s, s)), 0, 1).astype(np.float32)
    displacement = np.tanh(rng.normal(0, 0.7, (3, s, s))).astype(np.float32)
    deltas = np.zeros((len(EXPRESSIONS), len(verts), 3), np.float32)
    deltas[0, :, 1] = -0.1 * np.clip(-y, 0, None)          # jaw_open: lower half moves down
    deltas[1, :, 0] = 0.05 * x * np.exp(-(y + 0.5) ** 2)   # smile: mouth corners widen
    gamma = np.zeros(27, np.float32)
    gamma.reshape(3, 9)[:, 1:4] = rng.normal(0, 0.25, 3)
    coeffs = np.concatenate([rng.normal(size=4), np.zeros(2), np.zeros(3), gamma, np.zeros(3)]).astype(np.float32)
    arrays = {"vertices": verts, "faces": faces, "uvs": uvs, "diffuse": diffuse, "displacement": displacement,
              "coefficients": coeffs, "expression_deltas": deltas}
    meta = {"format": "styleface-assets", "version": 1,
            "displacement": {"mode": "generalized-xyz", "scale": 0.01, "mid_level": 0.0},
            "coefficient_layout": [["id", 4], ["exp", 2], ["rot", 3], ["gamma", 27], ["trans", 3]],
            "seed": int(seed), "provenance": {"generator": "blender-test-fake", "bundle_id": "fake"},
            "expression_names": list(EXPRESSIONS)}
    return arrays, meta


class _Face:
    """What the worker needs from a generated face: ``to_arrays()``."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]):
        self._arrays, self._meta = arrays, meta

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return self._arrays, self._meta


class FakeGenerator:
    device = "cpu"

    def __init__(self, delay: float = 0.0, basis_once: bool = False):
        self.delay = delay
        self.basis_once = basis_once
        self.count = 0

    def generate(self, seed: int, expression: dict[str, float] | None = None,
                 texture_size: int | None = None, **_: Any) -> _Face:
        kill_after = int(os.environ.get(KILL_ENV, "0") or 0)
        if kill_after and self.count >= kill_after:
            os._exit(9)  # simulate a crash mid-request (the tests also kill from outside)
        self.count += 1
        if self.delay:
            time.sleep(self.delay)
        arrays, meta = face_arrays(seed, texture_size or 32)
        if expression:
            for name, w in expression.items():
                k = EXPRESSIONS.index(name)
                arrays["vertices"] = arrays["vertices"] + float(w) * arrays["expression_deltas"][k]
            meta["provenance"]["expression"] = dict(expression)
        if self.basis_once and self.count > 1:  # the basis is per model: only the first face carries it
            arrays.pop("expression_deltas")
            meta.pop("expression_names")
        return _Face(arrays, meta)


def fast() -> FakeGenerator:
    return FakeGenerator()


def slow() -> FakeGenerator:
    return FakeGenerator(delay=0.15)


def basis_once() -> FakeGenerator:
    return FakeGenerator(basis_once=True)


# -- faces with a rig (the ICT-FaceKit layout: welded quads, seams, parts, ARKit shapes) --------------

RIG_PARTS = ("skin", "sclera", "iris", "teeth", "gums", "eyelashes")
RIG_EXPRESSIONS = ("browInnerUpLeft", "browInnerUpRight", "cheekPuffLeft", "cheekPuffRight", "jawOpen",
                   "eyeBlinkLeft", "cheekRaiserLeft")


def rig_face_arrays(seed: int, texture_size: int = 32, n: int = 12
                    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A quad grid with a UV seam down the middle column (split render vertices), one triangle pair,
    polygons in every part, ARKit-named expression deltas per welded vertex, and a seed-dependent
    expression: the message a rig-carrying face (``FaceAssets.to_arrays()``) sends."""
    arrays, meta = face_arrays(seed, texture_size, n)
    rng = np.random.default_rng(seed + 1000)
    welded_neutral = arrays["vertices"].astype(np.float32)         # (W, 3): the grid is the welded mesh
    w = len(welded_neutral)
    idx = np.arange(w).reshape(n, n)
    mid = n // 2
    # render ids: every welded vertex once, plus a second copy of the seam column for the right side
    seam = idx[:, mid]
    source = np.concatenate([np.arange(w), seam]).astype(np.int64)
    right_copy = {int(v): w + k for k, v in enumerate(seam)}
    col = np.tile(np.arange(n), n)
    uvs = np.empty((len(source), 2), np.float32)
    uvs[:w, 0] = np.where(col <= mid, col / (n - 1) * 0.9, 0.1 + col / (n - 1) * 0.9)
    uvs[:w, 1] = np.repeat(np.arange(n), n) / (n - 1) * 0.98
    uvs[w:, 0] = 0.1 + mid / (n - 1) * 0.9
    uvs[w:, 1] = uvs[seam, 1]
    sizes, corners, parts = [], [], []
    for i in range(n - 1):
        for j in range(n - 1):
            quad = [int(idx[i, j]), int(idx[i, j + 1]), int(idx[i + 1, j + 1]), int(idx[i + 1, j])]
            if j >= mid:  # right of the seam: use the right copies of the seam column
                quad = [right_copy.get(int(v), int(v)) if j == mid and v in seam else int(v) for v in quad]
            part = min(i, len(RIG_PARTS) - 1) if i < len(RIG_PARTS) - 1 else 0
            if i == 0 and j == 0:  # one quad as two triangles: mixed polygon sizes
                for tri in ([quad[0], quad[1], quad[2]], [quad[0], quad[2], quad[3]]):
                    sizes.append(3), corners.extend(tri), parts.append(part)
                continue
            sizes.append(4), corners.extend(quad), parts.append(part)
    parts[-1] = RIG_PARTS.index("eyelashes")
    sizes_a = np.array(sizes, np.int32)
    corners_a = np.array(corners, np.int32)
    # render triangles: a fan per polygon over render ids
    tris = []
    start = 0
    for s in sizes:
        poly = corners[start:start + s]
        tris += [[poly[0], poly[k], poly[k + 1]] for k in range(1, s - 1)]
        start += s
    x, y = welded_neutral[:, 0], welded_neutral[:, 1]
    deltas = np.zeros((len(RIG_EXPRESSIONS), w, 3), np.float32)
    deltas[0, :, 1] = 0.05 * (x > 0) * (y > 0.3)     # browInnerUpLeft: upper left (+x) up
    deltas[1, :, 1] = 0.05 * (x < 0) * (y > 0.3)     # browInnerUpRight
    deltas[2, :, 2] = 0.04 * (x > 0.2)               # cheekPuffLeft
    deltas[3, :, 2] = 0.04 * (x < -0.2)              # cheekPuffRight
    deltas[4, :, 1] = -0.1 * np.clip(-y, 0, None)    # jawOpen
    deltas[5, :, 1] = -0.03 * (x > 0) * (np.abs(y - 0.4) < 0.2)
    deltas[6, :, 2] = 0.02 * (x > 0)
    exp = rng.uniform(0.0, 0.6, len(RIG_EXPRESSIONS)).astype(np.float32)
    welded = welded_neutral + np.tensordot(exp, deltas, axes=1)
    arrays["vertices"] = welded[source].astype(np.float32)
    arrays["uvs"] = uvs
    arrays["faces"] = np.array(tris, np.int64)
    arrays["coefficients"] = np.concatenate([rng.normal(size=4), exp, arrays["coefficients"][6:]]).astype(np.float32)
    arrays.pop("expression_deltas")
    arrays.update({"rig.polygon_sizes": sizes_a, "rig.polygon_corners": corners_a,
                   "rig.polygon_parts": np.array(parts, np.int32), "rig.source_vertex": source.astype(np.int32),
                   "rig.expression_deltas": deltas})
    meta.pop("expression_names")
    meta["coefficient_layout"] = [["id", 4], ["exp", len(RIG_EXPRESSIONS)], ["rot", 3], ["gamma", 27], ["trans", 3]]
    meta["rig"] = {"part_names": list(RIG_PARTS), "expression_names": list(RIG_EXPRESSIONS)}
    meta["provenance"] = {"generator": "blender-test-fake-rig", "bundle_id": "fake", "face_model": "fake-rig"}
    return arrays, meta


class RigFakeGenerator:
    """Faces with a rig (numpy only), so the worker's rig_expressions option can be tested."""

    device = "cpu"

    def generate(self, seed: int, texture_size: int | None = None, **_: Any) -> _Face:
        return _Face(*rig_face_arrays(seed, texture_size or 32))


def rig() -> RigFakeGenerator:
    return RigFakeGenerator()
