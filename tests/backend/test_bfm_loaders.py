"""Loaders for face-model files users bring, on tiny files in the same formats written here (no BFM data)."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from styleface.errors import StyleFaceError
from styleface.facemodel import FaceModel, build_point_buf
from styleface.facemodel.bfm import build_bfm_front, load_bfm_front, load_exp_pca
from styleface.facemodel.store import load_face_model, load_face_model_npz, save_face_model
from styleface.facemodel.uv_files import (cylindrical_uvs, load_face3d_uv, load_uv_mask, load_uv_refine,
                                          load_uvs)

ROWS, COLS = 10, 5  # a 50-vertex grid "face"
N = ROWS * COLS
K_ID, K_EXP, K_TEX = 4, 3, 4


def expect_error(fn, *fragments: str) -> str:
    with pytest.raises(StyleFaceError) as info:
        fn()
    msg = str(info.value)
    assert "\n" not in msg
    for frag in fragments:
        assert frag in msg, msg
    return msg


def grid_triangles() -> np.ndarray:
    tris = []
    for r in range(ROWS - 1):
        for c in range(COLS - 1):
            a = r * COLS + c
            tris += [[a, a + 1, a + COLS + 1], [a, a + COLS + 1, a + COLS]]
    return np.array(tris, dtype=np.int64)


def grid_vertices() -> np.ndarray:
    y, x = np.meshgrid(np.linspace(-1.0, 1.0, ROWS), np.linspace(-0.7, 0.7, COLS), indexing="ij")
    z = 0.6 * np.cos(x)  # bulges towards +z like a face
    return np.stack([x, y + 0.3, z + 0.1], -1).reshape(-1, 3)  # off-centre on purpose


def front_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays of a tiny BFM_model_front.mat, MATLAB conventions (1-based, interleaved xyz, 0-255 tex)."""
    rng = np.random.default_rng(seed)
    tri = grid_triangles()
    return {
        "meanshape": grid_vertices().reshape(1, -1),
        "idBase": rng.normal(size=(3 * N, K_ID)),
        "exBase": rng.normal(size=(3 * N, K_EXP)),
        "meantex": rng.uniform(0, 255, size=(1, 3 * N)),
        "texBase": rng.normal(size=(3 * N, K_TEX)) * 10,
        "tri": (tri + 1).astype(np.float64),
        "point_buf": (build_point_buf(tri, N) + 1).astype(np.float64),
        "keypoints": rng.integers(1, N + 1, size=(1, 68)).astype(np.float64),
        "tri_mask2": (tri[:10] + 1).astype(np.float64),
        "frontmask2_idx": np.arange(1, 21, dtype=np.float64).reshape(-1, 1),
        "skinmask": (rng.uniform(size=(1, N)) > 0.5).astype(np.float64),
    }


def write_mat(path: Path, arrays: dict) -> Path:
    scipy.io.savemat(str(path), arrays)
    return path


