"""3DMM geometry shared by fitting, training, rendering and export (Deep3DFaceRecon conventions).

All functions are batched torch and differentiable; shapes are (B, N, 3) in model units.
"""
from __future__ import annotations

import math

import torch

from .facemodel.model import FaceModelTensors

# SH constants of Deep3DFaceRecon / 3DMM-Fitting-Pytorch.
SH_A = (math.pi, 2 * math.pi / math.sqrt(3.0), 2 * math.pi / math.sqrt(8.0))
SH_C = (1 / math.sqrt(4 * math.pi), math.sqrt(3.0) / math.sqrt(4 * math.pi),
        3 * math.sqrt(5.0) / math.sqrt(12 * math.pi))
SH_AMBIENT_INIT = 0.8


def face_shape(m: FaceModelTensors, id_coeff: torch.Tensor, exp_coeff: torch.Tensor) -> torch.Tensor:
    """mean + id_basis @ id + exp_basis @ exp -> (B, N, 3)."""
    shape = m.mean_shape.unsqueeze(0)
    if id_coeff.shape[1]:
        shape = shape + torch.einsum("nck,bk->bnc", m.id_basis, id_coeff)
    if exp_coeff.shape[1]:
        shape = shape + torch.einsum("nck,bk->bnc", m.exp_basis, exp_coeff)
    return shape


def face_albedo(m: FaceModelTensors, tex_coeff: torch.Tensor) -> torch.Tensor:
    """Per-vertex albedo in [0, 1] scale from the albedo basis -> (B, N, 3)."""
    if m.mean_albedo is None:
        raise ValueError("face model has no albedo")
    alb = m.mean_albedo.unsqueeze(0).expand(tex_coeff.shape[0], -1, -1)
    if m.albedo_basis is not None and tex_coeff.shape[1]:
        alb = alb + torch.einsum("nck,bk->bnc", m.albedo_basis, tex_coeff)
    return alb


def euler_rotation(angles: torch.Tensor) -> torch.Tensor:
    """Euler (x, y, z) radians -> R (B, 3, 3) = (Rz Ry Rx)^T, applied to row vectors as v @ R."""
    x, y, z = angles[:, 0], angles[:, 1], angles[:, 2]
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rx = torch.stack([one, zero, zero, zero, x.cos(), -x.sin(), zero, x.sin(), x.cos()], 1).view(-1, 3, 3)
    ry = torch.stack([y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], 1).view(-1, 3, 3)
    rz = torch.stack([z.cos(), -z.sin(), zero, z.sin(), z.cos(), zero, zero, zero, one], 1).view(-1, 3, 3)
    return (rz @ ry @ rx).transpose(1, 2)


def rigid_transform(vertices: torch.Tensor, rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """v @ R + t for (B, N, 3) vertices, (B, 3, 3) R and (B, 3) t."""
    return vertices @ rotation + translation.unsqueeze(1)


def face_normals(vertices: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """Unnormalised face normals cross(v0 - v1, v1 - v2): length = twice the area -> (B, F, 3)."""
    v0, v1, v2 = (vertices[:, triangles[:, i]] for i in range(3))
    return torch.cross(v0 - v1, v1 - v2, dim=-1)


def vertex_normals(vertices: torch.Tensor, triangles: torch.Tensor, point_buf: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals: sum of adjacent (unnormalised) face normals via point_buf."""
    fn = face_normals(vertices, triangles)
    fn = torch.cat([fn, fn.new_zeros(fn.shape[0], 1, 3)], dim=1)  # padding index -> zero normal
    vn = fn[:, point_buf].sum(dim=2)
    return torch.nn.functional.normalize(vn, dim=-1, eps=1e-12)


def sh_basis(normals: torch.Tensor) -> torch.Tensor:
    """The 9 SH basis values (Deep3DFaceRecon order and constants) for unit normals (..., 3) -> (..., 9)."""
    a, c = SH_A, SH_C
    nx, ny, nz = normals.unbind(-1)
    ones = torch.ones_like(nx)
    return torch.stack([
        a[0] * c[0] * ones,
        -a[1] * c[1] * ny,
        a[1] * c[1] * nz,
        -a[1] * c[1] * nx,
        a[2] * c[2] * nx * ny,
        -a[2] * c[2] * ny * nz,
        a[2] * c[2] * 0.5 / math.sqrt(3.0) * (3 * nz ** 2 - 1),
        -a[2] * c[2] * nx * nz,
        a[2] * c[2] * 0.5 * (nx ** 2 - ny ** 2),
    ], dim=-1)


def sh_irradiance(normals: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Per-point RGB light factor for (B, ..., 3) normals and (B, 27) gamma (+0.8 on coefficient 0)."""
    g = gamma.view(-1, 3, 9).clone()
    g[:, :, 0] = g[:, :, 0] + SH_AMBIENT_INIT
    basis = sh_basis(normals)  # (B, ..., 9)
    flat = basis.reshape(basis.shape[0], -1, 9)
    light = torch.einsum("bpk,bck->bpc", flat, g)
    return light.reshape(*basis.shape[:-1], 3)


def sh_shade(albedo: torch.Tensor, normals: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Lambertian SH shading: albedo * irradiance (works on 0-1 or 0-255 albedo)."""
    return albedo * sh_irradiance(normals, gamma)
