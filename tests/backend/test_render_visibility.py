"""Texel visibility: the official gradient method and the direct method agree; the symmetric weight map."""
from __future__ import annotations

import pytest
import torch

from styleface.render import (FaceRenderer, PinholeCamera, bilinear_footprint, direct_visibility,
                              gradient_visibility, rasterize, sample_uv, symmetric_weight_map, visible_vertices)
from styleface.render.synthetic import cap_face_model, cap_mesh


@pytest.fixture(scope="module")
def nosy_model():
    """The test cap with a nose, so that turned views hide part of the surface."""
    m = cap_face_model(n=40)
    x, y = m.mean_shape[:, 0], m.mean_shape[:, 1]
    m.mean_shape[:, 2] += 0.6 * torch.exp(-torch.as_tensor(x ** 2 + (y + 0.1) ** 2) / 0.04).numpy()
    return m


@pytest.mark.parametrize("mode", ["vertex", "uv"])
def test_gradient_and_direct_methods_agree(nosy_model, mode):
    r = FaceRenderer(nosy_model, PinholeCamera(128), mode=mode)
    c = nosy_model.layout.zeros(3)
    g = torch.Generator().manual_seed(1)
    c = c.replace(gamma=0.3 * torch.randn(3, 27, generator=g),
                  rot=torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.7, 0.0], [0.2, -1.1, 0.0]]))
    grad = gradient_visibility(r, c, (96, 96))
    direct = direct_visibility(r, c, (96, 96))
    assert grad.shape == (3, 1, 96, 96) and grad.dtype == torch.bool
    agree = (grad == direct).float().mean().item()
    assert agree >= 0.999, agree
    counts = direct.sum((1, 2, 3))
    assert counts[1] < counts[0] and counts[2] < counts[0]  # turned views miss the far cheek
    assert counts[0] > 0.3 * 96 * 96


def test_occluded_sheet_is_not_visible():
    v, f, uv = cap_mesh(n=10, half_width=0.5)
    back = v - torch.tensor([0.0, 0.0, 1.0])
    verts = torch.cat([v, back])[None]
    faces = torch.cat([f, f + v.shape[0]])
    frags = rasterize(verts, faces, PinholeCamera(64))
    vis = visible_vertices(frags.pix_to_face, faces, verts.shape[1], through_normals=False)
    assert vis[0, : v.shape[0]].all() and not vis[0, v.shape[0]:].any()


@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_bilinear_footprint_is_exactly_where_grid_sample_sends_gradient(padding):
    g = torch.Generator().manual_seed(0)
    uv = torch.cat([torch.rand(200, 2, generator=g), torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0],
                                                                    [0.5 / 16, 1 - 0.5 / 12]])])
    for i in range(uv.shape[0]):
        tex = torch.zeros(1, 1, 12, 16, requires_grad=True)
        sample_uv(tex, uv[None, i:i + 1], padding).sum().backward()
        idx, w = bilinear_footprint(uv[i], (12, 16), padding)
        expect = torch.zeros(12 * 16, dtype=torch.bool)
        expect[idx[w > 0]] = True
        assert torch.equal(tex.grad.view(-1) != 0, expect), (i, uv[i])


def test_symmetric_weight_map_values():
    orig = torch.tensor([[[[True, True, False, False]]]])
    sym = torch.tensor([[[[False, True, True, False]]]])
    mask = torch.tensor([[1, 1, 1, 0]], dtype=torch.bool)
    w = symmetric_weight_map(orig, sym, mask)
    assert w.tolist() == [[[[0.5, 0.5, 1.0, 0.0]]]]
    assert symmetric_weight_map(orig, sym).tolist() == [[[[0.5, 0.5, 1.0, 0.5]]]]


def test_symmetric_view_weights_render_into_the_symmetric_view(nosy_model):
    from styleface.render import symmetric_view_weights
    r = FaceRenderer(nosy_model, PinholeCamera(64))
    c = nosy_model.layout.zeros(1).replace(gamma=0.2 * torch.ones(1, 27), rot=torch.tensor([[0.0, 0.6, 0.0]]))
    c_sym = c.replace(rot=torch.tensor([[0.0, -0.6, 0.0]]))
    texels, pixels = symmetric_view_weights(r, c, c_sym, (64, 64))
    assert texels.shape == (1, 1, 64, 64) and pixels.shape == (1, 1, 64, 64)
    assert set(texels.unique().tolist()) == {0.5, 1.0}  # the cap model's UV mask is all ones
    mask = r.render(c_sym).mask
    assert (pixels[mask == 0] == 0).all()
    assert pixels[mask > 0].min() >= 0.5 - 1e-6 and pixels.max() <= 1.0
    assert (pixels > 0.75).any()  # texels only the symmetric view sees show up there
