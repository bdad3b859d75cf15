"""Render the procedural demo head: 8 random identities from the front and at 60 degrees yaw, and the UV
layout as a wireframe, so a person can check at a glance that the model reads as a human head.

    python scripts/render_demo_heads.py [--out docs/images] [--seed 0] [--size 256]

Writes demo_heads.png (rows: front, 60 degrees yaw; two bands of four identities) and
demo_uv_layout.png. Uses the project renderer (styleface.render) when it imports, else a small numpy
z-buffer in this script. Shading is the project's SH lighting (ambient plus one directional light).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from styleface.camera import PinholeCamera
from styleface.facemodel.procedural import demo_face_model
from styleface.geometry import euler_rotation, face_shape, rigid_transform, sh_shade, vertex_normals
from styleface.uvbake import triangle_pixels


def numpy_render(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray, camera: PinholeCamera) -> np.ndarray:
    """Fallback z-buffer with per-vertex colours (screen-space barycentrics): (H, W, 3) in [0, 1]."""
    size = camera.image_size
    p = camera.project(torch.from_numpy(vertices)).numpy().astype(np.float64) - 0.5   # pixel-centre frame
    depth = camera.view_depth(torch.from_numpy(vertices)).numpy().astype(np.float64)
    x, y, z = p[faces, 0], p[faces, 1], depth[faces]
    t, cx, cy = triangle_pixels(x, y, size)
    ax, ay, bx, by, qx, qy = x[t, 0], y[t, 0], x[t, 1], y[t, 1], x[t, 2], y[t, 2]
    area = (bx - ax) * (qy - ay) - (by - ay) * (qx - ax)
    ok = np.abs(area) > 1e-12
    a = np.where(ok, area, 1.0)
    l0 = ((bx - cx) * (qy - cy) - (by - cy) * (qx - cx)) / a
    l1 = ((qx - cx) * (ay - cy) - (qy - cy) * (ax - cx)) / a
    l2 = 1.0 - l0 - l1
    inside = ok & (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
    t, cx, cy = t[inside], cx[inside], cy[inside]
    bary = np.stack([l0, l1, l2], 1)[inside]
    zz = (bary * z[t]).sum(1)
    pix = cy * size + cx
    order = np.lexsort((zz, pix))
    first = np.ones(len(order), bool)
    first[1:] = pix[order][1:] != pix[order][:-1]
    sel = order[first]
    img = np.zeros((size * size, 3))
    img[pix[sel]] = np.einsum("pk,pkc->pc", bary[sel], colors[faces[t[sel]]])
    return img.reshape(size, size, 3)


def render(vertices: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor, camera: PinholeCamera) -> np.ndarray:
    """(B, N, 3) posed vertices and colours -> (B, H, W, 3) images, with whichever renderer works."""
    try:
        from styleface.render import render_vertex_colors

        rgb, _ = render_vertex_colors(vertices, faces, colors, camera=camera)
        return rgb.permute(0, 2, 3, 1).clamp(0, 1).numpy()
    except Exception as exc:  # the project renderer is optional here: fall back to numpy
        print(f"project renderer unavailable ({type(exc).__name__}: {exc}); using the numpy fallback")
        return np.stack([numpy_render(v.numpy(), faces.numpy(), c.numpy(), camera)
                         for v, c in zip(vertices, colors)])


def render_heads(out: Path, seed: int = 0, size: int = 256, n: int = 8) -> Path:
    model = demo_face_model()
    t = model.tensors()
    rng = np.random.default_rng(seed)
    ids = torch.from_numpy(np.clip(rng.standard_normal((n, model.n_id)), -2.5, 2.5).astype(np.float32))
    shape = face_shape(t, ids, torch.zeros(n, model.n_exp))
    normals = vertex_normals(shape, t.triangles, t.point_buf)
    gamma = torch.zeros(n, 27)
    g = gamma.view(n, 3, 9)
    g[:, :, 1] = -0.12    # from above
    g[:, :, 2] = 0.22     # from the camera side
    g[:, :, 3] = -0.10    # from the subject's left
    camera = PinholeCamera(size)
    rows = []
    for yaw in (0.0, math.radians(60.0)):
        rot = euler_rotation(torch.tensor([[0.0, yaw, 0.0]]).expand(n, 3))
        posed = rigid_transform(shape, rot, torch.zeros(n, 3))
        colors = sh_shade(t.mean_albedo.unsqueeze(0).expand(n, -1, -1), normals @ rot, gamma)
        rows.append(render(posed, t.triangles, colors.clamp(0, 1), camera))
    gap = 4
    half = n // 2
    canvas = np.ones((4 * size + 3 * gap, half * size + (half - 1) * gap, 3))
    for band in range(2):
        for r, imgs in enumerate(rows):
            for c in range(half):
                y0, x0 = (2 * band + r) * (size + gap), c * (size + gap)
                canvas[y0:y0 + size, x0:x0 + size] = imgs[band * half + c]
    path = out / "demo_heads.png"
    Image.fromarray((canvas * 255).round().astype(np.uint8)).save(path)
    return path


def render_uv_layout(out: Path, size: int = 1024) -> Path:
    """The UV layout: face mask tinted, region colours per triangle, wireframe on top (v up)."""
    model = demo_face_model()
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    uv = model.uvs.astype(np.float64) * np.array([size - 1, -(size - 1)]) + np.array([0, size - 1])
    regions = model.metadata["regions"]
    fill = {"scalp": (205, 190, 175), "ears": (240, 200, 200), "neck": (215, 225, 235), "face": (250, 232, 210),
            "lips": (235, 150, 150), "eyes": (170, 200, 240), "brows": (170, 140, 120), "nose": (245, 205, 170)}
    for name, colour in fill.items():
        tri = model.triangles[regions[name][model.triangles].all(1)]
        for f in tri:
            draw.polygon([tuple(uv[i]) for i in f], fill=colour)
    edges = np.concatenate([model.triangles[:, [0, 1]], model.triangles[:, [1, 2]], model.triangles[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    for a, b in edges:
        draw.line([tuple(uv[a]), tuple(uv[b])], fill=(90, 90, 110), width=1)
    mask = np.asarray(Image.fromarray(model.uv_mask).resize((size, size), Image.NEAREST))
    edge = mask ^ np.roll(mask, 1, 0) | mask ^ np.roll(mask, 1, 1)
    arr = np.asarray(img).copy()
    arr[edge] = (220, 40, 40)
    path = out / "demo_uv_layout.png"
    Image.fromarray(arr).save(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(render_heads(args.out, args.seed, args.size))
    print(render_uv_layout(args.out))


if __name__ == "__main__":
    main()
