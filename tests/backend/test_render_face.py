"""FaceRenderer: StyleFaceUV's vertex mode, the per-pixel UV mode, displacement, SH and the UV convention."""
from __future__ import annotations

import math

import pytest
import torch

from styleface.errors import StyleFaceError
from styleface.geometry import (euler_rotation, face_shape, rigid_transform, sh_basis, sh_irradiance,
                                vertex_normals)
from styleface.render import FaceRenderer, PinholeCamera, render_face, render_vertex_colors, sample_uv
from styleface.render.normals import VertexNormals
from styleface.render.shading import sh_basis_channels_first
from styleface.render.synthetic import cap_face_model

SIZE = 96


@pytest.fixture(scope="module")
def model():
    return cap_face_model(n=40)


def coeffs_for(model, batch=2, seed=0, yaw=(0.0, 0.5)):
    g = torch.Generator().manual_seed(seed)
    c = model.layout.split(0.5 * torch.randn(batch, model.layout.size, generator=g))
    rot = torch.zeros(batch, 3)
    rot[:, 1] = torch.tensor(yaw[:batch])
    return c.replace(rot=rot, trans=torch.zeros(batch, 3), gamma=0.2 * torch.randn(batch, 27, generator=g))


def test_zero_light_gives_the_ambient_constant(model):
    r = FaceRenderer(model, PinholeCamera(SIZE))
    c = coeffs_for(model).replace(gamma=torch.zeros(2, 27))
    white = torch.ones(1, 3, 32, 32)
    for mode in ("vertex", "uv"):
        out = r.render(c, white, mode=mode)
        inside = out.mask.expand_as(out.image) > 0
        torch.testing.assert_close(out.image[inside], torch.full_like(out.image[inside], 0.8 * math.sqrt(math.pi) / 2))
        assert (out.image[~inside] == 0).all()


def test_vertex_mode_is_the_official_pipeline(model):
    """sample maps at vertex UVs, displacement*0.01 before rotation, normals, SH per vertex, interpolate."""
    t = model.tensors("cpu")
    c = coeffs_for(model)
    g = torch.Generator().manual_seed(3)
    diffuse = torch.rand(2, 3, 32, 32, generator=g)
    disp = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    out = FaceRenderer(model, PinholeCamera(SIZE)).render(c, diffuse, disp)

    shape = face_shape(t, c.id, c.exp) + 0.01 * sample_uv(disp, t.uvs)
    normals = vertex_normals(shape, t.triangles, t.point_buf)
    rot = euler_rotation(c.rot)
    verts = rigid_transform(shape, rot, c.trans)
    colors = sample_uv(diffuse, t.uvs) * sh_irradiance(normals @ rot, c.gamma)
    rgb, mask = render_vertex_colors(verts, t.triangles, colors, camera=PinholeCamera(SIZE))
    torch.testing.assert_close(out.image, rgb, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.mask, mask)
    torch.testing.assert_close(out.geometry.vertices, verts, atol=1e-6, rtol=1e-6)


def test_displacement_is_a_model_space_xyz_offset_before_rotation(model):
    t = model.tensors("cpu")
    c = coeffs_for(model)
    disp = torch.zeros(1, 3, 16, 16)
    disp[:, 0] = 0.5  # +x in model space
    geo = FaceRenderer(model).geometry(c, disp)
    base = face_shape(t, c.id, c.exp)
    torch.testing.assert_close(geo.shape - base, torch.tensor([0.005, 0.0, 0.0]).expand_as(base))
    expect = rigid_transform(base + torch.tensor([0.005, 0.0, 0.0]), euler_rotation(c.rot), c.trans)
    torch.testing.assert_close(geo.vertices, expect)
    # Scale and mid-level are parameters (metadata travels with every map).
    geo2 = FaceRenderer(model, displacement_midlevel=0.5).geometry(c, torch.full_like(disp, 0.5),
                                                                   displacement_scale=0.02)
    torch.testing.assert_close(geo2.shape, base)


def test_uv_convention_row0_is_v1():
    tex = torch.zeros(1, 3, 4, 8)
    tex[0, 0, 0] = 1.0  # red on row 0
    tex[0, 2, -1] = 1.0  # blue on the last row
    uv = torch.tensor([[[0.5, 1 - 0.5 / 4], [0.5, 0.5 / 4], [0.5 / 8, 0.5]]])
    out = sample_uv(tex, uv)
    assert out[0, 0].tolist() == [1.0, 0.0, 0.0]
    assert out[0, 1].tolist() == [0.0, 0.0, 1.0]


