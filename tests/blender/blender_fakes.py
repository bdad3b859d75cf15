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
