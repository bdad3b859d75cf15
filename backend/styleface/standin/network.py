"""The stand-in as a bundle network (role ``generator2d``): saved as safetensors + JSON like the others.

The file holds the stand-in's fixed projections and UV layers (about 2 MB at 128 px), so loading does
not recompute them (about 2 s) and does not depend on the linear-algebra library reproducing them bit
for bit; the JSON holds its StandInConfig. Only the built-in demo face model is allowed, so a bundle
never points at a file outside itself.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from ..errors import StyleFaceError
from ..facemodel.store import BUILTIN_NAMES
from .generator import StandInConfig, StandInGenerator



def _on_meta() -> bool:
    """True while nets.statedict.build_module constructs modules on the meta device."""
    return torch.empty(0).device.type == "meta"


class StandInImageGenerator(nn.Module):
    """A StyleGAN2-shaped 2D image generator backed by the procedural stand-in (the demo bundle's)."""

    def __init__(self, **config: Any) -> None:
        super().__init__()
        try:
            cfg = StandInConfig(**config)
        except TypeError as e:
            raise StyleFaceError(f"stand-in generator: bad configuration ({e})") from None
        if cfg.face_model not in BUILTIN_NAMES:
            raise StyleFaceError(f"stand-in generator: face model '{cfg.face_model}' is not built in "
                                 f"(bundles may use {', '.join(BUILTIN_NAMES)})")
        empty = _on_meta()
        with torch.device("cpu"):  # the face model and renderer are real even while loading on meta
            self.standin = StandInGenerator(cfg, empty=empty)
        self.size, self.style_dim, self.n_latent = cfg.image_size, cfg.style_dim, cfg.n_latent

    @classmethod
    def from_standin(cls, standin: StandInGenerator) -> "StandInImageGenerator":
        """Wrap an existing stand-in (its buffers are shared, nothing is recomputed)."""
        with torch.device("meta"):
            net = cls(**asdict(standin.config))
        net.standin = standin
        return net

    def config(self) -> dict[str, Any]:
        return asdict(self.standin.config)

    # -- the Generator interface the pipeline uses ----------------------------------------------
    @property
    def latent_avg(self) -> torch.Tensor:
        return self.standin.latent_avg

    def set_latent_avg(self, value: torch.Tensor) -> None:  # exact already; kept for the interface
        pass

    def mean_latent(self, n: int = 10_000, seed: int = 0) -> torch.Tensor:
        return self.standin.mean_latent(n, seed)

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        return self.standin.mapping(z)

    def to_wplus(self, latent: torch.Tensor, input_space: str = "z", truncation: float = 1.0,
                 **kw: Any) -> torch.Tensor:
        return self.standin.to_wplus(latent, input_space, truncation, **kw)

    def synthesis(self, wplus: torch.Tensor, noise: object = None, **kw: Any) -> torch.Tensor:
        """W+ -> image (B, 3, S, S) in [-1, 1] (no noise: the stand-in is deterministic)."""
        return self.standin.synthesis(wplus, **kw)

    def forward(self, latent: torch.Tensor, **kw: Any) -> torch.Tensor:
        return self.standin(latent, **kw)