@pytest.fixture
def front(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    arrays = front_arrays()
    return write_mat(tmp_path / "BFM_model_front.mat", arrays), arrays


# -- BFM_model_front.mat ----------------------------------------------------------------------------------
def test_load_bfm_front_converts_matlab_conventions(front):
    path, a = front
    m = load_bfm_front(path)
    mean = a["meanshape"].reshape(N, 3)
    centroid = mean.mean(0)
    assert m.name == "bfm" and m.n_vertices == N and (m.n_id, m.n_exp, m.n_tex) == (K_ID, K_EXP, K_TEX)
    np.testing.assert_allclose(m.mean_shape, mean - centroid, atol=1e-6)
    np.testing.assert_allclose(m.metadata["centroid_offset"], centroid)
    # interleaved rows 3i+c become vertex i, coordinate c
    i, c, k = 7, 2, 1
    assert m.id_basis[i, c, k] == np.float32(a["idBase"][3 * i + c, k])
    assert m.exp_basis[i, c, k] == np.float32(a["exBase"][3 * i + c, k])
    np.testing.assert_allclose(m.mean_albedo, a["meantex"].reshape(N, 3) / 255, rtol=1e-6)
    np.testing.assert_allclose(m.albedo_basis, a["texBase"].reshape(N, 3, K_TEX) / 255, rtol=1e-6)
    np.testing.assert_array_equal(m.triangles, grid_triangles())
    np.testing.assert_array_equal(m.point_buf, build_point_buf(grid_triangles(), N))
    assert m.point_buf.max() == m.n_faces  # padding F+1 (1-based) became F
    np.testing.assert_array_equal(m.landmarks, a["keypoints"].reshape(-1) - 1)
    np.testing.assert_array_equal(m.metadata["tri_mask2"], grid_triangles()[:10])
    np.testing.assert_array_equal(m.metadata["frontmask2_idx"], np.arange(20))
    np.testing.assert_array_equal(m.metadata["skinmask"], a["skinmask"].reshape(-1) > 0)
    assert m.metadata["uv_source"] == "cylindrical-fallback"
    assert m.uv_mask is None
    # the file's triangles face the viewer at +z (counter-clockwise seen from outside)
    v = m.mean_shape[m.triangles]
    normals = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    assert (normals[:, 2] > 0).all()


def test_bfm09_model_info_with_column_vectors_and_no_texture(tmp_path):
    a = front_arrays()
    a["meanshape"] = a["meanshape"].reshape(-1, 1)
    a["keypoints"] = a["keypoints"].reshape(-1, 1).astype(np.uint16)
    for key in ("meantex", "texBase", "point_buf", "tri_mask2", "frontmask2_idx", "skinmask"):
        del a[key]
    m = load_bfm_front(write_mat(tmp_path / "BFM09_model_info.mat", a))
    assert m.mean_albedo is None and m.albedo_basis is None
    np.testing.assert_array_equal(m.point_buf, build_point_buf(grid_triangles(), N))  # derived
    assert "skinmask" not in m.metadata


def test_cylindrical_fallback_uvs_follow_x_and_y():
    verts = grid_vertices()
    uv = cylindrical_uvs(verts)
    assert uv.shape == (N, 2) and uv.min() >= 0 and uv.max() <= 1
    grid_u = uv[:, 0].reshape(ROWS, COLS)
    grid_v = uv[:, 1].reshape(ROWS, COLS)
    assert (np.diff(grid_u, axis=1) > 0).all()  # u grows with +x
    assert (np.diff(grid_v, axis=0) > 0).all()  # v grows with +y (v up)
    assert np.isclose(uv[:, 1].min(), 0.02) and np.isclose(uv[:, 1].max(), 0.98)  # larger extent


@pytest.mark.parametrize("mutate, fragments", [
    (lambda a: a.pop("idBase"), ["missing key 'idBase'", "found keys:", "meanshape"]),
    (lambda a: a.pop("meantex"), ["missing key 'meantex'"]),
    (lambda a: a.update(idBase=np.zeros((3 * N - 3, K_ID))), ["'idBase' has shape (147, 4)", "(150, K)"]),
    (lambda a: a.update(meanshape=np.zeros((1, 3 * N + 1))), ["'meanshape' has 151 values", "3 per vertex"]),
    (lambda a: a.update(meanshape=np.zeros((3, N))), ["'meanshape' has shape (3, 50)", "(1, 3N)"]),
    (lambda a: a.update(tri=a["tri"] - 1), ["'tri' must hold 1-based MATLAB indices in [1, 50]", "[0, 49]"]),
    (lambda a: a.update(tri=a["tri"][:, :2]), ["'tri' has shape (72, 2)", "(F, 3)"]),
    (lambda a: a.update(point_buf=a["point_buf"] + 1), ["'point_buf' must hold 1-based", "[1, 73]"]),
    (lambda a: a.update(point_buf=a["point_buf"][:-1]), ["'point_buf' has shape (49, 6)", "(50, M)"]),
    (lambda a: a.update(keypoints=a["keypoints"][:, :67]), ["'keypoints' has shape (1, 67)", "68"]),
    (lambda a: a.update(keypoints=a["keypoints"] + 0.5), ["'keypoints' must hold integer indices"]),
    (lambda a: a["idBase"].__setitem__((0, 0), np.nan), ["'idBase' contains NaN"]),
    (lambda a: a.update(skinmask=np.ones((1, N - 1))), ["'skinmask' has shape (1, 49)", "(1, 50)"]),
    (lambda a: a.update(exBase=np.array([["a", "b"]] * (3 * N))), ["'exBase'", "expected"]),
])
def test_front_file_errors_name_file_and_expectation(tmp_path, mutate, fragments):
    a = front_arrays()
    mutate(a)
    path = write_mat(tmp_path / "BFM_model_front.mat", a)
    expect_error(lambda: load_bfm_front(path), str(path), *fragments)


def test_unreadable_front_files(tmp_path, front):
    path, _ = front
    expect_error(lambda: load_bfm_front(tmp_path / "nope.mat"), "nope.mat: file not found", "BFM_model_front")
    text = tmp_path / "text.mat"
    text.write_text("this is not matlab")
    expect_error(lambda: load_bfm_front(text), "text.mat", "not a readable MATLAB .mat file")
    cut = tmp_path / "cut.mat"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    expect_error(lambda: load_bfm_front(cut), "cut.mat")
    hdf5 = tmp_path / "v73.mat"  # MATLAB -v7.3 files are HDF5 with a MATLAB header
    hdf5.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116, b" ") + b"\0" * 8
                     + b"\x00\x02IM" + b"\x89HDF\r\n\x1a\n" + b"\0" * 600)
    expect_error(lambda: load_bfm_front(hdf5), "v73.mat", "v7.3")


