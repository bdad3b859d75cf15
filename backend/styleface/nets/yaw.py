"""The symmetric-view edit: a unit yaw direction d in W+ and Fyaw, the step along it.

StyleFaceUV flips a face to the mirrored pose with w_sym = w + s d, s = Fyaw(w), where d is the
(unit) normal of a linear SVM separating left- from right-turned faces in flattened W+. Fyaw is a
Tanh MLP ``Net.{0,2,4,6,8}`` ending in one output (the official StylecodeToPoseDirectionScalarMLP).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ..errors import StyleFaceError
from .mlp import default_hidden, flatten_wplus, infer_style_dim, make_mlp, mlp_dims
from .statedict import build_module


class Fyaw(nn.Module):
    """W+ (B, n_latent, style_dim) or its flattening -> step s (B,)."""

    def __init__(self, n_latent: int = 14, style_dim: int = 512, hidden: Sequence[int] | None = None) -> None:
        super().__init__()
        self.n_latent = int(n_latent)
        self.style_dim = int(style_dim)
        self.hidden = tuple(int(h) for h in (hidden if hidden is not None else default_hidden(self.style_dim)))
        self.Net = make_mlp(self.n_latent * self.style_dim, self.hidden, 1, nn.Tanh)

    def config(self) -> dict[str, Any]:
        """Constructor kwargs (JSON-serialisable) that rebuild this architecture."""
        return dict(n_latent=self.n_latent, style_dim=self.style_dim, hidden=list(self.hidden))

    @classmethod
    def from_state_dict(
        cls, state: Mapping[str, torch.Tensor], style_dim: int | None = None, what: str = "Fyaw",
    ) -> "Fyaw":
        """Build from ``Net.*`` tensors; style_dim is read from official-pattern widths unless given."""
        in_dim, hidden, out = mlp_dims(state, "Net.", what)
        if out != 1:
            raise StyleFaceError(f"{what}: the network predicts {out} values, expected 1")
        sd = infer_style_dim(hidden, style_dim, what)
        if in_dim % sd:
            raise StyleFaceError(f"{what}: input size {in_dim} is not a multiple of style_dim {sd}")
        return build_module(cls, dict(n_latent=in_dim // sd, style_dim=sd, hidden=hidden), state, what)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self.Net(flatten_wplus(w, self.n_latent, self.style_dim)).squeeze(1)


def unit_direction(direction: torch.Tensor, n_latent: int, style_dim: int) -> torch.Tensor:
    """Reshape a stored direction (7168, (1, 7168) or (14, 512)) to (n_latent, style_dim), unit norm."""
    d = direction.detach().to(torch.float32)
    if d.numel() != n_latent * style_dim:
        raise StyleFaceError(f"yaw direction has {d.numel()} values, expected {n_latent} x {style_dim}")
    d = d.reshape(n_latent, style_dim)
    norm = torch.linalg.vector_norm(d)
    if not torch.isfinite(norm) or norm == 0:
        raise StyleFaceError("yaw direction is zero or not finite")
    return d / norm


class YawSymmetry(nn.Module):
    """Fyaw plus the unit direction d; ``forward(w)`` returns the symmetric-view code w + Fyaw(w) d."""

    def __init__(self, n_latent: int = 14, style_dim: int = 512, hidden: Sequence[int] | None = None) -> None:
        super().__init__()
        self.fyaw = Fyaw(n_latent, style_dim, hidden)
        self.n_latent = self.fyaw.n_latent
        self.style_dim = self.fyaw.style_dim
        # Placeholder unit direction, written without torch.linalg: on the meta device (used while
        # rebuilding saved models) vector_norm imports torch._dynamo, which costs seconds per load.
        d = torch.zeros(self.n_latent, self.style_dim)
        d[:, 0] = self.n_latent ** -0.5
        self.register_buffer("direction", d)

    def config(self) -> dict[str, Any]:
        """Constructor kwargs (JSON-serialisable) that rebuild this architecture."""
        return self.fyaw.config()

    @classmethod
    def from_parts(cls, fyaw: Fyaw, direction: torch.Tensor) -> "YawSymmetry":
        """Combine a loaded Fyaw with a direction (normalised to unit length here)."""
        ys = cls(**fyaw.config())
        ys.fyaw.load_state_dict(fyaw.state_dict())
        ys.set_direction(direction)
        return ys.to(next(fyaw.parameters()).device).eval()

    def set_direction(self, direction: torch.Tensor) -> None:
        """Store d as a unit vector in W+ (the SVM normal need not be normalised on disk)."""
        self.direction = unit_direction(direction, self.n_latent, self.style_dim).to(self.direction.device)

    def step(self, w: torch.Tensor) -> torch.Tensor:
        """s = Fyaw(w), (B,)."""
        return self.fyaw(w)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """W+ (B, n_latent, style_dim) -> w_sym = w + s d (same shape)."""
        if w.dim() != 3:
            raise StyleFaceError(f"expected a W+ code (B, {self.n_latent}, {self.style_dim}), got {tuple(w.shape)}")
        s = self.step(w)
        return w + s.view(-1, 1, 1) * self.direction.to(w)
