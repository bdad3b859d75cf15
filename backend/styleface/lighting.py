"""SH lighting edits: named presets and rotations of a face's own light, as 27 gamma coefficients.

Faces are lit with Deep3DFaceRecon's 9-band SH irradiance (``geometry.sh_irradiance``: 0.8 is added to
each colour's constant coefficient). Presets are least-squares fits of simple irradiance functions
(ambient + a clamped cosine lobe, tinted) to that basis, so they are exactly representable and need no
hand-tuned coefficients. Rotations use the 9x9 matrix that maps the basis of rotated normals to the
basis of the originals, also found by least squares (exact: the bands are closed under rotation), which
avoids sign-convention mistakes. Camera frame: x to the image's right, y up, z towards the viewer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .errors import StyleFaceError
from .geometry import SH_AMBIENT_INIT, sh_basis


@dataclass(frozen=True)
class LightPreset:
    """ambient + strength * max(0, n . direction), per colour times ``colour``."""

    direction: tuple[float, float, float]
    ambient: float
    strength: float
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)


PRESETS: dict[str, LightPreset] = {
    "flat": LightPreset((0.0, 0.0, 1.0), 0.92, 0.0),
    "front": LightPreset((0.0, 0.3, 1.0), 0.40, 0.75),
    "left": LightPreset((-1.0, 0.25, 0.45), 0.40, 0.85),
    "right": LightPreset((1.0, 0.25, 0.45), 0.40, 0.85),
    "top": LightPreset((0.0, 1.0, 0.5), 0.40, 0.85),
    "bottom": LightPreset((0.0, -1.0, 0.5), 0.40, 0.75),
    "warm-left": LightPreset((-1.0, 0.3, 0.5), 0.38, 0.85, (1.12, 0.9, 0.68)),
    "cool-right": LightPreset((1.0, 0.3, 0.5), 0.38, 0.85, (0.75, 0.88, 1.12)),
}


def _sphere(n: int = 2048) -> torch.Tensor:
    """Fibonacci points on the unit sphere (n, 3), float64."""
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / n
    r = torch.sqrt(1 - z * z)
    phi = math.pi * (3 - math.sqrt(5)) * i
    return torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], 1)


def preset_gamma(name: str) -> torch.Tensor:
    """The 27 gamma coefficients (colour-major, 3 x 9) of a preset."""
    p = PRESETS.get(name)
    if p is None:
        raise StyleFaceError(f"unknown lighting preset '{name}'; known: {', '.join(PRESETS)}")
    n = _sphere()
    d = torch.tensor(p.direction, dtype=torch.float64)
    target = p.ambient + p.strength * (n @ (d / d.norm())).clamp(min=0)
    coef = torch.linalg.lstsq(sh_basis(n), target.unsqueeze(1)).solution[:, 0]  # (9,)
    g = torch.tensor(p.colour, dtype=torch.float64)[:, None] * coef[None]
    g[:, 0] -= SH_AMBIENT_INIT
    return g.reshape(27).float()


def rotation_matrix(yaw_deg: float = 0.0, pitch_deg: float = 0.0) -> torch.Tensor:
    """R (3, 3) acting on column vectors: yaw about +y (positive moves a frontal light to the image's
    right), then pitch about +x (positive moves it up)."""
    a, b = math.radians(yaw_deg), math.radians(pitch_deg)
    ry = torch.tensor([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]], dtype=torch.float64)
    rx = torch.tensor([[1, 0, 0], [0, math.cos(b), math.sin(b)], [0, -math.sin(b), math.cos(b)]], dtype=torch.float64)
    return rx @ ry


def rotate_gamma(gamma: torch.Tensor, yaw_deg: float = 0.0, pitch_deg: float = 0.0) -> torch.Tensor:
    """Rotate the light of (B, 27) gamma: the new irradiance at n is the old one at R^-1 n."""
    r = rotation_matrix(yaw_deg, pitch_deg)
    n = _sphere()
    basis = sh_basis(n)                       # b(n)
    rotated = sh_basis(n @ r)                 # b(R^-1 n): rows n @ R = (R^T n)^T = (R^-1 n)^T
    m = torch.linalg.lstsq(basis, rotated).solution  # b(R^-1 n) = b(n) @ M
    g = gamma.reshape(-1, 3, 9).double().clone()
    g[:, :, 0] += SH_AMBIENT_INIT
    g = torch.einsum("ij,bcj->bci", m, g)
    g[:, :, 0] -= SH_AMBIENT_INIT
    return g.reshape(-1, 27).to(gamma.dtype)