# -- UV files and the mask --------------------------------------------------------------------------------
def test_uv_refine_and_mask_in_the_model(tmp_path, front):
    path, _ = front
    uv = np.random.default_rng(1).uniform(size=(N, 2))
    uv_path = write_mat(tmp_path / "BFM_UV_refined.mat", {"UV_refine": uv})
    mask = np.zeros((16, 16), np.uint8)
    mask[4:12, 3:13] = 255
    mask_path = tmp_path / "mask.png"
    Image.fromarray(mask).save(mask_path)
    m = load_bfm_front(path, uv_path, mask_path)
    np.testing.assert_allclose(m.uvs, uv, rtol=1e-6)
    np.testing.assert_array_equal(m.uv_mask, mask > 0)
    assert m.metadata["uv_source"] == "BFM_UV_refined.mat" and m.metadata["uv_mask_source"] == "mask.png"
    np.testing.assert_allclose(load_uv_refine(uv_path, N), uv, rtol=1e-6)
    expect_error(lambda: load_uv_refine(uv_path, N + 1), "BFM_UV_refined.mat", "'UV_refine' has shape (50, 2)",
                 "(51, 2)")


def test_face3d_uv_selects_front_vertices(tmp_path):
    rng = np.random.default_rng(2)
    full = rng.uniform(size=(70, 2))  # "full BFM"
    trim = rng.permutation(70)[:60] + 1  # 1-based into full
    front_idx = rng.permutation(60)[:N] + 1  # 1-based into the trimmed set
    uv_dir = tmp_path / "uv"
    uv_dir.mkdir()
    trimmed_path = write_mat(uv_dir / "BFM_UV.mat", {"UV": full[trim - 1]})
    full_path = write_mat(tmp_path / "BFM_UV_full.mat", {"UV": full})
    exp_idx = write_mat(tmp_path / "BFM_exp_idx.mat", {"trimIndex": trim.reshape(-1, 1).astype(np.uint16)})
    front_path = write_mat(tmp_path / "BFM_front_idx.mat", {"idx": front_idx.reshape(-1, 1).astype(np.float64)})
    want = full[trim - 1][front_idx - 1]

    np.testing.assert_allclose(load_face3d_uv(trimmed_path, front_path), want, rtol=1e-6)
    np.testing.assert_allclose(load_face3d_uv(full_path, front_path, exp_idx), want, rtol=1e-6)
    assert load_face3d_uv(trimmed_path).shape == (60, 2)
    np.testing.assert_allclose(load_uvs(trimmed_path, N, front_idx_path=front_path), want, rtol=1e-6)
    expect_error(lambda: load_uvs(trimmed_path, N), "BFM_UV.mat", "'UV' has 60 rows", "50 vertices",
                 "BFM_front_idx.mat")
    write_mat(uv_dir / "BFM_front_idx.mat", {"idx": front_idx.reshape(-1, 1)})  # sibling is found
    np.testing.assert_allclose(load_uvs(trimmed_path, N), want, rtol=1e-6)
    bad_idx = write_mat(tmp_path / "bad_idx.mat", {"idx": np.array([[0], [1]])})
    expect_error(lambda: load_face3d_uv(trimmed_path, bad_idx), "bad_idx.mat", "1-based", "[1, 60]")
    expect_error(lambda: load_uvs(trimmed_path, 7, front_idx_path=front_path), "'UV' gives 50 vertices",
                 "expected 7")


