from __future__ import annotations

import numpy as np

from styleface.uvbake import bake_vertex_attributes, dilate, rasterize_uv


def test_bake_linear_attribute_is_exact():
    # Two triangles covering the unit square; attribute = u + 2v is linear so interpolation is exact.
    uvs = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    tri = np.array([[0, 1, 2], [0, 2, 3]])
    vals = (uvs[:, :1] + 2 * uvs[:, 1:]).astype(np.float32)
    m, cov = bake_vertex_attributes(uvs, tri, vals, 16)
    assert cov.all()
    c = (np.arange(16) + 0.5) / 16
    u, v = np.meshgrid(c, 1 - c)
    np.testing.assert_allclose(m[0], u + 2 * v, atol=1e-5)


def test_rasterize_uv_partial_coverage_and_ids():
    uvs = np.array([[0, 0], [0.5, 0], [0, 0.5]], np.float32)
    fid, bary = rasterize_uv(uvs, np.array([[0, 1, 2]]), 8)
    assert (fid >= 0).sum() in range(6, 12)  # about an eighth of 64 texels
    assert fid[-1, 0] == 0 and fid[0, -1] == -1  # bottom-left corner is v=0,u=0
    np.testing.assert_allclose(bary[fid >= 0].sum(1), 1.0, atol=1e-6)


def test_dilate_fills_border():
    m = np.zeros((1, 4, 4), np.float32)
    cov = np.zeros((4, 4), bool)
    m[0, 1, 1] = 5.0
    cov[1, 1] = True
    out = dilate(m, cov, iterations=1)
    assert out[0, 0, 1] == 5.0 and out[0, 1, 2] == 5.0 and out[0, 3, 3] == 0.0
