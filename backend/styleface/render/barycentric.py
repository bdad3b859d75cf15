"""Differentiable barycentrics of the covered pixels, recomputed after the (non-differentiable) face pass.

Gradients reach vertex positions through the barycentrics and depth only, as in PyTorch3D with
``blur_radius=0``: there is no silhouette or occlusion gradient.

The unclipped case (the renderers') is one autograd Function with a closed-form backward: moving corner
j by d moves the barycentrics as moving the pixel by -w_j d would, so dL/d(x_j, y_j) = -w_j G with
G = sum_i dL/dw_i grad_p(w_i), constant per triangle. That is a few dozen vector ops where autograd
would record (and allocate for) over twice as many. ``pixel_barycentrics`` is the plain-autograd
reference (and the clipped case).
"""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .fragments import Fragments, Hits
from .interpolate import corner_ids


def _screen_barycentrics(corners: torch.Tensor, px: torch.Tensor, py: torch.Tensor):
    """Screen-space barycentrics (w0, w1, w2) of the pixel centres and 1 / (twice the signed area)."""
    (x0, x1, x2), (y0, y1, y2) = corners[0].unbind(0), corners[1].unbind(0)
    e1x, e1y = x1 - x0, y1 - y0
    e2x, e2y = x2 - x0, y2 - y0
    dx, dy = px - x0, py - y0
    inv_area = 1.0 / (e1x * e2y - e1y * e2x)
    w1 = (dx * e2y - dy * e2x) * inv_area
    w2 = (e1x * dy - e1y * dx) * inv_area
    return 1.0 - w1 - w2, w1, w2, inv_area


def pixel_barycentrics(corners: torch.Tensor, px: torch.Tensor, py: torch.Tensor, perspective_correct: bool,
                       clip: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, M) barycentrics and (M,) depth at pixel centres (px, py) from corners (3, 3, M): rows x, y,
    and 1 / z (perspective-correct) or z, each with one (M,) row per triangle corner. Plain autograd."""
    w0, w1, w2, _ = _screen_barycentrics(corners, px, py)
    z0, z1, z2 = corners[2].unbind(0)
    if clip:
        w0, w1, w2 = w0.clamp(min=0.0), w1.clamp(min=0.0), w2.clamp(min=0.0)
        inv_sum = 1.0 / (w0 + w1 + w2).clamp(min=1e-12)
        w0, w1, w2 = w0 * inv_sum, w1 * inv_sum, w2 * inv_sum
    if perspective_correct:  # z0, z1, z2 hold 1 / z here
        w0, w1, w2 = w0 * z0, w1 * z1, w2 * z2
        zbuf = 1.0 / (w0 + w1 + w2)
        w0, w1, w2 = w0 * zbuf, w1 * zbuf, w2 * zbuf
    else:
        zbuf = w0 * z0 + w1 * z1 + w2 * z2
    return torch.stack([w0, w1, w2], dim=0), zbuf


class _Barycentrics(torch.autograd.Function):
    """``pixel_barycentrics`` (unclipped) with the closed-form backward of the module docstring."""

    @staticmethod
    def forward(ctx, corners: torch.Tensor, px: torch.Tensor, py: torch.Tensor,  # type: ignore[override]
                perspective_correct: bool) -> tuple[torch.Tensor, torch.Tensor]:
        *w, inv_area = _screen_barycentrics(corners, px, py)
        w = torch.stack(w)  # (3, M)
        if perspective_correct:
            s = w * corners[2]
            zbuf = 1.0 / s.sum(0)
            bary = s * zbuf
        else:
            bary = w
            zbuf = (w * corners[2]).sum(0)
        ctx.perspective_correct = perspective_correct
        ctx.save_for_backward(corners, w, inv_area, bary, zbuf)
        return bary, zbuf

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_bary: torch.Tensor, grad_z: torch.Tensor):  # type: ignore[override]
        corners, w, inv_area, bary, zbuf = ctx.saved_tensors
        (x0, x1, x2), (y0, y1, y2), z = corners[0].unbind(0), corners[1].unbind(0), corners[2]
        if ctx.perspective_correct:
            # bary = s / sum(s), zbuf = 1 / sum(s) with s_k = w_k / z_k.
            ds = (grad_bary - ((grad_bary * bary).sum(0) + grad_z * zbuf)) * zbuf
            grad_z_rows, grad_w = ds * w, ds * z
        else:
            grad_z_rows, grad_w = grad_z * w, grad_bary + grad_z * z
        g1, g2 = grad_w[1] - grad_w[0], grad_w[2] - grad_w[0]
        gx = (g1 * (y2 - y0) - g2 * (y1 - y0)) * inv_area
        gy = (g2 * (x1 - x0) - g1 * (x2 - x0)) * inv_area
        grad = torch.stack([-w * gx, -w * gy, grad_z_rows])
        return grad, None, None, None


def barycentric_hits(pix_to_face: torch.Tensor, xy: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor,
                     *, perspective_correct: bool = True, clip: bool = False) -> Hits:
    """Barycentrics and view depth at the pixel centres of every covered slot of ``pix_to_face``.

    pix_to_face (B, H, W, K) packed ids; xy (B, V, 2) pixel coordinates; depth (B, V); faces (B, F, 3).
    """
    b, h, w, k = pix_to_face.shape
    nv = xy.shape[1]
    flat = pix_to_face.reshape(-1)
    index = torch.nonzero(flat >= 0).squeeze(1)
    face = flat.index_select(0, index)
    ids = corner_ids(faces, face, nv)
    m = face.shape[0]
    # One gather of channels-first (x, y, 1/z or z) vertex rows: every per-pixel quantity is then a
    # contiguous (M,) row. Perspective correction divides by depth: take 1 / z once per vertex.
    z = depth.reshape(1, -1).to(xy.dtype)
    rows = torch.cat([xy.permute(2, 0, 1).reshape(2, -1), z.reciprocal() if perspective_correct else z])
    corners = rows.index_select(1, ids.reshape(-1)).view(3, 3, m)
    pixel = torch.div(index, k, rounding_mode="floor")
    px = (pixel % w).to(xy.dtype) + 0.5
    py = (torch.div(pixel, w, rounding_mode="floor") % h).to(xy.dtype) + 0.5
    if clip:
        bary, zbuf = pixel_barycentrics(corners, px, py, perspective_correct, clip=True)
    else:
        bary, zbuf = _Barycentrics.apply(corners, px, py, perspective_correct)
    # (M, 3) as Hits wants it, a view of contiguous (3, M) rows.
    return Hits(index=index, face=face, bary=bary.t(), zbuf=zbuf, vertex_ids=ids, n_vertices=nv)


def make_fragments(hits: Hits, pix_to_face: torch.Tensor, faces_per_mesh: int) -> Fragments:
    """Fragments whose dense zbuf / bary_coords are scattered from the hits on first access."""
    return Fragments(pix_to_face, hits=hits, faces_per_mesh=faces_per_mesh)
