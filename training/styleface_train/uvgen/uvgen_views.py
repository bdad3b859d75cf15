"""The UV generator's training data, sampled on the fly: stylecodes, target images, coefficients.

Per batch: z ~ N(0, I), w = to_wplus(z) (optional truncation), kept when F3D's yaw is within
+-max_yaw (the paper trains on |yaw| < 30 degrees); the target is the 2D generator's image of w in
[0, 1] and the coefficients are F3D(w). With the symmetric view, w_sym = w + Fyaw(w) d and its image
and coefficients likewise. Every random number (codes, the 2D generator's noise, and the UV
generator's noise drawn afterwards from the same ``torch.Generator``) comes from a seed that is a pure
function of (stream, step), so a resumed run sees exactly the batches an uninterrupted one would.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from styleface.errors import StyleFaceError

MAX_ROUNDS = 64


def stream_seed(stream: str, step: int) -> int:
    """A 63-bit seed for batch ``step`` of ``stream`` (e.g. 'train:3' for rank seed 3, 'val:0')."""
    digest = hashlib.sha256(f"styleface-uvgen:{stream}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


@dataclass
class Views:
    """One batch: W+ codes, targets (B, 3, S, S) in [0, 1] and coefficients, plus the symmetric view."""

    w: torch.Tensor
    target: torch.Tensor
    coeffs: torch.Tensor
    w_sym: torch.Tensor | None = None
    target_sym: torch.Tensor | None = None
    coeffs_sym: torch.Tensor | None = None


class ViewSampler:
    """Draws :class:`Views` batches from a 2D generator, F3D and (optionally) the yaw symmetry."""

    def __init__(self, generator: torch.nn.Module, f3d: torch.nn.Module, yaw: torch.nn.Module | None,
                 batch_size: int, image_size: int, max_yaw_deg: float, truncation: float,
                 device: torch.device) -> None:
        self.generator, self.f3d, self.yaw = generator, f3d, yaw
        self.batch_size, self.image_size = batch_size, image_size
        self.max_yaw = math.radians(max_yaw_deg)
        self.truncation = truncation
        self.device = device
        self.yaw_index = f3d.layout.yaw_index

    def rng(self, stream: str, step: int) -> torch.Generator:
        return torch.Generator().manual_seed(stream_seed(stream, step))

    def _codes(self, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(w, F3D(w)) of batch_size codes that pass the yaw filter."""
        ws, cs, have = [], [], 0
        style_dim = int(self.generator.style_dim)
        for _ in range(MAX_ROUNDS):
            z = torch.randn(2 * self.batch_size, style_dim, generator=gen).to(self.device)
            w = self.generator.to_wplus(z, truncation=self.truncation)
            c = self.f3d(w)
            keep = c[:, self.yaw_index].abs() < self.max_yaw if self.max_yaw > 0 else torch.ones_like(c[:, 0]).bool()
            ws.append(w[keep])
            cs.append(c[keep])
            have += int(keep.sum())
            if have >= self.batch_size:
                return torch.cat(ws)[:self.batch_size], torch.cat(cs)[:self.batch_size]
        raise StyleFaceError(f"the yaw filter (|yaw| < {math.degrees(self.max_yaw):g} deg by F3D) keeps almost no "
                             "codes; check --f3d or raise --max-yaw")

    def _image(self, w: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        img = self.generator.synthesis(w, generator=gen)
        img = (img.float().clamp(-1, 1) + 1) * 0.5
        if img.shape[-1] != self.image_size:
            img = F.interpolate(img, size=(self.image_size, self.image_size), mode="bilinear",
                                align_corners=False, antialias=True).clamp(0, 1)
        return img

    @torch.no_grad()
    def sample(self, gen: torch.Generator, symmetric: bool) -> Views:
        w, coeffs = self._codes(gen)
        views = Views(w, self._image(w, gen), coeffs)
        if symmetric:
            if self.yaw is None:
                raise StyleFaceError("the symmetric view needs the yaw symmetry (--yaw)")
            views.w_sym = self.yaw(w)
            views.target_sym = self._image(views.w_sym, gen)
            views.coeffs_sym = self.f3d(views.w_sym)
        return views
