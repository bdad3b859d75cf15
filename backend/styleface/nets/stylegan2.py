"""StyleGAN2 generator and discriminator, state-dict compatible with rosinality/stylegan2-pytorch.

Pure PyTorch (no compiled ops), so the same code runs on CPU and CUDA. With default arguments the
modules are rosinality's exact networks (135 generator keys and 50 discriminator keys at 256 px,
channel multiplier 2); smaller ``style_dim`` / ``n_mlp`` / channel tables give the tiny demo models.
The configuration of a checkpoint is read from its tensor shapes (``*_kwargs_from_state_dict``).

CPU and CUDA run the same operations; seeded noise is drawn on the CPU generator's device and moved,
so outputs agree to float32 rounding (on Ampere or newer GPUs turn off TF32,
``torch.backends.cudnn.allow_tf32 = False``, for agreement beyond about 1e-3).
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ..errors import StyleFaceError
from .channels import binomial, channel_table, log2_size, need_tensor, with_channel_table
from .equalized import EqualLinear, PixelNorm
from .modconv import ConstantInput, StyledConv, ToRGB
from .statedict import build_module

NoiseSpec = str | Sequence[torch.Tensor | None]
INPUT_SPACES = ("z", "w", "w+")


class Generator(nn.Module):
    """Mapping network + synthesis network; ``forward`` takes z, w or W+ latents.

    Latents: z and w are (B, style_dim); W+ is (B, n_latent, style_dim) with n_latent = 2*log2(size)-2
    (14 at 256 px). Layer i of W+ drives conv1 (0), to_rgb1 and the first upsampling conv (1), ...
    exactly as in rosinality, so W+ codes transfer between implementations.
    """

    def __init__(
        self, size: int, style_dim: int = 512, n_mlp: int = 8, channel_multiplier: int = 2,
        blur_kernel: Sequence[float] = (1, 3, 3, 1), lr_mlp: float = 0.01, channel_base: int | None = None,
        channel_max: int = 512, channels: Mapping[int | str, int] | None = None,
    ) -> None:
        super().__init__()
        self.size = int(size)
        self.log_size = log2_size(self.size)
        self.style_dim = int(style_dim)
        self.n_mlp = int(n_mlp)
        if self.style_dim < 1 or self.n_mlp < 1:
            raise StyleFaceError("StyleGAN2 generator needs style_dim >= 1 and n_mlp >= 1")
        self.channels = channel_table(self.size, channel_multiplier, channel_base, channel_max, channels)
        blur_kernel = tuple(blur_kernel)
        self._config: dict[str, Any] = dict(
            size=self.size, style_dim=self.style_dim, n_mlp=self.n_mlp, channel_multiplier=int(channel_multiplier),
            blur_kernel=list(blur_kernel), lr_mlp=float(lr_mlp), channel_base=channel_base,
            channel_max=int(channel_max),
            channels={str(k): int(v) for k, v in channels.items()} if channels else None,
        )

        self.style = nn.Sequential(
            PixelNorm(),
            *[EqualLinear(self.style_dim, self.style_dim, lr_mul=lr_mlp, activation="fused_lrelu")
              for _ in range(self.n_mlp)],
        )
        ch = self.channels
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], 3, self.style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(ch[4], self.style_dim, upsample=False)
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for layer_idx in range(self.num_layers):
            res = (layer_idx + 5) // 2
            self.noises.register_buffer(f"noise_{layer_idx}", torch.randn(1, 1, 2**res, 2**res))
        in_ch = ch[4]
        for i in range(3, self.log_size + 1):
            out_ch = ch[2**i]
            self.convs.append(StyledConv(in_ch, out_ch, 3, self.style_dim, upsample=True, blur_kernel=blur_kernel))
            self.convs.append(StyledConv(out_ch, out_ch, 3, self.style_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(out_ch, self.style_dim, blur_kernel=blur_kernel))
            in_ch = out_ch
        # Feature-map memory format: None = channels-last on CPU only (an execution detail, not config).
        self.channels_last: bool | None = None
        # Mean w for truncation; not part of rosinality's state dict, so kept non-persistent.
        self.register_buffer("latent_avg", None, persistent=False)

    # -- configuration ---------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Constructor kwargs (JSON-serialisable) that rebuild this architecture."""
        return dict(self._config)

    @classmethod
    def from_state_dict(cls, state: Mapping[str, torch.Tensor], what: str = "generator") -> "Generator":
        """Build the architecture a rosinality-layout state dict describes and load it strictly."""
        return build_module(cls, generator_kwargs_from_state_dict(state, what), state, what)

    # -- latents ---------------------------------------------------------------------------------
    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, style_dim) -> w (B, style_dim)."""
        return self.style(z)

    @torch.no_grad()
    def mean_latent(self, n: int = 10_000, seed: int = 0, chunk: int = 2_500) -> torch.Tensor:
        """Mean of ``n`` mapped z samples from a fixed seed (the truncation centre when none is stored)."""
        gen = torch.Generator().manual_seed(seed)
        device = self.input.input.device
        total = torch.zeros(self.style_dim, dtype=torch.float64, device=device)
        done = 0
        while done < n:
            m = min(chunk, n - done)
            z = torch.randn(m, self.style_dim, generator=gen).to(device)
            total += self.mapping(z).double().sum(0)
            done += m
        return (total / n).float()

    def set_latent_avg(self, latent_avg: torch.Tensor | None) -> None:
        """Store the mean w used when truncation is requested without an explicit centre."""
        if latent_avg is None:
            self.latent_avg = None
            return
        if latent_avg.numel() != self.style_dim:
            raise StyleFaceError(f"latent_avg has {latent_avg.numel()} values, expected {self.style_dim}")
        self.latent_avg = latent_avg.detach().reshape(self.style_dim).to(self.input.input)

    def _to_w(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        if space not in INPUT_SPACES:
            raise StyleFaceError(f"input space must be one of {INPUT_SPACES}, got {space!r}")
        if space == "w+":
            if latent.dim() != 3 or latent.shape[1:] != (self.n_latent, self.style_dim):
                raise StyleFaceError(
                    f"W+ latent must be (B, {self.n_latent}, {self.style_dim}), got {tuple(latent.shape)}")
            return latent
        if latent.dim() != 2 or latent.shape[1] != self.style_dim:
            raise StyleFaceError(f"{space} latent must be (B, {self.style_dim}), got {tuple(latent.shape)}")
        return self.mapping(latent) if space == "z" else latent

    def to_wplus(
        self, latent: torch.Tensor, input_space: str = "z", truncation: float = 1.0,
        truncation_latent: torch.Tensor | None = None, mix_latent: torch.Tensor | None = None,
        inject_index: int | None = None, generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Map, truncate and (optionally) style-mix latents into a W+ code (B, n_latent, style_dim).

        Mixing takes layers [0, inject_index) from ``latent`` and the rest from ``mix_latent`` (same
        input space); without ``inject_index`` it is drawn from ``generator`` in [1, n_latent).
        """
        w = self._to_w(latent, input_space)
        w2 = self._to_w(mix_latent, input_space) if mix_latent is not None else None
        if truncation != 1.0:
            centre = truncation_latent if truncation_latent is not None else self.latent_avg
            if centre is None:
                raise StyleFaceError("truncation needs a mean latent: pass truncation_latent or load latent_avg")
            centre = centre.reshape(1, -1).to(w)
            if w.dim() == 3:
                centre = centre.unsqueeze(1)
            w = centre + truncation * (w - centre)
            if w2 is not None:
                w2 = centre + truncation * (w2 - centre)
        # Real copies (not broadcast views): callers may edit or optimise the code in place.
        wp = w if w.dim() == 3 else w.unsqueeze(1).repeat(1, self.n_latent, 1)
        if w2 is None:
            return wp
        wp2 = w2 if w2.dim() == 3 else w2.unsqueeze(1).repeat(1, self.n_latent, 1)
        if wp2.shape[0] != wp.shape[0]:
            raise StyleFaceError("style mixing needs the same batch size for both latents")
        if inject_index is None:
            inject_index = int(torch.randint(1, self.n_latent, (1,), generator=generator))
        if not 0 <= inject_index <= self.n_latent:
            raise StyleFaceError(f"inject_index must be in [0, {self.n_latent}], got {inject_index}")
        return torch.cat([wp[:, :inject_index], wp2[:, inject_index:]], dim=1)

    # -- noise -----------------------------------------------------------------------------------
    def noise_shapes(self) -> list[int]:
        """Side length of each of the ``num_layers`` noise inputs (4, 8, 8, 16, 16, ...)."""
        return [2 ** ((i + 5) // 2) for i in range(self.num_layers)]

    def make_noise(
        self, batch: int = 1, generator: torch.Generator | None = None, device: torch.device | str | None = None,
    ) -> list[torch.Tensor]:
        """Random noise maps. Drawn on the generator's device (CPU by default) and then moved, so a
        seeded CPU generator gives the same noise whether the model runs on CPU or CUDA."""
        device = torch.device(device) if device is not None else self.input.input.device
        src = generator.device if generator is not None else device
        return [torch.randn(batch, 1, r, r, generator=generator, device=src).to(device) for r in self.noise_shapes()]

    def resolve_noise(
        self, noise: NoiseSpec, batch: int, generator: torch.Generator | None = None,
    ) -> list[torch.Tensor]:
        """Turn a noise spec ('random' | 'const' | 'zero' | list of maps) into one tensor per layer."""
        device = self.input.input.device
        if isinstance(noise, str):
            if noise == "random":
                return self.make_noise(batch, generator, device)
            if noise == "const":
                return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
            if noise == "zero":
                return [torch.zeros(1, 1, r, r, device=device) for r in self.noise_shapes()]
            raise StyleFaceError(f"noise must be 'random', 'const', 'zero' or a list of maps, got {noise!r}")
        maps = list(noise)
        if len(maps) != self.num_layers:
            raise StyleFaceError(f"expected {self.num_layers} noise maps, got {len(maps)}")
        out = []
        for r, m in zip(self.noise_shapes(), maps):
            if m is None:
                m = torch.randn(batch, 1, r, r, generator=generator,
                                device=generator.device if generator is not None else device).to(device)
            if m.dim() != 4 or m.shape[1:] != (1, r, r) or m.shape[0] not in (1, batch):
                raise StyleFaceError(f"noise map for {r}x{r} must be (1 or B, 1, {r}, {r}), got {tuple(m.shape)}")
            out.append(m.to(device))
        return out

    # -- synthesis -------------------------------------------------------------------------------
    def _check_wplus(self, wplus: torch.Tensor) -> torch.Tensor:
        if wplus.dim() == 2:
            wplus = wplus.unsqueeze(1).expand(-1, self.n_latent, -1)
        if wplus.dim() != 3 or wplus.shape[1:] != (self.n_latent, self.style_dim):
            raise StyleFaceError(f"W+ latent must be (B, {self.n_latent}, {self.style_dim}), got {tuple(wplus.shape)}")
        return wplus

    def synthesis_features(
        self, wplus: torch.Tensor, noise: NoiseSpec = "random", generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Run synthesis; return (RGB, last feature map, RGB skip entering the last ToRGB).

        The extra outputs let a second head (the UV generator's displacement) share the trunk.
        """
        wplus = self._check_wplus(wplus)
        batch = wplus.shape[0]
        noises = self.resolve_noise(noise, batch, generator)
        out = self.input(batch)
        if self.channels_last if self.channels_last is not None else out.device.type == "cpu":
            out = out.contiguous(memory_format=torch.channels_last)  # faster oneDNN kernels on CPU
        out = self.conv1(out, wplus[:, 0], noise=noises[0])
        skip = self.to_rgb1(out, wplus[:, 1])
        prev_skip = None
        i = 1
        for k, to_rgb in enumerate(self.to_rgbs):
            # Each conv's input is a private intermediate (the previous ToRGB already read it).
            out = self.convs[2 * k](out, wplus[:, i], noise=noises[2 * k + 1], reuse_input=True)
            out = self.convs[2 * k + 1](out, wplus[:, i + 1], noise=noises[2 * k + 2], reuse_input=True)
            prev_skip = skip
            skip = to_rgb(out, wplus[:, i + 2], skip)
            i += 2
        return skip.contiguous(), out, prev_skip

    def synthesis(
        self, wplus: torch.Tensor, noise: NoiseSpec = "random", generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """W+ (B, n_latent, style_dim) -> image (B, 3, size, size), roughly in [-1, 1]."""
        return self.synthesis_features(wplus, noise, generator)[0]

    def forward(
        self, latent: torch.Tensor, *, input_space: str = "z", truncation: float = 1.0,
        truncation_latent: torch.Tensor | None = None, mix_latent: torch.Tensor | None = None,
        inject_index: int | None = None, noise: NoiseSpec = "random", generator: torch.Generator | None = None,
        return_latents: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Generate images; with ``return_latents`` also return the W+ code that produced them."""
        wplus = self.to_wplus(latent, input_space, truncation, truncation_latent, mix_latent, inject_index, generator)
        image = self.synthesis(wplus, noise=noise, generator=generator)
        return (image, wplus) if return_latents else image


# -- configuration from checkpoint tensors ---------------------------------------------------------
def generator_kwargs_from_state_dict(state: Mapping[str, torch.Tensor], what: str = "generator") -> dict[str, Any]:
    """Generator constructor kwargs read from tensor shapes (resolution, widths, mapping depth)."""
    style_w = need_tensor(state, "style.1.weight", what, "generator")
    const = need_tensor(state, "input.input", what, "generator")
    n_mlp = len([k for k in state if re.fullmatch(r"style\.\d+\.weight", k)])
    n_rgb = len([k for k in state if re.fullmatch(r"to_rgbs\.\d+\.bias", k)])
    size = 2 ** (n_rgb + 2)
    channels = {4: int(const.shape[1])}
    for k in range(n_rgb):
        w = need_tensor(state, f"convs.{2 * k}.conv.weight", what, "generator")
        channels[2 ** (k + 3)] = int(w.shape[1])
    kernel = state.get("convs.0.conv.blur.kernel")
    taps = int(kernel.shape[0]) if isinstance(kernel, torch.Tensor) else 4
    kwargs: dict[str, Any] = dict(size=size, style_dim=int(style_w.shape[0]), n_mlp=n_mlp,
                                  blur_kernel=list(binomial(taps)))
    return with_channel_table(kwargs, size, channels)


# Re-exported: the discriminator lives in its own module but belongs to this API.
from .discriminator import Discriminator, ResBlock, discriminator_kwargs_from_state_dict  # noqa: E402

__all__ = ["Discriminator", "Generator", "ResBlock", "channel_table", "discriminator_kwargs_from_state_dict",
           "generator_kwargs_from_state_dict"]
