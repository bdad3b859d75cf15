"""The pure-PyTorch hard rasteriser against a brute-force reference, plus edge cases and gradients."""
from __future__ import annotations

import pytest
import torch

from render_reference import brute_force
from styleface.render import (PinholeCamera, RasterizationSettings, interpolate_face_attributes, rasterize,
                              rasterize_screen, render_vertex_colors)
from styleface.render.cameras import project_to_screen
from styleface.render.synthetic import cap_mesh, grid_faces


def random_soup(n_faces: int, seed: int, size: int = 48):
    """Overlapping random triangles in screen space with random depths (many occlusions)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(n_faces, 1, 2, generator=g) * size
    xy = (centres + (torch.rand(n_faces, 3, 2, generator=g) - 0.5) * size * 0.5).reshape(-1, 2)
    depth = (torch.rand(n_faces, 1, generator=g) * 4 + 2 + torch.rand(n_faces, 3, generator=g) * 0.5).reshape(-1)
    faces = torch.arange(n_faces * 3).view(n_faces, 3)
    return xy, depth, faces


def agreement(frag_ids, ref_ids, tie):
    ok = (frag_ids == ref_ids) | tie.unsqueeze(-1)
    return ok.float().mean().item()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force_on_random_soup(seed):
    xy, depth, faces = random_soup(60, seed)
    size = (48, 40)
    frags = rasterize_screen(xy[None], depth[None], faces, size, znear=1e-3)
    ids, z, bary, tie = brute_force(xy, depth, faces, size)
    assert agreement(frags.pix_to_face[0], ids, tie) >= 0.999
    same = (frags.pix_to_face[0] == ids) & (ids >= 0)
    assert same.sum() > 500
    torch.testing.assert_close(frags.zbuf[0][same].double(), z[same], atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(frags.bary_coords[0][same].double(), bary[same], atol=2e-4, rtol=0)
    empty = frags.pix_to_face[0] < 0
    assert (frags.zbuf[0][empty] == -1).all() and (frags.bary_coords[0][empty] == -1).all()


def test_depth_peeling_matches_brute_force():
    xy, depth, faces = random_soup(40, 7)
    size = (40, 40)
    frags = rasterize_screen(xy[None], depth[None], faces, size, RasterizationSettings(faces_per_pixel=3),
                             znear=1e-3)
    ids, z, _, tie = brute_force(xy, depth, faces, size, k=3)
    assert frags.pix_to_face.shape == (1, 40, 40, 3)
    assert agreement(frags.pix_to_face[0], ids, tie) >= 0.999
    # Layers are sorted front to back.
    zb = frags.zbuf[0]
    both = (frags.pix_to_face[0, ..., 1] >= 0)
    assert (zb[..., 1][both] >= zb[..., 0][both]).all()


def test_mesh_through_pinhole_matches_brute_force():
    v, f, _ = cap_mesh(n=25, half_width=1.1)
    cam = PinholeCamera(64)
    frags = rasterize(v[None], f, cam)
    xy, depth = project_to_screen(cam, v[None], (64, 64))
    ids, _, _, tie = brute_force(xy[0], depth[0], f, (64, 64))
    assert agreement(frags.pix_to_face[0], ids, tie) >= 0.999
    # A closed surface patch has no holes inside its silhouette.
    assert (frags.pix_to_face[0, 20:44, 20:44] >= 0).all()


def test_occlusion_order_independent_of_face_order():
    quad = torch.tensor([[-0.5, -0.5, 0.0], [0.5, -0.5, 0.0], [0.5, 0.5, 0.0], [-0.5, 0.5, 0.0]])
    near = quad * torch.tensor([0.6, 0.6, 1.0]) + torch.tensor([0.0, 0.0, 1.0])  # closer to the camera
    verts = torch.cat([quad, near])[None]
    f_far = torch.tensor([[0, 1, 2], [0, 2, 3]])
    f_near = f_far + 4
    for faces in (torch.cat([f_far, f_near]), torch.cat([f_near, f_far])):
        colors = torch.cat([torch.zeros(4, 3), torch.ones(4, 3)])[None]
        rgb, mask = render_vertex_colors(verts, faces, colors, camera=PinholeCamera(64), background=0.5)
        assert rgb[0, :, 32, 32].tolist() == [1.0, 1.0, 1.0]  # the near quad in the middle
        assert rgb[0, :, 32, 20].tolist() == [0.0, 0.0, 0.0]  # the far quad around it
        assert rgb[0, :, 2, 2].tolist() == [0.5, 0.5, 0.5] and mask[0, 0, 2, 2] == 0


def test_empty_degenerate_and_culled_faces():
    cam = PinholeCamera(32)
    verts = torch.tensor([[[0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.6, 0.0, 0.0],  # collinear
                           [0.0, 0.3, 0.0], [0.0, 0.0, 10.5], [0.3, 0.3, 11.0],  # behind the camera
                           [float("nan"), 0.0, 0.0], [50.0, 50.0, 0.0], [51.0, 50.0, 0.0], [50.0, 51.0, 0.0]]])
    faces = torch.tensor([[0, 1, 2], [0, 0, 3], [0, 4, 5], [0, 1, 6], [7, 8, 9]])
    frags = rasterize(verts, faces, cam)
    assert (frags.pix_to_face == -1).all()
    assert frags.hits.index.numel() == 0
    # No faces at all.
    frags = rasterize(verts, torch.zeros(0, 3, dtype=torch.long), cam)
    assert frags.pix_to_face.shape == (1, 32, 32, 1) and (frags.pix_to_face == -1).all()
    rgb, mask = render_vertex_colors(verts, torch.zeros(0, 3, dtype=torch.long), torch.ones(1, 10, 3), cam)
    assert rgb.shape == (1, 3, 32, 32) and mask.sum() == 0


def test_near_plane_culls_faces_crossing_it():
    verts = torch.tensor([[[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [0.0, 1.0, 9.995]]])  # apex 0.005 from the eye
    faces = torch.tensor([[0, 1, 2]])
    assert (rasterize(verts, faces, PinholeCamera(32)).pix_to_face < 0).all()
    verts[0, 2, 2] = 5.0
    assert (rasterize(verts, faces, PinholeCamera(32)).pix_to_face >= 0).any()


def test_large_triangles_are_chunked_not_dropped():
    verts = torch.tensor([[[-3.0, -3.0, 0.0], [3.0, -3.0, 0.0], [0.0, 3.0, 0.0],
                           [-3.0, 3.0, 1.0], [3.0, 3.0, 1.0], [0.0, -3.0, 1.0]]])
    faces = torch.tensor([[0, 1, 2], [3, 5, 4]])
    full = rasterize(verts, faces, PinholeCamera(64))
    small = rasterize(verts, faces, PinholeCamera(64), RasterizationSettings(max_candidates=100))
    assert (full.pix_to_face >= 0).float().mean() > 0.9
    assert torch.equal(full.pix_to_face, small.pix_to_face)
    torch.testing.assert_close(full.bary_coords, small.bary_coords)


def test_batch_with_different_meshes_and_padding():
    v1, f1, _ = cap_mesh(n=12, half_width=0.8)
    v2 = v1 * torch.tensor([0.7, 1.2, 1.0]) + torch.tensor([0.3, 0.0, 0.5])
    f2 = grid_faces(12, 12)[:100]
    pad = torch.full((f1.shape[0] - f2.shape[0], 3), -1)
    faces = torch.stack([f1, torch.cat([f2, pad])])
    verts = torch.stack([v1, v2])
    cam = PinholeCamera(48)
    both = rasterize(verts, faces, cam)
    one = rasterize(v1[None], f1, cam)
    two = rasterize(v2[None], f2, cam)
    assert torch.equal(both.pix_to_face[0], one.pix_to_face[0])
    p2 = both.pix_to_face[1]
    expect = torch.where(two.pix_to_face[0] >= 0, two.pix_to_face[0] + f1.shape[0], -1)
    assert torch.equal(p2, expect)  # packed ids: batch 1 starts at F
    torch.testing.assert_close(both.bary_coords[1], two.bary_coords[0])


def test_cull_backfaces():
    verts = torch.tensor([[[-0.5, -0.5, 0.0], [0.5, -0.5, 0.0], [0.0, 0.5, 0.0]]])
    ccw, cw = torch.tensor([[0, 1, 2]]), torch.tensor([[0, 2, 1]])
    s = RasterizationSettings(cull_backfaces=True)
    assert (rasterize(verts, ccw, PinholeCamera(32), s).pix_to_face >= 0).any()
    assert (rasterize(verts, cw, PinholeCamera(32), s).pix_to_face < 0).all()
    assert (rasterize(verts, cw, PinholeCamera(32)).pix_to_face >= 0).any()


def test_barycentric_gradcheck_float64():
    v, f, _ = cap_mesh(n=5, half_width=0.5, dtype=torch.float64)
    cam = PinholeCamera(16)
    frags = rasterize(v[None], f, cam)
    p2f = frags.pix_to_face

    def bary_of(verts):
        from styleface.render.barycentric import barycentric_hits
        xy, depth = project_to_screen(cam, verts, (16, 16))
        h = barycentric_hits(p2f, xy, depth, f[None])
        return h.bary, h.zbuf

    vv = v[None].clone().requires_grad_()
    assert torch.autograd.gradcheck(bary_of, (vv,), eps=1e-6, atol=1e-6)


def test_gradients_reach_vertices_and_colors():
    v, f, _ = cap_mesh(n=20)
    verts = v[None].clone().requires_grad_()
    colors = torch.rand(1, v.shape[0], 3, requires_grad=True)
    rgb, mask = render_vertex_colors(verts, f, colors, camera=PinholeCamera(64))
    (rgb * torch.linspace(0, 1, 64)).sum().backward()
    assert verts.grad.abs().sum() > 0 and colors.grad.abs().sum() > 0
    assert torch.isfinite(verts.grad).all()


def test_interpolate_face_attributes_layout():
    v, f, uv = cap_mesh(n=10)
    frags = rasterize(v[None], f, PinholeCamera(32))
    attrs = uv[f]  # (F, 3, 2) packed
    out = interpolate_face_attributes(frags.pix_to_face, frags.bary_coords, attrs)
    assert out.shape == (1, 32, 32, 1, 2)
    m = frags.pix_to_face[..., 0] >= 0
    manual = (frags.bary_coords[m][:, 0, :, None] * attrs[frags.pix_to_face[m][:, 0]]).sum(1)
    torch.testing.assert_close(out[m][:, 0], manual)
    assert (out[~m] == 0).all()
    p2f, zbuf, bary, dists = frags  # unpacks like PyTorch3D's tuple
    assert dists is None and bary.shape == (1, 32, 32, 1, 3)
    d = frags.detach()
    assert not d.bary_coords.requires_grad and torch.equal(d.pix_to_face, frags.pix_to_face)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    v, f, _ = cap_mesh(n=60)
    cpu = rasterize(v[None], f, PinholeCamera(128))
    gpu = rasterize(v[None].cuda(), f.cuda(), PinholeCamera(128))
    assert (gpu.pix_to_face.cpu() == cpu.pix_to_face).float().mean() > 0.999


def test_renders_use_the_front_layer_when_peeling():
    v, f, _ = cap_mesh(n=20)
    back = v - torch.tensor([0.0, 0.0, 0.5])
    verts = torch.cat([v, back])[None]
    faces = torch.cat([f, f + v.shape[0]])
    colors = torch.rand(1, verts.shape[1], 3)
    one, m1 = render_vertex_colors(verts, faces, colors, PinholeCamera(48))
    two, m2, frags = render_vertex_colors(verts, faces, colors, PinholeCamera(48),
                                          settings=RasterizationSettings(faces_per_pixel=2), return_fragments=True)
    torch.testing.assert_close(one, two)
    assert torch.equal(m1, m2) and (frags.pix_to_face[..., 1] >= 0).sum() > 100


def test_closed_form_barycentric_backward_matches_autograd():
    from styleface.render.barycentric import _Barycentrics, pixel_barycentrics

    g = torch.Generator().manual_seed(3)
    m = 40
    xy = torch.rand(2, 3, m, generator=g, dtype=torch.float64) * 8
    depth = 1 + torch.rand(1, 3, m, generator=g, dtype=torch.float64)
    lam = torch.rand(3, m, generator=g, dtype=torch.float64) * 1.2 - 0.1  # a few pixels just outside
    lam = lam / lam.sum(0)
    px, py = (lam * xy[0]).sum(0), (lam * xy[1]).sum(0)
    w_bary, w_z = torch.randn(3, m, generator=g, dtype=torch.float64), torch.randn(m, generator=g, dtype=torch.float64)
    for perspective in (True, False):
        corners = torch.cat([xy, 1 / depth if perspective else depth]).requires_grad_()
        fused = _Barycentrics.apply(corners, px, py, perspective)
        ref = pixel_barycentrics(corners, px, py, perspective)
        torch.testing.assert_close(fused, ref)
        grads = [torch.autograd.grad((b * w_bary).sum() + (z * w_z).sum(), corners)[0] for b, z in (fused, ref)]
        torch.testing.assert_close(grads[0], grads[1])
        assert torch.autograd.gradcheck(lambda c: _Barycentrics.apply(c, px, py, perspective), (corners,))


def test_box_shape_grids_match_the_general_enumeration(monkeypatch):
    """Mid-size triangles (boxes up to SMALL_BOX pixels a side) are tested in groups of one box shape;
    the general repeat_interleave path must give the same faces, for any split between the two, also
    with tiny chunks and depth peeling."""
    from styleface.render import frontface

    v, f, _ = cap_mesh(n=30, half_width=1.1)
    xy, depth = project_to_screen(PinholeCamera(160), v[None], (160, 160))
    soup_xy, soup_depth, soup_faces = random_soup(300, 4, size=40)
    centre = soup_xy.view(-1, 3, 2).mean(1, keepdim=True)
    soup_xy = (centre + 0.25 * (soup_xy.view(-1, 3, 2) - centre)).view(-1, 2)  # overlapping small triangles
    cases = [(xy, depth, f, (160, 160)), (soup_xy[None], soup_depth[None], soup_faces, (40, 40))]
    for xy_, depth_, faces, size in cases:
        s = frontface._FaceSetup(xy_, depth_, faces[None], size, 0.0, float("inf"), True, False)
        fids = torch.nonzero(s.valid & (s.n_box > 1)).squeeze(1)
        for k, chunk in ((1, 1 << 22), (2, 1 << 22), (2, 7)):
            kwargs = dict(faces_per_pixel=k, znear=1e-3, max_candidates=chunk)
            results = []
            for small_box, min_grid in ((0, 1), (frontface.SMALL_BOX, 1), (frontface.SMALL_BOX, 60)):
                with monkeypatch.context() as mp:
                    mp.setattr(frontface, "SMALL_BOX", small_box)
                    mp.setattr(frontface, "MIN_GRID_CANDIDATES", min_grid)
                    grid_fids, groups, rest = frontface._box_shape_groups(s, fids)
                    n_grid = sum(stop - start for _, _, start, stop in groups)
                    assert n_grid + rest.numel() == fids.numel()
                    assert (n_grid == 0) == (small_box == 0) and (min_grid == 1 or rest.numel() > 0)
                    results.append(frontface.front_faces(xy_, depth_, faces[None], size, **kwargs))
            assert torch.equal(results[0], results[1]) and torch.equal(results[0], results[2])
            assert (results[0][..., 0] >= 0).sum() > 200


def test_faces_entirely_beyond_zfar_are_culled():
    cam = PinholeCamera(32)  # camera at z = 10, zfar = 50
    tri = torch.tensor([[-2.0, -2.0, 0.0], [2.0, -2.0, 0.0], [0.0, 2.0, 0.0]])
    far = tri + torch.tensor([0.0, 0.0, -45.0])  # view depth 55
    faces = torch.tensor([[0, 1, 2]])
    assert (rasterize(far[None], faces, cam).pix_to_face < 0).all()
    straddling = far.clone()
    straddling[2, 2] = -30.0  # one corner at depth 40
    assert (rasterize(straddling[None], faces, cam).pix_to_face >= 0).any()


def test_interpolation_reuses_the_rasteriser_corner_ids():
    from styleface.render.fragments import Hits
    from styleface.render.interpolate import interpolate_vertex_attributes

    v, f, _ = cap_mesh(n=20)
    verts = torch.stack([v, v.flip(0)])  # two batch elements, so the ids carry batch offsets
    frags = rasterize(verts, f, PinholeCamera(48), RasterizationSettings(faces_per_pixel=2))
    faces = f[None].expand(2, -1, -1)
    attrs = torch.rand(2, v.shape[0], 4)
    for k in (0, 1):
        hits = frags.hits.layer(k, 2)
        assert hits.vertex_ids is not None
        bare = Hits(hits.index, hits.face, hits.bary, hits.zbuf)  # ids recomputed from the faces
        torch.testing.assert_close(interpolate_vertex_attributes(hits, faces, attrs),
                                   interpolate_vertex_attributes(bare, faces, attrs), rtol=0, atol=0)
