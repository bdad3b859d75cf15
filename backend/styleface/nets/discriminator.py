"""The StyleGAN2 discriminator, state-dict compatible with rosinality/stylegan2-pytorch (50 keys at 256 px)."""
from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from .channels import binomial, channel_table, log2_size, need_tensor, with_channel_table
from .equalized import ConvLayer, EqualLinear
from .statedict import build_module


class ResBlock(nn.Module):
    """Discriminator residual block: two 3x3 convs (the second downsamples) plus a 1x1 skip."""

    def __init__(self, in_channel: int, out_channel: int, blur_kernel: Sequence[float] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channel, in_channel, 3, blur_kernel=blur_kernel)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvLayer(in_channel, out_channel, 1, downsample=True, blur_kernel=blur_kernel,
                              activate=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return (out + self.skip(x)) * (1.0 / math.sqrt(2.0))


class Discriminator(nn.Module):
    """ResNet discriminator with a minibatch-stddev feature; image (B, 3, size, size) -> logit (B, 1)."""

    def __init__(
        self, size: int, channel_multiplier: int = 2, blur_kernel: Sequence[float] = (1, 3, 3, 1),
        channel_base: int | None = None, channel_max: int = 512, channels: Mapping[int | str, int] | None = None,
        stddev_group: int = 4,
    ) -> None:
        super().__init__()
        self.size = int(size)
        log_size = log2_size(self.size)
        ch = channel_table(self.size, channel_multiplier, channel_base, channel_max, channels)
        self.channels = ch
        blur_kernel = tuple(blur_kernel)
        self._config: dict[str, Any] = dict(
            size=self.size, channel_multiplier=int(channel_multiplier), blur_kernel=list(blur_kernel),
            channel_base=channel_base, channel_max=int(channel_max),
            channels={str(k): int(v) for k, v in channels.items()} if channels else None,
            stddev_group=int(stddev_group),
        )
        convs: list[nn.Module] = [ConvLayer(3, ch[self.size], 1)]
        in_ch = ch[self.size]
        for i in range(log_size, 2, -1):
            out_ch = ch[2 ** (i - 1)]
            convs.append(ResBlock(in_ch, out_ch, blur_kernel))
            in_ch = out_ch
        self.convs = nn.Sequential(*convs)
        self.stddev_group = int(stddev_group)
        self.stddev_feat = 1
        self.final_conv = ConvLayer(in_ch + 1, ch[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(ch[4] * 4 * 4, ch[4], activation="fused_lrelu"),
            EqualLinear(ch[4], 1),
        )

    def config(self) -> dict[str, Any]:
        """Constructor kwargs (JSON-serialisable) that rebuild this architecture."""
        return dict(self._config)

    @classmethod
    def from_state_dict(
        cls, state: Mapping[str, torch.Tensor], what: str = "discriminator", stddev_group: int = 4,
    ) -> "Discriminator":
        """Build the architecture a rosinality-layout state dict describes and load it strictly."""
        kwargs = discriminator_kwargs_from_state_dict(state, what)
        kwargs["stddev_group"] = stddev_group
        return build_module(cls, kwargs, state, what)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out = self.convs(image)
        batch, channel, height, width = out.shape
        # Largest group <= stddev_group dividing the batch (the reference requires divisibility).
        group = min(batch, self.stddev_group)
        while batch % group:
            group -= 1
        y = out.view(group, -1, self.stddev_feat, channel // self.stddev_feat, height, width)
        y = torch.sqrt(y.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
        y = y.repeat(group, 1, height, width)
        out = self.final_conv(torch.cat([out, y], 1))
        return self.final_linear(out.reshape(batch, -1))


def discriminator_kwargs_from_state_dict(
    state: Mapping[str, torch.Tensor], what: str = "discriminator",
) -> dict[str, Any]:
    """Discriminator constructor kwargs read from tensor shapes."""
    first = need_tensor(state, "convs.0.0.weight", what, "discriminator")
    final = need_tensor(state, "final_conv.0.weight", what, "discriminator")
    n_blocks = len([k for k in state if re.fullmatch(r"convs\.\d+\.conv1\.0\.weight", k)])
    size = 2 ** (n_blocks + 2)
    channels = {size: int(first.shape[0]), 4: int(final.shape[0])}
    for j in range(1, n_blocks + 1):
        w = need_tensor(state, f"convs.{j}.conv2.1.weight", what, "discriminator")
        channels[size // 2**j] = int(w.shape[0])
    kernel = state.get("convs.1.conv2.0.kernel")
    taps = int(kernel.shape[0]) if isinstance(kernel, torch.Tensor) else 4
    return with_channel_table(dict(size=size, blur_kernel=list(binomial(taps))), size, channels)
