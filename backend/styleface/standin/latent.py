"""The stand-in's latent space: a fixed mapping network and fixed linear read-outs of named factors.

Why this shape: the StyleFaceUV method assumes (a) W+ codes whose rows drive coarse to fine attributes,
(b) a pose that is (nearly) linear in w, so that an SVM finds a yaw direction, and (c) everything else
a smooth function of w so that networks can learn it. Here w is whitened with statistics of the mapping
network's own output, and each factor is a fixed projection of the whitened mean of a range of W+ rows,
so every factor has unit variance under the prior and the pose factors are exactly linear in W+.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# Which W+ rows each factor group reads, as fractions of n_latent (coarse rows: pose and shape).
GROUP_ROWS = {"pose": (0.0, 0.5), "expression": (0.25, 0.75), "appearance": (0.5, 1.0)}
POSE_FACTORS = ("yaw", "pitch", "roll")


@dataclass(frozen=True)
class FactorSlot:
    group: str
    start: int
    size: int


def group_rows(group: str, n_latent: int) -> range:
    lo, hi = GROUP_ROWS[group]
    a = min(int(math.floor(lo * n_latent)), n_latent - 1)
    b = max(a + 1, int(math.ceil(hi * n_latent)))
    return range(a, min(b, n_latent))


class LatentSpace(torch.nn.Module):
    """Mapping z -> w, whitening, and the projection of W+ onto named unit-variance factors.

    ``factors`` maps a name to (group, size). The three pose factors get mutually orthogonal directions
    that every other factor's direction is orthogonal to, so yaw is never entangled with appearance.
    ``empty=True`` only allocates the buffers (for loading saved ones without recomputing them).
    """

    def __init__(self, style_dim: int, n_latent: int, factors: dict[str, tuple[str, int]], seed: int,
                 n_mlp: int = 2, stats_samples: int = 20_000, empty: bool = False) -> None:
        super().__init__()
        if style_dim < len(POSE_FACTORS) + 2:
            raise ValueError("style_dim too small for the stand-in")
        self.style_dim, self.n_latent = style_dim, n_latent
        if empty:
            self.slots, offset = {}, 0
            for name, (group, size) in factors.items():
                self.slots[name] = FactorSlot(group, offset, size)
                offset += size
            for name, shape in (("mlp", (n_mlp, style_dim, style_dim)), ("mlp_bias", (n_mlp, style_dim)),
                                ("latent_avg", (style_dim,)), ("whiten", (style_dim, style_dim)),
                                ("projection", (style_dim, offset))):
                self.register_buffer(name, torch.zeros(shape))
            return
        gen = torch.Generator().manual_seed(seed)
        layers = []
        for _ in range(n_mlp):
            q, _r = torch.linalg.qr(torch.randn(style_dim, style_dim, generator=gen, dtype=torch.float64))
            layers.append(q.float())
        self.register_buffer("mlp", torch.stack(layers))
        self.register_buffer("mlp_bias", 0.3 * torch.randn(n_mlp, style_dim, generator=gen))
        # Statistics of w under the prior (fixed seed), for the truncation centre and whitening.
        z = torch.randn(stats_samples, style_dim, generator=gen)
        w = self.mapping(z).double()
        mu = w.mean(0)
        cov = torch.cov((w - mu).T) + 1e-6 * torch.eye(style_dim, dtype=torch.float64)
        evals, evecs = torch.linalg.eigh(cov)
        whiten = evecs @ torch.diag(evals.clamp(min=1e-8).rsqrt()) @ evecs.T
        self.register_buffer("latent_avg", mu.float())
        self.register_buffer("whiten", whiten.float())
        # Pose directions: orthonormal; every other direction lives in their orthogonal complement.
        basis, _r = torch.linalg.qr(torch.randn(style_dim, style_dim, generator=gen, dtype=torch.float64))
        pose_dirs = basis[:, :len(POSE_FACTORS)]
        complement = basis[:, len(POSE_FACTORS):]
        cols, self.slots = [], {}
        offset = 0
        for name, (group, size) in factors.items():
            if name in POSE_FACTORS:
                d = pose_dirs[:, POSE_FACTORS.index(name)].unsqueeze(1)
            else:
                d = complement @ torch.randn(complement.shape[1], size, generator=gen, dtype=torch.float64)
                d = d / d.norm(dim=0, keepdim=True)
            cols.append(d)
            self.slots[name] = FactorSlot(group, offset, size)
            offset += size
        self.register_buffer("projection", torch.cat(cols, 1).float())

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, style_dim) -> w (B, style_dim): pixel norm, then fixed orthogonal layers with leaky ReLU."""
        x = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
        for i in range(self.mlp.shape[0]):
            x = torch.nn.functional.leaky_relu(x @ self.mlp[i] + self.mlp_bias[i], 0.2) * math.sqrt(2 / 1.04)
        return x

    def whitened(self, w: torch.Tensor) -> torch.Tensor:
        return (w - self.latent_avg) @ self.whiten

    def factors(self, wplus: torch.Tensor) -> dict[str, torch.Tensor]:
        """W+ (B, n_latent, style_dim) -> {name: (B, size)}, each unit variance under the prior."""
        out: dict[str, torch.Tensor] = {}
        by_group: dict[str, torch.Tensor] = {}
        for name, slot in self.slots.items():
            if slot.group not in by_group:
                rows = group_rows(slot.group, self.n_latent)
                u = self.whitened(wplus[:, rows.start:rows.stop].mean(1))
                by_group[slot.group] = u @ self.projection
            out[name] = by_group[slot.group][:, slot.start:slot.start + slot.size]
        return out

    def factor_direction(self, name: str, index: int = 0, tied: bool = True) -> torch.Tensor:
        """The unit W+ direction (n_latent, style_dim) along which factor ``name``[index] grows fastest.

        ``tied`` (default) restricts it to codes whose rows are all equal (W+ without style mixing, where
        the SVM lives): the same vector in every row. Otherwise the raw gradient, non-zero only on the
        rows the factor reads. The stand-in's true yaw direction, for benchmarks of the SVM.
        """
        slot = self.slots[name]
        rows = group_rows(slot.group, self.n_latent)
        g = self.whiten @ self.projection[:, slot.start + index]
        d = torch.zeros(self.n_latent, self.style_dim)
        if tied:
            d[:] = g
        else:
            d[rows.start:rows.stop] = g / len(rows)
        return d / d.norm()
