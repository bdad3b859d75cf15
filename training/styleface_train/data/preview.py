"""``styleface-train preview``: a PNG grid of generated images (to look at what a generator makes).

Optionally draws the stand-in's true landmarks, and a second grid of its true diffuse UV maps.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..standin.generators import GeneratorHandle
from .sample import generate_items


def grid(images: np.ndarray, cols: int) -> np.ndarray:
    """(N, H, W, 3) uint8 -> one (rows*H, cols*W, 3) image, padded with black."""
    n, h, w, c = images.shape
    rows = math.ceil(n / cols)
    out = np.zeros((rows * h, cols * w, c), np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        out[r * h:(r + 1) * h, k * w:(k + 1) * w] = img
    return out


def draw_points(image: np.ndarray, points: np.ndarray, colour=(40, 255, 40)) -> np.ndarray:
    img = image.copy()
    h, w = img.shape[:2]
    for x, y in np.round(points - 0.5).astype(int):
        if 0 <= x < w and 0 <= y < h:
            img[y, x] = colour
    return img


@torch.no_grad()
def write_preview(handle: GeneratorHandle, out: Path, count: int = 16, seed: int = 0, truncation: float = 1.0,
                  landmarks: bool = False, uv_out: Path | None = None, device: str = "cpu") -> Path:
    """Render items seed .. seed+count-1 into a grid PNG at ``out`` (and their diffuse maps at ``uv_out``)."""
    items = generate_items(handle, list(range(seed, seed + count)), truncation, uv_out is not None, device)
    images = items["image"].numpy()
    if landmarks and "truth_landmarks" in items:
        images = np.stack([draw_points(im, lm) for im, lm in zip(images, items["truth_landmarks"].numpy())])
    cols = int(math.ceil(math.sqrt(count)))
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid(images, cols)).save(out)
    if uv_out is not None and "truth_diffuse" in items:
        maps = (items["truth_diffuse"].float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
        Image.fromarray(grid(maps, cols)).save(uv_out)
    return out
