"""``rasterize``: the one entry point of the hard rasteriser, whatever backend finds the front faces.

A backend only answers "which face is in front at each pixel centre" (no autograd); barycentrics and
depth are then recomputed here with autograd, so every backend has the same gradients and layout.
"""
from __future__ import annotations

import torch

from ..errors import StyleFaceError
from .backends import get_backend
from .barycentric import barycentric_hits, make_fragments
from .cameras import Camera, PinholeCamera, camera_image_size, project_to_screen
from .fragments import Fragments
from .settings import RasterizationSettings


def batch_faces(faces: torch.Tensor, batch: int) -> torch.Tensor:
    """(F, 3) or (B, F, 3) integer faces -> (B, F, 3) int64 (a view when shared)."""
    if faces.dim() == 2:
        faces = faces.unsqueeze(0).expand(batch, -1, -1)
    if faces.dim() != 3 or faces.shape[-1] != 3 or faces.shape[0] != batch:
        raise StyleFaceError(f"faces must be (F, 3) or ({batch}, F, 3), got {tuple(faces.shape)}")
    if faces.dtype.is_floating_point:
        raise StyleFaceError("faces must be an integer tensor")
    return faces.long()


def rasterize_screen(xy: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, image_size: tuple[int, int],
                     settings: RasterizationSettings | None = None, *, znear: float = 0.0,
                     zfar: float = float("inf"), perspective: bool = True, backend: str = "torch") -> Fragments:
    """Rasterise screen-space vertices: xy (B, V, 2) pixel coordinates, depth (B, V) view depth."""
    settings = settings or RasterizationSettings()
    if settings.z_clip_value is not None:
        znear = max(znear, float(settings.z_clip_value))
    perspective_correct = perspective if settings.perspective_correct is None else settings.perspective_correct
    faces = batch_faces(faces, xy.shape[0])
    p2f = get_backend(backend).front_faces(
        xy, depth, faces, image_size, faces_per_pixel=settings.faces_per_pixel, znear=znear, zfar=zfar,
        perspective_correct=perspective_correct, cull_backfaces=settings.cull_backfaces, settings=settings)
    hits = barycentric_hits(p2f, xy, depth, faces, perspective_correct=perspective_correct,
                            clip=bool(settings.clip_barycentric_coords))
    return make_fragments(hits, p2f, faces.shape[1])


def rasterize(vertices: torch.Tensor, faces: torch.Tensor, camera: Camera | None = None,
              settings: RasterizationSettings | None = None, backend: str = "torch") -> Fragments:
    """Hard-rasterise (B, V, 3) vertices (world/camera frame of ``camera``) -> PyTorch3D ``Fragments``.

    ``camera`` defaults to the project pinhole (focal 1015 at 256 px, camera at z = 10).
    """
    if vertices.dim() != 3 or vertices.shape[-1] != 3:
        raise StyleFaceError(f"vertices must be (B, V, 3), got {tuple(vertices.shape)}")
    camera = camera if camera is not None else PinholeCamera()
    settings = settings or RasterizationSettings()
    size = settings.resolved_size(camera_image_size(camera))
    xy, depth = project_to_screen(camera, vertices, size)
    return rasterize_screen(xy, depth, faces, size, settings, znear=camera.znear, zfar=camera.zfar,
                            perspective=True, backend=backend)


class MeshRasterizer(torch.nn.Module):
    """PyTorch3D-style holder of a camera and settings: ``MeshRasterizer(cam, s)(verts, faces)``."""

    def __init__(self, cameras: Camera | None = None, raster_settings: RasterizationSettings | None = None,
                 backend: str = "torch") -> None:
        super().__init__()
        self.cameras = cameras if cameras is not None else PinholeCamera()
        self.raster_settings = raster_settings or RasterizationSettings()
        self.backend = backend

    def forward(self, vertices: torch.Tensor, faces: torch.Tensor, cameras: Camera | None = None) -> Fragments:
        return rasterize(vertices, faces, cameras or self.cameras, self.raster_settings, self.backend)
