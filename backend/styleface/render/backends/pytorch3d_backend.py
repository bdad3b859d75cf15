"""Optional backend: PyTorch3D's rasteriser (conda / source builds only; never a dependency).

Screen coordinates are converted to PyTorch3D NDC (+x left, +y up, the shorter side spanning [-1, 1],
z = view depth), rasterised with ``blur_radius=0``, and PyTorch3D's packed face ids (which skip padded
faces) are mapped back to this package's b * F + f ids. Faces behind the camera are culled by PyTorch3D
itself; faces between the eye and ``znear`` are not culled (irrelevant for framed face meshes).
"""
from __future__ import annotations

import torch

from ...errors import StyleFaceError


def _import():
    from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
    from pytorch3d.structures import Meshes
    return rasterize_meshes, Meshes


def is_available() -> bool:
    try:
        _import()
        return True
    except Exception:  # ImportError, or a binary built for another torch
        return False


def why_unavailable() -> str:
    try:
        _import()
        return ""
    except Exception as e:
        return f"pytorch3d does not import ({type(e).__name__}: {e})"


def front_faces(xy: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, image_size: tuple[int, int], *,
                faces_per_pixel: int, znear: float, zfar: float, perspective_correct: bool,
                cull_backfaces: bool, settings) -> torch.Tensor:
    rasterize_meshes, Meshes = _import()
    if cull_backfaces:
        raise StyleFaceError("the pytorch3d backend does not support cull_backfaces here; use 'torch'")
    h, w = image_size
    s = min(h, w) / 2.0
    with torch.no_grad():
        verts = torch.stack([(w / 2.0 - xy[..., 0]) / s, (h / 2.0 - xy[..., 1]) / s, depth], -1).float()
        real = (faces >= 0).all(-1)  # (B, F)
        meshes = Meshes(verts=list(verts), faces=[faces[i][real[i]] for i in range(faces.shape[0])])
        p2f, _, _, _ = rasterize_meshes(
            meshes, image_size=(h, w), blur_radius=0.0, faces_per_pixel=faces_per_pixel,
            bin_size=settings.bin_size, max_faces_per_bin=settings.max_faces_per_bin,
            perspective_correct=perspective_correct, clip_barycentric_coords=False, cull_backfaces=False,
            z_clip_value=settings.z_clip_value, cull_to_frustum=settings.cull_to_frustum)
        # PyTorch3D packs the real faces of each mesh in order: packed id -> b * F + f.
        packed_to_ours = torch.nonzero(real.reshape(-1)).squeeze(1).to(p2f.device)
        return torch.where(p2f >= 0, packed_to_ours[p2f.clamp(min=0)], torch.full_like(p2f, -1))
