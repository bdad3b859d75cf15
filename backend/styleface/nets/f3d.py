"""F3D: a W+ stylecode to the 3DMM coefficient vector (StyleFaceUV's StylecodeTo3DMMCoeffMLP).

Two MLPs read the flattened W+: ``Net1`` (Tanh) predicts id, exp, rot, gamma and trans, ``Net2`` (ELU)
the texture coefficients; the output is the full vector in the face model's CoeffLayout order. The
official model is n_latent 14, style_dim 512 with the BFM 257-layout (Net1 ... -> 177, Net2 ... -> 80);
smaller layouts and latents give the demo variants, and a layout without texture has no Net2.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ..errors import StyleFaceError
from ..facemodel.coeffs import BFM_LAYOUT, CoeffLayout
from .mlp import default_hidden, flatten_wplus, infer_style_dim, make_mlp, mlp_dims
from .statedict import build_module


def as_layout(layout: CoeffLayout | Mapping[str, int] | None) -> CoeffLayout:
    """Accept a CoeffLayout, its dict form (from JSON) or None (the BFM 257-layout)."""
    if layout is None:
        return BFM_LAYOUT
    if isinstance(layout, CoeffLayout):
        return layout
    try:
        return CoeffLayout(**{k: int(v) for k, v in layout.items()})
    except TypeError as e:
        raise StyleFaceError(f"bad coefficient layout {dict(layout)}: {e}") from None


class F3D(nn.Module):
    """Flattened W+ (B, n_latent*style_dim) or W+ (B, n_latent, style_dim) -> coefficients (B, layout.size)."""

    def __init__(
        self, n_latent: int = 14, style_dim: int = 512, layout: CoeffLayout | Mapping[str, int] | None = None,
        hidden: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.n_latent = int(n_latent)
        self.style_dim = int(style_dim)
        self.layout = as_layout(layout)
        self.hidden = tuple(int(h) for h in (hidden if hidden is not None else default_hidden(self.style_dim)))
        in_dim = self.n_latent * self.style_dim
        self.n_head = self.layout.n_id + self.layout.n_exp  # Net1 outputs before the texture slot
        self.Net1 = make_mlp(in_dim, self.hidden, self.layout.size - self.layout.n_tex, nn.Tanh)
        self.Net2 = make_mlp(in_dim, self.hidden, self.layout.n_tex, nn.ELU) if self.layout.n_tex else None

    def config(self) -> dict[str, Any]:
        """Constructor kwargs (JSON-serialisable) that rebuild this architecture."""
        return dict(n_latent=self.n_latent, style_dim=self.style_dim, layout=asdict(self.layout),
                    hidden=list(self.hidden))

    @classmethod
    def from_state_dict(
        cls, state: Mapping[str, torch.Tensor], layout: CoeffLayout | Mapping[str, int] | None = None,
        style_dim: int | None = None, what: str = "F3D",
    ) -> "F3D":
        """Build from ``Net1.*`` / ``Net2.*`` tensors; style_dim is read from official-pattern widths unless given."""
        layout = as_layout(layout)
        in_dim, hidden, out1 = mlp_dims(state, "Net1.", what)
        if out1 != layout.size - layout.n_tex:
            raise StyleFaceError(
                f"{what}: Net1 predicts {out1} values, the face model's layout needs {layout.size - layout.n_tex}")
        if layout.n_tex:
            in2, hidden2, out2 = mlp_dims(state, "Net2.", what)
            if (in2, hidden2, out2) != (in_dim, hidden, layout.n_tex):
                raise StyleFaceError(f"{what}: Net2 has shape {in2}->{hidden2}->{out2}, expected "
                                     f"{in_dim}->{hidden}->{layout.n_tex}")
        sd = infer_style_dim(hidden, style_dim, what)
        if in_dim % sd:
            raise StyleFaceError(f"{what}: input size {in_dim} is not a multiple of style_dim {sd}")
        kwargs = dict(n_latent=in_dim // sd, style_dim=sd, layout=layout, hidden=hidden)
        return build_module(cls, kwargs, state, what)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        x = flatten_wplus(w, self.n_latent, self.style_dim)
        main = self.Net1(x)
        if self.Net2 is None:
            return main
        tex = self.Net2(x)
        return torch.cat([main[:, : self.n_head], tex, main[:, self.n_head:]], dim=1)
