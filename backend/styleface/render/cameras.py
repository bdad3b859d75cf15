"""Cameras for the rasteriser: the project's pinhole plus PyTorch3D-style FoV / look-at equivalents.

Every camera reduces to one thing the rasteriser needs: continuous pixel coordinates (x right, y down,
pixel (row i, col j) centred at (j + 0.5, i + 0.5)) and a positive view depth. The pinhole camera of
``styleface.camera`` already works in pixels; the NDC cameras below follow PyTorch3D (row-vector
world-to-view ``X_view = X_world R + T``, view +z forward, NDC +x left, +y up), so that
``FoVPerspectiveCameras(fov=2 atan(128/1015))`` with ``look_at_view_transform(10, 0, 0)`` is the pinhole.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import torch

from ..camera import PinholeCamera
from ..errors import StyleFaceError


def _as_batch(x: torch.Tensor | None, default: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    t = default if x is None else torch.as_tensor(x, dtype=torch.float32)
    return t.reshape(-1, *shape)


def look_at_rotation(camera_position: torch.Tensor, at: torch.Tensor | None = None,
                     up: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 3) camera centres -> (B, 3, 3) R whose columns are the view x, y, z axes in world space.

    View z points from the camera to ``at``; view x = up x z (so world +x appears on the image right for
    a camera on +z), view y = z x x.
    """
    c = camera_position.reshape(-1, 3)
    at = c.new_zeros(3) if at is None else torch.as_tensor(at, dtype=c.dtype).reshape(-1, 3)
    up = c.new_tensor([0.0, 1.0, 0.0]) if up is None else torch.as_tensor(up, dtype=c.dtype).reshape(-1, 3)
    z = torch.nn.functional.normalize(at - c, dim=-1, eps=1e-8)
    x = torch.nn.functional.normalize(torch.cross(up.expand_as(z), z, dim=-1), dim=-1, eps=1e-8)
    # Camera straight above or below: up is parallel to z; any perpendicular x will do.
    bad = x.norm(dim=-1) < 1e-5
    if bad.any():
        alt = torch.cross(c.new_tensor([1.0, 0.0, 0.0]).expand_as(z), z, dim=-1)
        x = torch.where(bad[:, None], torch.nn.functional.normalize(alt, dim=-1), x)
    y = torch.nn.functional.normalize(torch.cross(z, x, dim=-1), dim=-1, eps=1e-8)
    return torch.stack([x, y, z], dim=-1)


