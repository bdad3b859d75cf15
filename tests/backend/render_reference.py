"""Brute-force per-pixel reference rasteriser for the render tests (float64, loops over faces)."""
from __future__ import annotations

import torch


def brute_force(xy: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, size: tuple[int, int],
                znear: float = 1e-3, k: int = 1):
    """Per pixel centre, the k nearest faces whose triangle contains it (inclusive edges).

    xy (V, 2) pixel coordinates, depth (V,) view depth, faces (F, 3). Returns (face ids (H, W, k),
    depth (H, W, k), bary (H, W, k, 3), tie mask (H, W)) where tie marks pixels whose answer is
    ambiguous (a pixel centre on an edge, or two candidates at nearly the same depth).
    """
    h, w = size
    xy, depth = xy.double(), depth.double()
    py, px = torch.meshgrid(torch.arange(h, dtype=torch.float64) + 0.5,
                            torch.arange(w, dtype=torch.float64) + 0.5, indexing="ij")
    p = torch.stack([px, py], -1).reshape(-1, 2)
    zs = torch.full((p.shape[0], faces.shape[0]), float("inf"), dtype=torch.float64)
    bs = torch.zeros(p.shape[0], faces.shape[0], 3, dtype=torch.float64)
    edge = torch.zeros(p.shape[0], dtype=torch.bool)
    for fi, (a, b, c) in enumerate(faces.tolist()):
        if min(a, b, c) < 0:
            continue
        v0, v1, v2 = xy[a], xy[b], xy[c]
        z = depth[[a, b, c]]
        if (z <= znear).any():
            continue
        area = (v1[0] - v0[0]) * (v2[1] - v0[1]) - (v1[1] - v0[1]) * (v2[0] - v0[0])
        if area == 0:
            continue
        d = p - v0
        w1 = (d[:, 0] * (v2[1] - v0[1]) - d[:, 1] * (v2[0] - v0[0])) / area
        w2 = ((v1[0] - v0[0]) * d[:, 1] - (v1[1] - v0[1]) * d[:, 0]) / area
        w0 = 1 - w1 - w2
        bary = torch.stack([w0, w1, w2], -1)
        inside = (bary >= 0).all(-1)
        edge |= ((bary.abs() < 1e-4).any(-1) & (bary >= -1e-4).all(-1))
        q = bary / z
        zpix = 1.0 / q.sum(-1)
        zs[inside, fi] = zpix[inside]
        bs[inside, fi] = (q / q.sum(-1, keepdim=True))[inside]
    order = torch.sort(zs, dim=1)
    top = order.indices[:, :k]
    ztop = order.values[:, :k]
    ids = torch.where(torch.isfinite(ztop), top, torch.full_like(top, -1))
    bary = torch.gather(bs, 1, top.unsqueeze(-1).expand(-1, -1, 3))
    tie = edge
    if zs.shape[1] > 1:
        z01 = order.values[:, :k + 1] if k + 1 <= zs.shape[1] else order.values
        gaps = (z01[:, 1:] - z01[:, :-1]).abs()
        tie = tie | (torch.isfinite(z01[:, 1:]) & (gaps < 1e-6 * z01[:, :-1].abs().clamp(min=1))).any(-1)
    return (ids.view(h, w, k), ztop.view(h, w, k), bary.view(h, w, k, 3), tie.view(h, w))
