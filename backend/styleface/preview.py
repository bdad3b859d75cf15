"""Preview renders of FaceAssets (contact sheets, CLI previews) with the project's renderer."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .assets import FaceAssets
from .camera import PinholeCamera
from .facemodel.model import FaceModel


@torch.no_grad()
def render_previews(model: FaceModel, faces: Sequence[FaceAssets], yaws_deg: Sequence[float] = (0.0, 45.0),
                    image_size: int = 256, lighting: bool = True, background: float = 1.0,
                    device: torch.device | str = "cpu") -> np.ndarray:
    """(B, Y, H, W, 3) float32 in [0, 1]: each face at each yaw, pitch/roll zero, centred, its own SH
    lighting (or flat lighting), UV mode so the texture resolution shows; maps sampled with each face's
    ``uv_padding``."""
    from .render import FaceRenderer, RasterizationSettings

    renderer = FaceRenderer(model, PinholeCamera(image_size), RasterizationSettings(image_size=image_size),
                            mode="uv", background=background)
    lay = model.layout
    out = np.zeros((len(faces), len(yaws_deg), image_size, image_size, 3), np.float32)
    for i, f in enumerate(faces):
        groups = {k: np.asarray(f.coefficients.get(k, np.zeros(n)), np.float32) for k, n in lay.sizes().items()}
        if not lighting:
            groups["gamma"] = np.zeros(27, np.float32)
        groups["trans"] = np.zeros(3, np.float32)
        vecs = []
        for yaw in yaws_deg:
            groups["rot"] = np.array([0.0, np.deg2rad(yaw), 0.0], np.float32)
            vecs.append(np.concatenate([groups[k] for k in lay.sizes()]))
        coeffs = torch.as_tensor(np.stack(vecs), device=device)
        diffuse = torch.as_tensor(f.diffuse, device=device)[None]
        disp = torch.as_tensor(f.displacement, device=device)[None]
        renderer.padding_mode = f.uv_padding
        r = renderer.render(coeffs, diffuse, disp, displacement_scale=f.displacement_info.scale)
        out[i] = r.image.clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    return out


def contact_sheet(previews: np.ndarray, labels: Sequence[str] | None = None) -> np.ndarray:
    """(B, Y, H, W, 3) -> one uint8 image: a grid with each face's views side by side, about square."""
    b, y, h, w, _ = previews.shape
    cols = max(1, int(np.ceil(np.sqrt(b / y))))
    rows = int(np.ceil(b / cols))
    sheet = np.ones((rows * h, cols * y * w, 3), np.float32)
    for i in range(b):
        r, c = divmod(i, cols)
        tile = np.concatenate(list(previews[i]), axis=1)
        sheet[r * h:(r + 1) * h, c * y * w:(c + 1) * y * w] = tile
    img = (np.clip(sheet, 0, 1) * 255 + 0.5).astype(np.uint8)
    if labels:
        from PIL import Image, ImageDraw
        im = Image.fromarray(img)
        draw = ImageDraw.Draw(im)
        for i, text in enumerate(labels[:b]):
            r, c = divmod(i, cols)
            draw.text((c * y * w + 4, r * h + 2), str(text), fill=(0, 0, 0))
        img = np.asarray(im)
    return img
