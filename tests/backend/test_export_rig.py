"""Exports of a rigged face (the shipped ICT head): OBJ/MTL, GLB and USD are read back and compared with
the face's rig (welded quads, corner UVs, parts, ARKit expression shapes)."""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from styleface.errors import StyleFaceError
from styleface.export import export_face
from styleface.export.glb import METRES_PER_MODEL_UNIT
from styleface.export.obj_rig import ns_from_roughness
from styleface.export.png import diffuse_to_uint8
from styleface.facemodel.parts import part_material

ROOT = Path(__file__).resolve().parents[2]
EXPRESSION = {"jawOpen": 0.6, "mouthSmileLeft": 0.5, "eyeBlinkRight": 0.3}


@pytest.fixture(scope="module")
def face():
    from styleface.generation import ProceduralSource

    f = ProceduralSource(texture_size=64).generate([5], expression=EXPRESSION)[0]
    assert f.rig is not None and f.rig.expression_deltas is not None
    return f


@pytest.fixture(scope="module")
def exported(face, tmp_path_factory):
    out = tmp_path_factory.mktemp("rig_export")
    formats = ["obj", "glb", "json"] + (["usd"] if _has_pxr() else [])
    return face, export_face(face, out, "face", formats=formats)


def _has_pxr() -> bool:
    try:
        import pxr  # noqa: F401
    except ImportError:
        return False
    return True


def _parts(face):
    topo = face.rig.topology
    return [(int(p), topo.part_names[int(p)]) for p in np.unique(topo.polygon_parts)]


# -- OBJ -----------------------------------------------------------------------------------------

def parse_rig_obj(path):
    v, vt, vn, groups = [], [], [], {}
    current = None
    for line in Path(path).read_text().splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "v":
            v.append([float(x) for x in rest.split()])
        elif tag == "vt":
            vt.append([float(x) for x in rest.split()])
        elif tag == "vn":
            vn.append([float(x) for x in rest.split()])
        elif tag == "usemtl":
            current = groups.setdefault(rest, [])
        elif tag == "f":
            current.append([tuple(int(i) for i in c.split("/")) for c in rest.split()])
    return np.array(v, np.float32), np.array(vt, np.float32), np.array(vn, np.float32), groups


def test_obj_welded_quads_corner_uvs_and_parts(exported):
    face, files = exported
    topo = face.rig.topology
    v, vt, vn, groups = parse_rig_obj(files["obj"])
    assert v.shape == (topo.n_welded, 3) and vt.shape == (face.n_vertices, 2) and vn.shape == v.shape
    np.testing.assert_array_equal(v, face.rig.welded(face.vertices))   # 9 digits: float32 exact
    np.testing.assert_array_equal(vt, face.uvs)
    np.testing.assert_allclose(np.linalg.norm(vn, axis=1), 1.0, atol=1e-6)
    assert list(groups) == [part_material(n).name for _, n in _parts(face)]
    offs = topo.polygon_offsets
    for part, name in _parts(face):
        polys = np.flatnonzero(topo.polygon_parts == part)
        got = groups[part_material(name).name]
        assert len(got) == len(polys)
        for p, corners in zip(polys, got):
            c = topo.polygon_corners[offs[p]:offs[p + 1]]
            assert corners == [(s + 1, r + 1, s + 1) for s, r in zip(topo.source_vertex[c], c)]
    sizes = [len(f) for g in groups.values() for f in g]
    assert sizes.count(4) == int((topo.polygon_sizes == 4).sum()) > 20000
    for p in files.values():   # atomic writes keep the usual permissions and leave no temp files
        assert p.stat().st_mode & 0o044 == 0o644 & ~_umask() & 0o044
    assert not [p for p in files["obj"].parent.iterdir() if p.name.startswith(".")]


def _umask() -> int:
    import os

    m = os.umask(0)
    os.umask(m)
    return m


