"""Faces with a rig (ICT-FaceKit layout): welded quad mesh, per-corner UVs across seams, a material slot
per part, Catmull-Clark before Displace, ARKit shape keys whose values reproduce the face, and the
ARKit single-name keys (browInnerUp, cheekPuff) that drive both sides. No worker needed."""
from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs Blender as a Python module (pip install bpy)")

import blender_fakes  # noqa: E402
from styleface_blender import build  # noqa: E402
from styleface_blender.build import build_face  # noqa: E402
from styleface_blender.facedata import FaceData, FaceDataError  # noqa: E402
from styleface_blender.rigdata import part_material  # noqa: E402


def rig_face(seed: int = 0, **kw) -> FaceData:
    return FaceData.from_arrays(*blender_fakes.rig_face_arrays(seed, **kw))


def _positions(mesh) -> np.ndarray:
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def _evaluated(obj) -> np.ndarray:
    dg = bpy.context.evaluated_depsgraph_get()
    ev = obj.evaluated_get(dg)
    me = ev.to_mesh()
    try:
        return _positions(me)
    finally:
        ev.to_mesh_clear()


def _flat(obj) -> None:
    """Evaluate the shape keys only: no subdivision, no displacement."""
    obj.modifiers[build.SUBSURF_NAME].levels = 0
    obj.modifiers[build.DISPLACE_NAME].show_viewport = False


def test_welded_quads_corner_uvs_and_parts(bpy_clean):
    data = rig_face(1)
    rig = data.rig
    obj = build_face(data)
    me = obj.data
    assert len(me.vertices) == rig.n_welded < data.n_vertices          # seam copies welded again
    assert len(me.polygons) == rig.n_polygons
    sizes = np.empty(len(me.polygons), np.int32)
    me.polygons.foreach_get("loop_total", sizes)
    assert np.array_equal(sizes, rig.polygon_sizes) and (sizes == 4).sum() == 120 and (sizes == 3).sum() == 2
    loops = np.empty(len(me.loops), np.int32)
    me.loops.foreach_get("vertex_index", loops)
    assert np.array_equal(loops, rig.source_vertex[rig.polygon_corners])
    uv = np.empty(len(me.loops) * 2, np.float32)
    me.uv_layers[build.UV_NAME].data.foreach_get("uv", uv)
    assert np.allclose(uv.reshape(-1, 2), np.minimum(data.uvs, build.UV_MAX)[rig.polygon_corners], atol=1e-6)
    # one welded seam vertex carries two different UVs on its corners (the seam is in the UV layer)
    seam_vertex = int(rig.source_vertex[-1])
    seam_uvs = {tuple(np.round(u, 5)) for u in uv.reshape(-1, 2)[loops == seam_vertex]}
    assert len(seam_uvs) == 2
    assert me.validate() is False
    # material slot per part, polygons point at their part
    assert [s.material.name for s in obj.material_slots] == [
        f"{obj.name}_{part_material(p)[0]}" for p in blender_fakes.RIG_PARTS]
    mi = np.empty(len(me.polygons), np.int32)
    me.polygons.foreach_get("material_index", mi)
    assert np.array_equal(mi, rig.polygon_parts)
    props = build.face_props(obj)
    assert props["parts"] == list(blender_fakes.RIG_PARTS)