def test_uv_mode_approximates_vertex_mode_for_smooth_maps(model):
    c = coeffs_for(model)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    smooth = torch.stack([0.5 + 0.3 * xx, 0.4 + 0.2 * yy, 0.3 + 0.1 * xx * yy])[None]
    r = FaceRenderer(model, PinholeCamera(SIZE))
    a, b = r.render(c, smooth), r.render(c, smooth, mode="uv")
    m = a.mask.expand_as(a.image) > 0
    assert (a.image - b.image)[m].abs().mean() < 0.01
    assert torch.equal(a.mask, b.mask)


@pytest.mark.parametrize("mode", ["vertex", "uv"])
def test_gradients_reach_maps_and_coefficients(model, mode):
    c = coeffs_for(model)
    c = c.replace(id=c.id.clone().requires_grad_(), gamma=c.gamma.clone().requires_grad_(),
                  rot=c.rot.clone().requires_grad_())
    diffuse = torch.rand(2, 3, 32, 32).requires_grad_()
    disp = torch.zeros(2, 3, 32, 32).requires_grad_()
    out = FaceRenderer(model, PinholeCamera(SIZE), mode=mode).render(c, diffuse, disp)
    (out.image * torch.linspace(0, 1, SIZE)).sum().backward()
    for t in (diffuse, disp, c.id, c.gamma, c.rot):
        assert t.grad is not None and t.grad.abs().sum() > 0 and torch.isfinite(t.grad).all()


def test_batch_matches_single_renders(model):
    c = coeffs_for(model)
    diffuse = torch.rand(2, 3, 32, 32)
    r = FaceRenderer(model, PinholeCamera(SIZE), mode="uv")
    both = r.render(c, diffuse)
    for i in range(2):
        ci = type(c)(**{k: getattr(c, k)[i:i + 1] for k in ("id", "exp", "tex", "rot", "gamma", "trans")})
        one = r.render(ci, diffuse[i:i + 1])
        torch.testing.assert_close(both.image[i], one.image[0])


def test_albedo_from_model_unlit_maps_flat_vectors_and_errors(model):
    c = coeffs_for(model, batch=1, yaw=(0.2,))
    out = render_face(model, c.to_vector(), image_size=SIZE, background=0.25)  # model albedo, flat vector
    assert out.image.shape == (1, 3, SIZE, SIZE) and out.image[0, :, 0, 0].tolist() == [0.25] * 3
    weight = torch.full((1, 1, 16, 16), 0.5)
    w = FaceRenderer(model, PinholeCamera(SIZE)).render(c, weight, lighting=False)
    assert w.image.shape == (1, 1, SIZE, SIZE)
    inside = w.mask > 0
    torch.testing.assert_close(w.image[inside], torch.full_like(w.image[inside], 0.5))
    assert (w.image[~inside] == 0).all()
    with pytest.raises(StyleFaceError):
        FaceRenderer(model, mode="nope")
    with pytest.raises(StyleFaceError):
        FaceRenderer(model).render(c, torch.rand(3, 32, 32))
    with pytest.raises(StyleFaceError):
        FaceRenderer(model).render(c, weight)  # lit needs 3 channels


def test_fast_normals_and_channels_first_sh_match_geometry(model):
    t = model.tensors("cpu")
    v = (t.mean_shape[None] + 0.02 * torch.randn(2, *t.mean_shape.shape)).double().requires_grad_()
    ref = vertex_normals(v, t.triangles, t.point_buf)
    fast = VertexNormals(t.triangles, t.point_buf)(v)
    torch.testing.assert_close(fast, ref)
    w = torch.randn_like(ref)
    g_ref, = torch.autograd.grad((ref * w).sum(), v)
    g_fast, = torch.autograd.grad((fast * w).sum(), v)
    torch.testing.assert_close(g_fast, g_ref)
    n = torch.nn.functional.normalize(torch.randn(50, 3), dim=-1)
    torch.testing.assert_close(sh_basis_channels_first(n.t()).t(), sh_basis(n))


def test_normal_displacement_mode_moves_along_the_normal(model):
    t = model.tensors("cpu")
    c = coeffs_for(model)
    disp = torch.zeros(1, 3, 16, 16)
    disp[:, 0] = 1.0
    geo = FaceRenderer(model, displacement_mode="normal").geometry(c, disp)
    base = face_shape(t, c.id, c.exp)
    n0 = vertex_normals(base, t.triangles, t.point_buf)
    torch.testing.assert_close(geo.shape - base, 0.01 * n0, atol=1e-6, rtol=1e-5)


