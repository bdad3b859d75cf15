"""Blend to seed: a face animated into another face (shape key, material mix, cross-faded Displace
modifiers), checked on the evaluated mesh. No worker needed: the target face is built in-process."""
from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs Blender as a Python module (pip install bpy)")

from conftest import synthetic_face  # noqa: E402
from styleface_blender import blend  # noqa: E402
from styleface_blender.build import build_face  # noqa: E402


def _evaluated(obj) -> np.ndarray:
    dg = bpy.context.evaluated_depsgraph_get()
    ev = obj.evaluated_get(dg)
    me = ev.to_mesh()
    try:
        co = np.empty(len(me.vertices) * 3, np.float32)
        me.vertices.foreach_get("co", co)
        return co.reshape(-1, 3)
    finally:
        ev.to_mesh_clear()


def _at(frame: int) -> None:
    bpy.context.scene.frame_set(frame)
    bpy.context.view_layer.update()


def test_blend_to_data(bpy_clean):
    a, b = synthetic_face(seed=0), synthetic_face(seed=1)
    ref_a, ref_b = build_face(a, name="A"), build_face(b, name="B")
    _at(1)
    pa, pb = _evaluated(ref_a), _evaluated(ref_b)
    assert np.abs(pa - pb).max() > 1e-3
    obj = build_face(a, name="Face")
    blend.blend_to_data(obj, b, frame_start=1, frame_end=11, label="seed 1")
    nodes = obj.active_material.node_tree.nodes
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    assert bsdf.inputs["Base Color"].links[0].from_node.name == blend.MIX_NODE
    factor = blend._sock(nodes[blend.MIX_NODE].inputs, "Factor_Float")
    for frame, t in ((1, 0.0), (6, 0.5), (11, 1.0)):
        _at(frame)
        assert factor.default_value == pytest.approx(t, abs=1e-6)
        assert obj.data.shape_keys.key_blocks["StyleFace Blend seed 1"].value == pytest.approx(t, abs=1e-6)
        # geometry and generalized displacement are linear: the evaluated mesh is the blend of both faces
        np.testing.assert_allclose(_evaluated(obj), (1 - t) * pa + t * pb, atol=2e-6)
    # Undo: back to the face alone, nothing of the blend left.
    blend.remove_blend(obj)
    _at(6)
    np.testing.assert_allclose(_evaluated(obj), pa, atol=2e-6)
    assert blend.MIX_NODE not in nodes and blend.DISPLACE_NAME not in obj.modifiers
    assert bsdf.inputs["Base Color"].links[0].from_node.name == "StyleFace Diffuse"
    assert not any(k.name.startswith(blend.KEY_PREFIX) for k in obj.data.shape_keys.key_blocks)
    with pytest.raises(ValueError, match="same face model"):
        blend.blend_to_data(obj, synthetic_face(n=20, seed=2))
    with pytest.raises(ValueError, match="after frame_start"):
        blend.blend_to_data(obj, b, frame_start=5, frame_end=5)


def test_blend_to_seed_through_the_worker_and_the_operator(bpy_clean, worker_env):
    """The scripting API and the panel's operator generate the target with the face's own options."""
    import styleface_blender
    from styleface_blender import api, build

    face = api.generate_face(3, texture_size=16)
    target = api.generate_face(8, texture_size=16, name="T")
    _at(1)
    pa, pt = _evaluated(face), _evaluated(target)
    blend.blend_to_seed(face, 8, frame_start=1, frame_end=5)
    _at(5)
    np.testing.assert_allclose(_evaluated(face), pt, atol=2e-6)
    assert build.face_props(face)["blend"] == {"target": "seed 8", "frames": [1, 5]}
    styleface_blender.register()
    try:
        bpy.context.view_layer.objects.active = face
        assert bpy.ops.styleface.blend_remove() == {"FINISHED"}
        _at(5)
        np.testing.assert_allclose(_evaluated(face), pa, atol=2e-6)
        assert bpy.ops.styleface.blend_to_seed(seed=8, frame_start=10, frame_end=20) == {"FINISHED"}
        _at(20)
        np.testing.assert_allclose(_evaluated(face), pt, atol=2e-6)
    finally:
        styleface_blender.unregister()
