"""SH shading for the two render modes, in Deep3DFaceRecon's convention (``styleface.geometry``).

Vertex mode shades per vertex and lets the rasteriser interpolate colours (StyleFaceUV's
``TexturesVertex`` + ambient-only ``PointLights``). UV mode shades per pixel with interpolated normals,
so texture detail finer than the mesh survives. ``shade_normals`` fuses the per-pixel steps
(normalise, SH basis, lighting, albedo) into one autograd Function with a closed-form backward, about a
third cheaper on CPU than autograd's replay of the ~40 recorded row operations.
"""
from __future__ import annotations

import math

import torch
from torch.autograd.function import once_differentiable

from ..geometry import SH_A, SH_AMBIENT_INIT, SH_C, sh_irradiance


def shade_vertices(albedo: torch.Tensor, normals: torch.Tensor, gamma: torch.Tensor | None) -> torch.Tensor:
    """Per-vertex colour albedo * SH(normals) for (B, N, 3) inputs and (B, 27) gamma; None = unlit."""
    if gamma is None:
        return albedo
    return albedo * sh_irradiance(normals, gamma)


def sh_basis_channels_first(n: torch.Tensor) -> torch.Tensor:
    """geometry.sh_basis for unit normals laid out (3, M) -> (9, M) (contiguous rows, cheap backward)."""
    a, c = SH_A, SH_C
    nx, ny, nz = n  # unpacking unbinds: one backward stack, no zero-filled gradient per selected row
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
    normals (3, M), gamma (B, 27), ``counts[b]`` points of element b (one small GEMM per element).
    Plain autograd; the renderer uses the fused ``shade_normals``."""
    if gamma is None:
        return albedo
    g = _ambient_coefficients(gamma)
    basis = sh_basis_channels_first(normals)  # (9, M)
    light = torch.cat([g[i] @ part for i, part in enumerate(torch.split(basis, counts, dim=1))], 1)
    return albedo * light


def _ambient_coefficients(gamma: torch.Tensor) -> torch.Tensor:
    """(B, 27) gamma -> (B, 3, 9) SH coefficients with the ambient initialisation added to band 0."""
    g = gamma.view(-1, 3, 9).clone()
    g[:, :, 0] = g[:, :, 0] + SH_AMBIENT_INIT
    return g


def _ragged_mm(mats: torch.Tensor, x: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """mats[i] (r, k) times the i-th block of counts[i] columns of x (k, M) -> (r, M), written in place
    (no autograd; avoids a cat along the columns)."""
    out = x.new_empty(mats.shape[1], x.shape[1])
    start = 0
    for mat, n in zip(mats, counts):
        torch.mm(mat, x[:, start:start + n], out=out[:, start:start + n])
        start += n
    return out


class _ShadeNormals(torch.autograd.Function):
    """albedo * SH(normalise(normals)) for (3, M) rows; coefficients (B, 3, 9); counts per element."""

    @staticmethod
    def forward(ctx, albedo: torch.Tensor, normals: torch.Tensor, coef: torch.Tensor,  # type: ignore[override]
                counts: list[int]) -> torch.Tensor:
        nx, ny, nz = normals
        sq = nx * nx + ny * ny + nz * nz
        inv_norm = sq.clamp(min=1e-24).rsqrt()
        unit = normals * inv_norm
        basis = sh_basis_channels_first(unit)
        light = _ragged_mm(coef, basis, counts)
        ctx.counts = counts
        ctx.save_for_backward(albedo, unit, inv_norm, sq > 1e-24, coef, basis, light)
        return albedo * light

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        albedo, unit, inv_norm, unclamped, coef, basis, light = ctx.saved_tensors
        grad_light = grad * albedo
        grad_coef = grad_normals = None
        if ctx.needs_input_grad[2]:
            parts = zip(torch.split(grad_light, ctx.counts, dim=1), torch.split(basis, ctx.counts, dim=1))
            grad_coef = torch.stack([g @ b.t() for g, b in parts])
        if ctx.needs_input_grad[1]:
            _, g1, g2, g3, g4, g5, g6, g7, g8 = _ragged_mm(coef.transpose(1, 2), grad_light, ctx.counts)
            a, c = SH_A, SH_C
            k1, k2 = a[1] * c[1], a[2] * c[2]
            nx, ny, nz = unit
            # The derivatives of sh_basis_channels_first's nine rows, contracted with their gradients.
            gx = k2 * (ny * g4 - nz * g7 + nx * g8) - k1 * g3
            gy = k2 * (nx * g4 - nz * g5 - ny * g8) - k1 * g1
            gz = k2 * (math.sqrt(3.0) * nz * g6 - ny * g5 - nx * g7) + k1 * g2
            # Through unit = n / |n|: (g - unit (unit . g)) / |n| (no projection where the clamp fixes |n|).
            dot = (nx * gx + ny * gy + nz * gz) * unclamped
            grad_normals = torch.stack([gx - nx * dot, gy - ny * dot, gz - nz * dot]) * inv_norm
        grad_albedo = grad * light if ctx.needs_input_grad[0] else None
        return grad_albedo, grad_normals, grad_coef, None


def shade_normals(albedo: torch.Tensor, normals: torch.Tensor, gamma: torch.Tensor | None,
                  counts: list[int]) -> torch.Tensor:
    """``shade_points`` of interpolated, not yet unit-length normals (3, M), as one fused autograd step."""
    if gamma is None:
        return albedo
    return _ShadeNormals.apply(albedo, normals, _ambient_coefficients(gamma), counts)