def test_obj_normals_smooth_across_seams_and_outward(exported):
    """Welded normals follow the render mesh's (same winding) and face out of the head (skin encloses
    a positive volume with them)."""
    face, files = exported
    v, _, vn, groups = parse_rig_obj(files["obj"])
    render = face.rig.welded(face.normals())
    assert (np.einsum("ij,ij->i", vn, render) > 0.5).mean() > 0.99
    skin = np.array([[c[0] - 1 for c in f] for f in groups["styleface_skin"] if len(f) == 4])
    a, b, c, d = (v[skin[:, k]].astype(np.float64) for k in range(4))
    volume = (np.einsum("ij,ij->i", a, np.cross(b, c)) + np.einsum("ij,ij->i", a, np.cross(c, d))).sum() / 6
    assert volume > 0
    fn = np.cross(c - a, d - b)
    assert (np.einsum("ij,ij->i", fn, vn[skin[:, 0]]) > 0).mean() > 0.99


def test_mtl_one_material_per_part(exported):
    face, files = exported
    mats, cur = {}, None
    for line in files["mtl"].read_text().splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "newmtl":
            cur = mats.setdefault(rest, {})
        elif cur is not None and tag:
            cur[tag] = rest
    for _, name in _parts(face):
        m = part_material(name)
        got = mats.pop(m.name)
        assert [float(x) for x in got["Kd"].split()] == pytest.approx(list(m.base_color), abs=1e-6)
        assert float(got["Ks"].split()[0]) == pytest.approx(m.specular)
        assert float(got["Ns"]) == pytest.approx(ns_from_roughness(m.roughness), rel=1e-5)
        assert float(got["Pr"]) == pytest.approx(m.roughness)
        assert got.get("map_Kd") == (files["diffuse"].name if m.textured else None)
    assert not mats
    png = np.asarray(Image.open(files["diffuse"]).convert("RGB"))
    np.testing.assert_array_equal(png, diffuse_to_uint8(face.diffuse))


def test_obj_bake_displacement_uses_representative_vertex(face, tmp_path):
    files = export_face(face, tmp_path, "baked", formats=["obj"], bake_displacement=True)
    v, *_ = parse_rig_obj(files["obj"])
    np.testing.assert_array_equal(v, face.rig.welded(face.displaced_vertices()))
    assert np.abs(v - face.rig.welded(face.vertices)).max() > 0


def test_triangle_only_face_keeps_single_material_obj(face, tmp_path):
    plain = dataclasses.replace(face, rig=None)
    files = export_face(plain, tmp_path, "plain", formats=["obj"])
    text = files["obj"].read_text()
    assert text.count("usemtl") == 1 and "usemtl styleface_skin" in text
    assert sum(1 for line in text.splitlines() if line.startswith("v ")) == face.n_vertices
    assert sum(1 for line in text.splitlines() if line.startswith("f ")) == face.n_faces


# -- GLB -----------------------------------------------------------------------------------------

def _accessor(g, blob: bytes, i: int) -> np.ndarray:
    """Decode accessor i (dense, sparse or zero-initialised) from a pygltflib document."""
    acc = g.accessors[i]
    comps = {"SCALAR": 1, "VEC2": 2, "VEC3": 3}[acc.type]
    dtype = {5126: np.float32, 5125: np.uint32, 5123: np.uint16}[acc.componentType]

    def view(bv: int, off: int, count: int, dt, n: int) -> np.ndarray:
        v = g.bufferViews[bv]
        start = (v.byteOffset or 0) + (off or 0)
        return np.frombuffer(blob, dt, count * n, start).reshape(count, n)

    if acc.bufferView is not None:
        out = view(acc.bufferView, acc.byteOffset, acc.count, dtype, comps).copy()
    else:
        out = np.zeros((acc.count, comps), dtype)
    if acc.sparse is not None:
        s = acc.sparse
        idx = view(s.indices.bufferView, s.indices.byteOffset, s.count,
                   {5125: np.uint32, 5123: np.uint16}[s.indices.componentType], 1)[:, 0]
        assert (np.diff(idx.astype(np.int64)) > 0).all()
        out[idx] = view(s.values.bufferView, s.values.byteOffset, s.count, dtype, comps)
    return out if comps > 1 else out[:, 0]


