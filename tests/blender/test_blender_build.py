"""Building a face object from arrays: mesh, UVs, material, images, modifiers, displacement numbers,
shape keys, custom properties, save/reload, lighting match. No worker needed."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs Blender as a Python module (pip install bpy)")

from conftest import synthetic_face  # noqa: E402
from styleface_blender import build, lighting  # noqa: E402
from styleface_blender.build import build_face, image_to_array  # noqa: E402


def _positions(mesh) -> np.ndarray:
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def _evaluated_positions(obj) -> np.ndarray:
    dg = bpy.context.evaluated_depsgraph_get()
    ev = obj.evaluated_get(dg)
    me = ev.to_mesh()
    try:
        return _positions(me)
    finally:
        ev.to_mesh_clear()


def _to_blender(model_xyz: np.ndarray, obj) -> np.ndarray:
    """Model units, +y up, facing +z -> world metres through the object's matrix."""
    bpy.context.view_layer.update()
    mw = np.array(obj.matrix_world)
    return (model_xyz * 0.1) @ mw[:3, :3].T + mw[:3, 3]


def test_mesh_uvs_smooth_and_frame(bpy_clean):
    data = synthetic_face()
    obj = build_face(data)
    me = obj.data
    assert len(me.vertices) == data.n_vertices and len(me.polygons) == data.n_faces
    assert np.allclose(_positions(me), data.vertices * 0.1, atol=1e-7)
    tri = np.empty(len(me.loops), np.int32)
    me.loops.foreach_get("vertex_index", tri)
    assert np.array_equal(tri.reshape(-1, 3), data.faces)
    uv = np.empty(len(me.loops) * 2, np.float32)
    me.uv_layers[build.UV_NAME].data.foreach_get("uv", uv)
    assert np.allclose(uv.reshape(-1, 2), data.uvs[data.faces.ravel()], atol=1e-6)
    smooth = np.empty(len(me.polygons), bool)
    me.polygons.foreach_get("use_smooth", smooth)
    assert smooth.all()
    assert me.validate() is False  # nothing to fix
    # Z-up, facing -Y: model +y (up) -> world +z, model +z (facing) -> world -y
    world = _to_blender(np.array([[0, 1, 0], [0, 0, 1]], np.float32), obj)
    assert np.allclose(world, [[0, 0, 0.1], [0, -0.1, 0]], atol=1e-6)
    assert obj.scale[:] == pytest.approx((1, 1, 1))
    assert obj.name in bpy.context.scene.collection.objects


def test_material_images_and_modifiers(bpy_clean):
    data = synthetic_face()
    obj = build_face(data, displacement_strength=1.5, subdivision_viewport=1, subdivision_render=3)
    mat = obj.active_material
    nodes = mat.node_tree.nodes
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    base_links = bsdf.inputs["Base Color"].links
    assert len(base_links) == 1 and base_links[0].from_node.type == "TEX_IMAGE"
    diffuse = base_links[0].from_node.image
    assert diffuse.colorspace_settings.name == "sRGB" and not diffuse.is_float
    assert np.abs(image_to_array(diffuse) - data.diffuse).max() <= 0.5 / 255 + 1e-6
    uv_node = base_links[0].from_node.inputs["Vector"].links[0].from_node
    assert uv_node.type == "UVMAP" and uv_node.uv_map == build.UV_NAME

    sub, disp = obj.modifiers[0], obj.modifiers[1]
    assert sub.type == "SUBSURF" and sub.levels == 1 and sub.render_levels == 3
    assert disp.type == "DISPLACE" and disp.show_viewport and disp.show_render
    assert (disp.texture_coords, disp.uv_layer, disp.direction, disp.space) == ("UV", build.UV_NAME,
                                                                                 "RGB_TO_XYZ", "LOCAL")
    assert disp.mid_level == pytest.approx(0.0)
    assert disp.strength == pytest.approx(0.01 * 0.1 * 1.5)
    tex = disp.texture
    assert tex.type == "IMAGE" and not tex.use_clamp
    img = tex.image
    assert img.is_float and img.colorspace_settings.name == "Non-Color"
    assert np.array_equal(image_to_array(img), data.displacement)
    assert bpy.data.materials[mat.name].node_tree.nodes["StyleFace Displacement Map"].image == img
    assert not mat.node_tree.nodes["Material Output"].inputs["Displacement"].links  # modifier method


