"""Geometry against hand-computed values (Deep3DFaceRecon conventions)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from styleface.camera import PinholeCamera, project_landmarks
from styleface.errors import StyleFaceError
from styleface.facemodel import BFM_LAYOUT, CoeffLayout, build_point_buf
from styleface.geometry import (euler_rotation, face_shape, rigid_transform, sh_irradiance, sh_shade,
                                vertex_normals)


def test_bfm_layout_slices():
    assert BFM_LAYOUT.size == 257
    assert BFM_LAYOUT.slice("id") == slice(0, 80)
    assert BFM_LAYOUT.slice("exp") == slice(80, 144)
    assert BFM_LAYOUT.slice("tex") == slice(144, 224)
    assert BFM_LAYOUT.slice("rot") == slice(224, 227)
    assert BFM_LAYOUT.slice("gamma") == slice(227, 254)
    assert BFM_LAYOUT.slice("trans") == slice(254, 257)
    assert BFM_LAYOUT.yaw_index == 225


def test_layout_split_roundtrip_and_other_sizes():
    lay = CoeffLayout(n_id=40, n_exp=12, n_tex=0)
    assert lay.size == 40 + 12 + 33
    v = torch.arange(2 * lay.size, dtype=torch.float32).view(2, -1)
    c = lay.split(v)
    assert c.id.shape == (2, 40) and c.tex.shape == (2, 0) and c.trans.shape == (2, 3)
    assert torch.equal(c.to_vector(), v)
    assert c.rot[0, 1].item() == lay.yaw_index
    with pytest.raises(StyleFaceError):
        lay.split(torch.zeros(3, 257))


def test_shape_from_coefficients(tiny_model):
    m = tiny_model.tensors()
    idc = torch.tensor([[1.0, -2.0]])
    exc = torch.tensor([[0.5, 0.0]])
    got = face_shape(m, idc, exc)[0].numpy()
    want = (tiny_model.mean_shape + tiny_model.id_basis @ np.array([1.0, -2.0], np.float32)
            + tiny_model.exp_basis @ np.array([0.5, 0.0], np.float32))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_euler_rotation_hand_values():
    # Pure yaw of 90 degrees: R = Ry^T; the face's front (+z) turns to +x (image right).
    r = euler_rotation(torch.tensor([[0.0, math.pi / 2, 0.0]]))
    p = torch.tensor([[[0.0, 0.0, 1.0]]]) @ r
    np.testing.assert_allclose(p[0, 0].numpy(), [1.0, 0.0, 0.0], atol=1e-6)
    # Pure pitch of 90 degrees: +y goes to +z (Rx^T applied to a row vector).
    r = euler_rotation(torch.tensor([[math.pi / 2, 0.0, 0.0]]))
    p = torch.tensor([[[0.0, 1.0, 0.0]]]) @ r
    np.testing.assert_allclose(p[0, 0].numpy(), [0.0, 0.0, 1.0], atol=1e-6)
    # Roll 90 degrees: +x goes to +y.
    r = euler_rotation(torch.tensor([[0.0, 0.0, math.pi / 2]]))
    p = torch.tensor([[[1.0, 0.0, 0.0]]]) @ r
    np.testing.assert_allclose(p[0, 0].numpy(), [0.0, 1.0, 0.0], atol=1e-6)
    # Composite order: R = (Rz Ry Rx)^T, orthonormal.
    a = torch.tensor([[0.3, -0.7, 0.2]])
    r = euler_rotation(a)[0]
    cx, sx, cy, sy, cz, sz = (math.cos(0.3), math.sin(0.3), math.cos(-0.7), math.sin(-0.7),
                              math.cos(0.2), math.sin(0.2))
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    np.testing.assert_allclose(r.numpy(), (rz @ ry @ rx).T, atol=1e-6)
    np.testing.assert_allclose((r @ r.T).numpy(), np.eye(3), atol=1e-6)


def test_rigid_transform_translation():
    v = torch.tensor([[[1.0, 2.0, 3.0]]])
    out = rigid_transform(v, torch.eye(3)[None], torch.tensor([[0.5, -1.0, 2.0]]))
    np.testing.assert_allclose(out[0, 0].numpy(), [1.5, 1.0, 5.0])


def test_area_weighted_vertex_normals():
    # Two triangles sharing vertex 0: a large one facing +z, a small one facing +x.
    v = torch.tensor([[[0, 0, 0], [2, 0, 0], [0, 2, 0], [0, 0, -1.0], [0, 1.0, 0]]], dtype=torch.float32)
    tri = torch.tensor([[0, 1, 2], [0, 3, 4]])
    buf = torch.from_numpy(build_point_buf(tri.numpy(), 5))
    n = vertex_normals(v, tri, buf)[0]
    # Face 0 normal: cross(v0-v1, v1-v2) = (0,0,4); face 1: (1,0,0) (twice the areas).
    want = np.array([1.0, 0.0, 4.0]) / math.sqrt(17.0)
    np.testing.assert_allclose(n[0].numpy(), want, atol=1e-6)
    np.testing.assert_allclose(n[1].numpy(), [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(n[3].numpy(), [1, 0, 0], atol=1e-6)


def test_point_buf_padding():
    tri = np.array([[0, 1, 2], [0, 2, 3]])
    buf = build_point_buf(tri, 5)
    assert buf.shape == (5, 2)
    assert sorted(buf[0]) == [0, 1]
    assert list(buf[1]) == [0, 2]  # padded with F = 2
    assert list(buf[4]) == [2, 2]  # isolated vertex: only padding


def test_sh_zero_gamma_is_uniform_ambient():
    n = torch.nn.functional.normalize(torch.randn(2, 50, 3), dim=-1)
    light = sh_irradiance(n, torch.zeros(2, 27))
    np.testing.assert_allclose(light.numpy(), 0.8 * 0.886227, atol=1e-5)


def test_sh_first_order_term_by_hand():
    # gamma: red channel coefficient 2 (the +nz term) = 1. At n = +z: 0.8*a0c0 + a1c1.
    g = torch.zeros(1, 27)
    g[0, 2] = 1.0
    n = torch.tensor([[[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]])
    light = sh_irradiance(n, g)[0]
    a1c1 = (2 * math.pi / math.sqrt(3)) * (math.sqrt(3) / math.sqrt(4 * math.pi))
    np.testing.assert_allclose(light[0].numpy(), [0.8 * 0.886227 + a1c1, 0.8 * 0.886227, 0.8 * 0.886227],
                               atol=1e-5)
    np.testing.assert_allclose(light[1, 0].item(), 0.8 * 0.886227 - a1c1, atol=1e-5)
    shaded = sh_shade(torch.full((1, 2, 3), 0.5), n, g)
    np.testing.assert_allclose(shaded.numpy(), 0.5 * light[None].numpy(), atol=1e-6)


def test_pinhole_projection_by_hand():
    cam = PinholeCamera(256)
    assert cam.f == 1015.0 and cam.center == 128.0
    p = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.5, 0.0], [1.0, 0.5, 5.0]])
    uv = cam.project(p).numpy()
    np.testing.assert_allclose(uv[0], [128, 128])
    np.testing.assert_allclose(uv[1], [128 + 101.5, 256 - (128 + 50.75)], atol=1e-4)
    np.testing.assert_allclose(uv[2], [128 + 203.0, 256 - (128 + 101.5)], atol=1e-4)
    half = PinholeCamera(128)
    np.testing.assert_allclose(half.project(p).numpy(), uv / 2, atol=1e-4)
    assert abs(cam.fov_degrees - math.degrees(2 * math.atan(128 / 1015))) < 1e-9


def test_landmark_projection(tiny_model):
    m = tiny_model.tensors()
    v = m.mean_shape[None]
    lm = project_landmarks(v, m.landmarks, PinholeCamera())
    assert lm.shape == (1, 68, 2)
    np.testing.assert_allclose(lm[0, 0].numpy(), [128 - 101.5, 128 + 101.5], atol=1e-4)
