"""Optional backend: nvdiffrast's CUDA rasteriser (NVIDIA Source Code License: non-commercial use only;
installing it is the user's choice, it is never a dependency).

Pixel coordinates become OpenGL clip coordinates with w = view depth and y flipped so that output row 0
is the top, as everywhere in this package; nvdiffrast's ``triangle_id + 1`` becomes the packed id.
One face per pixel only. nvdiffrast clips triangles at the near plane instead of culling them.
"""
from __future__ import annotations

import torch

from ...errors import StyleFaceError

_CONTEXTS: dict[str, object] = {}


def _import():
    import nvdiffrast.torch as dr
    return dr


def is_available() -> bool:
    try:
        _import()
    except Exception:
        return False
    return torch.cuda.is_available()


def why_unavailable() -> str:
    try:
        _import()
    except Exception as e:
        return f"nvdiffrast does not import ({type(e).__name__}: {e})"
    return "" if torch.cuda.is_available() else "nvdiffrast needs a CUDA device"


def _context(device: torch.device):
    dr = _import()
    key = str(device)
    if key not in _CONTEXTS:
        _CONTEXTS[key] = dr.RasterizeCudaContext(device=device)
    return _CONTEXTS[key]


def front_faces(xy: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, image_size: tuple[int, int], *,
                faces_per_pixel: int, znear: float, zfar: float, perspective_correct: bool,
                cull_backfaces: bool, settings) -> torch.Tensor:
    dr = _import()
    if faces_per_pixel != 1:
        raise StyleFaceError("the nvdiffrast backend renders one face per pixel; use 'torch' for more")
    if xy.device.type != "cuda":
        raise StyleFaceError("the nvdiffrast backend needs tensors on a CUDA device")
    h, w = image_size
    b, f = faces.shape[:2]
    near = max(float(znear), 1e-4)
    far = float(zfar) if zfar != float("inf") else 1e4
    with torch.no_grad():
        d = depth.float()
        x = 2.0 * xy[..., 0].float() / w - 1.0
        y = 2.0 * xy[..., 1].float() / h - 1.0
        zc = ((far + near) * d - 2.0 * far * near) / (far - near)
        pos = torch.stack([x * d, y * d, zc, d], -1).contiguous()
        ctx = _context(xy.device)
        shared = faces.shape[0] == 1 or faces.stride(0) == 0
        out = torch.full((b, h, w, 1), -1, dtype=torch.long, device=xy.device)
        simple = shared and not cull_backfaces and bool((faces[0] >= 0).all())
        if simple:
            rast, _ = dr.rasterize(ctx, pos, faces[0].int().contiguous(), resolution=[h, w])
            tid = rast[..., 3].long() - 1
            offs = (torch.arange(b, device=xy.device) * f).view(b, 1, 1)
            out[..., 0] = torch.where(tid >= 0, tid + offs, torch.full_like(tid, -1))
            return out
        for i in range(b):
            fi = faces[i]
            keep = (fi >= 0).all(-1)
            if cull_backfaces:
                p = xy[i][fi.clamp(min=0)]
                area = ((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
                        - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0]))
                keep &= area < 0
            ids = torch.nonzero(keep).squeeze(1)
            if ids.numel() == 0:
                continue
            rast, _ = dr.rasterize(ctx, pos[i:i + 1], fi[ids].int().contiguous(), resolution=[h, w])
            tid = rast[0, ..., 3].long() - 1
            out[i, ..., 0] = torch.where(tid >= 0, ids[tid.clamp(min=0)] + i * f, torch.full_like(tid, -1))
        return out