def test_uv_file_errors(tmp_path):
    none = write_mat(tmp_path / "none.mat", {"uv": np.zeros((N, 2))})
    expect_error(lambda: load_uvs(none, N), "none.mat", "missing key", "'UV_refine'", "found keys: uv")
    expect_error(lambda: load_face3d_uv(none), "none.mat", "missing key 'UV'")
    big = write_mat(tmp_path / "pixels.mat", {"UV_refine": np.full((N, 2), 200.0)})
    expect_error(lambda: load_uvs(big, N), "pixels.mat", "in [0, 1]", "[200, 200]")
    flat = write_mat(tmp_path / "flat.mat", {"UV": np.zeros((N, 3))})
    expect_error(lambda: load_uvs(flat, N), "flat.mat", "'UV' has shape (50, 3)", "(N, 2)")
    expect_error(lambda: load_uvs(tmp_path / "gone.mat", N), "gone.mat: file not found")


def test_uv_mask_png(tmp_path):
    img = np.zeros((8, 6), np.uint8)
    img[2:6, 1:5] = 37
    gray = tmp_path / "mask.png"
    Image.fromarray(img).save(gray)
    mask = load_uv_mask(gray)
    assert mask.dtype == bool and mask.shape == (8, 6)
    np.testing.assert_array_equal(mask, img > 0)
    assert load_uv_mask(gray, size=16).shape == (16, 16)
    up = load_uv_mask(gray, size=(16, 12))
    np.testing.assert_array_equal(up, np.repeat(np.repeat(img > 0, 2, 0), 2, 1))  # nearest keeps it binary
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.stack([img] * 3, -1)).save(rgb)
    np.testing.assert_array_equal(load_uv_mask(rgb), img > 0)
    empty = tmp_path / "empty.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(empty)
    expect_error(lambda: load_uv_mask(empty), "empty.png", "no face pixels")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png")
    expect_error(lambda: load_uv_mask(junk), "junk.png", "not a readable image")
    expect_error(lambda: load_uv_mask(tmp_path / "gone.png"), "gone.png: file not found")


# -- Exp_Pca.bin and the builder --------------------------------------------------------------------------
def write_exp_pca(path: Path, mean: np.ndarray, comps: np.ndarray) -> Path:
    """comps (K, 3M): the file stores K consecutive component vectors after the mean."""
    with open(path, "wb") as f:
        np.array([len(comps)], dtype="<i4").tofile(f)
        mean.astype("<f4").tofile(f)
        comps.astype("<f4").tofile(f)
    return path


def test_exp_pca_layout_and_truncation(tmp_path):
    rng = np.random.default_rng(3)
    m, k = 12, 5
    mean = rng.normal(size=3 * m)
    comps = rng.normal(size=(k, 3 * m))
    path = write_exp_pca(tmp_path / "Exp_Pca.bin", mean, comps)
    exp = load_exp_pca(path)
    np.testing.assert_array_equal(exp.mean, mean.astype(np.float32))
    np.testing.assert_array_equal(exp.basis, comps.T.astype(np.float32))
    assert exp.basis.shape == (3 * m, k)
    assert load_exp_pca(path, n_vertices=m).basis.shape == (3 * m, k)

    size = path.stat().st_size
    cut = tmp_path / "cut" / "Exp_Pca.bin"
    cut.parent.mkdir()
    cut.write_bytes(path.read_bytes()[:-8])
    expect_error(lambda: load_exp_pca(cut, n_vertices=m), "Exp_Pca.bin", f"expected {size:,} bytes",
                 f"{k} components of {m} vertices", f"found {size - 8:,} bytes")
    expect_error(lambda: load_exp_pca(cut), "Exp_Pca.bin", "truncated", "51,086,404")
    expect_error(lambda: load_exp_pca(path, n_vertices=m + 1), "Exp_Pca.bin", "expected")
    header_only = tmp_path / "hdr" / "Exp_Pca.bin"
    header_only.parent.mkdir()
    header_only.write_bytes(np.array([79], "<i4").tobytes() + b"\0" * 64)
    expect_error(lambda: load_exp_pca(header_only, n_vertices=53215),
                 "expected 51,086,404 bytes for 79 components of 53215 vertices", "found 68 bytes")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(np.array([-3], "<i4").tobytes() + b"\0" * 40)
    expect_error(lambda: load_exp_pca(junk), "junk.bin", "-3 components")
    tiny = tmp_path / "tiny.bin"
    tiny.write_bytes(b"\1")
    expect_error(lambda: load_exp_pca(tiny), "tiny.bin", "1 bytes")


