"""View-consistent image synthesis, the paper's Figure 4: per seed, the 2D generator's image, its
InterFaceGAN-style yaw edits, and the 3D face rendered at each yaw and pasted into the original image.

The 3D face keeps everything F3D predicts for the image (pitch, roll, translation, SH light) except the
yaw, which is set to each target; its render is composited over the 2D image with the render mask,
eroded and blurred (a soft, feathered face mask), as StyleFaceUV does for its comparisons. Extra rows
vary the lighting (SH presets or rotations of the face's own light) or the expression, so one strip
shows "consistent changes in viewing angles, expressions and lighting".
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .errors import StyleFaceError
from .facemodel.coeffs import Coeffs

if TYPE_CHECKING:
    from .pipeline import Pipeline

Expression = Mapping[str, float] | Sequence[float]


@dataclass
class Variant:
    """One row of 3D composites: the face as predicted, or with its lighting / expression changed."""

    label: str
    gamma: torch.Tensor | None = None             # (27,) fixed SH lighting (a preset)
    light_rotation: float | None = None           # degrees of yaw applied to the face's own light
    expression: Expression | None = None          # named strengths or a full coefficient vector


@dataclass
class ViewStrip:
    """image (H, W, 3) the 2D generator's; edits (Y, H, W, 3) its yaw edits; rows: label -> composites
    (Y + 1, H, W, 3), column 0 at the face's own pose; all float32 in [0, 1]."""

    seed: int | None
    yaws: list[float]
    image: np.ndarray
    edits: np.ndarray
    rows: dict[str, np.ndarray]
    predicted_yaw: float = 0.0
    seconds: float = 0.0
    notes: dict[str, float] = field(default_factory=dict)

    def to_image(self, labels: bool = True) -> np.ndarray:
        """A uint8 grid: first row the 2D image and its yaw edits, then one row per 3D variant."""
        h, w = self.image.shape[:2]
        top = np.concatenate([self.image, *self.edits], axis=1)
        grid = np.concatenate([top, *[np.concatenate(list(r), axis=1) for r in self.rows.values()]], axis=0)
        img = (np.clip(grid, 0, 1) * 255 + 0.5).astype(np.uint8)
        if not labels:
            return img
        from PIL import Image, ImageDraw

        im = Image.fromarray(img)
        draw = ImageDraw.Draw(im)
        heads = [f"seed {self.seed}" if self.seed is not None else "input"] + [f"yaw {y:+g}" for y in self.yaws]
        for c, text in enumerate(heads):
            _label(draw, c * w, 0, text)
        _label(draw, 0, h - 12, "2D + InterFaceGAN")
        for r, name in enumerate(self.rows, start=1):
            _label(draw, 0, (r + 1) * h - 12, name)
            _label(draw, 0, r * h, f"own pose ({round(math.degrees(self.predicted_yaw)):+d})")
        return np.asarray(im)


def _label(draw, x: int, y: int, text: str) -> None:
    box = draw.textbbox((x + 2, y + 1), text)
    draw.rectangle((box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1), fill=(0, 0, 0))
    draw.text((x + 2, y + 1), text, fill=(255, 255, 255))


def feathered_mask(mask: torch.Tensor, radius: float) -> torch.Tensor:
    """(B, 1, H, W) binary render mask -> soft mask: eroded by ``radius`` px, then a Gaussian blur of
    sigma ``radius``, so the face blends into the image over a few pixels inside its silhouette."""
    if radius <= 0:
        return mask
    r = max(1, int(round(radius)))
    eroded = -F.max_pool2d(-mask, 2 * r + 1, stride=1, padding=r)
    k = max(1, int(math.ceil(2 * radius)))
    x = torch.arange(-k, k + 1, dtype=mask.dtype, device=mask.device)
    g = torch.exp(-0.5 * (x / radius) ** 2)
    g = g / g.sum()
    out = F.conv2d(F.pad(eroded, (k, k, 0, 0), mode="replicate"), g.view(1, 1, 1, -1))
    out = F.conv2d(F.pad(out, (0, 0, k, k), mode="replicate"), g.view(1, 1, -1, 1))
    return out.clamp(0, 1) * mask


