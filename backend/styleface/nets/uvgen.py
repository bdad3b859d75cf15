"""The UV generator: StyleGAN2 synthesis with a second RGB head for the displacement map.

StyleFaceUV's ``Generator3D`` is rosinality's generator (initialised from the 2D ``g_ema``) plus one
ToRGB-with-upsampling ``uv_conv`` applied to the last feature map, fed the same last W+ layer and the
RGB skip coming from the previous resolution. The normal RGB path becomes the diffuse map
((tanh + 1) / 2, in [0, 1]) and ``uv_conv`` the 3-channel displacement (tanh, in [-1, 1]). Here the
head's width follows the channel table (the official code hard-codes 128, i.e. 256 px, cm 2).
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

from ..errors import StyleFaceError
from .modconv import ToRGB
from .stylegan2 import Generator, NoiseSpec, generator_kwargs_from_state_dict
from .statedict import build_module


class UVGenerator(Generator):
    """W+ -> (diffuse (B,3,S,S) in [0,1], displacement (B,3,S,S) in [-1,1])."""

    def __init__(self, size: int, style_dim: int = 512, n_mlp: int = 8, **kwargs: Any) -> None:
        super().__init__(size, style_dim=style_dim, n_mlp=n_mlp, **kwargs)
        self.uv_conv = ToRGB(self.channels[self.size], self.style_dim, upsample=True,
                             blur_kernel=tuple(self._config["blur_kernel"]))

    @classmethod
    def from_state_dict(cls, state: Mapping[str, torch.Tensor], what: str = "UV generator") -> "UVGenerator":
        """Build from a state dict with rosinality keys plus ``uv_conv.*`` (e.g. official ``generator_3d.``)."""
        if "uv_conv.conv.weight" not in state:
            raise StyleFaceError(
                f"{what} has no 'uv_conv' head; is it a 2D generator? (use UVGenerator.from_generator)")
        trunk = {k: v for k, v in state.items() if not k.startswith("uv_conv.")}
        return build_module(cls, generator_kwargs_from_state_dict(trunk, what), state, what)

    @classmethod
    def from_generator(cls, generator: Generator, seed: int = 0) -> "UVGenerator":
        """A UV generator initialised from a 2D generator; the new head gets a seeded random init."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            uv = cls(**generator.config())
        uv.init_from_2d(generator.state_dict())
        uv.set_latent_avg(generator.latent_avg)
        return uv.to(generator.input.input.device)

    def init_from_2d(self, state: Mapping[str, torch.Tensor]) -> list[str]:
        """Copy the 2D generator's tensors into the shared trunk (StyleFaceUV loads ``g_ema`` with
        strict=False: names missing on either side are skipped, a shape mismatch is an error).

        Returns the names of this model's tensors that were left at their initial values.
        """
        own = self.state_dict()
        common = [k for k in state if k in own]
        bad = [k for k in common if tuple(state[k].shape) != tuple(own[k].shape)]
        if bad or not any(k.endswith("conv.weight") for k in common):
            detail = f" ({bad[0]}: {tuple(state[bad[0]].shape)} vs {tuple(own[bad[0]].shape)})" if bad else ""
            raise StyleFaceError(f"the 2D generator's weights do not fit this UV generator{detail}")
        with torch.no_grad():
            for k in common:
                own[k].copy_(state[k])
        return [k for k in own if k not in common]

    def forward(  # type: ignore[override]
        self, wplus: torch.Tensor, *, noise: NoiseSpec = "random", generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """W+ (B, n_latent, style_dim) (a (B, style_dim) w is broadcast) -> (diffuse, displacement)."""
        wplus = self._check_wplus(wplus)
        rgb, features, prev_skip = self.synthesis_features(wplus, noise=noise, generator=generator)
        disp = self.uv_conv(features, wplus[:, self.n_latent - 1], prev_skip)
        return (torch.tanh(rgb) + 1.0) * 0.5, torch.tanh(disp)
