"""Build the shipped ICT-FaceKit face model (backend/styleface/data/face_models/ict_facekit.npz).

The shipped file is made from the converted ICT-FaceKit data in the project's shared folder
(``ict_shapes.npz`` + ``generic_neutral_mesh.obj`` + ``vertex_indices.json``); users with the original
``FaceXModel/`` folder get the same model with ``styleface import-facemodel ict-facekit DIR --out FILE``.

    python scripts/build_ict_face_model.py [--shared ../shared/ict_facekit] [--out FILE]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from styleface.facemodel.ict import build_ict_face_model
from styleface.facemodel.ict_source import load_ict_arrays
from styleface.facemodel.store import ICT_FILE, load_face_model_npz, save_face_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "ict_facekit")
    ap.add_argument("--out", type=Path, default=ICT_FILE)
    a = ap.parse_args()
    s = a.shared
    src = load_ict_arrays(s / "ict_shapes.npz", s / "generic_neutral_mesh.obj", s / "vertex_indices.json")
    model = build_ict_face_model(src)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    out = save_face_model(model, a.out, compact=True)
    t = time.perf_counter()
    back = load_face_model_npz(out)
    dt = time.perf_counter() - t
    rng = np.random.default_rng(0)
    err = 0.0
    for _ in range(100):  # random faces: identity N(0, 1), sparse expressions in [0, 1]
        a_id = rng.standard_normal(model.n_id)
        a_ex = rng.uniform(0, 1, model.n_exp) * (rng.uniform(size=model.n_exp) < 0.3)
        exact = model.mean_shape + model.id_basis @ a_id + model.exp_basis @ a_ex
        approx = back.mean_shape + back.id_basis @ a_id + back.exp_basis @ a_ex
        err = max(err, float(np.abs(exact - approx).max()))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): {model.n_vertices} render vertices, "
          f"{model.mesh_topology.n_welded} welded, {model.mesh_topology.n_polygons} polygons; load {dt:.3f} s; "
          f"max position error over 100 random faces {err * 100:.4f} mm")


if __name__ == "__main__":
    main()