V_FULL, V_EXP = 60, 55  # "BFM09" vertices, expression-set vertices; the front model keeps N = 50
K_SHAPE, K_EXPPCA, K_TEXPCA = 6, 5, 7


def write_bfm09_sources(tmp_path: Path, seed: int = 4) -> dict:
    rng = np.random.default_rng(seed)
    src = {
        "shapeMU": rng.normal(size=(3 * V_FULL, 1)) * 1e5,
        "shapePC": rng.normal(size=(3 * V_FULL, K_SHAPE)),
        "shapeEV": rng.uniform(1e3, 1e4, size=(K_SHAPE, 1)),
        "texMU": rng.uniform(0, 255, size=(3 * V_FULL, 1)),
        "texPC": rng.normal(size=(3 * V_FULL, K_TEXPCA)),
        "texEV": rng.uniform(1, 10, size=(K_TEXPCA, 1)),
        "trim": rng.permutation(V_FULL)[:V_EXP] + 1,
        "front": rng.permutation(V_EXP)[:N] + 1,
        "exp_mean": rng.normal(size=3 * V_EXP),
        "exp_comps": rng.normal(size=(K_EXPPCA, 3 * V_EXP)),
        "std": rng.uniform(1e4, 1e5, size=K_EXPPCA),
    }
    mm = {k: src[k] for k in ("shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV")}
    mm["tl"] = np.ones((3, 3))  # BFM09 also holds keys the builder ignores
    info = front_arrays()
    info = {k: info[k] for k in ("tri", "point_buf", "keypoints", "tri_mask2", "frontmask2_idx", "skinmask")}
    info["frontmask2"] = np.ones((1, N))
    paths = {
        "morphable_model_path": write_mat(tmp_path / "01_MorphableModel.mat", mm),
        "exp_pca_path": write_exp_pca(tmp_path / "Exp_Pca.bin", src["exp_mean"], src["exp_comps"]),
        "std_exp_path": tmp_path / "std_exp.txt",
        "exp_idx_path": write_mat(tmp_path / "BFM_exp_idx.mat",
                                  {"trimIndex": src["trim"].reshape(-1, 1).astype(np.uint16)}),
        "front_idx_path": write_mat(tmp_path / "BFM_front_idx.mat", {"idx": src["front"].reshape(-1, 1)}),
        "info_path": write_mat(tmp_path / "facemodel_info.mat", info),
    }
    paths["std_exp_path"].write_text("\n".join(f"{s:.6f}" for s in src["std"]) + "\n")
    src["std"] = np.array([float(f"{s:.6f}") for s in src["std"]])
    src["info"] = info
    return {"paths": paths, "src": src}


