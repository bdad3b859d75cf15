"""SH shading for the two render modes, in Deep3DFaceRecon's convention (``styleface.geometry``).

Vertex mode shades per vertex and lets the rasteriser interpolate colours (StyleFaceUV's
``TexturesVertex`` + ambient-only ``PointLights``). UV mode shades per pixel with interpolated normals,
so texture detail finer than the mesh survives.
"""
from __future__ import annotations

import torch

import math

from ..geometry import SH_A, SH_AMBIENT_INIT, SH_C, sh_irradiance


def shade_vertices(albedo: torch.Tensor, normals: torch.Tensor, gamma: torch.Tensor | None) -> torch.Tensor:
    """Per-vertex colour albedo * SH(normals) for (B, N, 3) inputs and (B, 27) gamma; None = unlit."""
    if gamma is None:
        return albedo
    return albedo * sh_irradiance(normals, gamma)


def sh_basis_channels_first(n: torch.Tensor) -> torch.Tensor:
    """geometry.sh_basis for unit normals laid out (3, M) -> (9, M) (contiguous rows, cheap backward)."""
    a, c = SH_A, SH_C
    nx, ny, nz = n[0], n[1], n[2]
    k1, k2 = a[1] * c[1], a[2] * c[2]
    return torch.stack([
        torch.full_like(nx, a[0] * c[0]),
        -k1 * ny, k1 * nz, -k1 * nx,
        k2 * nx * ny, -k2 * ny * nz,
        k2 * 0.5 / math.sqrt(3.0) * (3 * nz * nz - 1),
        -k2 * nx * nz,
        k2 * 0.5 * (nx * nx - ny * ny),
    ], dim=0)


def shade_points(albedo: torch.Tensor, normals: torch.Tensor, gamma: torch.Tensor | None,
                 counts: list[int]) -> torch.Tensor:
    """Per-pixel shading of ragged points sorted by batch, channels first: albedo (3, M), unit
    normals (3, M), gamma (B, 27), ``counts[b]`` points of element b (one small GEMM per element)."""
    if gamma is None:
        return albedo
    g = gamma.view(-1, 3, 9).clone()
    g[:, :, 0] = g[:, :, 0] + SH_AMBIENT_INIT
    basis = sh_basis_channels_first(normals)  # (9, M)
    light = torch.cat([g[i] @ part for i, part in enumerate(torch.split(basis, counts, dim=1))], 1)
    return albedo * light
