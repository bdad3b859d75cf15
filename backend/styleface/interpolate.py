"""Stylecode interpolation, the paper's Figure 5: faces along the straight W+ line between two codes.

Both ends are seeds (their truncated W+, as ``generate`` makes them) or W+ files. Everything a face is
made of (coefficients, shape, diffuse and displacement maps) comes from networks that are smooth in W+,
so equal steps in W+ give a smooth transition; ``step_sizes`` measures it per quantity.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from .assets import FaceAssets
from .errors import StyleFaceError

if TYPE_CHECKING:
    from .pipeline import Pipeline

Endpoint = int | str | os.PathLike | np.ndarray | torch.Tensor


def load_wplus_file(path: str | os.PathLike, n_latent: int, style_dim: int) -> np.ndarray:
    """A W+ code from ``.npy`` (no pickles) or a torch-saved tensor (``.pt``/``.pth``/``.pkl``, weights only):
    (style_dim,) or (1, style_dim) is a w, repeated; (n_latent, style_dim) or (1, n_latent, style_dim) a W+."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise StyleFaceError(f"W+ file not found: {p}")
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise StyleFaceError(f"{p}: not a numpy array file ({str(e).splitlines()[0][:120]})") from None
    else:
        from .nets.safeload import load_torch_file

        obj = load_torch_file(p, "W+ file")
        if not isinstance(obj, torch.Tensor):
            raise StyleFaceError(f"{p} does not hold a tensor")
        arr = obj.detach().cpu().float().numpy()
    arr = np.asarray(arr, dtype=np.float32)
    if arr.size == style_dim:
        arr = np.repeat(arr.reshape(1, style_dim), n_latent, 0)
    if arr.size != n_latent * style_dim:
        raise StyleFaceError(f"{p}: shape {arr.shape} is neither a w ({style_dim},) nor a W+ "
                             f"({n_latent}, {style_dim}) for this bundle")
    arr = arr.reshape(n_latent, style_dim)
    if not np.all(np.isfinite(arr)):
        raise StyleFaceError(f"{p}: W+ contains NaN or infinite values")
    return arr


@dataclass
class Interpolation:
    """faces[i] at ts[i] (0 = start, 1 = end); previews (N, Y, H, W, 3) renders at ``yaws``; images
    (N, H, W, 3) the 2D generator's, when the bundle has one."""

    ts: list[float]
    faces: list[FaceAssets]
    previews: np.ndarray
    yaws: list[float]
    images: np.ndarray | None = None
    labels: tuple[str, str] = ("start", "end")
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def step_sizes(self) -> dict[str, list[float]]:
        """Per consecutive pair, the RMS change of each quantity (coefficients, shape, diffuse, displacement)."""
        def rms(get) -> list[float]:
            return [float(np.sqrt(np.mean((get(b) - get(a)) ** 2))) for a, b in zip(self.faces, self.faces[1:])]

        return {"coefficients": rms(lambda f: f.coefficient_vector()), "shape": rms(lambda f: f.vertices),
                "diffuse": rms(lambda f: f.diffuse), "displacement": rms(lambda f: f.displacement)}

    def strip_image(self, labels: bool = True) -> np.ndarray:
        """uint8: columns are the steps; rows the 2D images (if any), then the renders at each yaw."""
        rows = [] if self.images is None else [np.concatenate(list(self.images), axis=1)]
        for y in range(self.previews.shape[1]):
            rows.append(np.concatenate(list(self.previews[:, y]), axis=1))
        h = self.previews.shape[2]
        if self.images is not None and self.images.shape[1] != h:
            from PIL import Image
            rows[0] = np.concatenate([np.asarray(Image.fromarray((np.clip(im, 0, 1) * 255).astype(np.uint8))
                                                 .resize((h, h), Image.LANCZOS)) / 255.0 for im in self.images], axis=1)
        img = (np.clip(np.concatenate(rows, axis=0), 0, 1) * 255 + 0.5).astype(np.uint8)
        if not labels:
            return img
        from PIL import Image, ImageDraw

        im = Image.fromarray(img)
        draw = ImageDraw.Draw(im)
        for i, t in enumerate(self.ts):
            text = self.labels[0] if i == 0 else self.labels[1] if i == len(self.ts) - 1 else f"t={t:.2f}"
            box = draw.textbbox((i * h + 3, 2), text)
            draw.rectangle(box, fill=(0, 0, 0))
            draw.text((i * h + 3, 2), text, fill=(255, 255, 255))
        return np.asarray(im)


def _endpoint(pipe: "Pipeline", x: Endpoint, truncation: float | None) -> tuple[torch.Tensor, str]:
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return pipe.wplus(seeds=[int(x)], truncation=truncation)[0], f"seed {int(x)}"
    if isinstance(x, (str, os.PathLike)):
        arr = load_wplus_file(x, pipe.n_latent, pipe.style_dim)
        return torch.as_tensor(arr, device=pipe.device), Path(x).name
    arr = torch.as_tensor(np.asarray(x, dtype=np.float32), device=pipe.device)
    return pipe.wplus(w=arr.reshape(1, *arr.shape[-2:]) if arr.dim() >= 2 else arr.reshape(1, -1))[0], "W+"


@torch.no_grad()
def interpolate_faces(pipe: "Pipeline", start: Endpoint, end: Endpoint, steps: int = 5, *,
                      truncation: float | None = None, yaws: Sequence[float] = (0.0, 35.0),
                      image_size: int = 160, batch_size: int = 8) -> Interpolation:
    """``steps`` faces (>= 2, ends included) along the W+ line from ``start`` to ``end``."""
    import time

    if not 2 <= int(steps) <= 256:
        raise StyleFaceError("steps must be between 2 and 256")
    t0 = time.perf_counter()
    a, la = _endpoint(pipe, start, truncation)
    b, lb = _endpoint(pipe, end, truncation)
    ts = np.linspace(0.0, 1.0, int(steps))
    wps = torch.stack([a + float(t) * (b - a) for t in ts])
    faces = pipe.generate(w=wps, batch_size=batch_size)
    seeds = [x if isinstance(x, (int, np.integer)) else None for x in (start, end)]
    for f, t in zip(faces, ts):
        f.provenance["interpolation"] = {"from": la, "to": lb, "t": float(t)}
        if t == 0.0 and seeds[0] is not None:
            f.seed = int(seeds[0])
        if t == 1.0 and seeds[1] is not None:
            f.seed = int(seeds[1])
    previews = pipe.preview(faces, yaws_deg=list(yaws), image_size=image_size)
    images = None
    g2d = pipe.bundle.networks.get("generator2d")
    if g2d is not None:
        imgs = [((g2d.synthesis(wps[i:i + batch_size], noise="const").clamp(-1, 1) + 1) / 2).float().cpu()
                for i in range(0, len(wps), batch_size)]
        images = torch.cat(imgs).permute(0, 2, 3, 1).numpy()
    return Interpolation(ts=[float(t) for t in ts], faces=faces, previews=previews, yaws=list(map(float, yaws)),
                         images=images, labels=(la, lb), seconds=time.perf_counter() - t0,
                         extra={"wplus_start": a.cpu().numpy(), "wplus_end": b.cpu().numpy()})
