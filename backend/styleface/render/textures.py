"""UV-map sampling in the project's convention (StyleFaceUV's): maps (B, C, H, W) with row 0 at v = 1,
sampled bilinearly at grid (2u - 1, 1 - 2v) with ``align_corners=False``.

The official code uses grid_sample's default zero padding, which halves the colour of vertices on the
map border (BFM has v = 1.0 vertices); the default here is ``border``; pass ``padding_mode="zeros"`` to
reproduce the official numbers exactly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .sparse import SparseMM, csr_matrix


def uv_to_grid(uv: torch.Tensor) -> torch.Tensor:
    """(..., 2) UVs in [0, 1] (v up) -> grid_sample coordinates (2u - 1, 1 - 2v)."""
    return torch.stack([2.0 * uv[..., 0] - 1.0, 1.0 - 2.0 * uv[..., 1]], dim=-1)


def sample_uv(maps: torch.Tensor, uv: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
    """Sample (B, C, H, W) maps at uv (B or 1, N, 2) -> (B, N, C)."""
    b = maps.shape[0]
    if uv.shape[0] != b:
        uv = uv.expand(b, -1, -1)
    grid = uv_to_grid(uv.to(maps.dtype)).unsqueeze(1)  # (B, 1, N, 2)
    out = F.grid_sample(maps, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)
    return out[:, :, 0].transpose(1, 2)


def bilinear_footprint(uv: torch.Tensor, size: tuple[int, int], padding_mode: str = "border"
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """The texels grid_sample reads for each UV: (flat texel index (..., 4), weight (..., 4)).

    Taps outside the map get weight 0 (zeros padding) or are clamped first (border padding), exactly as
    grid_sample with align_corners=False does, so a non-zero weight marks a texel that receives gradient.
    """
    h, w = size
    g = uv_to_grid(uv)
    x = ((g[..., 0] + 1.0) * w - 1.0) / 2.0
    y = ((g[..., 1] + 1.0) * h - 1.0) / 2.0
    if padding_mode == "border":
        x = x.clamp(0, w - 1)
        y = y.clamp(0, h - 1)
    x0, y0 = torch.floor(x), torch.floor(y)
    fx, fy = x - x0, y - y0
    xs = torch.stack([x0, x0 + 1, x0, x0 + 1], -1)
    ys = torch.stack([y0, y0, y0 + 1, y0 + 1], -1)
    wts = torch.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], -1)
    inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    wts = torch.where(inside, wts, torch.zeros_like(wts))
    idx = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).long()
    return idx, wts


class UVSampler:
    """Bilinear sampling of UV maps at fixed per-vertex UVs: ``sampler(maps) -> (B, N, C)``.

    Equals ``sample_uv(maps, uvs)``. On CPU it is a constant sparse matrix (4 taps per vertex, from
    ``bilinear_footprint``) times the flattened maps, whose backward is the transposed product: several
    times cheaper than grid_sample's backward at BFM size. Other devices use grid_sample.
    """

    def __init__(self, uvs: torch.Tensor, padding_mode: str = "border") -> None:
        self.uvs = uvs
        self.padding_mode = padding_mode
        self._ops: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def _operators(self, size: tuple[int, int], device: torch.device, dtype: torch.dtype):
        key = (size, str(device), dtype)
        if key not in self._ops:
            uv = self.uvs.to(device=device, dtype=torch.float64)
            idx, wts = bilinear_footprint(uv, size, self.padding_mode)  # (N, 4)
            n = uv.shape[0]
            rows = torch.arange(n, device=device).repeat_interleave(4)
            cols, vals = idx.reshape(-1), wts.reshape(-1).to(dtype)
            hw = size[0] * size[1]
            self._ops[key] = (csr_matrix(rows, cols, vals, (n, hw)), csr_matrix(cols, rows, vals, (hw, n)))
        return self._ops[key]

    def __call__(self, maps: torch.Tensor) -> torch.Tensor:
        if maps.device.type != "cpu":
            return sample_uv(maps, self.uvs.to(maps.device).unsqueeze(0), self.padding_mode)
        b, c, h, w = maps.shape
        s, s_t = self._operators((h, w), maps.device, maps.dtype)
        flat = maps.reshape(b * c, h * w).t().contiguous()  # (HW, B*C)
        return SparseMM.apply(s, s_t, flat).view(-1, b, c).permute(1, 0, 2)
