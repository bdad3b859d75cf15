"""Render the demo head front-on and at 60 degrees yaw (vertex mode and UV mode) to a PNG to look at.

Usage: python scripts/render_demo_views.py [--out docs/images/render_front_60.png] [--size 256]
Uses ``styleface.facemodel.procedural.demo_face_model`` when it exists, else the synthetic cap model.
Top row: vertex mode (StyleFaceUV) with the model's albedo and directional SH light; bottom row: UV mode
with a checker diffuse map (shows the UV layout and per-pixel texturing) and an egg-crate displacement
map at twice the default scale (so that the bumps show in the shading).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from styleface.render import FaceRenderer, PinholeCamera


def load_model():
    try:
        from styleface.facemodel.procedural import demo_face_model
        return demo_face_model(), "demo head"
    except ImportError:
        from styleface.render.synthetic import cap_face_model
        return cap_face_model(n=189), "synthetic cap (demo head not available)"


def checker(size: int = 256, squares: int = 16) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    on = ((yy * squares // size + xx * squares // size) % 2).float()
    u, v = xx / (size - 1), 1 - yy / (size - 1)
    return torch.stack([0.45 + 0.35 * u, 0.45 + 0.3 * v, 0.55 - 0.25 * on])[None] * (0.75 + 0.25 * on)


def bumps(size: int = 256) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    z = torch.sin(2 * math.pi * 12 * xx) * torch.sin(2 * math.pi * 12 * yy)
    return torch.stack([0 * z, 0 * z, z])[None]  # +z (outwards on the face) offsets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/images/render_front_60.png")
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    model, what = load_model()
    cam = PinholeCamera(args.size)
    c = model.layout.zeros(2)
    gamma = torch.zeros(2, 3, 9)
    gamma[:, :, 1], gamma[:, :, 2], gamma[:, :, 3] = -0.25, 0.25, 0.2  # light from the upper left front
    c = c.replace(rot=torch.tensor([[0.0, 0.0, 0.0], [0.0, math.radians(60), 0.0]]), gamma=gamma.view(2, 27))
    rows = []
    vertex = FaceRenderer(model, cam, background=torch.tensor([0.15, 0.15, 0.18]))
    diffuse = None if model.mean_albedo is not None else checker()
    rows.append(vertex.render(c, diffuse).image)
    uv = FaceRenderer(model, cam, mode="uv", background=torch.tensor([0.15, 0.15, 0.18]), displacement_scale=0.02)
    rows.append(uv.render(c, checker(), bumps()).image)
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)  # (3, 2H, 2W)
    img = (grid.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(out)
    print(f"wrote {out} ({what}, {model.n_vertices} vertices, {model.n_faces} faces)")


if __name__ == "__main__":
    main()