def test_glb_parts_morph_targets_round_trip(exported):
    pygltflib = pytest.importorskip("pygltflib")
    face, files = exported
    g = pygltflib.GLTF2().load(str(files["glb"]))
    blob = g.binary_blob()
    rig, topo = face.rig, face.rig.topology
    scale = np.float32(METRES_PER_MODEL_UNIT)
    (mesh,) = g.meshes
    names = list(rig.expression_names)
    assert mesh.extras["targetNames"] == names and len(names) == 57
    np.testing.assert_allclose(mesh.weights, face.coefficients["exp"][:57], atol=1e-7)
    assert mesh.weights[names.index("jawOpen")] == pytest.approx(0.6)
    neutral = rig.neutral_welded(face.vertices, face.coefficients["exp"])
    posed = rig.welded(face.vertices)
    tri, owner = topo.triangulate()
    parts = _parts(face)
    assert len(mesh.primitives) == len(parts)
    total = 0
    for prim, (part, name) in zip(mesh.primitives, parts):
        m = part_material(name)
        mat = g.materials[prim.material]
        assert mat.name == m.name
        assert (mat.pbrMetallicRoughness.baseColorTexture is not None) == m.textured
        assert mat.pbrMetallicRoughness.roughnessFactor == pytest.approx(m.roughness)
        part_tris = tri[topo.polygon_parts[owner] == part]
        verts = np.unique(part_tris)
        src = topo.source_vertex[verts]
        pos = _accessor(g, blob, prim.attributes.POSITION)
        np.testing.assert_allclose(pos, neutral[src] * scale, atol=1e-7)
        uv = _accessor(g, blob, prim.attributes.TEXCOORD_0)
        np.testing.assert_allclose(uv, np.stack([face.uvs[verts, 0], 1 - face.uvs[verts, 1]], 1), atol=1e-7)
        idx = _accessor(g, blob, prim.indices).reshape(-1, 3)
        np.testing.assert_array_equal(verts[idx], part_tris)
        assert len(prim.targets) == 57
        morphed = pos.astype(np.float64)
        for e, target in enumerate(prim.targets):
            d = _accessor(g, blob, target["POSITION"])
            np.testing.assert_allclose(d, rig.expression_deltas[e, src] * scale, atol=1e-7)
            morphed += mesh.weights[e] * d
        np.testing.assert_allclose(morphed, posed[src] * scale, atol=2e-6)   # opens as generated
        total += len(verts)
    assert total == face.n_vertices


def test_glb_khronos_validator_reports_no_errors(exported):
    validator = ROOT / ".ci" / "gltf" / "node_modules" / "gltf-validator"
    if shutil.which("node") is None or not validator.is_dir():
        pytest.skip("node or gltf-validator missing (npm install --prefix .ci/gltf gltf-validator)")
    face, files = exported
    run = subprocess.run(["node", str(ROOT / ".ci" / "gltf_validate.js"), str(files["glb"])],
                         capture_output=True, text=True, timeout=120)
    report = json.loads(run.stdout)
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]
    assert report["issues"]["numWarnings"] == 0, report["issues"]["messages"][:5]
    assert report["info"]["hasMorphTargets"] and report["info"]["drawCallCount"] == len(_parts(face))
    assert report["info"]["totalVertexCount"] == face.n_vertices
    assert run.returncode == 0


# -- USD -----------------------------------------------------------------------------------------

