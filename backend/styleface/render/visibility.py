"""Texel visibility masks for StyleFaceUV's symmetric-view loss.

A texel is "accessed" by a view when changing the displacement map there changes the render. The
official code finds them by backpropagation (a zero displacement map with requires_grad, a constant
diffuse map, backward of the rendered sum, non-zero gradient); ``gradient_visibility`` does the same.
``direct_visibility`` gets the same mask without a backward pass: faces in ``pix_to_face`` -> their
vertices -> (when lit, the vertices whose positions enter those vertices' normals) -> the bilinear
texel footprint of their UVs (taps with non-zero weight only).
"""
from __future__ import annotations

import torch

from ..facemodel.coeffs import Coeffs
from .face import FaceRenderer
from .raster import rasterize
from .textures import bilinear_footprint


def gradient_visibility(renderer: FaceRenderer, coeffs: Coeffs | torch.Tensor, size: tuple[int, int],
                        displacement: torch.Tensor | None = None, diffuse_value: float = 100.0,
                        lighting: bool = True, mode: str | None = None) -> torch.Tensor:
    """(B, 1, H, W) bool: texels whose displacement gradient is non-zero (the official method).

    ``displacement`` (optional) is the map around which to probe; the official code probes at zero.
    """
    c = renderer.coeffs(coeffs)
    b = c.batch
    dev, dtype = c.rot.device, c.rot.dtype
    probe = torch.zeros(b, 3, *size, device=dev, dtype=dtype, requires_grad=True)
    disp = probe if displacement is None else displacement.detach() + probe
    diffuse = torch.full((b, 3, *size), diffuse_value, device=dev, dtype=dtype)
    with torch.enable_grad():
        out = renderer.render(c, diffuse, disp, lighting=lighting, mode=mode)
        (grad,) = torch.autograd.grad(out.image.sum(), probe, allow_unused=True)
    if grad is None:
        return torch.zeros(b, 1, *size, dtype=torch.bool, device=dev)
    return (grad != 0).any(1, keepdim=True)


def visible_vertices(pix_to_face: torch.Tensor, faces: torch.Tensor, n_vertices: int,
                     through_normals: bool = True) -> torch.Tensor:
    """(B, N) bool: vertices whose position can change the front layer of the render.

    The corners of visible faces move the barycentrics and carry the colours; with ``through_normals``
    (lit renders) every vertex sharing a face with such a corner changes its normal too.
    """
    b = pix_to_face.shape[0]
    f = faces.shape[0]
    p2f = pix_to_face[..., 0].reshape(b, -1)
    face_seen = torch.zeros(b, f + 1, dtype=torch.bool, device=faces.device)
    local = torch.where(p2f >= 0, p2f - torch.arange(b, device=faces.device).unsqueeze(1) * f, f)
    face_seen.scatter_(1, local, True)
    face_seen = face_seen[:, :f]
    flat = faces.reshape(-1)
    counts = torch.zeros(b, n_vertices, dtype=torch.int32, device=faces.device)
    counts.scatter_add_(1, flat.unsqueeze(0).expand(b, -1), face_seen.repeat_interleave(3, dim=1).int())
    verts = counts > 0
    if through_normals:
        ring_face = verts[:, faces].any(-1)  # faces touching a visible-face corner
        counts.zero_()
        counts.scatter_add_(1, flat.unsqueeze(0).expand(b, -1), ring_face.repeat_interleave(3, dim=1).int())
        verts = counts > 0
    return verts


def direct_visibility(renderer: FaceRenderer, coeffs: Coeffs | torch.Tensor, size: tuple[int, int],
                      displacement: torch.Tensor | None = None, lighting: bool = True,
                      fragments=None) -> torch.Tensor:
    """(B, 1, H, W) bool: the texels ``gradient_visibility`` marks, computed without a backward pass."""
    c = renderer.coeffs(coeffs)
    m = renderer.tensors(c.rot.device)
    if fragments is None:
        with torch.no_grad():
            geo = renderer.geometry(c, displacement)
            fragments = rasterize(geo.vertices, m.triangles, renderer.camera, renderer.settings, renderer.backend)
    n = m.uvs.shape[0]
    verts = visible_vertices(fragments.pix_to_face, m.triangles, n, through_normals=lighting)
    idx, wts = bilinear_footprint(m.uvs, size, renderer.padding_mode)  # (N, 4)
    b = verts.shape[0]
    hit = (verts.unsqueeze(-1) & (wts > 0).unsqueeze(0)).reshape(b, -1)
    mask = torch.zeros(b, size[0] * size[1], dtype=torch.int32, device=verts.device)
    mask.scatter_add_(1, idx.reshape(1, -1).expand(b, -1), hit.int())
    return (mask > 0).view(b, 1, *size)


def symmetric_weight_map(visible: torch.Tensor, visible_sym: torch.Tensor,
                         uv_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The paper's weight map for the symmetric-view photometric loss, (B, 1, H, W) float.

    1 on texels only the symmetric view sees, 0.5 on every other texel inside the UV face mask,
    0 outside it (no mask: everything counts as inside).
    """
    only_sym = visible_sym & ~visible
    w = torch.where(only_sym, 1.0, 0.5).to(torch.float32)
    if uv_mask is not None:
        w = w * uv_mask.to(w.device, w.dtype).view(1, 1, *uv_mask.shape[-2:])
    return w


def symmetric_view_weights(renderer: FaceRenderer, coeffs: Coeffs | torch.Tensor, coeffs_sym: Coeffs | torch.Tensor,
                           size: tuple[int, int], displacement: torch.Tensor | None = None,
                           displacement_sym: torch.Tensor | None = None, uv_mask: torch.Tensor | None = None,
                           method: str = "direct") -> tuple[torch.Tensor, torch.Tensor]:
    """Texel weights (B, 1, H, W) and their render into the symmetric view (B, 1, h, w), no grad.

    The per-pixel weights multiply the symmetric view's photometric loss, as in the official training
    step: the weight map is rendered unlit from the symmetric pose (with its displacement) and clamped.
    ``uv_mask`` defaults to the model's (resized by nearest neighbour when its size differs).
    """
    find = {"direct": direct_visibility, "gradient": gradient_visibility}.get(method)
    if find is None:
        raise ValueError(f"visibility method must be 'direct' or 'gradient', got {method!r}")
    vis = find(renderer, coeffs, size, displacement)
    vis_sym = find(renderer, coeffs_sym, size, displacement_sym)
    mask = uv_mask if uv_mask is not None else renderer.uv_mask
    if mask is not None and tuple(mask.shape[-2:]) != tuple(size):
        mask = torch.nn.functional.interpolate(mask.float().view(1, 1, *mask.shape[-2:]), size=size,
                                               mode="nearest")[0, 0] > 0.5
    weights = symmetric_weight_map(vis, vis_sym, None if mask is None else mask.to(vis.device))
    with torch.no_grad():
        disp = None if displacement_sym is None else displacement_sym.detach()
        out = renderer.render(coeffs_sym, weights.to(vis.device), disp, lighting=False)
    return weights, out.image.clamp(0.0, 1.0)[:, :1]
