"""The ICT-FaceKit face model: the loader of the original folder, the import command, the built model
(parts, quads, seams, atlas, frame, ARKit names) and the shipped compact default."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from styleface.cli import main as cli_main
from styleface.errors import StyleFaceError
from styleface.facemodel.arkit import ARKIT_BLENDSHAPES, arkit_targets, resolve_expression_name
from styleface.facemodel.ict import LANDMARK_CENTROID, PARTS, build_ict_face_model
from styleface.facemodel.ict_source import ICT_EXPRESSIONS, load_ict_folder, read_obj_positions
from styleface.facemodel.store import ICT_FILE, builtin_face_model, load_face_model
from tests.backend.ictfolder import write_obj, write_tiny_ict

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "ict_facekit"
needs_shared = pytest.mark.skipif(not (SHARED / "ict_shapes.npz").is_file(), reason="../shared/ict_facekit absent")


# -- the loader on a tiny folder in the original format -------------------------------------------
def test_loader_reads_tiny_folder(tmp_path):
    truth = write_tiny_ict(tmp_path / "FaceXModel")
    src = load_ict_folder(tmp_path)  # the checkout root holding FaceXModel/ works too
    assert src.expression_names == ICT_EXPRESSIONS and len(src.identity_names) == 3
    np.testing.assert_allclose(src.neutral, truth["neutral"], atol=1e-5)
    np.testing.assert_allclose(src.identity_deltas, truth["identity_deltas"], atol=1e-5)
    np.testing.assert_allclose(src.expression_deltas, truth["expression_deltas"], atol=1e-5)
    assert set(src.material_names) >= {"M_Face", "M_BackHead", "M_EyeOcclusion"}
    assert sorted(set(src.polygon_sizes.tolist())) == [3, 4]


def test_import_command_writes_a_face_model(tmp_path, capsys):
    write_tiny_ict(tmp_path / "FaceXModel")
    out = tmp_path / "ict.npz"
    assert cli_main(["import-facemodel", "ict-facekit", str(tmp_path / "FaceXModel"), "--out", str(out),
                     "--quiet"]) == 0
    assert "wrote" in capsys.readouterr().out
    m = load_face_model(out)
    t = m.mesh_topology
    assert (m.n_id, m.n_exp) == (3, 57) and m.exp_names[0] == "pupilDilateLeft" and "jawOpen" in m.exp_names
    assert t.part_names == PARTS
    counts = {p: int((t.polygon_parts == i).sum()) for i, p in enumerate(PARTS)}
    assert counts["skin"] == 4 + 1 + 4 + 1 and counts["teeth"] == 4 and counts["eyelashes"] == 4
    assert counts["iris"] == 8 and counts["sclera"] <= 8
    assert 4 in t.polygon_sizes.tolist()  # quads kept beside the triangulation
    assert len(m.triangles) == int((t.polygon_sizes - 2).sum())
    # The seam: face vertices 2 and 5 have a face-tile and a back-tile UV -> two render vertices each.
    welded_of_2 = np.flatnonzero(t.source_vertex == 2)
    assert len(welded_of_2) == 2 and not np.allclose(m.uvs[welded_of_2[0]], m.uvs[welded_of_2[1]])
    assert m.n_vertices == t.n_welded + 4  # all four corners of the seam quad have their own UVs
    # Split copies share their normals' adjacency (no shading seam).
    assert set(m.point_buf[welded_of_2[0]].tolist()) == set(m.point_buf[welded_of_2[1]].tolist())
    assert (m.uvs >= 0).all() and (m.uvs <= 1).all()  # UDIM tiles packed into one atlas
    assert cli_main(["import-facemodel", "ict-facekit", str(tmp_path / "FaceXModel"), "--out", str(out),
                     "--quiet"]) == 2  # exists: refused without --force
    assert "--force" in capsys.readouterr().err


@pytest.mark.parametrize("damage, expect", [
    ("missing_expression", "jawOpen.obj: expression shape missing"),
    ("vertex_count", "identity001.obj: has 89 vertices, expected 90"),
    ("nan", "mouthSmile_L.obj: vertex 4 is not finite"),
    ("identity_gap", "identity001.obj: missing"),
    ("no_neutral", "no generic_neutral_mesh.obj"),
])
def test_loader_errors_are_one_line(tmp_path, capsys, damage, expect):
    d = tmp_path / "FaceXModel"
    truth = write_tiny_ict(d)
    n = truth["neutral"]
    if damage == "missing_expression":
        (d / "jawOpen.obj").unlink()
    elif damage == "vertex_count":
        write_obj(d / "identity001.obj", n[:-1])
    elif damage == "nan":
        bad = n.copy()
        bad[4, 1] = np.nan
        write_obj(d / "mouthSmile_L.obj", bad)
    elif damage == "identity_gap":
        (d / "identity001.obj").unlink()
    elif damage == "no_neutral":
        (d / "generic_neutral_mesh.obj").unlink()
    with pytest.raises(StyleFaceError, match=expect.replace(".", r"\.")):
        load_ict_folder(d)
    rc = cli_main(["import-facemodel", "ict-facekit", str(d), "--out", str(tmp_path / "x.npz"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.npz").exists()


# -- ARKit names ------------------------------------------------------------------------------------
def test_arkit_names_drive_the_model():
    names = tuple(builtin_face_model().exp_names)
    assert len(ARKIT_BLENDSHAPES) == 52
    missing = [a for a in ARKIT_BLENDSHAPES if not arkit_targets(a, names)]
    assert missing == ["tongueOut"]  # ICT has no tongue shape
    assert arkit_targets("browInnerUp", names) == ["browInnerUpLeft", "browInnerUpRight"]
    assert arkit_targets("cheekPuff", names) == ["cheekPuffLeft", "cheekPuffRight"]
    assert resolve_expression_name("eyeBlink_L", names) == ["eyeBlinkLeft"]
    assert resolve_expression_name("smile_left", names) == ["mouthSmileLeft"]
    extra = sorted(set(names) - {t for a in ARKIT_BLENDSHAPES for t in arkit_targets(a, names)})
    assert extra == ["cheekRaiserLeft", "cheekRaiserRight", "pupilDilateLeft", "pupilDilateRight"]


def test_left_is_the_subjects_left():
    """ARKit's Left is the face's own left: +x in the model frame (facing +z, +y up)."""
    m = builtin_face_model()
    d = m.exp_basis[:, :, m.exp_names.index("eyeBlinkLeft")]
    moved = np.linalg.norm(d, axis=1) > 1e-3
    assert moved.any() and m.mean_shape[moved, 0].mean() > 0.2


# -- the shipped default ----------------------------------------------------------------------------
def test_shipped_default_is_the_ict_head():
    m = load_face_model("default")
    t = m.mesh_topology
    assert m.name == "ict-facekit" and m.n_id == 100 and m.n_exp == 57
    assert m.layout.sizes() == {"id": 100, "exp": 57, "tex": 0, "rot": 3, "gamma": 27, "trans": 3}
    assert t.part_names == PARTS and (t.polygon_sizes == 4).mean() > 0.9
    assert "MIT" in m.metadata["source"] and "USC Institute for Creative Technologies" in m.metadata["source"]
    assert (ICT_FILE.parent / "THIRD_PARTY_NOTICES").is_file()
    v, lm = m.mean_shape, m.mean_shape[m.landmarks]
    np.testing.assert_allclose(lm.mean(0), LANDMARK_CENTROID, atol=1e-4)
    assert 2.0 < lm[:, 1].max() - v[:, 1].min() + 1.0 < 4.0  # decimetres: ~3.4 dm with the neck
    assert lm[30, 2] > v[:, 2].mean() + 0.5  # the nose tip looks along +z
    assert lm[19, 1] > lm[8, 1] + 0.8  # brows above the chin: +y up
    assert ICT_FILE.stat().st_size < 20e6


@needs_shared
def test_shipped_default_matches_the_source_within_0_05_mm():
    from styleface.facemodel.ict_source import load_ict_arrays

    exact = build_ict_face_model(load_ict_arrays(SHARED / "ict_shapes.npz", SHARED / "generic_neutral_mesh.obj",
                                                 SHARED / "vertex_indices.json"))
    shipped = builtin_face_model()
    np.testing.assert_array_equal(exact.triangles, shipped.triangles)
    np.testing.assert_allclose(exact.uvs, shipped.uvs, atol=1e-6)
    rng = np.random.default_rng(1)
    for _ in range(5):
        a, e = rng.standard_normal(100), rng.uniform(0, 1, 57) * (rng.uniform(size=57) < 0.3)
        err = np.abs((exact.mean_shape + exact.id_basis @ a + exact.exp_basis @ e)
                     - (shipped.mean_shape + shipped.id_basis @ a + shipped.exp_basis @ e)).max()
        assert err < 0.0005  # decimetres: 0.05 mm


@needs_shared
@pytest.mark.parametrize("shape, key, index", [("identity000", "identity_deltas", 0),
                                               ("jawOpen", "expression_deltas", None)])
def test_real_original_objs_match_the_converted_npz(shape, key, index):
    z = np.load(SHARED / "ict_shapes.npz")
    neutral = read_obj_positions(SHARED / "generic_neutral_mesh.obj", 26719)
    delta = read_obj_positions(SHARED / f"{shape}.obj", 26719) - neutral
    if index is None:
        index = list(z["expression_names"]).index(shape)
    np.testing.assert_allclose(neutral, z["neutral"], atol=1e-5)
    np.testing.assert_allclose(delta, z[key][index], atol=1e-5)


def test_irises_are_visible_through_the_cornea_window():
    """ICT's sclera shell covers the iris; the cut window lets a front render see the iris patch."""
    from styleface.facemodel.ict import ATLAS
    from styleface.render.face import render_face

    m = builtin_face_model()
    s = 128
    tex = torch.zeros(3, s, s)
    tex[0] = 1.0
    for key in ("M_IrisLeft", "M_IrisRight"):
        u0, v0, u1, v1 = ATLAS[key]
        tex[:, int((1 - v1) * s):int((1 - v0) * s), int(u0 * s):int(u1 * s)] = torch.tensor([0.0, 0, 1])[:, None, None]
    coeffs = torch.zeros(1, m.layout.size)
    img = render_face(m, coeffs, tex[None], mode="uv", lighting=False, image_size=256).image[0]
    blue = (img[2] > 0.5) & (img[0] < 0.5)
    left, right = blue[:, 128:].sum().item(), blue[:, :128].sum().item()
    assert left > 20 and right > 20  # an iris in each eye


def test_vertex_and_uv_render_modes_agree_roughly():
    from styleface.procedural_face import ProceduralFaceGenerator
    from styleface.render.face import FaceRenderer

    m = builtin_face_model()
    f = ProceduralFaceGenerator(m, texture_size=128).generate(2)
    coeffs = torch.as_tensor(f.coefficient_vector())[None]
    diffuse = torch.as_tensor(f.diffuse)[None]
    r = FaceRenderer(m)
    a = r.render(coeffs, diffuse, mode="vertex").image
    b = r.render(coeffs, diffuse, mode="uv").image
    mask = r.render(coeffs, diffuse, mode="uv").mask
    assert mask.float().mean() > 0.25  # the head fills a good part of the frame
    assert torch.isfinite(a).all() and (a - b).abs().mean() < 0.05