def default_variants(lighting: Sequence[str] = (), light_rotations: Sequence[float] = (),
                     expressions: Sequence[Expression] = ()) -> list[Variant]:
    """The predicted face, then one row per lighting preset, light rotation and expression."""
    from .lighting import preset_gamma

    rows = [Variant("3D")]
    rows += [Variant(f"light: {name}", gamma=preset_gamma(name)) for name in lighting]
    rows += [Variant(f"own light {deg:+g} deg", light_rotation=float(deg)) for deg in light_rotations]
    for e in expressions:
        text = ",".join(f"{k}={v:g}" for k, v in e.items()) if isinstance(e, Mapping) else "values"
        rows.append(Variant(f"expr: {text}", expression=e))
    return rows


class ViewSynthesis:
    """Strips for one Pipeline (its bundle needs a 2D generator and a yaw direction)."""

    def __init__(self, pipe: "Pipeline", render_mode: str = "uv", feather: float | None = None) -> None:
        from .camera import PinholeCamera
        from .render import FaceRenderer, RasterizationSettings

        b = pipe.bundle
        self.g2d = b.networks.get("generator2d")
        if self.g2d is None:
            raise StyleFaceError(f"bundle '{b.id}' has no 2D generator (generator2d): views need one")
        if b.networks.get("yaw") is None:
            raise StyleFaceError(f"bundle '{b.id}' has no yaw direction: views need one for the 2D yaw edits")
        self.pipe = pipe
        self.size = int(self.g2d.size)
        info = b.manifest.displacement
        self.renderer = FaceRenderer(
            pipe.model, PinholeCamera(self.size), RasterizationSettings(image_size=self.size), mode=render_mode,
            displacement_scale=info.scale, displacement_midlevel=info.mid_level,
            displacement_mode="xyz" if info.mode == "generalized-xyz" else "normal",
            padding_mode=b.manifest.uv_padding)
        self.feather = self.size / 64 if feather is None else float(feather)

    @torch.no_grad()
    def strips(self, seeds: Sequence[int] | None = None, yaws: Sequence[float] = (-30.0, 0.0, 30.0), *,
               wplus: torch.Tensor | None = None, variants: Sequence[Variant] | None = None,
               truncation: float | None = None) -> list[ViewStrip]:
        """One ViewStrip per seed (or per row of ``wplus``)."""
        if (seeds is None) == (wplus is None):
            raise StyleFaceError("give seeds or wplus")
        if not yaws:
            raise StyleFaceError("give at least one yaw")
        variants = list(variants) if variants else [Variant("3D")]
        wps = self.pipe.wplus(seeds=list(seeds), truncation=truncation) if seeds is not None else \
            self.pipe.wplus(w=wplus)
        out = []
        for i in range(wps.shape[0]):
            t0 = time.perf_counter()
            strip = self._strip(wps[i:i + 1], list(map(float, yaws)), variants)
            strip.seed = None if seeds is None else int(list(seeds)[i])
            strip.seconds = time.perf_counter() - t0
            out.append(strip)
        return out

    def _strip(self, wp: torch.Tensor, yaws: list[float], variants: Sequence[Variant]) -> ViewStrip:
        pipe = self.pipe
        image = ((self.g2d.synthesis(wp, noise="const").clamp(-1, 1) + 1) / 2).float()   # (1, 3, S, S)
        image = _resize(image, self.size)
        edits = _resize(pipe.reference_images(wp, yaws)[0].to(image), self.size)        # (Y, 3, S, S)
        c = pipe.coefficients(wp)
        diffuse, disp = pipe.uv_maps(wp)
        diffuse, disp = diffuse.clamp(0, 1), disp.clamp(-1, 1)
        comps = self._composites(image, [self._vary(c, v) for v in variants], diffuse, disp, yaws)
        rows = dict(zip((v.label for v in variants), comps.split(len(yaws) + 1)))
        hwc = lambda t: t.permute(0, 2, 3, 1).cpu().numpy()  # noqa: E731
        return ViewStrip(seed=None, yaws=yaws, image=hwc(image)[0], edits=hwc(edits),
                         rows={k: hwc(r) for k, r in rows.items()}, predicted_yaw=float(c.rot[0, 1]))

    def _vary(self, c: Coeffs, v: Variant) -> Coeffs:
        from .lighting import rotate_gamma

        if v.gamma is not None:
            c = c.replace(gamma=torch.as_tensor(v.gamma, dtype=c.gamma.dtype, device=c.gamma.device)
                          .reshape(1, -1).expand_as(c.gamma))
        if v.light_rotation is not None:
            c = c.replace(gamma=rotate_gamma(c.gamma.cpu(), v.light_rotation).to(c.gamma.device))
        if v.expression is not None:
            c = c.replace(exp=self._expression(v.expression, c.exp))
        return c

    def _expression(self, e: Expression, like: torch.Tensor) -> torch.Tensor:
        n = like.shape[1]
        if isinstance(e, Mapping):
            out = torch.zeros_like(like)
            for name, strength in e.items():
                out[:, self.pipe.model.expression_index(str(name))] = float(strength)
            return out
        vals = torch.as_tensor(np.asarray(e, dtype=np.float32).reshape(-1), device=like.device)
        if vals.numel() != n:
            raise StyleFaceError(f"an expression needs {n} values for this face model, got {vals.numel()}")
        return vals.view(1, n).expand_as(like)

    def _composites(self, image: torch.Tensor, variants: list[Coeffs], diffuse: torch.Tensor,
                    disp: torch.Tensor, yaws: list[float]) -> torch.Tensor:
        """(V * (Y + 1), 3, S, S): per variant, the render at the own pose and at each yaw, pasted into
        ``image``; all variants in one render call (batched rasterisation is cheaper than a loop)."""
        n = len(yaws) + 1
        groups: dict[str, list[torch.Tensor]] = {k: [] for k in ("id", "exp", "tex", "rot", "gamma", "trans")}
        for c in variants:
            rot = c.rot.expand(n, -1).clone()
            rot[1:, 1] = torch.tensor([math.radians(y) for y in yaws], dtype=rot.dtype, device=rot.device)
            for k in groups:
                groups[k].append(rot if k == "rot" else getattr(c, k).expand(n, -1))
        cc = Coeffs(**{k: torch.cat(v) for k, v in groups.items()})
        out = self.renderer.render(cc, diffuse.to(cc.rot.dtype), disp.to(cc.rot.dtype))
        soft = feathered_mask(out.mask.to(image.dtype), self.feather)
        return (soft * out.image.clamp(0, 1).to(image.dtype) + (1 - soft) * image).clamp(0, 1)


def _resize(t: torch.Tensor, size: int) -> torch.Tensor:
    if t.shape[-1] == size:
        return t
    return F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def view_strips(pipe: "Pipeline", seeds: Sequence[int] | None = None, yaws: Sequence[float] = (-30.0, 0.0, 30.0),
                *, wplus: torch.Tensor | None = None, lighting: Sequence[str] = (),
                light_rotations: Sequence[float] = (), expressions: Sequence[Expression] = (),
                render_mode: str = "uv", feather: float | None = None,
                truncation: float | None = None) -> list[ViewStrip]:
    """The strips of ``styleface views``: see the module docstring."""
    vs = ViewSynthesis(pipe, render_mode=render_mode, feather=feather)
    return vs.strips(seeds, yaws, wplus=wplus, variants=default_variants(lighting, light_rotations, expressions),
                     truncation=truncation)
