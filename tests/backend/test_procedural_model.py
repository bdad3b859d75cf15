"""The procedural demo face model: geometry, frame, UV layout, landmarks, bases, regions."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from styleface.camera import PinholeCamera
from styleface.facemodel import FaceModel
from styleface.facemodel.procedural import REGION_NAMES, demo_face_model, rasterize_uv_coverage
from styleface.geometry import face_shape, vertex_normals

REQUIRED_EXPRESSIONS = ("jaw_open", "smile_left", "smile_right", "brow_raise", "brow_frown", "eye_close_left",
                        "eye_close_right", "mouth_pucker", "cheek_puff", "sneer_left", "sneer_right")


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return demo_face_model()


def _face_normals(v: np.ndarray, tri: np.ndarray) -> np.ndarray:
    return np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])


def _project(model: FaceModel, vertices: np.ndarray) -> np.ndarray:
    cam = PinholeCamera(256)
    return cam.project(torch.from_numpy(vertices[model.landmarks].astype(np.float32))).numpy()


def _seam_groups(v: np.ndarray) -> list[np.ndarray]:
    """Groups of vertices at the same position (seam duplicates)."""
    key = np.round(v.astype(np.float64) * 1e5).astype(np.int64)
    _, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    order = np.argsort(inv, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return [order[s:s + c] for s, c in zip(starts, counts) if c > 1]


# --- mesh -------------------------------------------------------------------------------------------

def test_sizes_and_names(model: FaceModel) -> None:
    assert 8000 <= model.n_vertices <= 40000
    assert model.n_id >= 40 and model.n_exp >= 10
    assert len(model.exp_names) == model.n_exp
    for name in REQUIRED_EXPRESSIONS:
        model.expression_index(name)
    assert len(model.metadata["id_names"]) == model.n_id
    assert model.point_buf.shape[0] == model.n_vertices
    assert model.point_buf.shape[1] <= 8                 # low valence everywhere: vertex normals stay cheap
    assert model.albedo_basis is None and model.mean_albedo is not None


def test_triangles_face_outwards(model: FaceModel) -> None:
    v, tri = model.mean_shape.astype(np.float64), model.triangles
    fn = _face_normals(v, tri)
    dots = np.einsum("fc,fc->f", fn, v[tri].mean(1) - v.mean(0))
    assert (dots > 0).mean() > 0.95
    assert (np.linalg.norm(fn, axis=1) > 1e-10).all(), "degenerate triangles"
    # Every edge is shared by at most two triangles (a manifold mesh, open only at the neck).
    e = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    assert counts.max() <= 2


def test_shared_frame(model: FaceModel) -> None:
    v = model.mean_shape
    lm = v[model.landmarks]
    crown, chin = v[:, 1].max(), lm[8, 1]
    assert 1.9 <= crown - chin <= 2.5
    assert abs(0.5 * (crown + chin)) < 0.25             # centred near the origin vertically
    assert abs(v[:, 0].mean()) < 1e-3                   # left-right symmetric
    assert -0.5 < v[:, 2].mean() < 0.5
    assert lm[30, 2] == lm[:, 2].max() and lm[30, 2] > 0.9   # the nose tip points at +z
    assert v[:, 2].min() < -0.8                          # a full head, not a mask
    # The standard camera frames it like an FFHQ crop: the face fills most of the image.
    p = _project(model, model.mean_shape)
    assert (p > 0).all() and (p < 256).all()
    assert 0.45 * 256 < p[16, 0] - p[0, 0] < 0.9 * 256
    assert p[:, 1].max() - p[:, 1].min() > 0.5 * 256


def test_landmarks_on_features(model: FaceModel) -> None:
    p = _project(model, model.mean_shape)
    x, y = p[:, 0], p[:, 1]                              # image coordinates, y down
    assert x[36] < x[39] < x[42] < x[45]                 # eye corners left to right in the image
    assert x[0] < x[8] < x[16] and np.argmax(y) == 8     # jaw; chin lowest
    assert x[48] < x[51] < x[54] and x[17] < x[21] < x[22] < x[26]
    brows, eyes = y[17:27], y[36:48]
    assert brows.max() < eyes.min()                      # brows above eyes
    assert eyes.max() < y[30] < y[33] < y[48:68].min()   # nose tip below the eyes, mouth below the nose
    assert x[39] < x[30] < x[42]                         # nose between the eyes
    assert y[62] < y[66] and y[51] < y[62] and y[66] < y[57]   # lips: outer top, inner, outer bottom
    assert y[37] < y[41] and y[44] < y[46]               # upper lids above lower lids
    assert np.allclose(x[[27, 28, 29, 30, 33, 51, 57, 62, 66, 8]], 128, atol=0.6)  # midline
    regions = model.metadata["regions"]
    assert regions["lips"][model.landmarks[[61, 62, 63, 65, 66, 67]]].all()   # inner lip contour
    assert not regions["eyes"][model.landmarks[36:48]].any()   # on the lids, not the eyeballs


# --- UV layout --------------------------------------------------------------------------------------

def test_uvs_in_unit_square_and_consistently_oriented(model: FaceModel) -> None:
    uv = model.uvs.astype(np.float64)
    assert uv.min() >= 0.0 and uv.max() <= 1.0
    t = uv[model.triangles]
    area = (t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1]) - (t[:, 2, 0] - t[:, 0, 0]) * (t[:, 1, 1] - t[:, 0, 1])
    assert (area > 0).all()


def test_uv_triangles_do_not_overlap(model: FaceModel) -> None:
    uv, tri = model.uvs.astype(np.float64), model.triangles
    count = rasterize_uv_coverage(uv, tri, 1024)
    covered = count > 0
    assert (count > 1).sum() <= 0.002 * covered.sum()   # only texel centres on shared edges
    # Shrinking every triangle a little removes shared-edge hits: then nothing may be covered twice.
    c = uv[tri].mean(1, keepdims=True)
    shrunk = (c + 0.98 * (uv[tri] - c)).reshape(-1, 2)
    count2 = rasterize_uv_coverage(shrunk, np.arange(len(shrunk)).reshape(-1, 3), 1024)
    assert count2.max() == 1


def test_face_gets_a_good_share_of_uv_space(model: FaceModel) -> None:
    mask = model.uv_mask
    assert mask.shape == (256, 256) and mask.dtype == bool
    assert mask.mean() > 0.35
    rows, cols = np.nonzero(mask)
    assert abs(cols.mean() / 256 - 0.5) < 0.05 and abs(rows.mean() / 256 - 0.5) < 0.15
    # uv_mask is the rasterised coverage of the face region (row 0 is v = 1).
    face = model.metadata["regions"]["face"]
    tri = model.triangles[face[model.triangles].all(1)]
    assert np.array_equal(mask, rasterize_uv_coverage(model.uvs, tri, 256) > 0)
    ur = model.metadata["uv_regions"]
    for key in ("eye_left", "eye_right", "lips", "brow_left", "brow_right", "nose"):
        u, v = ur[key]["center"]
        assert mask[int((1 - v) * 256), int(u * 256)], key
    assert ur["eye_left"]["center"][0] > ur["eye_right"]["center"][0]   # subject's left = image right
    assert ur["brow_left"]["center"][1] > ur["eye_left"]["center"][1] > ur["lips"]["center"][1]
    assert len(ur["iris_centres"]) == 2


def test_seam_duplicates_move_together(model: FaceModel) -> None:
    groups = _seam_groups(model.mean_shape)
    assert len(groups) > 100                             # the back seam and the ear rims
    for g in groups:
        assert len(np.unique(np.round(model.uvs[g], 6), axis=0)) == len(g), "duplicates must differ in UV"
        for basis in (model.id_basis, model.exp_basis):
            assert np.abs(basis[g] - basis[g[:1]]).max() < 1e-6


# --- bases ------------------------------------------------------------------------------------------

def test_identity_basis_is_plausible_and_local(model: FaceModel) -> None:
    disp = np.linalg.norm(model.id_basis, axis=1)          # (N, K)
    peak = disp.max(0)
    assert (peak > 0.004).all() and (peak < 0.06).all()    # 1 sd moves something by 0.4-6 mm
    moved = (disp > 0.1 * peak).mean(0)
    assert (moved < 0.25).sum() >= 30                      # mostly local components
    rng = np.random.default_rng(7)
    crown_chin = []
    for _ in range(20):
        v = model.mean_shape + model.id_basis @ np.clip(rng.standard_normal(model.n_id), -3, 3)
        crown_chin.append(v[:, 1].max() - v[model.landmarks[8], 1])
    assert 1.9 <= min(crown_chin) and max(crown_chin) <= 2.5


def test_no_self_intersection_at_three_sigma(model: FaceModel) -> None:
    """100 random faces with every identity coefficient at +-3 sd: no triangle flips against the mean
    shape (a flip is what a fold or self-intersection of a smooth deformation starts with)."""
    v0 = model.mean_shape.astype(np.float64)
    tri = model.triangles
    n0 = _face_normals(v0, tri)
    n0 /= np.linalg.norm(n0, axis=1, keepdims=True)
    rng = np.random.default_rng(123)
    basis = model.id_basis.astype(np.float64)
    worst = 1.0
    for _ in range(100):
        c = 3.0 * rng.choice([-1.0, 1.0], size=model.n_id)
        n = _face_normals(v0 + basis @ c, tri)
        cos = np.einsum("fc,fc->f", n, n0) / np.maximum(np.linalg.norm(n, axis=1), 1e-15)
        worst = min(worst, float(cos.min()))
    assert worst > 0.0


def _expect_local(model: FaceModel, name: str, inside: np.ndarray, far: np.ndarray, min_move: float) -> None:
    d = np.linalg.norm(model.exp_basis[:, :, model.expression_index(name)], axis=1)
    assert d[inside].max() >= min_move, name
    assert d[far].max() <= 0.05 * d.max() + 1e-6, name
    assert d[inside].sum() >= 0.6 * d.sum(), name


def test_expressions_move_their_regions(model: FaceModel) -> None:
    v = model.mean_shape
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    r = model.metadata["regions"]
    front = z > 0.2
    below_nose = y < -0.42
    eye_l = (np.hypot(x - 0.31, y - 0.075) < 0.25) & front
    eye_r = (np.hypot(x + 0.31, y - 0.075) < 0.25) & front
    mouth = (np.abs(x) < 0.45) & (y < -0.35) & (y > -0.95) & front
    brows = (y > 0.05) & front & (np.abs(x) < 0.75)
    _expect_local(model, "jaw_open", below_nose & (z > -0.3), y > -0.2, 0.15)
    _expect_local(model, "smile_left", (x > 0) & (y < -0.1) & (y > -0.9) & front, (x < -0.1) | (y > 0.1), 0.03)
    _expect_local(model, "smile_right", (x < 0) & (y < -0.1) & (y > -0.9) & front, (x > 0.1) | (y > 0.1), 0.03)
    _expect_local(model, "sneer_left", (x > 0) & mouth | (x > 0) & r["nose"], (x < -0.1) | (y > 0.1), 0.015)
    _expect_local(model, "sneer_right", (x < 0) & mouth | (x < 0) & r["nose"], (x > 0.1) | (y > 0.1), 0.015)
    _expect_local(model, "eye_close_left", eye_l, ~eye_l | (x < 0), 0.05)
    _expect_local(model, "eye_close_right", eye_r, ~eye_r | (x > 0), 0.05)
    _expect_local(model, "brow_raise", brows & ~r["eyes"], y < -0.1, 0.03)
    _expect_local(model, "brow_frown", brows & ~r["eyes"], y < -0.1, 0.015)
    _expect_local(model, "mouth_pucker", mouth, (y > -0.2) | (z < 0.0), 0.03)
    _expect_local(model, "cheek_puff", (y < -0.1) & (y > -0.95) & front, (y > 0.1) | (z < -0.2), 0.03)
    # Left means the subject's left (+x).
    for name, sgn in (("smile_left", 1), ("smile_right", -1), ("eye_close_left", 1), ("sneer_left", 1)):
        d = np.linalg.norm(model.exp_basis[:, :, model.expression_index(name)], axis=1)
        assert d[sgn * x > 0].sum() > 20 * d[sgn * x < 0].sum(), name


def _lm(model: FaceModel, exp: dict[str, float]) -> np.ndarray:
    e = np.zeros(model.n_exp)
    for k, s in exp.items():
        e[model.expression_index(k)] = s
    return (model.mean_shape + model.exp_basis @ e)[model.landmarks]


def test_jaw_open_opens_the_mouth_and_eye_close_closes_the_eye(model: FaceModel) -> None:
    rest, opened = _lm(model, {}), _lm(model, {"jaw_open": 1.0})
    assert rest[66, 1] - rest[62, 1] > -0.01                # lips closed at rest
    assert opened[62, 1] - opened[66, 1] > 0.1              # ~1 cm gap between the inner lips
    closed = _lm(model, {"eye_close_left": 1.0})
    gap_rest = rest[[43, 44], 1] - rest[[47, 46], 1]
    gap_closed = closed[[43, 44], 1] - closed[[47, 46], 1]
    assert (gap_rest > 0.05).all() and (np.abs(gap_closed) < 0.02).all()
    assert np.allclose(closed[36:42], rest[36:42])          # the right eye stays open


# --- regions, albedo, torch -------------------------------------------------------------------------

def test_regions_and_albedo(model: FaceModel) -> None:
    regions = model.metadata["regions"]
    for name in REGION_NAMES:
        m = regions[name]
        assert m.dtype == bool and m.shape == (model.n_vertices,) and m.any(), name
    v = model.mean_shape
    assert v[regions["scalp"], 1].mean() > v[regions["brows"], 1].mean() > v[regions["lips"], 1].mean()
    assert v[regions["neck"], 1].mean() < v[regions["lips"], 1].mean()
    assert (np.abs(v[regions["ears"], 0]) > 0.6).all()
    assert not (regions["eyes"] & regions["skin"]).any()
    alb = model.mean_albedo
    assert alb.min() >= 0 and alb.max() <= 1
    lips, skin = alb[regions["lips"]].mean(0), alb[regions["skin"] & regions["cheeks"]].mean(0)
    assert lips[0] / lips[1] > skin[0] / skin[1]             # lips are redder than skin


def test_torch_geometry_and_determinism(model: FaceModel) -> None:
    t = model.tensors()
    idc = torch.zeros(1, model.n_id)
    expc = torch.zeros(1, model.n_exp)
    shape = face_shape(t, idc, expc)
    assert torch.allclose(shape[0], t.mean_shape)
    n = vertex_normals(shape, t.triangles, t.point_buf)
    assert torch.isfinite(n).all()
    fresh = demo_face_model(cache=False)
    for key in ("mean_shape", "id_basis", "exp_basis", "triangles", "uvs", "landmarks", "mean_albedo", "uv_mask"):
        assert np.array_equal(getattr(fresh, key), getattr(model, key)), key
    # Cached models are independent copies.
    other = demo_face_model()
    other.mean_shape[:] = 0
    assert demo_face_model().mean_shape.any()