def test_usd_mesh_uvs_subsets_blend_shapes(exported):
    pytest.importorskip("pxr")
    from pxr import Usd, UsdGeom, UsdShade, UsdSkel

    face, files = exported
    rig, topo = face.rig, face.rig.topology
    stage = Usd.Stage.Open(str(files["usd"]))
    assert UsdGeom.GetStageUpAxis(stage) == "Y" and UsdGeom.GetStageMetersPerUnit(stage) == pytest.approx(0.1)
    mesh = UsdGeom.Mesh(stage.GetPrimAtPath("/Face/Mesh"))
    neutral = rig.neutral_welded(face.vertices, face.coefficients["exp"])
    np.testing.assert_allclose(np.array(mesh.GetPointsAttr().Get()), neutral, atol=1e-7)
    np.testing.assert_array_equal(np.array(mesh.GetFaceVertexCountsAttr().Get()), topo.polygon_sizes)
    np.testing.assert_array_equal(np.array(mesh.GetFaceVertexIndicesAttr().Get()), topo.welded_corners)
    st = UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st")
    assert st.GetInterpolation() == UsdGeom.Tokens.faceVarying
    np.testing.assert_array_equal(np.array(st.ComputeFlattened()), face.uvs[topo.polygon_corners])

    subsets = UsdShade.MaterialBindingAPI(mesh).GetMaterialBindSubsets()
    assert [s.GetPrim().GetName() for s in subsets] == [n for _, n in _parts(face)]
    for s, (part, name) in zip(subsets, _parts(face)):
        np.testing.assert_array_equal(np.array(s.GetIndicesAttr().Get()), np.flatnonzero(topo.polygon_parts == part))
        mat = UsdShade.MaterialBindingAPI(s.GetPrim()).ComputeBoundMaterial()[0]
        assert mat.GetPrim().GetName() == part_material(name).name
        tex = stage.GetPrimAtPath(mat.GetPath().AppendChild("diffuseTexture"))
        assert bool(tex) == part_material(name).textured
        if tex:
            asset = UsdShade.Shader(tex).GetInput("file").Get()
            assert (files["usd"].parent / asset.path).is_file()

    bind = UsdSkel.BindingAPI(mesh.GetPrim())
    names = list(bind.GetBlendShapesAttr().Get())
    assert names == list(rig.expression_names)
    for e, target in enumerate(bind.GetBlendShapeTargetsRel().GetTargets()):
        shape = UsdSkel.BlendShape(stage.GetPrimAtPath(target))
        dense = np.zeros((topo.n_welded, 3), np.float32)
        dense[np.array(shape.GetPointIndicesAttr().Get())] = np.array(shape.GetOffsetsAttr().Get())
        np.testing.assert_array_equal(dense, rig.expression_deltas[e])
    anim = UsdSkel.Animation(stage.GetPrimAtPath("/Face/Skel/Anim"))
    np.testing.assert_allclose(np.array(anim.GetBlendShapeWeightsAttr().Get()), face.coefficients["exp"][:57])


def test_usd_skel_evaluates_to_the_generated_face(exported):
    """UsdSkel's own blend-shape evaluation of the animation gives back the face as generated."""
    pytest.importorskip("pxr")
    from pxr import Usd, UsdGeom, UsdSkel, Vt

    face, files = exported
    stage = Usd.Stage.Open(str(files["usd"]))
    cache = UsdSkel.Cache()
    cache.Populate(UsdSkel.Root(stage.GetPrimAtPath("/Face")), Usd.TraverseInstanceProxies())
    skel_q = cache.GetSkelQuery(UsdSkel.Skeleton(stage.GetPrimAtPath("/Face/Skel")))
    mesh = stage.GetPrimAtPath("/Face/Mesh")
    skin_q = cache.GetSkinningQuery(mesh)
    weights = skin_q.GetBlendShapeMapper().Remap(skel_q.GetAnimQuery().ComputeBlendShapeWeights())
    q = UsdSkel.BlendShapeQuery(UsdSkel.BindingAPI(mesh))
    sub_w, shape_i, sub_i = q.ComputeSubShapeWeights(weights)
    points = Vt.Vec3fArray(UsdGeom.Mesh(mesh).GetPointsAttr().Get())
    assert q.ComputeDeformedPoints(sub_w, shape_i, sub_i, q.ComputeBlendShapePointIndices(),
                                   q.ComputeSubShapePointOffsets(), points)
    np.testing.assert_allclose(np.array(points), face.rig.welded(face.vertices), atol=1e-5)


def test_usd_validation_clean(exported):
    pytest.importorskip("pxr")
    from pxr import Usd

    try:
        from pxr import UsdValidation
    except ImportError:
        pytest.skip("this usd-core has no UsdValidation")
    _, files = exported
    ctx = UsdValidation.ValidationContext(UsdValidation.ValidationRegistry().GetOrLoadAllValidators())
    errors = [e for e in ctx.Validate(Usd.Stage.Open(str(files["usd"])))
              if e.GetType() == UsdValidation.ValidationErrorType.Error]
    assert not errors, [e.GetMessage() for e in errors[:5]]


def test_usd_triangle_only_face(face, tmp_path):
    pytest.importorskip("pxr")
    from pxr import Usd, UsdGeom

    files = export_face(dataclasses.replace(face, rig=None), tmp_path, "plain", formats=["usd"])
    assert set(files) == {"usd", "diffuse"}
    stage = Usd.Stage.Open(str(files["usd"]))
    mesh = UsdGeom.Mesh(stage.GetPrimAtPath("/Face/Mesh"))
    np.testing.assert_array_equal(np.array(mesh.GetFaceVertexIndicesAttr().Get()), face.faces.reshape(-1))
    np.testing.assert_array_equal(np.array(mesh.GetPointsAttr().Get()), face.vertices)
    assert not stage.GetPrimAtPath("/Face/Skel")