def test_part_materials(bpy_clean):
    obj = build_face(rig_face(2))
    mats = {s.material.name.rsplit("_", 1)[-1]: s.material for s in obj.material_slots}
    diffuse = obj.material_slots[0].material.node_tree.nodes["StyleFace Diffuse"].image
    for part in ("skin", "sclera", "iris", "teeth", "gums"):
        nodes = mats[part].node_tree.nodes
        bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
        link = bsdf.inputs["Base Color"].links[0]
        assert link.from_node.image == diffuse                      # every textured part samples the atlas
        assert bsdf.inputs["Roughness"].default_value == pytest.approx(part_material(part)[3])
    lashes = next(n for n in mats["eyelashes"].node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    assert not lashes.inputs["Base Color"].links
    assert max(lashes.inputs["Base Color"].default_value[:3]) < 0.05  # dark, untextured
    assert mats["sclera"].node_tree.nodes["StyleFace Displacement"] is not None
    build.configure_displacement(obj, "SHADER")                    # every textured part switches
    for part in ("skin", "iris"):
        out = mats[part].node_tree.nodes["Material Output"]
        assert out.inputs["Displacement"].links
    build.configure_displacement(obj, "MODIFIER")
    assert not mats["iris"].node_tree.nodes["Material Output"].inputs["Displacement"].links


def test_catmull_clark_before_displace(bpy_clean):
    obj = build_face(rig_face(3), subdivision_viewport=1)
    kinds = [(m.type, getattr(m, "subdivision_type", None)) for m in obj.modifiers]
    assert kinds == [("SUBSURF", "CATMULL_CLARK"), ("DISPLACE", None)]
    assert len(_evaluated(obj)) > len(obj.data.vertices)           # Catmull-Clark really subdivides
    tri = build_face(FaceData.from_arrays(*blender_fakes.face_arrays(3)))
    assert tri.modifiers[0].subdivision_type == "SIMPLE"           # triangle-only faces keep Simple


def test_shape_keys_reproduce_the_face(bpy_clean):
    data = rig_face(4)
    rig = data.rig
    exp = data.coefficient("exp")
    assert exp.min() > 0.0                                          # the face carries an expression
    obj = build_face(data)
    keys = obj.data.shape_keys.key_blocks
    names = [k.name for k in keys]
    assert names == ["Basis", *blender_fakes.RIG_EXPRESSIONS, "browInnerUp", "cheekPuff"]
    assert np.allclose([keys[n].value for n in blender_fakes.RIG_EXPRESSIONS], exp, atol=1e-6)
    assert keys["browInnerUp"].value == 0 and keys["cheekPuff"].value == 0
    welded = rig.weld(data.vertices)
    neutral = welded - np.tensordot(exp, rig.expression_deltas, axes=1)
    basis = np.empty(len(obj.data.vertices) * 3, np.float32)
    keys["Basis"].data.foreach_get("co", basis)
    assert np.allclose(basis.reshape(-1, 3), neutral * 0.1, atol=1e-6)  # Basis = neutral face
    _flat(obj)
    assert np.allclose(_evaluated(obj), welded * 0.1, atol=1e-6)   # key values = the face as generated
    keys["jawOpen"].value = 1.0
    jaw = blender_fakes.RIG_EXPRESSIONS.index("jawOpen")
    want = neutral + np.tensordot(np.where(np.arange(len(exp)) == jaw, 1.0, exp), rig.expression_deltas, axes=1)
    assert np.allclose(_evaluated(obj), want * 0.1, atol=1e-6)
    missing = build.face_props(obj)["arkit_missing"]               # the fake has 7 shapes of 57
    assert "tongueOut" in missing and not {"jawOpen", "browInnerUp", "cheekPuff"} & set(missing)


def test_arkit_single_name_drives_both_sides(bpy_clean):
    data = rig_face(5)
    rig = data.rig
    obj = build_face(data)
    _flat(obj)
    keys = obj.data.shape_keys.key_blocks
    for k in keys[1:]:
        k.value = 0.0
    neutral = _evaluated(obj)
    keys["browInnerUp"].value = 1.0
    moved = _evaluated(obj) - neutral
    names = list(rig.expression_names)
    left = rig.expression_deltas[names.index("browInnerUpLeft")] * 0.1
    right = rig.expression_deltas[names.index("browInnerUpRight")] * 0.1
    assert np.allclose(moved, left + right, atol=1e-6)
    assert np.abs(left).max() > 0 and np.abs(right).max() > 0     # both sides really move
    keys["browInnerUp"].value = 0.0
    keys["cheekPuff"].value = 0.5
    cheek = 0.5 * (rig.expression_deltas[names.index("cheekPuffLeft")]
                   + rig.expression_deltas[names.index("cheekPuffRight")]) * 0.1
    assert np.allclose(_evaluated(obj) - neutral, cheek, atol=1e-6)


def test_without_shape_keys_or_deltas_the_mesh_is_the_face(bpy_clean):
    data = rig_face(6)
    welded = data.rig.weld(data.vertices) * 0.1
    obj = build_face(data, shape_keys=False)
    assert obj.data.shape_keys is None
    assert np.allclose(_positions(obj.data), welded, atol=1e-6)
    arrays, meta = blender_fakes.rig_face_arrays(6)
    arrays.pop("rig.expression_deltas")
    obj2 = build_face(FaceData.from_arrays(arrays, meta))
    assert obj2.data.shape_keys is None
    assert np.allclose(_positions(obj2.data), welded, atol=1e-6)


def test_remove_rig_face_and_failed_build_leave_nothing(bpy_clean, monkeypatch):
    kinds = ("objects", "meshes", "materials", "images", "textures", "shape_keys")
    build.remove_face(build_face(rig_face(7)))
    assert not any(len(getattr(bpy.data, k)) for k in kinds[:5])

    def boom(*a, **k):
        raise RuntimeError("injected")

    monkeypatch.setattr(build, "_add_modifiers", boom)
    with pytest.raises(RuntimeError, match="injected"):
        build_face(rig_face(8))
    assert not any(len(getattr(bpy.data, k)) for k in kinds[:5])


def test_bad_rig_message_is_a_face_data_error():
    arrays, meta = blender_fakes.rig_face_arrays(0)
    arrays["rig.polygon_corners"] = arrays["rig.polygon_corners"][:-1]
    with pytest.raises(FaceDataError, match="sum to the corner count"):
        FaceData.from_arrays(arrays, meta)
    arrays, meta = blender_fakes.rig_face_arrays(0)
    arrays["rig.expression_deltas"] = arrays["rig.expression_deltas"][:, :5]
    with pytest.raises(FaceDataError, match="expression_deltas"):
        FaceData.from_arrays(arrays, meta)
    arrays, meta = blender_fakes.rig_face_arrays(0)
    fd = FaceData.from_arrays(arrays, meta)
    again = FaceData.from_arrays(*fd.to_arrays())                    # the message round-trips
    assert np.array_equal(again.rig.polygon_corners, fd.rig.polygon_corners)
    assert again.rig.part_names == fd.rig.part_names and again.rig.expression_names == fd.rig.expression_names
