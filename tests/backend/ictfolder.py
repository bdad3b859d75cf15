"""A tiny ICT-FaceKit ``FaceXModel/`` folder in the original format, written by the tests.

The real folder has 26,719 vertices and 157 OBJs; this one has a few dozen vertices but the same file
names, OBJ layout (``v``, ``vt`` in UDIM tiles, quads and triangles under ``usemtl`` groups) and
``vertex_indices.json``, so the loader and the import command run on it exactly as on the original.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from styleface.facemodel.ict_source import ICT_EXPRESSIONS

# (material, UDIM tile u offset, centre xyz in cm, facing): small quad patches, one per material group.
_PATCHES = [
    ("M_Face", 0, (0.0, 0.0, 10.0)), ("M_BackHead", 1, (0.0, 0.0, -10.0)),
    ("M_GumsTongue", 2, (0.0, -5.0, 6.0)), ("M_Teeth", 3, (0.0, -4.0, 8.0)),
    ("M_ScleraLeft", 0, (3.0, 3.0, 9.0)), ("M_IrisLeft", 0, (3.0, 3.0, 9.5)),
    ("M_ScleraRight", 0, (-3.0, 3.0, 9.0)), ("M_IrisRight", 0, (-3.0, 3.0, 9.5)),
    ("M_EyeOcclusion", 0, (0.0, 3.0, 9.8)), ("M_EyeLashes", 6, (0.0, 4.0, 9.9)),
]


def tiny_mesh() -> tuple[np.ndarray, list[str]]:
    """Neutral positions and the OBJ body lines (vt, usemtl, f) of the tiny head."""
    verts, body, vts = [], [], []
    for mat, tile, centre in _PATCHES:
        base = len(verts)
        n = 3  # 3 x 3 vertices -> 4 quads
        for j in range(n):
            for i in range(n):
                verts.append((centre[0] + i - 1, centre[1] + j - 1, centre[2] + 0.1 * i * j))
        vt0 = len(vts)
        for j in range(n):
            for i in range(n):
                vts.append((tile + 0.1 + 0.4 * i, 0.1 + 0.4 * j))
        body.append(f"usemtl {mat}")
        for j in range(n - 1):
            for i in range(n - 1):
                a = j * n + i
                quad = [a, a + 1, a + n + 1, a + n]
                if mat == "M_Face" and i == 0 and j == 0:  # one triangle pair, as ICT has 548 triangles
                    for tri in ([quad[0], quad[1], quad[2]], [quad[0], quad[2], quad[3]]):
                        body.append("f " + " ".join(f"{base + q + 1}/{vt0 + q + 1}" for q in tri))
                    continue
                body.append("f " + " ".join(f"{base + q + 1}/{vt0 + q + 1}" for q in quad))
    # A UV seam as between ICT's face and back of the head: a back-head quad over face vertices 2 and 5
    # (which face quads use with face-tile UVs) and back-head vertices 9 and 12, with back-tile UVs.
    seam_vt = len(vts)
    vts += [(1.9, 0.1), (1.9, 0.5), (1.05, 0.5), (1.05, 0.1)]
    body.append("usemtl M_BackHead")
    body.append("f " + " ".join(f"{v}/{seam_vt + k + 1}" for k, v in enumerate((3, 6, 13, 10))))
    vt_lines = [f"vt {u:.6f} {v:.6f}" for u, v in vts]
    return np.asarray(verts, np.float64), vt_lines + body


def write_obj(path: Path, positions: np.ndarray, body: list[str] | None = None) -> None:
    lines = ["# ICT FaceKit (tiny test copy)", "mtllib ICTFaceModelMaterial.mtl"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in positions]
    lines += body or []
    path.write_text("\n".join(lines) + "\n")


def write_tiny_ict(folder: Path, n_identities: int = 3, seed: int = 0) -> dict:
    """Write the folder; returns the arrays written (neutral, identity and expression deltas)."""
    folder.mkdir(parents=True, exist_ok=True)
    neutral, body = tiny_mesh()
    rng = np.random.default_rng(seed)
    write_obj(folder / "generic_neutral_mesh.obj", neutral, body)
    ids = rng.normal(0, 0.3, (n_identities,) + neutral.shape).round(4)
    exps = rng.normal(0, 0.2, (len(ICT_EXPRESSIONS),) + neutral.shape).round(4)
    for k in range(n_identities):
        write_obj(folder / f"identity{k:03d}.obj", neutral + ids[k], body)
    for k, name in enumerate(ICT_EXPRESSIONS):
        write_obj(folder / f"{name}.obj", neutral + exps[k], body)
    face_ids = list(range(9))  # the M_Face patch
    landmarks = [face_ids[i % 9] for i in range(68)]
    (folder / "vertex_indices.json").write_text(json.dumps({
        "expressions": list(ICT_EXPRESSIONS[4:]), "idx_to_landmark_verts": landmarks}))
    return {"neutral": neutral, "identity_deltas": ids, "expression_deltas": exps}
