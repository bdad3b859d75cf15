"""The plain Linear/activation stacks StyleFaceUV uses for F3D and Fyaw.

They are ``nn.Sequential`` so the official checkpoints' keys (``Net1.0.weight``, ``Net.8.bias``, ...)
load unchanged: Linear layers sit at even indices, activations at odd ones.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import torch
from torch import nn

from ..errors import StyleFaceError


def default_hidden(style_dim: int) -> tuple[int, ...]:
    """Official widths 9*512, 6*512, 3*512, 512 scaled with the style size."""
    return (9 * style_dim, 6 * style_dim, 3 * style_dim, style_dim)


def make_mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: type[nn.Module]) -> nn.Sequential:
    """Linear -> act -> ... -> Linear (no activation after the last layer)."""
    dims = [int(in_dim), *[int(h) for h in hidden], int(out_dim)]
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def mlp_dims(state: Mapping[str, torch.Tensor], prefix: str, what: str) -> tuple[int, list[int], int]:
    """(in_dim, hidden widths, out_dim) of an MLP stored under ``prefix`` (e.g. ``'Net1.'``)."""
    idx = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(re.escape(prefix) + r"(\d+)\.weight", k)))
    if not idx:
        raise StyleFaceError(f"{what}: no '{prefix}<n>.weight' tensors found")
    shapes = [tuple(state[f"{prefix}{i}.weight"].shape) for i in idx]
    if any(len(s) != 2 for s in shapes):
        raise StyleFaceError(f"{what}: '{prefix}' layers are not Linear weights")
    if idx != list(range(0, 2 * len(idx), 2)):
        raise StyleFaceError(f"{what}: '{prefix}' Linear layers are not at indices 0, 2, 4, ...")
    return shapes[0][1], [s[0] for s in shapes[:-1]], shapes[-1][0]


def infer_style_dim(hidden: Sequence[int], style_dim: int | None, what: str) -> int:
    """``style_dim`` if given, else read it from official-pattern widths (9s, 6s, 3s, s)."""
    if style_dim:
        return int(style_dim)
    if hidden and tuple(hidden) == default_hidden(int(hidden[-1])):
        return int(hidden[-1])
    raise StyleFaceError(f"{what}: cannot tell style_dim from custom hidden widths {list(hidden)}; pass style_dim")


def flatten_wplus(w: torch.Tensor, n_latent: int, style_dim: int) -> torch.Tensor:
    """(B, n_latent, style_dim) or (B, n_latent*style_dim) -> (B, n_latent*style_dim)."""
    if w.dim() == 3 and w.shape[1:] == (n_latent, style_dim):
        return w.reshape(w.shape[0], -1)
    if w.dim() == 2 and w.shape[1] == n_latent * style_dim:
        return w
    raise StyleFaceError(f"expected a W+ code (B, {n_latent}, {style_dim}) or its flattening, got {tuple(w.shape)}")
