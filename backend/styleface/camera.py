"""The pinhole camera of Deep3DFaceRecon / StyleFaceUV: focal 1015 px at 256 px, camera at z = 10.

The camera looks down -z from (0, 0, distance); image row 0 is the top. Other image sizes scale the
focal length so the framing stays that of a 256 px FFHQ crop.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

BASE_SIZE = 256
BASE_FOCAL = 1015.0
CAMERA_DISTANCE = 10.0


@dataclass(frozen=True)
class PinholeCamera:
    image_size: int = BASE_SIZE
    focal: float | None = None  # pixels; None: 1015 scaled by image_size / 256
    distance: float = CAMERA_DISTANCE
    znear: float = 0.01
    zfar: float = 50.0

    @property
    def f(self) -> float:
        return self.focal if self.focal is not None else BASE_FOCAL * self.image_size / BASE_SIZE

    @property
    def center(self) -> float:
        return self.image_size / 2.0

    def view_depth(self, vertices: torch.Tensor) -> torch.Tensor:
        """Distance along the viewing axis: distance - z."""
        return self.distance - vertices[..., 2]

    def project(self, vertices: torch.Tensor) -> torch.Tensor:
        """(..., 3) camera-frame points -> (..., 2) pixel coordinates (x right, y down; continuous)."""
        depth = self.view_depth(vertices)
        u = self.f * vertices[..., 0] / depth + self.center
        v = self.f * vertices[..., 1] / depth + self.center
        return torch.stack([u, self.image_size - v], dim=-1)

    def to_ndc(self, vertices: torch.Tensor) -> torch.Tensor:
        """(..., 3) -> (..., 3) with x, y in [-1, 1] (x right, y up, PyTorch3D-like) and view depth as z."""
        depth = self.view_depth(vertices)
        scale = self.f / self.center
        return torch.stack([scale * vertices[..., 0] / depth, scale * vertices[..., 1] / depth, depth], -1)

    @property
    def fov_degrees(self) -> float:
        import math
        return math.degrees(2 * math.atan(self.center / self.f))


def project_landmarks(vertices: torch.Tensor, landmark_ids: torch.Tensor, camera: PinholeCamera) -> torch.Tensor:
    """(B, N, 3) posed vertices -> (B, 68, 2) pixel landmarks (row 0 at the top)."""
    return camera.project(vertices[:, landmark_ids])