def test_build_bfm_front_matches_hand_computation(tmp_path):
    made = write_bfm09_sources(tmp_path)
    p, s = made["paths"], made["src"]
    out_path = tmp_path / "BFM_model_front.mat"
    out = build_bfm_front(**p, out_path=out_path, n_id=4, n_exp=3, n_tex=5)
    assert out["idBase"].shape == (3 * N, 4) and out["exBase"].shape == (3 * N, 3)
    assert out["texBase"].shape == (3 * N, 5) and out["meanshape"].shape == (1, 3 * N)
    for j in range(N):  # element by element, straight from the research note's recipe
        e = s["front"][j] - 1  # expression-set vertex
        v = s["trim"][e] - 1  # BFM09 vertex
        for c in range(3):
            r, src_row, exp_row = 3 * j + c, 3 * v + c, 3 * e + c
            assert np.isclose(out["meanshape"][0, r], s["shapeMU"][src_row, 0] / 1e5, rtol=1e-6)
            assert np.isclose(out["meantex"][0, r], s["texMU"][src_row, 0], rtol=1e-6)
            for k in range(4):
                want = s["shapePC"][src_row, k] * s["shapeEV"][k, 0] / 1e5
                assert np.isclose(out["idBase"][r, k], want, rtol=1e-5)
            for k in range(3):
                want = np.float32(s["exp_comps"][k, exp_row]) * s["std"][k] / 1e5
                assert np.isclose(out["exBase"][r, k], want, rtol=1e-5)
            for k in range(5):
                want = s["texPC"][src_row, k] * s["texEV"][k, 0]
                assert np.isclose(out["texBase"][r, k], want, rtol=1e-5)
    for key in ("tri", "point_buf", "keypoints", "tri_mask2", "skinmask"):
        np.testing.assert_array_equal(out[key], s["info"][key])
    np.testing.assert_array_equal(out["frontmask2_idx"], s["info"]["frontmask2_idx"])

    m = load_bfm_front(out_path)  # the written file reads back as a front model
    mean = out["meanshape"].reshape(N, 3).astype(np.float64)
    np.testing.assert_allclose(m.mean_shape, mean - mean.mean(0), atol=1e-5)
    np.testing.assert_array_equal(m.id_basis, out["idBase"].reshape(N, 3, 4))
    np.testing.assert_array_equal(m.triangles, grid_triangles())


def test_build_bfm_front_errors(tmp_path):
    made = write_bfm09_sources(tmp_path)
    p = made["paths"]
    expect_error(lambda: build_bfm_front(**p), "01_MorphableModel.mat", "6 shapePC components",
                 "at least 80")
    small = dict(n_id=4, n_exp=3, n_tex=5)
    expect_error(lambda: build_bfm_front(**p, n_id=4, n_exp=6, n_tex=5), "Exp_Pca.bin", "5 expression",
                 "at least 6")
    p["std_exp_path"].write_text("1.0 2.0\n")
    expect_error(lambda: build_bfm_front(**p, **small), "std_exp.txt", "has 2 values", "at least 3")
    p["std_exp_path"].write_text("1.0 two 3.0\n")
    expect_error(lambda: build_bfm_front(**p, **small), "std_exp.txt", "numbers")
    p["std_exp_path"].write_text("1 2 3 4 5\n")
    short_trim = write_mat(tmp_path / "short_exp_idx.mat", {"trimIndex": np.arange(1, V_EXP).reshape(-1, 1)})
    expect_error(lambda: build_bfm_front(**{**p, "exp_idx_path": short_trim}, **small), "Exp_Pca.bin",
                 f"components of {V_EXP - 1} vertices")
    far_trim = write_mat(tmp_path / "far_exp_idx.mat", {"trimIndex": np.arange(10, 10 + V_EXP).reshape(-1, 1)})
    expect_error(lambda: build_bfm_front(**{**p, "exp_idx_path": far_trim}, **small), "far_exp_idx.mat",
                 f"[1, {V_FULL}]")
    no_idx = write_mat(tmp_path / "no_idx.mat", {"index": np.arange(1, N + 1)})
    expect_error(lambda: build_bfm_front(**{**p, "front_idx_path": no_idx}, **small), "no_idx.mat",
                 "missing key 'idx'", "found keys: index")
    info = dict(made["src"]["info"])
    info["tri"] = info["tri"] + 5
    bad_info = write_mat(tmp_path / "bad_info.mat", info)
    expect_error(lambda: build_bfm_front(**{**p, "info_path": bad_info}, **small), "bad_info.mat", "'tri'",
                 f"[1, {N}]")
    mm = scipy.io.loadmat(str(p["morphable_model_path"]))
    mm["shapeEV"] = mm["shapeEV"][:-1]
    bad_mm = write_mat(tmp_path / "bad_mm.mat", {k: v for k, v in mm.items() if not k.startswith("__")})
    expect_error(lambda: build_bfm_front(**{**p, "morphable_model_path": bad_mm}, **small), "bad_mm.mat",
                 "'shapeEV' has shape (5, 1)", "(6, 1)")