def test_modifier_displacement_matches_backend_formula(bpy_clean):
    """Evaluated vertices == (base + (map(uv) - mid) * scale) model units, converted to Blender."""
    data = synthetic_face(n=40, tex=64, seed=3)
    obj = build_face(data, yaw=0.4, pitch=0.1, location=(1.0, 2.0, 0.5))
    obj.modifiers[build.SUBSURF_NAME].levels = 0
    got = _evaluated_positions(obj)                                   # local metres
    want = (data.vertices + data.sample_displacement()) * 0.1
    offset = np.abs(want - data.vertices * 0.1).max()
    assert offset > 5e-4                                              # the map really moves vertices
    assert np.abs(got - want).max() < 1e-6 * 0.1 + offset * 1e-4
    bpy.context.view_layer.update()
    mw = np.array(obj.matrix_world)
    world_got = got @ mw[:3, :3].T + mw[:3, 3]
    assert np.allclose(world_got, _to_blender(data.vertices + data.sample_displacement(), obj), atol=1e-6)


@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_displacement_equals_backend_displaced_vertices(bpy_clean, padding):
    """Against the backend's own FaceAssets.displaced_vertices() (its numpy-only assets module, loaded
    through the add-on's vendor loader: no torch in this process), with vertices on the map's edges
    (u = 0, v = 1) where border and zero padding differ (official bundles use zeros)."""
    import importlib
    from styleface_blender import vendor
    vendor.client_module()
    assets = importlib.import_module(vendor._PRIVATE + ".assets")
    data = synthetic_face(n=36, tex=48, seed=9)
    data.uvs[:6, 1] = 1.0
    data.uvs[6:12, 0] = 0.0
    data.uv_padding = padding
    fa = assets.FaceAssets.from_arrays(*data.to_arrays())
    assert fa.uv_padding == padding
    obj = build_face(fa, yaw=-0.7, location=(0.3, -1.0, 2.0))
    obj.modifiers[build.SUBSURF_NAME].levels = 0
    bpy.context.view_layer.update()
    mw = np.array(obj.matrix_world)
    got = _evaluated_positions(obj) @ mw[:3, :3].T + mw[:3, 3]
    want = _to_blender(fa.displaced_vertices(), obj)
    assert np.abs(got - want).max() < 1e-6  # float32 at ~2 m; the detail itself is ~1e-3 m


def test_strength_and_method_switch(bpy_clean):
    data = synthetic_face()
    obj = build_face(data)
    obj.modifiers[build.SUBSURF_NAME].levels = 0
    base = data.vertices * 0.1
    d1 = _evaluated_positions(obj) - base
    build.configure_displacement(obj, "MODIFIER", strength=2.0)
    d2 = _evaluated_positions(obj) - base
    assert np.allclose(d2, 2 * d1, atol=1e-7)
    build.configure_displacement(obj, "SHADER")
    assert not obj.modifiers[build.DISPLACE_NAME].show_render
    mat = obj.active_material
    out = mat.node_tree.nodes["Material Output"]
    link = out.inputs["Displacement"].links[0]
    assert link.from_node.type == "VECTOR_DISPLACEMENT" and link.from_node.space == "OBJECT"
    assert link.from_node.inputs["Scale"].default_value == pytest.approx(0.01 * 0.1 * 2.0)
    assert mat.displacement_method == "DISPLACEMENT"
    assert np.allclose(_evaluated_positions(obj), base, atol=1e-7)  # geometry no longer displaced
    build.configure_displacement(obj, "MODIFIER")
    assert not out.inputs["Displacement"].links and obj.modifiers[build.DISPLACE_NAME].show_render


def test_shape_keys_and_custom_properties(bpy_clean):
    data = synthetic_face()
    obj = build_face(data, properties={"options": {"truncation": 0.7}})
    keys = obj.data.shape_keys.key_blocks
    assert [k.name for k in keys] == ["Basis", "jaw_open", "smile"]
    assert all(k.value == 0 for k in keys[1:])
    obj.modifiers[build.DISPLACE_NAME].show_viewport = False
    keys["jaw_open"].value = 1.0
    got = _evaluated_positions(obj)
    assert np.allclose(got, (data.vertices + data.expression_deltas[0]) * 0.1, atol=1e-6)
    props = build.face_props(obj)
    assert props["seed"] == data.seed and props["bundle"] == "fake"
    assert props["options"] == {"truncation": 0.7}
    assert props["displacement_scale"] == pytest.approx(0.01) and len(props["gamma"]) == 27
    big = build_face(synthetic_face(seed=5), properties={"seed": 2**32 - 1})
    assert build.face_props(big)["seed"] == 2**32 - 1