def look_at_view_transform(dist: float | torch.Tensor = 1.0, elev: float | torch.Tensor = 0.0,
                           azim: float | torch.Tensor = 0.0, degrees: bool = True,
                           at: torch.Tensor | None = None, up: torch.Tensor | None = None
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """(R (B, 3, 3), T (B, 3)) of a camera on a sphere of radius ``dist`` looking at ``at``.

    Position: dist * (cos(elev) sin(azim), sin(elev), cos(elev) cos(azim)); azim 0, elev 0 is on +z.
    """
    dist, elev, azim = (torch.as_tensor(v, dtype=torch.float32).reshape(-1) for v in (dist, elev, azim))
    if degrees:
        elev, azim = torch.deg2rad(elev), torch.deg2rad(azim)
    dist, elev, azim = torch.broadcast_tensors(dist, elev, azim)
    centre = torch.stack([dist * elev.cos() * azim.sin(), dist * elev.sin(), dist * elev.cos() * azim.cos()], -1)
    if at is not None:
        centre = centre + torch.as_tensor(at, dtype=torch.float32).reshape(-1, 3)
    r = look_at_rotation(centre, at, up)
    t = -(centre.unsqueeze(1) @ r).squeeze(1)
    return r, t


@dataclass(kw_only=True)
class _NDCCamera:
    """World -> view (row vectors) shared by the NDC cameras."""

    R: torch.Tensor | None = None
    T: torch.Tensor | None = None
    znear: float = 0.01
    zfar: float = 50.0

    def world_to_view(self, points: torch.Tensor) -> torch.Tensor:
        r = _as_batch(self.R, torch.eye(3), (3, 3)).to(points)
        t = _as_batch(self.T, torch.zeros(3), (3,)).to(points)
        if points.dim() == 2:
            points = points.unsqueeze(0)
        return points @ r + t.unsqueeze(1)

    def _focal_principal(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def to_ndc(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, 3) world points -> ((B, N, 2) NDC x, y (+x left, +y up), (B, N) view depth)."""
        view = self.world_to_view(points)
        depth = view[..., 2]
        f, p = self._focal_principal(view)
        ndc = f.unsqueeze(1) * view[..., :2] / depth.unsqueeze(-1) + p.unsqueeze(1)
        return ndc, depth


@dataclass(kw_only=True)
class FoVPerspectiveCameras(_NDCCamera):
    """PyTorch3D's FoV camera (square NDC): focal = 1 / tan(fov / 2) in NDC units."""

    fov: float | torch.Tensor = 60.0
    degrees: bool = True
    aspect_ratio: float = 1.0

    def _focal_principal(self, view: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fov = torch.as_tensor(self.fov, dtype=view.dtype, device=view.device).reshape(-1)
        if self.degrees:
            fov = torch.deg2rad(fov)
        s = 1.0 / torch.tan(fov / 2)
        f = torch.stack([s / self.aspect_ratio, s], -1)
        return f, torch.zeros_like(f)


@dataclass(kw_only=True)
class PerspectiveCameras(_NDCCamera):
    """PyTorch3D's intrinsics camera. With ``in_ndc=False`` focal and principal point are in pixels of
    ``image_size`` (H, W) and converted to NDC the way PyTorch3D does (scale by min(H, W) / 2)."""

    focal_length: float | tuple[float, float] | torch.Tensor = 1.0
    principal_point: tuple[float, float] | torch.Tensor = (0.0, 0.0)
    in_ndc: bool = True
    image_size: tuple[int, int] | None = None

    def _focal_principal(self, view: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = torch.as_tensor(self.focal_length, dtype=view.dtype, device=view.device)
        f = f.reshape(-1, 1).expand(-1, 2) if f.dim() == 0 or f.shape[-1] != 2 else f.reshape(-1, 2)
        p = torch.as_tensor(self.principal_point, dtype=view.dtype, device=view.device).reshape(-1, 2)
        if not self.in_ndc:
            if self.image_size is None:
                raise StyleFaceError("PerspectiveCameras(in_ndc=False) needs image_size")
            h, w = self.image_size
            s = min(h, w) / 2.0
            f = f / s
            p = torch.stack([-(p[:, 0] - w / 2.0) / s, -(p[:, 1] - h / 2.0) / s], -1)
        return f, p


Camera = Union[PinholeCamera, FoVPerspectiveCameras, PerspectiveCameras]


def camera_image_size(camera: Camera) -> tuple[int, int] | None:
    """The size a camera is defined for (pixel cameras), else None (NDC cameras take the settings')."""
    if isinstance(camera, PinholeCamera):
        return (camera.image_size, camera.image_size)
    return None


def project_to_screen(camera: Camera, points: torch.Tensor, image_size: tuple[int, int]
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, N, 3) points -> ((B, N, 2) continuous pixel x, y, (B, N) positive view depth).

    A pinhole camera rendered at another size keeps its framing (the projection is scaled).
    """
    h, w = image_size
    if isinstance(camera, PinholeCamera):
        if h != w:
            raise StyleFaceError("the pinhole camera renders square images only")
        # camera.project's arithmetic, on unbound coordinates: one backward stack instead of four
        # zero-filled (B, N, 3) gradients of x / y / z selections.
        x, y, z = points.unbind(-1)
        depth = camera.distance - z
        u = camera.f * x / depth + camera.center
        v = camera.f * y / depth + camera.center
        xy = torch.stack([u, camera.image_size - v], dim=-1)
        if w != camera.image_size:
            xy = xy * (w / camera.image_size)
        return xy, depth
    if isinstance(camera, _NDCCamera):
        ndc, depth = camera.to_ndc(points)
        s = min(h, w) / 2.0
        x = w / 2.0 - s * ndc[..., 0]
        y = h / 2.0 - s * ndc[..., 1]
        return torch.stack([x, y], -1), depth
    raise StyleFaceError(f"unsupported camera type {type(camera).__name__}")


def pinhole_as_fov(camera: PinholeCamera) -> tuple[FoVPerspectiveCameras, torch.Tensor, torch.Tensor]:
    """The FoV camera + look-at pose equal to a pinhole camera (fov = 2 atan(c / f), distance d)."""
    fov = math.degrees(2 * math.atan(camera.center / camera.f))
    r, t = look_at_view_transform(camera.distance, 0.0, 0.0)
    return FoVPerspectiveCameras(R=r, T=t, znear=camera.znear, zfar=camera.zfar, fov=fov), r, t