def test_bfm_sized_render_is_fast_enough():
    """Timing guard: a BFM-sized (35k vertices, 70k faces) 256 px render, forward and backward, B = 1."""
    import time

    big = cap_face_model(n=189, n_id=4, n_exp=4, n_tex=2)
    r = FaceRenderer(big)
    c = big.layout.zeros(1).replace(gamma=0.1 * torch.ones(1, 27))
    diffuse = torch.rand(1, 3, 256, 256).requires_grad_()
    r.render(c, diffuse)  # warm-up (operators, allocator)
    start = time.perf_counter()
    out = r.render(c, diffuse, mode="uv")
    out.image.sum().backward()
    assert time.perf_counter() - start < 5.0  # ~0.1 s normally; generous for shared CI cores
    assert 0.5 < out.mask.mean() < 0.8


@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_sparse_uv_sampler_equals_grid_sample(padding):
    from styleface.render.textures import UVSampler

    g = torch.Generator().manual_seed(2)
    uv = torch.cat([torch.rand(300, 2, generator=g), torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])])
    maps = torch.rand(2, 3, 20, 24, generator=g, dtype=torch.float64).requires_grad_()
    ref = sample_uv(maps, uv[None], padding)
    out = UVSampler(uv, padding)(maps)
    torch.testing.assert_close(out, ref)
    w = torch.randn_like(ref)
    torch.testing.assert_close(torch.autograd.grad((out * w).sum(), maps)[0],
                               torch.autograd.grad((ref * w).sum(), maps)[0])


def test_fused_pixel_shading_matches_the_autograd_composition():
    """shade_normals (normalise + SH + albedo with a closed-form backward) against normalising and
    shade_points with plain autograd, including an empty batch element and a near-zero normal (where the
    length clamp holds)."""
    from styleface.render.shading import shade_normals, shade_points

    g = torch.Generator().manual_seed(4)
    counts = [9, 0, 6, 11]
    m = sum(counts)
    albedo = torch.rand(3, m, generator=g, dtype=torch.float64).requires_grad_()
    normals = torch.randn(3, m, generator=g, dtype=torch.float64)
    normals[:, 3] = torch.tensor([3e-13, -2e-13, 5e-13])
    normals.requires_grad_()
    gamma = (0.3 * torch.randn(4, 27, generator=g, dtype=torch.float64)).requires_grad_()
    unit = lambda n: n / (n * n).sum(0, keepdim=True).clamp(min=1e-24).sqrt()  # noqa: E731
    fused = shade_normals(albedo, normals, gamma, counts)
    ref = shade_points(albedo, unit(normals), gamma, counts)
    torch.testing.assert_close(fused, ref)
    w = torch.randn(3, m, generator=g, dtype=torch.float64)
    inputs = (albedo, normals, gamma)
    for a, b in zip(torch.autograd.grad((fused * w).sum(), inputs), torch.autograd.grad((ref * w).sum(), inputs)):
        torch.testing.assert_close(a, b)
    nonzero = normals.detach().clone()
    nonzero[:, 3] = 1.0
    assert torch.autograd.gradcheck(lambda a, n, gm: shade_normals(a, n, gm, counts),
                                    (albedo, nonzero.requires_grad_(), gamma))
    assert shade_normals(albedo, normals, None, counts) is albedo
    (g_normals,) = torch.autograd.grad(shade_normals(albedo, normals, gamma, counts).sum(), normals,
                                       create_graph=True)
    with pytest.raises(RuntimeError):  # once differentiable: no second derivatives
        g_normals.sum().backward()


def test_learnable_background_gets_the_uncovered_pixels_gradient():
    from styleface.render.fragments import Hits
    from styleface.render.interpolate import scatter_image

    background = torch.tensor([0.1, 0.2, 0.3], requires_grad=True)
    values = torch.rand(3, 4, requires_grad=True)
    hits = Hits(torch.tensor([0, 5, 9, 20]), torch.zeros(4, dtype=torch.long), torch.zeros(4, 3), torch.zeros(4))
    img = scatter_image(hits, values, 2, (3, 4), 1, background, channels_first=True)
    assert torch.equal(img[0, :, 1, 1], values[:, 1]) and torch.equal(img[0, :, 0, 1], background)
    img.sum().backward()
    assert background.grad.tolist() == [20.0, 20.0, 20.0]  # 2 * 3 * 4 pixels, 4 covered
    assert (values.grad == 1).all()