# -- .npz round trip and the dispatcher -------------------------------------------------------------------
def assert_models_equal(a: FaceModel, b: FaceModel) -> None:
    assert a.name == b.name and a.exp_names == b.exp_names
    for key in ("mean_shape", "id_basis", "exp_basis", "triangles", "uvs", "landmarks", "point_buf",
                "mean_albedo", "albedo_basis", "uv_mask"):
        x, y = getattr(a, key), getattr(b, key)
        assert (x is None) == (y is None), key
        if x is not None:
            assert x.dtype == y.dtype, key
            np.testing.assert_array_equal(x, y, err_msg=key)
    assert a.metadata.keys() == b.metadata.keys()
    for key, value in a.metadata.items():
        if isinstance(value, np.ndarray):
            assert value.dtype == b.metadata[key].dtype
            np.testing.assert_array_equal(value, b.metadata[key])
        else:
            assert value == b.metadata[key], key


def test_npz_round_trip_is_exact(tmp_path, front):
    path, _ = front
    mask_path = tmp_path / "mask.png"
    Image.fromarray(np.eye(8, dtype=np.uint8) * 255).save(mask_path)
    model = load_bfm_front(path, mask_path=mask_path)
    model.metadata["nested"] = {"a": [1, 2.5], "b": None}
    saved = save_face_model(model, tmp_path / "bfm.npz")
    assert_models_equal(model, load_face_model_npz(saved))
    assert_models_equal(model, load_face_model(saved))
    assert save_face_model(model, tmp_path / "noext") == tmp_path / "noext.npz"


def test_npz_round_trip_minimal_model(tmp_path, tiny_model):
    saved = save_face_model(tiny_model, tmp_path / "tiny.npz")
    back = load_face_model(str(saved))
    assert back.exp_names == ("jaw_open",) and back.mean_albedo is None and back.uv_mask is None
    assert_models_equal(tiny_model, back)


def test_npz_rejects_foreign_and_pickled_files(tmp_path, tiny_model):
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(3))
    expect_error(lambda: load_face_model(plain), "plain.npz", "save_face_model")
    saved = save_face_model(tiny_model, tmp_path / "t.npz")
    with np.load(saved) as npz:
        entries = {k: npz[k] for k in npz.files}
    entries["mean_shape"] = np.array([object()], dtype=object)  # loading it would need pickle
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **entries)
    expect_error(lambda: load_face_model(pickled), "pickled.npz", "not a readable face model")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"zip? no")
    expect_error(lambda: load_face_model(junk), "junk.npz")
    tiny_model.metadata["bad"] = object()
    expect_error(lambda: save_face_model(tiny_model, tmp_path / "x.npz"), "metadata", "JSON")


def test_load_face_model_dispatch(tmp_path, front, monkeypatch, tiny_model):
    path, _ = front
    assert load_face_model(path).name == "bfm"
    folder = tmp_path / "data"  # StyleFaceUV's data/ layout
    folder.mkdir()
    write_mat(folder / "BFM_model_front.mat", front_arrays())
    uv = np.random.default_rng(5).uniform(size=(N, 2))
    write_mat(folder / "BFM_UV_refined.mat", {"UV_refine": uv})
    Image.fromarray(np.full((4, 4), 255, np.uint8)).save(folder / "mask.png")
    m = load_face_model(folder)
    np.testing.assert_allclose(m.uvs, uv, rtol=1e-6)
    assert m.uv_mask.shape == (4, 4)

    fake = types.ModuleType("styleface.facemodel.procedural")
    fake.demo_face_model = lambda: tiny_model
    monkeypatch.setitem(sys.modules, "styleface.facemodel.procedural", fake)
    assert load_face_model("demo") is tiny_model

    expect_error(lambda: load_face_model(tmp_path / "missing.mat"), "missing.mat", "'demo'")
    expect_error(lambda: load_face_model("bfm"), "bfm: no such face model file")
    other = tmp_path / "model.obj"
    other.write_text("v 0 0 0\n")
    expect_error(lambda: load_face_model(other), "model.obj", "unknown face model file type '.obj'")
    empty = tmp_path / "empty"
    empty.mkdir()
    expect_error(lambda: load_face_model(empty), "empty", "BFM_model_front.mat")
