"""Named slices of a 3DMM coefficient vector.

The default is the 257-layout of Deep3DFaceRecon / 3DMM-Fitting-Pytorch (id 80, exp 64, tex 80, rot 3,
gamma 27, trans 3). Other face models use the same order with their own basis sizes, so code names
slices instead of hard-coding indices.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from ..errors import StyleFaceError

_ORDER = ("id", "exp", "tex", "rot", "gamma", "trans")


@dataclass(frozen=True)
class CoeffLayout:
    """Sizes of each coefficient group; ``rot``, ``gamma`` and ``trans`` are fixed by the renderer."""

    n_id: int = 80
    n_exp: int = 64
    n_tex: int = 80
    n_rot: int = 3
    n_gamma: int = 27
    n_trans: int = 3

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise StyleFaceError(f"coefficient layout: {f.name} must be >= 0")
        if (self.n_rot, self.n_gamma, self.n_trans) != (3, 27, 3):
            raise StyleFaceError("coefficient layout: rot/gamma/trans must have sizes 3/27/3")

    def sizes(self) -> dict[str, int]:
        return {k: getattr(self, f"n_{k}") for k in _ORDER}

    @property
    def size(self) -> int:
        return sum(self.sizes().values())

    def slice(self, name: str) -> slice:
        """The slice of group ``name`` in the flat vector, e.g. ``layout.slice("rot")``."""
        start = 0
        for k, n in self.sizes().items():
            if k == name:
                return slice(start, start + n)
            start += n
        raise KeyError(name)

    @property
    def yaw_index(self) -> int:
        """Index of the yaw angle (Euler y); 225 in the 257-layout."""
        return self.slice("rot").start + 1

    def split(self, vector: torch.Tensor) -> "Coeffs":
        """Split (B, size) or (size,) into named groups (views, no copies)."""
        if vector.shape[-1] != self.size:
            raise StyleFaceError(
                f"coefficient vector has {vector.shape[-1]} entries, layout expects {self.size}"
            )
        v = vector if vector.dim() == 2 else vector.unsqueeze(0)
        return Coeffs(**{k: v[:, self.slice(k)] for k in _ORDER})

    def zeros(self, batch: int = 1, device: torch.device | str | None = None) -> "Coeffs":
        return self.split(torch.zeros(batch, self.size, device=device))


BFM_LAYOUT = CoeffLayout()


@dataclass
class Coeffs:
    """Batched coefficient groups, each (B, n)."""

    id: torch.Tensor
    exp: torch.Tensor
    tex: torch.Tensor
    rot: torch.Tensor
    gamma: torch.Tensor
    trans: torch.Tensor

    @property
    def batch(self) -> int:
        return self.rot.shape[0]

    def to_vector(self) -> torch.Tensor:
        return torch.cat([getattr(self, k) for k in _ORDER], dim=1)

    def replace(self, **groups: torch.Tensor) -> "Coeffs":
        d = {k: getattr(self, k) for k in _ORDER}
        d.update(groups)
        return Coeffs(**d)