def test_failed_build_leaves_nothing(bpy_clean, monkeypatch):
    before = {k: len(getattr(bpy.data, k)) for k in ("objects", "meshes", "materials", "images", "textures")}

    def boom(*a, **k):
        raise RuntimeError("injected")

    monkeypatch.setattr(build, "_add_modifiers", boom)
    with pytest.raises(RuntimeError, match="injected"):
        build_face(synthetic_face())
    after = {k: len(getattr(bpy.data, k)) for k in before}
    assert after == before


def test_remove_face_cleans_up(bpy_clean):
    obj = build_face(synthetic_face())
    build.remove_face(obj)
    assert not any(len(getattr(bpy.data, k)) for k in ("objects", "meshes", "materials", "images", "textures"))


@pytest.mark.parametrize("storage", ["PACK", "EXTERNAL"])
def test_save_and_reload_keeps_images(bpy_clean, tmp_path, storage):
    blend = str(tmp_path / "faces.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)  # a path first, so EXTERNAL can write beside it
    data = synthetic_face(seed=7)
    obj = build_face(data, image_storage=storage)
    name = obj.name
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=blend)
    obj = bpy.data.objects[name]
    disp_img = obj.modifiers[build.DISPLACE_NAME].texture.image
    diffuse = obj.active_material.node_tree.nodes["StyleFace Diffuse"].image
    if storage == "PACK":
        assert disp_img.packed_file is not None and diffuse.packed_file is not None
    else:
        assert disp_img.packed_file is None
        assert os.path.isfile(bpy.path.abspath(disp_img.filepath))
        assert bpy.path.abspath(diffuse.filepath).startswith(str(tmp_path))
    assert np.array_equal(image_to_array(disp_img), data.displacement)   # float EXR: exact
    assert np.abs(image_to_array(diffuse) - data.diffuse).max() <= 0.5 / 255 + 1e-6
    assert disp_img.colorspace_settings.name == "Non-Color"
    assert build.face_props(obj)["seed"] == 7


def test_lighting_match(bpy_clean):
    data = synthetic_face(seed=2)
    obj = build_face(data)
    sun = lighting.match_lighting(obj)
    ambient, d_model, strength = lighting.sh_to_lights(data.coefficient("gamma"))
    assert sun is not None and sun.data.type == "SUN" and sun.data.energy == pytest.approx(strength)
    # the sun's +Z axis is the model-space light direction turned into the world like the face
    bpy.context.view_layer.update()
    z_axis = np.array(sun.matrix_world.to_3x3().col[2])
    want = np.array(obj.matrix_world.to_3x3().normalized()) @ d_model
    assert np.allclose(z_axis, want / np.linalg.norm(want), atol=1e-5)
    assert bpy.context.scene.world.color[:] == pytest.approx(tuple(ambient), abs=1e-6)
    # no SH in gamma -> +0.8 ambient only: a0 c0 * 0.8
    amb0, _, s0 = lighting.sh_to_lights(np.zeros(27))
    assert amb0 == pytest.approx([math.sqrt(math.pi) / 2 * 0.8] * 3) and s0 == 0


def test_normal_mode_displacement(bpy_clean):
    from styleface_blender.facedata import FaceData
    base = synthetic_face(with_expressions=False)
    one = np.full((1, 16, 16), 0.5, np.float32)
    data = FaceData(base.vertices, base.faces, base.uvs, base.diffuse, one, displacement_mode="normal",
                    seed=1)
    obj = build_face(data)
    disp = obj.modifiers[build.DISPLACE_NAME]
    assert disp.direction == "NORMAL"
    obj.modifiers[build.SUBSURF_NAME].levels = 0
    moved = np.linalg.norm(_evaluated_positions(obj) - data.vertices * 0.1, axis=1)
    assert np.allclose(moved, 0.5 * 0.01 * 0.1, rtol=1e-3)
