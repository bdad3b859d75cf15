"""The ICT head through the code paths that take a face model: a bundle naming it as a built-in, the
Pipeline (F3D in the 100/57 layout, UV maps on the atlas, rigs on the assets), exports and transport."""
from __future__ import annotations

import numpy as np
import torch

from styleface.assets import FaceAssets
from styleface.export import export_face
from styleface.facemodel.store import builtin_face_model
from styleface.pipeline import Pipeline
from tests.backend.bundle_fixtures import tiny_manifest, tiny_networks
from styleface.bundle import write_bundle


def test_bundle_on_the_builtin_ict_head_generates_rigged_faces(tmp_path):
    model = builtin_face_model("ict")
    path = write_bundle(tmp_path / "b", tiny_manifest(face_model={"builtin": "ict"}), tiny_networks(model))
    assert not (path / "face_model.npz").exists()  # built-in: nothing copied into the bundle
    pipe = Pipeline.load(str(path), "cpu")
    assert pipe.model.name == "ict-facekit" and pipe.layout.size == 190
    faces = pipe.generate([0, 1], expression={"browInnerUp": 0.7, "jawOpen": 0.5})
    f = faces[0]
    assert f.vertices.shape == (model.n_vertices, 3) and f.rig is not None
    exp = f.coefficients["exp"]
    names = f.rig.expression_names
    assert exp[names.index("browInnerUpLeft")] == exp[names.index("browInnerUpRight")] == np.float32(0.7)
    # The shape-key basis: the face's expression taken out again gives the identity-only shape.
    neutral = f.rig.neutral_welded(f.vertices, exp)
    with torch.no_grad():
        from styleface.geometry import face_shape
        ident = face_shape(model.tensors("cpu"), torch.as_tensor(f.coefficients["id"])[None],
                           torch.zeros(1, model.n_exp))[0].numpy()
    np.testing.assert_allclose(neutral, f.rig.welded(ident), atol=1e-5)
    # Transport keeps the rig; exports still write.
    back = FaceAssets.from_arrays(*f.to_arrays())
    assert back.rig.topology.part_names == f.rig.topology.part_names
    np.testing.assert_array_equal(back.rig.topology.polygon_corners, f.rig.topology.polygon_corners)
    files = export_face(f, tmp_path / "out", "face", formats=("obj", "json"))
    assert all(p.stat().st_size > 0 for p in files.values())
    assert faces[0].vertices.shape == faces[1].vertices.shape and not np.allclose(faces[0].vertices,
                                                                                    faces[1].vertices)