def test_usd_without_usd_core_says_how_to_install(face, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pxr", None)   # import pxr -> ImportError
    with pytest.raises(StyleFaceError, match=r"pip install .*usd") as err:
        export_face(face, tmp_path / "o", "f", formats=["obj", "usd"])
    assert "\n" not in str(err.value)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_sidecar_describes_the_rig(exported):
    face, files = exported
    side = json.loads(files["json"].read_text())
    rig = side["rig"]
    assert rig["welded_vertices"] == face.rig.topology.n_welded and rig["parts"][0] == "skin"
    assert rig["expression_names"] == list(face.rig.expression_names)
    assert set(side["files"]) >= {"obj", "mtl", "diffuse", "glb"}


def test_obj_reads_in_trimesh(exported):
    """An independent OBJ reader sees the welded mesh (triangulated) and one material per part."""
    trimesh = pytest.importorskip("trimesh")
    face, files = exported
    scene = trimesh.load(files["obj"], process=False, force="scene", group_material=True)
    geoms = list(scene.geometry.values())
    assert len(geoms) == len(_parts(face))
    tri, _ = face.rig.topology.triangulate()
    assert sum(len(g.faces) for g in geoms) == len(tri)


def test_cli_generate_with_usd(tmp_path, capsys):
    from styleface.cli import main

    pytest.importorskip("pxr")
    out = tmp_path / "cli"
    assert main(["generate", "--bundle", "procedural", "--seed", "2", "--out", str(out), "--texture-size", "32",
                 "--formats", "obj,glb,usd,json", "--no-contact-sheet", "--quiet"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["face_000002.glb", "face_000002.json", "face_000002.mtl", "face_000002.obj",
                     "face_000002.usdc", "face_000002_diffuse.png"]
    assert json.loads((out / "face_000002.json").read_text())["files"]["usd"] == "face_000002.usdc"


def test_glb_bake_displacement_moves_the_neutral_base(face, tmp_path):
    pygltflib = pytest.importorskip("pygltflib")
    files = export_face(face, tmp_path, "baked", formats=["glb"], bake_displacement=True)
    g = pygltflib.GLTF2().load(str(files["glb"]))
    topo = face.rig.topology
    prim = g.meshes[0].primitives[0]                      # skin
    tri, owner = topo.triangulate()
    verts = np.unique(tri[topo.polygon_parts[owner] == 0])
    want = face.rig.neutral_welded(face.displaced_vertices(), face.coefficients["exp"])[topo.source_vertex[verts]]
    got = _accessor(g, g.binary_blob(), prim.attributes.POSITION)
    np.testing.assert_allclose(got, want * np.float32(METRES_PER_MODEL_UNIT), atol=1e-7)
    assert g.asset.extras["displacement_baked"] is True


def test_rig_without_expression_shapes_exports_plain_parts(face, tmp_path):
    """A rig shipped without its shapes (worker transport option) still exports quads and parts."""
    pygltflib = pytest.importorskip("pygltflib")
    from styleface.rig import FaceRig

    bare = dataclasses.replace(face, rig=FaceRig(face.rig.topology, face.rig.expression_names, None))
    formats = ["obj", "glb"] + (["usd"] if _has_pxr() else [])
    files = export_face(bare, tmp_path, "bare", formats=formats)
    g = pygltflib.GLTF2().load(str(files["glb"]))
    assert len(g.meshes[0].primitives) == len(_parts(face))
    assert all(not p.targets for p in g.meshes[0].primitives) and not g.meshes[0].weights
    pos = _accessor(g, g.binary_blob(), g.meshes[0].primitives[0].attributes.POSITION)
    tri, owner = face.rig.topology.triangulate()
    verts = np.unique(tri[face.rig.topology.polygon_parts[owner] == 0])
    np.testing.assert_allclose(pos, face.vertices[verts] * np.float32(METRES_PER_MODEL_UNIT), atol=1e-7)
    if "usd" in files:
        from pxr import Usd

        stage = Usd.Stage.Open(str(files["usd"]))
        assert stage.GetPrimAtPath("/Face/Mesh") and not stage.GetPrimAtPath("/Face/Skel")
