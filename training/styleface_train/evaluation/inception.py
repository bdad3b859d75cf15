"""The InceptionV3 that FID is defined with (TensorFlow's 2015-12-05 graph, as pytorch-fid ports it).

FID numbers are only comparable when computed with that exact network, so the module names and shapes
here follow torchvision's ``Inception3`` with pytorch-fid's FID patches: the state dict of
``pt_inception-2015-12-05-6726825d.pth`` (1008 classes, no auxiliary head) loads with matching keys.
The FID differences from torchvision's Inception are the average pools that ignore zero padding
(``count_include_pad=False``) and a max pool in the last block. The user brings the weight file; it is
read with ``torch.load(weights_only=True)`` and never downloaded.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from styleface.errors import StyleFaceError
from torch import nn

from ..common.weightfiles import WeightSpec, resolve_weights

FID_INCEPTION = WeightSpec(
    what="FID Inception (pytorch-fid's TensorFlow InceptionV3 port)",
    env_var="STYLEFACE_INCEPTION",
    cache_names=("pt_inception-2015-12-05-6726825d.pth",),
    url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
)
INPUT_SIZE = 299
FEATURES = 2048
NUM_CLASSES = 1008


class Conv(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3), ReLU: keys ``conv.*`` and ``bn.*``."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's 3x3 same-padded average pool: padded zeros do not count."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def _chain(x: torch.Tensor, *layers: nn.Module) -> torch.Tensor:
    for layer in layers:
        x = layer(x)
    return x


class MixedA(nn.Module):
    """35x35 block: 1x1, 5x5, double 3x3 and pooled 1x1 branches."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = Conv(cin, 64, 1)
        self.branch5x5_1 = Conv(cin, 48, 1)
        self.branch5x5_2 = Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = Conv(cin, 64, 1)
        self.branch3x3dbl_2 = Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, padding=1)
        self.branch_pool = Conv(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x), _chain(x, self.branch5x5_1, self.branch5x5_2),
                          _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
                          self.branch_pool(_avg3(x))], 1)


class ReduceB(nn.Module):
    """35 -> 17 reduction."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = Conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = Conv(cin, 64, 1)
        self.branch3x3dbl_2 = Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x), _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
                          F.max_pool2d(x, 3, stride=2)], 1)


class MixedC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (``c7`` inner channels)."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
        self.branch1x1 = Conv(cin, 192, 1)
        self.branch7x7_1 = Conv(cin, c7, 1)
        self.branch7x7_2 = Conv(c7, c7, row[0], padding=row[1])
        self.branch7x7_3 = Conv(c7, 192, col[0], padding=col[1])
        self.branch7x7dbl_1 = Conv(cin, c7, 1)
        self.branch7x7dbl_2 = Conv(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_3 = Conv(c7, c7, row[0], padding=row[1])
        self.branch7x7dbl_4 = Conv(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_5 = Conv(c7, 192, row[0], padding=row[1])
        self.branch_pool = Conv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            _chain(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3),
            _chain(x, self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                   self.branch7x7dbl_5),
            self.branch_pool(_avg3(x))], 1)


class ReduceD(nn.Module):
    """17 -> 8 reduction."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = Conv(cin, 192, 1)
        self.branch3x3_2 = Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = Conv(cin, 192, 1)
        self.branch7x7x3_2 = Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = Conv(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([_chain(x, self.branch3x3_1, self.branch3x3_2),
                          _chain(x, self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4),
                          F.max_pool2d(x, 3, stride=2)], 1)


class MixedE(nn.Module):
    """8x8 block with split 1x3 / 3x1 heads; ``max_pool`` selects the FID graph's last-block pooling."""

    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = Conv(cin, 320, 1)
        self.branch3x3_1 = Conv(cin, 384, 1)
        self.branch3x3_2a = Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = Conv(cin, 448, 1)
        self.branch3x3dbl_2 = Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = Conv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3_1(x)
        b = _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg3(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(a), self.branch3x3_2b(a),
                          self.branch3x3dbl_3a(b), self.branch3x3dbl_3b(b), self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """Images (B, 3, H, W) in [0, 1] -> 2048-d pool features (B, 2048).

    Inputs are resized to 299x299 (bilinear, ``align_corners=False``) and scaled to [-1, 1], as
    pytorch-fid does. ``fc`` exists only so the weight file's classifier keys load; it is not used.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = Conv(80, 192, 3)
        self.Mixed_5b = MixedA(192, 32)
        self.Mixed_5c = MixedA(256, 64)
        self.Mixed_5d = MixedA(288, 64)
        self.Mixed_6a = ReduceB(288)
        self.Mixed_6b = MixedC(768, 128)
        self.Mixed_6c = MixedC(768, 160)
        self.Mixed_6d = MixedC(768, 160)
        self.Mixed_6e = MixedC(768, 192)
        self.Mixed_7a = ReduceD(768)
        self.Mixed_7b = MixedE(1280, max_pool=False)
        self.Mixed_7c = MixedE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURES, NUM_CLASSES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = _chain(x, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)
        x = F.max_pool2d(x, 3, stride=2)
        x = _chain(x, self.Conv2d_3b_1x1, self.Conv2d_4a_3x3)
        x = F.max_pool2d(x, 3, stride=2)
        x = _chain(x, self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                   self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c)
        return x.mean((2, 3))


def load_fid_inception(path: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu"
                       ) -> FIDInceptionV3:
    """The FID Inception with the user's weights (path > $STYLEFACE_INCEPTION > torch cache), eval mode."""
    file = resolve_weights(FID_INCEPTION, path)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable / non-tensor file is a user error
        raise StyleFaceError(f"{FID_INCEPTION.what}: cannot read {file} as a weights-only state dict "
                             f"({e.__class__.__name__})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise StyleFaceError(f"{FID_INCEPTION.what}: {file} does not hold a state dict")
    net = FIDInceptionV3()
    load_matching(net, state, Path(file).name)
    return net.to(device).eval().requires_grad_(False)


def load_matching(net: nn.Module, state: dict, where: str) -> None:
    """Copy ``state`` into ``net`` requiring every key and shape to match (BN batch counters optional)."""
    own = net.state_dict()
    optional = {k for k in own if k.endswith("num_batches_tracked")}
    missing = sorted(set(own) - set(state) - optional)
    unexpected = sorted(set(state) - set(own))
    bad = sorted(k for k in set(own) & set(state)
                 if not isinstance(state[k], torch.Tensor) or tuple(state[k].shape) != tuple(own[k].shape))
    if missing or unexpected or bad:
        parts = [f"{len(v)} {name} (e.g. {v[0]})" for name, v in
                 (("missing", missing), ("unexpected", unexpected), ("mis-shaped", bad)) if v]
        raise StyleFaceError(f"{FID_INCEPTION.what}: {where} is not the FID Inception state dict: {'; '.join(parts)}")
    net.load_state_dict({k: v for k, v in state.items()}, strict=False)
