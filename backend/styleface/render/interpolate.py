"""Barycentric interpolation of per-face-vertex attributes (PyTorch3D's ``interpolate_face_attributes``)."""
from __future__ import annotations

import torch

from .fragments import Hits


def interpolate_face_attributes(pix_to_face: torch.Tensor, barycentric_coords: torch.Tensor,
                                face_attributes: torch.Tensor) -> torch.Tensor:
    """(N, H, W, K) packed ids, (N, H, W, K, 3) barycentrics, (total_faces, 3, D) -> (N, H, W, K, D).

    Empty slots get 0. Only covered slots are computed, then scattered (differentiable in both inputs).
    """
    d = face_attributes.shape[-1]
    flat = pix_to_face.reshape(-1)
    index = torch.nonzero(flat >= 0).squeeze(1)
    bary = barycentric_coords.reshape(-1, 3)[index]
    vals = (bary.unsqueeze(-1) * face_attributes[flat[index]]).sum(-2)
    out = vals.new_zeros(flat.shape[0], d).index_put((index,), vals)
    return out.view(*pix_to_face.shape, d)


def shared_faces(faces: torch.Tensor) -> torch.Tensor | None:
    """The (F, 3) faces if a (B, F, 3) tensor is one mesh expanded over the batch, else None."""
    if faces.shape[0] == 1 or faces.stride(0) == 0:
        return faces[0]
    return None


def corner_ids(faces: torch.Tensor, packed_face: torch.Tensor, n_vertices: int) -> torch.Tensor:
    """(3, M) row indices into (B * V) flattened per-vertex arrays of the corners of packed faces
    (contiguous, so that the flattened (3 * M,) index used by the gathers is a view)."""
    f = faces.shape[1]
    bi = torch.div(packed_face, f, rounding_mode="floor")
    one = shared_faces(faces)
    table, face = (one, packed_face - bi * f) if one is not None else (faces.reshape(-1, 3), packed_face)
    # One 1-D gather per corner, straight into its row: cheaper on CPU than gathering (M, 3) rows and
    # transposing them.
    ids = packed_face.new_empty(3, packed_face.shape[0])
    for corner, out in zip(table.long().t(), ids):
        torch.index_select(corner, 0, face, out=out)
    return ids.add_(bi * n_vertices)


def hit_vertex_ids(hits: Hits, faces: torch.Tensor, n_vertices: int) -> torch.Tensor:
    """(3, M) row indices into (B * V) flattened per-vertex arrays of each hit's face corners
    (``faces`` as rasterised; the rasteriser's ids are reused when it computed them)."""
    if hits.vertex_ids is not None and hits.n_vertices == n_vertices:
        return hits.vertex_ids
    return corner_ids(faces, hits.face, n_vertices)


def interpolate_vertex_attributes(hits: Hits, faces: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """Per-vertex attributes (B, V, D) at each hit -> (M, D); faces (B, F, 3) as rasterised.

    The fast path used by the renderers: gathers only the three vertices of each covered pixel.
    """
    return interpolate_channels_first(hits, faces, attributes).t()


def interpolate_channels_first(hits: Hits, faces: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """Per-vertex attributes (B, V, D) at each hit -> (D, M), channels first.

    Channels-first keeps every per-pixel quantity a contiguous row, which is what makes the
    elementwise shading math (and its backward) cheap on CPU.
    """
    b, nv, d = attributes.shape
    return interpolate_rows(hits, faces, attributes.permute(2, 0, 1).reshape(d, b * nv), nv)


def interpolate_rows(hits: Hits, faces: torch.Tensor, rows: torch.Tensor, n_vertices: int) -> torch.Tensor:
    """Channels-first per-vertex rows (D, B * V) at each hit -> (D, M)."""
    d = rows.shape[0]
    gid = hit_vertex_ids(hits, faces, n_vertices).reshape(-1)
    v0, v1, v2 = rows.index_select(1, gid).view(d, 3, -1).unbind(1)
    b0, b1, b2 = hits.bary.t().unbind(0)
    # Explicit corner sum: broadcasting (D, 3, M) * (1, 3, M) is several times slower on CPU. unbind, not
    # indexing: its backward is one stack, where each select's backward zero-fills a full-size tensor.
    return v0 * b0 + v1 * b1 + v2 * b2


def scatter_image(hits: Hits, values: torch.Tensor, batch: int, image_size: tuple[int, int],
                  faces_per_pixel: int = 1, background: float | torch.Tensor = 0.0,
                  channels_first: bool = False) -> torch.Tensor:
    """Front-layer per-hit values (M, C) (or (C, M) with ``channels_first``) -> contiguous image
    (B, C, H, W) over ``background`` (a scalar or a (C,) colour)."""
    h, w = image_size
    if not channels_first:
        values = values.t()
    c = values.shape[0]
    index = hits.index
    if faces_per_pixel > 1:
        keep = torch.nonzero((index % faces_per_pixel) == 0).squeeze(1)
        index = torch.div(index.index_select(0, keep), faces_per_pixel, rounding_mode="floor")
        values = values.index_select(1, keep)
    bg = torch.as_tensor(background, dtype=values.dtype, device=values.device)
    if bg.dim() == 0:
        bg = bg.expand(c)
    if bg.dim() > 1 or bg.shape[0] != c:
        raise ValueError(f"background must be a scalar or a ({c},) colour")
    hw = h * w
    out = bg.reshape(1, c, 1).expand(batch, c, hw).clone()
    bi = torch.div(index, hw, rounding_mode="floor")
    pix = index - bi * hw
    chan = torch.arange(c, device=index.device).unsqueeze(1)
    out.index_put_((bi.unsqueeze(0), chan, pix.unsqueeze(0)), values)  # in place: the copy above is fresh
    return out.view(batch, c, h, w)
