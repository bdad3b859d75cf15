"""Style-modulated convolution and the synthesis layers built on it (StyledConv, ToRGB, noise, const).

Module and parameter names follow rosinality/stylegan2-pytorch so its state dicts load unchanged.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .equalized import EqualLinear, FusedLeakyReLU, can_modify
from .fir import Blur, Upsample, upfirdn2d


def batched_conv1x1(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Per-sample 1x1 convolution: x (B, C, H, W), w (B, O, C) -> (B, O, H, W), keeping the layout."""
    b, c, h, wd = x.shape
    if x.is_contiguous(memory_format=torch.channels_last) and c > 1:
        out = torch.bmm(x.permute(0, 2, 3, 1).reshape(b, h * wd, c), w.transpose(1, 2))
        return out.view(b, h, wd, -1).permute(0, 3, 1, 2)
    return torch.bmm(w, x.reshape(b, c, h * wd)).view(b, -1, h, wd)


def conv1x1(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """1x1 convolution with shared weights (O, C, 1, 1).

    On CPU PyTorch sends single-threaded 1x1 convolutions to a slow unfold path; oneDNN's kernel is
    called directly there when no gradient is needed.
    """
    if (x.device.type == "cpu" and torch.backends.mkldnn.is_available() and x.dtype == torch.float32
            and not (torch.is_grad_enabled() and (x.requires_grad or w.requires_grad))):
        fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        return torch.ops.aten.mkldnn_convolution(x, w.contiguous(memory_format=fmt), None, [0, 0], [1, 1], [1, 1], 1)
    return F.conv2d(x, w)


class ModulatedConv2d(nn.Module):
    """Convolution whose input channels are scaled per sample by a style, then (optionally) demodulated.

    Two equivalent execution paths: ``fused`` folds the style into per-sample weights and runs one
    grouped convolution (rosinality's formulation); otherwise the activations are scaled before and
    after a shared-weight convolution (NVlabs' non-fused form), which avoids rebuilding large weights
    per call. Upsampling is a stride-2 transposed convolution (computed polyphase) followed by the FIR
    blur. Feature maps may be channels-last; the layout is kept.
    """

    def __init__(
        self, in_channel: int, out_channel: int, kernel_size: int, style_dim: int, demodulate: bool = True,
        upsample: bool = False, blur_kernel: Sequence[float] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        self.eps = 1e-8
        self.kernel_size = kernel_size
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.upsample = upsample
        self.demodulate = demodulate
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1.0 / math.sqrt(in_channel * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1.0)

    def _cached(self, name: str, weight: torch.Tensor, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Derived weight tensors (layouts, sums of squares) reused while the weight is unchanged.

        Only without autograd on the weight; the key includes the inference-mode flag because
        inference tensors must not reach autograd later.
        """
        if torch.is_grad_enabled() and weight.requires_grad:
            return make()
        key = (weight.data_ptr(), weight._version, weight.device, weight.dtype, torch.is_inference_mode_enabled())
        cache = self.__dict__.setdefault("_derived", {})
        hit = cache.get(name)
        if hit is None or hit[0] != key:
            hit = (key, make())
            cache[name] = hit
        return hit[1]

    def forward(
        self, x: torch.Tensor, style: torch.Tensor, fused: bool | None = None, reuse_input: bool = False,
    ) -> torch.Tensor:
        """``reuse_input``: the caller no longer needs ``x``, so the style may be applied in place."""
        batch, in_ch, height, width = x.shape
        # The equalised-lr scale is folded into the style: conv(x * s, W * c) == conv(x * (s * c), W).
        s = self.modulation(style) * self.scale  # (B, in)
        weight = self.weight[0]  # (out, in, k, k)
        if self.kernel_size == 1 and not self.upsample:
            # 1x1 (ToRGB): per-sample weights are tiny, one batched matrix product does it all.
            w = weight.reshape(1, self.out_channel, in_ch) * s.view(batch, 1, in_ch)
            if self.demodulate:
                w = w * torch.rsqrt(w.square().sum(2, keepdim=True) + self.eps)
            return batched_conv1x1(x, w)
        if fused is None:
            # Batch 1: fold the style into the weights when they are smaller than the activations (saves
            # two passes over the feature map). Larger batches: one shared-weight convolution, which
            # avoids slow grouped convolutions and layout copies.
            fused = batch == 1 and weight.numel() < x.numel()
        channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and in_ch > 1
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        if fused:
            w = weight.unsqueeze(0) * s.view(batch, 1, in_ch, 1, 1)
            if self.demodulate:
                w = w * torch.rsqrt(w.square().sum([2, 3, 4]) + self.eps).view(batch, -1, 1, 1, 1)
            w = w.reshape(batch * self.out_channel, in_ch, *weight.shape[2:])
            x = x.reshape(1, batch * in_ch, height, width)
            out = self._conv(x, w, batch, fmt, cached=False)
            if batch > 1:  # (a no-op reshape at batch 1 would still spoil the channels-last strides)
                out = out.reshape(batch, self.out_channel, *out.shape[2:])
        else:
            sv = s.view(batch, in_ch, 1, 1)
            x = x.mul_(sv) if reuse_input and can_modify(x) else x * sv
            out = self._conv(x, weight, 1, fmt, cached=True)
            if self.demodulate:
                # sum_{i,kh,kw} (w[o,i] s[b,i])^2 = (s^2) @ (sum_k w^2)^T, without per-sample weights.
                wsq = self._cached("wsq", weight, lambda: weight.square().sum([2, 3]).t())
                d = torch.rsqrt(s.square() @ wsq + self.eps).view(batch, -1, 1, 1)
                out = out.mul_(d) if can_modify(out) else out * d
        if self.upsample:
            out = self.blur(out) if out.shape[-1] == 2 * width + 1 else upfirdn2d(out, self.blur.kernel)
        return out

    def _conv(self, x: torch.Tensor, w: torch.Tensor, groups: int, fmt: torch.memory_format,
              cached: bool) -> torch.Tensor:
        """Plain or stride-2 transposed convolution; ``w`` is (groups*out, in, k, k)."""

        def prep(name: str, make: Callable[[], torch.Tensor]) -> torch.Tensor:
            return self._cached(f"{name}:{fmt}", w, make) if cached else make()

        if not self.upsample:
            if self.kernel_size == 1 and groups == 1:
                return conv1x1(x, w)
            wf = prep("w", lambda: w.contiguous(memory_format=fmt))
            return F.conv2d(x, wf, padding=self.padding, groups=groups)
        if self.kernel_size != 3 or self.blur.pad[0] != self.blur.pad[1] or self.blur.pad[0] < 0:
            wt = w.reshape(groups, -1, *w.shape[1:]).transpose(1, 2).reshape(-1, w.shape[0] // groups, *w.shape[2:])
            return F.conv_transpose2d(x, wt, stride=2, groups=groups)
        return self._upsample_polyphase(x, w, groups, fmt, prep)

    def _upsample_polyphase(self, x: torch.Tensor, w: torch.Tensor, groups: int, fmt: torch.memory_format,
                            prep: Callable[[str, Callable[[], torch.Tensor]], torch.Tensor]) -> torch.Tensor:
        """Stride-2 transposed 3x3 conv as four small convs (one per output phase), written into a
        zero-bordered buffer that already holds the blur's padding.

        conv_transpose2d output row 2m uses taps 0 and 2 (inputs m and m-1), row 2m+1 tap 1 only, so
        each phase is an ordinary correlation with a flipped sub-kernel; this runs faster on CPU than
        the transposed convolution and skips the separate padding copy.
        """
        b, c, h, wd = x.shape
        out_ch = w.shape[0]
        # Flipped taps: even phases use (2, 0), odd phases tap 1.
        taps = (slice(None, None, 2), slice(1, 2))
        flipped: list[torch.Tensor] = []

        def phase(ry: int, rx: int) -> torch.Tensor:
            if not flipped:
                flipped.append(w.flip([2, 3]))
            return flipped[0][:, :, taps[ry], taps[rx]].contiguous(memory_format=fmt)

        ks = {(ry, rx): prep(f"phase{ry}{rx}", lambda ry=ry, rx=rx: phase(ry, rx)) for ry in (0, 1) for rx in (0, 1)}
        p = self.blur.pad[0]
        oh, ow = 2 * h + 1 + 2 * p, 2 * wd + 1 + 2 * p
        buf = torch.empty((b, out_ch, oh, ow), dtype=x.dtype, device=x.device, memory_format=fmt)
        if p:
            buf[:, :, :p].zero_()
            buf[:, :, oh - p:].zero_()
            buf[:, :, :, :p].zero_()
            buf[:, :, :, ow - p:].zero_()
        inner = buf[:, :, p:oh - p, p:ow - p]
        # Even phases see one zero row/column of padding on each side (inputs m and m-1).
        inner[:, :, 0::2, 0::2] = F.conv2d(x, ks[0, 0], padding=(1, 1), groups=groups)
        inner[:, :, 0::2, 1::2] = F.conv2d(x, ks[0, 1], padding=(1, 0), groups=groups)
        inner[:, :, 1::2, 0::2] = F.conv2d(x, ks[1, 0], padding=(0, 1), groups=groups)
        inner[:, :, 1::2, 1::2] = conv1x1(x, ks[1, 1]) if groups == 1 else F.conv2d(x, ks[1, 1], groups=groups)
        return buf


class NoiseInjection(nn.Module):
    """Adds single-channel noise scaled by a learned strength ``weight``."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None, inplace: bool = False) -> torch.Tensor:
        if noise is None:
            b, _, h, w = x.shape
            noise = x.new_empty(b, 1, h, w).normal_()
        # Scale the small single-channel map first: broadcasting it into a channels-last feature map
        # costs one pass, an addcmul with two broadcast operands is several times slower.
        scaled = noise.to(x.dtype) * self.weight
        return x.add_(scaled) if inplace else x + scaled


class StyledConv(nn.Module):
    """Modulated 3x3 conv -> noise -> bias + leaky ReLU: one synthesis layer."""

    def __init__(
        self, in_channel: int, out_channel: int, kernel_size: int, style_dim: int, upsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1), demodulate: bool = True,
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, demodulate=demodulate,
                                    upsample=upsample, blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(
        self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None, reuse_input: bool = False,
    ) -> torch.Tensor:
        out = self.conv(x, style, reuse_input=reuse_input)
        inplace = can_modify(out)
        out = self.noise(out, noise=noise, inplace=inplace)
        return self.activate(out, inplace=inplace)


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB (no demodulation) plus bias, added to the upsampled previous RGB."""

    def __init__(
        self, in_channel: int, style_dim: int, upsample: bool = True, blur_kernel: Sequence[float] = (1, 3, 3, 1),
        out_channel: int = 3,
    ) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, out_channel, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, out_channel, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConstantInput(nn.Module):
    """The learned 4x4 constant that starts synthesis."""

    def __init__(self, channel: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)
