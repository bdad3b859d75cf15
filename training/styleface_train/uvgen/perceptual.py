"""LPIPS-VGG (v0.1) written here, so training needs neither the ``lpips`` package nor torchvision.

StyleFaceUV's perceptual term is ``lpips.LPIPS(net='vgg')``: VGG16 ``features`` tapped after relu1_2,
relu2_2, relu3_3, relu4_3 and relu5_3; each tap unit-normalised over channels, squared difference,
a non-negative 1x1 linear head, spatial mean, summed over taps. Inputs are in [-1, 1] and go through
LPIPS's fixed scaling layer first. Weights are the user's files, never downloaded:

- VGG16: torchvision's ``vgg16-397923af.pth`` (keys ``features.N.weight``), found by path, then
  ``$STYLEFACE_VGG16``, then the torch hub cache (``weightfiles.resolve_weights``);
- heads: the ``lpips`` package's ``weights/v0.1/vgg.pth`` (keys ``lin0.model.1.weight`` ..), found by
  path, then ``$STYLEFACE_LPIPS_HEADS``, then the cache name ``lpips_vgg_v0.1.pth``, then an installed
  ``lpips`` package's file; without one, uniform heads (1/C) with a warning.

``mode="random"`` (seeded random VGG, uniform heads) exists for tests and CI and must be asked for.
"""
from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import torch
from styleface.errors import StyleFaceError
from torch import nn

from ..common.weightfiles import WeightSpec, resolve_weights, torch_home

MODES = ("lpips", "random", "none")
# torchvision's VGG16 "D" configuration; "M" is a 2x2 max pool.
VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
TAPS = (3, 8, 15, 22, 29)           # indices in ``features`` of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
TAP_CHANNELS = (64, 128, 256, 512, 512)
# LPIPS's ScalingLayer: inputs in [-1, 1] -> (x - shift) / scale (ImageNet statistics in that range).
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
NORM_EPS = 1e-10

VGG16_SPEC = WeightSpec("VGG16 (ImageNet) for the LPIPS perceptual loss", "STYLEFACE_VGG16",
                        ("vgg16-397923af.pth",), "https://download.pytorch.org/models/vgg16-397923af.pth")
HEADS_SPEC = WeightSpec("LPIPS v0.1 VGG linear heads", "STYLEFACE_LPIPS_HEADS", ("lpips_vgg_v0.1.pth",),
                        "the lpips package (pip install lpips), file lpips/weights/v0.1/vgg.pth")


def vgg16_features() -> nn.Sequential:
    """VGG16 ``features`` up to relu5_3 (index 29), module indices identical to torchvision's."""
    layers: list[nn.Module] = []
    in_ch = 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(in_ch, int(v), 3, padding=1), nn.ReLU()]
            in_ch = int(v)
    return nn.Sequential(*layers)


def _load_tensors(path: Path, what: str) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        raise StyleFaceError(f"{what}: cannot read {path} ({type(exc).__name__})") from None
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise StyleFaceError(f"{what}: {path} is not a state dict of tensors")
    return obj


