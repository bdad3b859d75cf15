"""A stand-alone mapping network z -> w, for bundles whose 2D generator is not a StyleGAN2 checkpoint
(the procedural stand-in) or is not shipped.

Pixel norm, then dense layers ``x @ W + b`` with leaky ReLU (slope 0.2) times a fixed gain. It carries
the mean latent used for truncation and the number of W+ rows the downstream networks expect.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


class MappingNetwork(nn.Module):
    def __init__(self, style_dim: int, n_layers: int, n_latent: int, gain: float = math.sqrt(2 / 1.04)) -> None:
        super().__init__()
        self.style_dim, self.n_layers, self.n_latent, self.gain = int(style_dim), int(n_layers), int(n_latent), float(gain)
        self.weight = nn.Parameter(torch.zeros(self.n_layers, self.style_dim, self.style_dim))
        self.bias = nn.Parameter(torch.zeros(self.n_layers, self.style_dim))
        self.register_buffer("latent_avg", torch.zeros(self.style_dim))

    def config(self) -> dict[str, Any]:
        return dict(style_dim=self.style_dim, n_layers=self.n_layers, n_latent=self.n_latent, gain=self.gain)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, style_dim) -> w (B, style_dim)."""
        x = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
        for i in range(self.n_layers):
            x = torch.nn.functional.leaky_relu(x @ self.weight[i] + self.bias[i], 0.2) * self.gain
        return x

    def to_wplus(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """z -> W+ (B, n_latent, style_dim) with truncation towards the mean latent."""
        w = self(z)
        if truncation != 1.0:
            w = self.latent_avg + truncation * (w - self.latent_avg)
        return w.unsqueeze(1).repeat(1, self.n_latent, 1)
