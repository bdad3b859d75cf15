"""Equalised-learning-rate layers and the bias + leaky-ReLU activation of StyleGAN2.

Weights are stored unscaled and multiplied by 1/sqrt(fan_in) at run time (times ``lr_mul`` for the
mapping network), which is how rosinality and NVlabs checkpoints store them; keeping that convention
lets their tensors load unchanged.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .fir import Blur

SQRT2 = math.sqrt(2.0)


def can_modify(x: torch.Tensor) -> bool:
    """True when an intermediate may be changed in place (no autograd graph will need it).

    In-place updates avoid allocating a fresh feature map per element-wise op, which dominates CPU
    time at 256 px; with autograd active the out-of-place path keeps gradients correct.
    """
    return not (torch.is_grad_enabled() and x.requires_grad)


def fused_leaky_relu(
    x: torch.Tensor, bias: torch.Tensor | None, negative_slope: float = 0.2, scale: float = SQRT2,
    inplace: bool = False,
) -> torch.Tensor:
    """leaky_relu(x + bias) * scale, bias broadcast over dim 1; ``inplace`` reuses ``x``'s memory."""
    b = bias.view(1, -1, *([1] * (x.dim() - 2))) if bias is not None else None
    if inplace:
        if b is not None:
            x = x.add_(b)
        return F.leaky_relu_(x, negative_slope).mul_(scale)
    if b is not None:
        x = x + b
    return F.leaky_relu(x, negative_slope) * scale


class FusedLeakyReLU(nn.Module):
    """Per-channel bias, leaky ReLU (0.2) and gain sqrt(2), as one module with parameter ``bias``."""

    def __init__(self, channels: int, bias: bool = True) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias, inplace=inplace and can_modify(x))


class PixelNorm(nn.Module):
    """Normalise each latent to unit mean square (the first step of the mapping network)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Linear layer with run-time weight scaling; ``activation='fused_lrelu'`` adds the StyleGAN act."""

    def __init__(
        self, in_dim: int, out_dim: int, bias: bool = True, bias_init: float = 0.0, lr_mul: float = 1.0,
        activation: str | None = None,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale = (1.0 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        if self.activation:
            out = F.linear(x, self.weight * self.scale)
            return fused_leaky_relu(out, bias, inplace=can_modify(out))
        return F.linear(x, self.weight * self.scale, bias)


class EqualConv2d(nn.Module):
    """Conv2d with run-time weight scaling 1/sqrt(in * k * k)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.stride = stride
        self.padding = padding
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class ConvLayer(nn.Sequential):
    """[Blur] -> EqualConv2d -> [FusedLeakyReLU]; a Sequential so state-dict keys are ``0``, ``1``, ``2``."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, downsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1), bias: bool = True, activate: bool = True,
    ) -> None:
        layers: list[nn.Module] = []
        if downsample:
            factor = 2
            p = (len(blur_kernel) - factor) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(
            EqualConv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                        bias=bias and not activate)
        )
        if activate:
            layers.append(FusedLeakyReLU(out_channels, bias=bias))
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x, inplace=True) if isinstance(layer, FusedLeakyReLU) else layer(x)
        return x
