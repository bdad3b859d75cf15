"""One-call renders of arbitrary meshes: vertex colours (Gouraud) and UV-textured."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .cameras import Camera, PinholeCamera
from .fragments import Fragments
from .interpolate import interpolate_channels_first, scatter_image
from .raster import batch_faces, rasterize
from .settings import RasterizationSettings


def _front(fragments: Fragments):
    k = fragments.pix_to_face.shape[-1]
    return fragments.hits.layer(0, k), k


def render_vertex_colors(vertices: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor,
                         camera: Camera | None = None, background: float | torch.Tensor = 0.0,
                         settings: RasterizationSettings | None = None, backend: str = "torch",
                         return_fragments: bool = False):
    """Render per-vertex colours, interpolated with perspective-correct barycentrics.

    vertices (B, N, 3) posed in the camera's world frame (pinhole: camera at z=+10 looking down -z, +y up);
    faces (F, 3) or (B, F, 3) int64; colors (B, N, C). Returns rgb (B, C, H, W) over ``background`` and
    mask (B, 1, H, W) float (1 where a face covers the pixel centre); plus the Fragments if asked.
    Differentiable in vertices (through barycentrics) and colours.
    """
    camera = camera if camera is not None else PinholeCamera()
    frags = rasterize(vertices, faces, camera, settings, backend)
    b, h, w, k = frags.pix_to_face.shape
    fb = batch_faces(faces, b)
    hits = frags.hits.layer(0, k)
    if colors.shape[0] != b:
        colors = colors.expand(b, -1, -1)
    vals = interpolate_channels_first(hits, fb, colors)
    rgb = scatter_image(hits, vals, b, (h, w), k, background, channels_first=True)
    mask = frags.mask()
    return (rgb, mask, frags) if return_fragments else (rgb, mask)


def render_uv_texture(vertices: torch.Tensor, faces: torch.Tensor, uvs: torch.Tensor, texture: torch.Tensor,
                      camera: Camera | None = None, background: float | torch.Tensor = 0.0,
                      settings: RasterizationSettings | None = None, backend: str = "torch",
                      padding_mode: str = "border", return_fragments: bool = False):
    """Render a UV texture (B, C, Ht, Wt) sampled per pixel at interpolated vertex UVs (B or 1, N, 2).

    Unlit; returns (image (B, C, H, W), mask (B, 1, H, W)[, fragments]).
    """
    camera = camera if camera is not None else PinholeCamera()
    frags = rasterize(vertices, faces, camera, settings, backend)
    b, h, w, k = frags.pix_to_face.shape
    fb = batch_faces(faces, b)
    hits = frags.hits.layer(0, k)
    uvs = uvs.unsqueeze(0) if uvs.dim() == 2 else uvs
    uv = interpolate_channels_first(hits, fb, uvs.expand(b, -1, -1).to(hits.bary.dtype))
    bi = torch.div(hits.face, fb.shape[1], rounding_mode="floor")
    vals = sample_uv_points(texture.expand(b, -1, -1, -1), uv, batch_counts(bi, b), padding_mode)
    img = scatter_image(hits, vals, b, (h, w), k, background, channels_first=True)
    return (img, frags.mask(), frags) if return_fragments else (img, frags.mask())


def batch_counts(batch_index: torch.Tensor, batch: int) -> list[int]:
    """Points per batch element for a sorted batch index (hits are sorted by pixel, hence by batch)."""
    return torch.bincount(batch_index, minlength=batch).tolist()


def sample_uv_points(maps: torch.Tensor, uv: torch.Tensor, counts: list[int],
                     padding_mode: str = "border") -> torch.Tensor:
    """Sample (B, C, H, W) maps at ragged points uv (2, M) (channels first) sorted by batch,
    ``counts[b]`` of element b -> (C, M); one grid_sample call per element."""
    # uv_to_grid's arithmetic on unbound rows. Here and below: unbind, split and view rather than indexing
    # or slicing, whose backward would zero-fill a full-size gradient per selection.
    u, v = uv.to(maps.dtype).unbind(0)
    grid = torch.stack([2.0 * u - 1.0, 1.0 - 2.0 * v], dim=-1)  # (M, 2)
    c = maps.shape[1]
    out = [F.grid_sample(m.unsqueeze(0), p.view(1, 1, -1, 2), mode="bilinear", padding_mode=padding_mode,
                         align_corners=False).view(c, -1) for m, p in zip(maps.unbind(0), torch.split(grid, counts))]
    return torch.cat(out, 1)
