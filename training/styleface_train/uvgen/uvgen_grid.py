"""The UV-generator training's image grid: one column per sample, one row per kind of image.

Rows: target / render / symmetric target / symmetric render (when the symmetric view is trained) /
diffuse map / displacement map ((d + 1) / 2). UV maps are resized to the image size so rows line up.
Written as a PNG (``grids/step_XXXXXX.png``) and to TensorBoard.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..common.atomic import atomic_write_bytes

PAD = 2


def make_grid(rows: list[torch.Tensor], columns: int) -> torch.Tensor:
    """rows: (B, 3, H, W) tensors in [0, 1] (any sizes; resized to the first) -> (3, H', W') in [0, 1]."""
    size = rows[0].shape[-2:]
    n = min(columns, rows[0].shape[0])
    picked = []
    for r in rows:
        r = r[:n].detach().float().cpu()
        if r.shape[1] == 1:
            r = r.expand(-1, 3, -1, -1)
        if r.shape[-2:] != size:
            r = F.interpolate(r, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
        picked.append(r.clamp(0, 1))
    h, w = int(size[0]), int(size[1])
    out = torch.ones(3, len(picked) * (h + PAD) + PAD, n * (w + PAD) + PAD)
    for i, r in enumerate(picked):
        for j in range(n):
            y, x = PAD + i * (h + PAD), PAD + j * (w + PAD)
            out[:, y:y + h, x:x + w] = r[j]
    return out


def training_rows(result, views) -> list[torch.Tensor]:
    rows = [views.target, result.view.fake]
    if result.view_sym is not None:
        rows += [views.target_sym, result.view_sym.fake]
    rows += [result.diffuse, (result.displacement + 1) * 0.5]
    return rows


def write_png(grid: torch.Tensor, path: Path) -> Path:
    array = (grid.permute(1, 2, 0).numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return path
