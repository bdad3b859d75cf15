"""The ICT-head exports open in Blender's own importers (OBJ, glTF, USD): quads, a material per part,
ARKit-named shape keys posed at the face's expression. The files are made by the backend CLI in its own
interpreter (torch and bpy never share a process)."""
from __future__ import annotations

import os
import subprocess

import pytest

from conftest import REPO, backend_has_demo_generator, backend_python

PARTS = ["styleface_skin", "styleface_sclera", "styleface_iris", "styleface_teeth", "styleface_gums",
         "styleface_eyelashes"]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    ok, why = backend_has_demo_generator()
    if not ok:
        pytest.skip(why)
    py, _ = backend_python()
    env = dict(os.environ, PYTHONPATH=str(REPO / "backend"))
    has_usd = subprocess.run([py, "-c", "import pxr"], env=env, capture_output=True, timeout=120).returncode == 0
    out = tmp_path_factory.mktemp("ict_exports")
    formats = "obj,glb" + (",usd" if has_usd else "")
    r = subprocess.run([py, "-m", "styleface.cli", "generate", "--bundle", "procedural", "--seed", "1",
                        "--out", str(out), "--texture-size", "32", "--formats", formats, "--quiet",
                        "--no-contact-sheet", "--expression", "jawOpen=0.6,mouthSmileLeft=0.5"],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return out / "face_000001", has_usd


def _mesh_objects(bpy):
    return [o for o in bpy.context.scene.objects if o.type == "MESH"]


def test_obj_import_quads_and_part_materials(bpy_clean, exports):
    bpy = bpy_clean
    stem, _ = exports
    bpy.ops.wm.obj_import(filepath=str(stem) + ".obj")
    (obj,) = _mesh_objects(bpy)
    me = obj.data
    sizes = [len(p.vertices) for p in me.polygons]
    assert sizes.count(4) > 20000 and set(sizes) <= {3, 4}
    assert [m.name for m in me.materials] == PARTS
    assert len(me.uv_layers) == 1
    img = [n.image for n in me.materials[0].node_tree.nodes if n.type == "TEX_IMAGE"]
    assert img and img[0].filepath.endswith("face_000001_diffuse.png")


def test_glb_import_shape_keys_posed(bpy_clean, exports):
    bpy = bpy_clean
    stem, _ = exports
    bpy.ops.import_scene.gltf(filepath=str(stem) + ".glb")
    (obj,) = _mesh_objects(bpy)
    keys = obj.data.shape_keys.key_blocks
    assert len(keys) == 58 and keys[0].name == "Basis"
    assert {"eyeBlinkLeft", "jawOpen", "mouthSmileRight", "browInnerUpLeft"} <= set(keys.keys())
    assert keys["jawOpen"].value == pytest.approx(0.6) and keys["mouthSmileLeft"].value == pytest.approx(0.5)
    assert sorted(m.name for m in obj.data.materials) == sorted(PARTS)


def test_usd_import_quads_materials_shape_keys(bpy_clean, exports):
    bpy = bpy_clean
    stem, has_usd = exports
    if not has_usd:
        pytest.skip("the backend Python has no usd-core")
    bpy.ops.wm.usd_import(filepath=str(stem) + ".usdc")
    (obj,) = _mesh_objects(bpy)
    me = obj.data
    assert [len(p.vertices) for p in me.polygons].count(4) > 20000
    assert [m.name for m in me.materials] == PARTS
    keys = me.shape_keys.key_blocks
    assert len(keys) == 58 and "jawOpen" in keys
    bpy.context.scene.frame_set(1)
    assert keys["jawOpen"].value == pytest.approx(0.6, abs=1e-6)
