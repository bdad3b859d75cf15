"""FIR resampling (upfirdn2d) in plain PyTorch, with rosinality's padding convention.

StyleGAN2 low-pass filters every up/downsampling step with a small separable FIR kernel. The
reference code uses a compiled CUDA op; here it is a depthwise ``conv2d`` so CPU and CUDA share
one code path and give the same numbers.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def make_kernel(taps: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """2D FIR kernel normalised to sum 1; 1D taps become their outer product (separable filter)."""
    k = torch.as_tensor(taps, dtype=torch.float32)
    if k.dim() == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Upsample by zero insertion, pad, convolve with ``kernel`` (true convolution), downsample.

    ``pad = (before, after)`` applies to both spatial axes (negative values crop), exactly as in
    rosinality/stylegan2-pytorch, so checkpoints converted from there keep their alignment.
    """
    b, c, h, w = x.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(b, c, h * up, w * up)
    p0, p1 = pad
    if p0 or p1:
        x = F.pad(x, [p0, p1, p0, p1])
    weight = kernel.flip([0, 1]).to(dtype=x.dtype, device=x.device)
    weight = weight[None, None].expand(c, 1, *kernel.shape).contiguous()
    # Striding inside the conv equals computing everything and keeping every down-th sample.
    return F.conv2d(x, weight, groups=c, stride=down)


class Blur(nn.Module):
    """Low-pass filter with fixed padding; ``upsample_factor`` scales the kernel to keep the gain."""

    def __init__(self, kernel: Sequence[float], pad: tuple[int, int], upsample_factor: int = 1) -> None:
        super().__init__()
        k = make_kernel(kernel)
        if upsample_factor > 1:
            k = k * upsample_factor**2
        self.register_buffer("kernel", k)
        self.pad = (int(pad[0]), int(pad[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2x FIR upsampling of the RGB skip path."""

    def __init__(self, kernel: Sequence[float], factor: int = 2) -> None:
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(kernel) * factor**2)
        p = len(kernel) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)
