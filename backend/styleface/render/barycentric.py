"""Differentiable barycentrics of the covered pixels, recomputed after the (non-differentiable) face pass.

Gradients reach vertex positions through the barycentrics and depth only, as in PyTorch3D with
``blur_radius=0``: there is no silhouette or occlusion gradient.
"""
from __future__ import annotations

import torch

from .fragments import Fragments, Hits
from .interpolate import corner_ids


def barycentric_hits(pix_to_face: torch.Tensor, xy: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor,
                     *, perspective_correct: bool = True, clip: bool = False) -> Hits:
    """Barycentrics and view depth at the pixel centres of every covered slot of ``pix_to_face``.

    pix_to_face (B, H, W, K) packed ids; xy (B, V, 2) pixel coordinates; depth (B, V); faces (B, F, 3).
    """
    b, h, w, k = pix_to_face.shape
    f, nv = faces.shape[1], xy.shape[1]
    flat = pix_to_face.reshape(-1)
    index = torch.nonzero(flat >= 0).squeeze(1)
    face = flat.index_select(0, index)
    gid = corner_ids(faces, face, nv).reshape(-1)
    m = face.shape[0]
    vx = xy[..., 0].reshape(-1).index_select(0, gid).view(3, m)
    vy = xy[..., 1].reshape(-1).index_select(0, gid).view(3, m)
    vz = depth.reshape(-1).index_select(0, gid).view(3, m)
    pixel = torch.div(index, k, rounding_mode="floor")
    px = (pixel % w).to(xy.dtype) + 0.5
    py = (torch.div(pixel, w, rounding_mode="floor") % h).to(xy.dtype) + 0.5

    x0, y0 = vx[0], vy[0]
    e1x, e1y = vx[1] - x0, vy[1] - y0
    e2x, e2y = vx[2] - x0, vy[2] - y0
    dx, dy = px - x0, py - y0
    area = e1x * e2y - e1y * e2x
    w1 = (dx * e2y - dy * e2x) / area
    w2 = (e1x * dy - e1y * dx) / area
    bary = torch.stack([1.0 - w1 - w2, w1, w2], dim=0)  # (3, M)
    if clip:
        bary = bary.clamp(min=0.0)
        bary = bary / bary.sum(0, keepdim=True).clamp(min=1e-12)
    if perspective_correct:
        q = bary / vz
        s = q.sum(0)
        bary = q / s
        zbuf = 1.0 / s
    else:
        zbuf = (bary * vz).sum(0)
    bary = bary.t()
    return Hits(index=index, face=face, bary=bary, zbuf=zbuf)


def make_fragments(hits: Hits, pix_to_face: torch.Tensor, faces_per_mesh: int) -> Fragments:
    """Fragments whose dense zbuf / bary_coords are scattered from the hits on first access."""
    return Fragments(pix_to_face, hits=hits, faces_per_mesh=faces_per_mesh)