class LPIPS(nn.Module):
    """LPIPS distance (B,) between image batches in [-1, 1]; frozen, differentiable in its inputs."""

    def __init__(self, head_weights: list[torch.Tensor] | None = None) -> None:
        super().__init__()
        self.net = nn.Module()
        self.net.features = vgg16_features()
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        heads = head_weights or [torch.full((1, c, 1, 1), 1.0 / c) for c in TAP_CHANNELS]
        for k, w in enumerate(heads):
            self.register_buffer(f"lin{k}", w.detach().float().clone())
        self.requires_grad_(False)
        self.eval()

    def load_vgg(self, state: dict[str, torch.Tensor], source: str) -> None:
        """Copy torchvision-layout ``features.N.*`` tensors (other keys, e.g. the classifier, are ignored)."""
        own = self.net.features.state_dict()
        missing = [k for k in own if f"features.{k}" not in state]
        if missing:
            raise StyleFaceError(f"{source} is not a torchvision VGG16 state dict (no 'features.{missing[0]}')")
        bad = [k for k in own if tuple(state[f"features.{k}"].shape) != tuple(own[k].shape)]
        if bad:
            k = bad[0]
            raise StyleFaceError(f"{source}: 'features.{k}' has shape {tuple(state[f'features.{k}'].shape)}, "
                                 f"VGG16 needs {tuple(own[k].shape)}")
        self.net.features.load_state_dict({k: state[f"features.{k}"].float() for k in own})

    def heads(self) -> list[torch.Tensor]:
        return [getattr(self, f"lin{k}") for k in range(len(TAPS))]

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape or x.dim() != 4 or x.shape[1] != 3:
            raise StyleFaceError(f"LPIPS needs two (B, 3, H, W) batches of one shape, got {tuple(x.shape)} "
                                 f"and {tuple(y.shape)}")
        # One VGG pass per input: a target that needs no gradient then keeps no activations for backward
        # (at 256 px and batch 12 that halves the memory of this loss).
        total = x.new_zeros(x.shape[0])
        for fx, fy, head in zip(self.taps(x), self.taps(y), self.heads()):
            d = (fx - fy).pow(2)
            total = total + nn.functional.conv2d(d, head.to(d.dtype)).mean((1, 2, 3))
        return total

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five unit-normalised VGG feature maps of images in [-1, 1]."""
        h = (x - self.shift) / self.scale
        out = []
        for i, layer in enumerate(self.net.features):
            h = layer(h)
            if i in TAPS:
                out.append(h / (h.pow(2).sum(1, keepdim=True).sqrt() + NORM_EPS))
        return out


def load_heads(path: Path) -> list[torch.Tensor]:
    """The five 1x1 heads from an lpips ``vgg.pth`` (``linK.model.1.weight``, (1, C, 1, 1), >= 0)."""
    state = _load_tensors(path, HEADS_SPEC.what)
    out = []
    for k, c in enumerate(TAP_CHANNELS):
        w = state.get(f"lin{k}.model.1.weight")
        if w is None:
            raise StyleFaceError(f"{path} is not an LPIPS heads file (no 'lin{k}.model.1.weight')")
        if tuple(w.shape) != (1, c, 1, 1):
            raise StyleFaceError(f"{path}: 'lin{k}.model.1.weight' has shape {tuple(w.shape)}, VGG needs (1, {c}, 1, 1)")
        if not torch.isfinite(w).all() or (w < 0).any():
            raise StyleFaceError(f"{path}: LPIPS heads must be finite and non-negative")
        out.append(w.float())
    return out


def find_heads(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The heads file: explicit > $STYLEFACE_LPIPS_HEADS > cache > installed lpips package > None."""
    if explicit is not None or os.environ.get(HEADS_SPEC.env_var):
        return resolve_weights(HEADS_SPEC, explicit)
    for name in HEADS_SPEC.cache_names:
        cached = torch_home() / "hub" / "checkpoints" / name
        if cached.is_file():
            return cached
    spec = importlib.util.find_spec("lpips")  # locates the package without importing it
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "weights" / "v0.1" / "vgg.pth"
            if candidate.is_file():
                return candidate
    return None


def random_lpips(seed: int = 0) -> LPIPS:
    """LPIPS with a seeded random VGG (torchvision's init: Kaiming-normal fan-out, zero bias) and uniform
    heads: shapes, gradients and masking behave as the real one; the values mean nothing perceptually."""
    net = LPIPS()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.net.features:
            if isinstance(m, nn.Conv2d):
                std = (2.0 / (m.out_channels * 9)) ** 0.5
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * std)
                m.bias.zero_()
    return net


def build_perceptual(mode: str, vgg_weights: str | os.PathLike[str] | None = None,
                     lpips_heads: str | os.PathLike[str] | None = None, seed: int = 0) -> LPIPS | None:
    """The perceptual network for ``mode``: 'lpips' (user's weights), 'random' (tests), 'none' (None)."""
    if mode not in MODES:
        raise StyleFaceError(f"perceptual must be one of {', '.join(MODES)}, got '{mode}'")
    if mode == "none":
        return None
    if mode == "random":
        return random_lpips(seed)
    vgg_path = resolve_weights(VGG16_SPEC, vgg_weights)
    heads_path = find_heads(lpips_heads)
    if heads_path is None:
        warnings.warn("LPIPS heads not found (set $STYLEFACE_LPIPS_HEADS to lpips/weights/v0.1/vgg.pth or "
                      "install lpips): using uniform heads, which is not the paper's LPIPS", stacklevel=2)
        net = LPIPS()
    else:
        net = LPIPS(load_heads(heads_path))
    net.load_vgg(_load_tensors(vgg_path, VGG16_SPEC.what), str(vgg_path))
    return net
