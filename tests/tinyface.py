"""A tiny hand-checkable face model for tests (a uniquely named module: ``conftest`` is ambiguous
when pytest collects tests/backend and tests/training, which both see a conftest.py)."""
from __future__ import annotations

import numpy as np

try:  # the Blender tests run in a bpy venv without torch; they use none of these helpers
    from styleface.facemodel import FaceModel
except ImportError:  # pragma: no cover - only in the bpy venv
    FaceModel = None


def tiny_face_model(n_id: int = 2, n_exp: int = 2) -> FaceModel:
    """A 4-vertex tetrahedron-like model with hand-checkable bases (70 vertices to host 68 landmarks)."""
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 10), np.linspace(-1, 1, 7)), -1).reshape(-1, 2)
    verts = np.concatenate([grid, np.zeros((len(grid), 1))], 1).astype(np.float32)
    tris = []
    for r in range(6):
        for c in range(9):
            a = r * 10 + c
            tris += [[a, a + 1, a + 11], [a, a + 11, a + 10]]
    uvs = (grid + 1) / 2
    return FaceModel(
        name="tiny",
        mean_shape=verts,
        id_basis=rng.normal(size=(len(verts), 3, n_id)).astype(np.float32) * 0.01,
        exp_basis=rng.normal(size=(len(verts), 3, n_exp)).astype(np.float32) * 0.01,
        triangles=np.array(tris),
        uvs=uvs,
        landmarks=np.arange(68),
        exp_names=("jaw_open",)[:n_exp],
    )
