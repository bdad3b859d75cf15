"""The front-face pass of the pure-PyTorch rasteriser: which face covers each pixel, without autograd.

Every (face, pixel-centre) pair inside a face's pixel bounding box becomes a candidate (enumerated with
``repeat_interleave``, in chunks of at most ``max_candidates`` so large on-screen triangles cost memory
in bounded pieces). Candidates that pass the inside test get an int64 key: the float32 bits of the view
depth in the high word (monotone for positive floats) and the packed face id in the low word. One
``scatter_reduce('amin')`` per layer then yields the nearest face per pixel, with ties broken by the
lower face id. Layers k > 0 (depth peeling) take the minimum over keys above layer k-1's key.

Faces with a vertex in front of ``znear`` (or behind the camera), entirely beyond ``zfar``, with
zero or non-finite screen area, or padded with negative indices are culled.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch

from .interpolate import shared_faces

EMPTY_KEY = torch.iinfo(torch.int64).max
# Inside-test tolerance on barycentrics: a pixel centre on a shared edge belongs to both faces (the depth
# key decides), so rounding can never open a hole between adjacent triangles.
INSIDE_EPS = 1e-6


class _FaceSetup:
    """Per-face bounding boxes and the coefficients of the inside and depth tests (all (P,) vectors).

    Candidate (dx, dy) offsets from vertex 0 give w1 = dx*a - dy*b, w2 = dy*c - dx*d and the depth-test
    value q = q0 + w1*dq1 + w2*dq2 (q = 1/z when perspective-correct, else z). Columns are separate
    contiguous vectors: strided gathers dominate the cost on CPU otherwise.
    """

    def __init__(self, xy: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, image_size: tuple[int, int],
                 znear: float, zfar: float, perspective_correct: bool, cull_backfaces: bool) -> None:
        h, w = image_size
        b, f = faces.shape[:2]
        nv = xy.shape[1]
        one = shared_faces(faces)
        base_faces = one if one is not None else faces
        padded = bool((base_faces < 0).any())
        corners = (base_faces.clamp(min=0) if padded else base_faces).movedim(-1, 0)  # (3, F) or (3, B, F)
        offs = torch.arange(b, device=faces.device) * nv
        # Vertex-major layout: x[i] is corner i of every face, contiguous.
        gid = (corners.unsqueeze(1) if one is not None else corners) + offs.view(1, b, 1)
        gid = gid.reshape(-1)
        x = xy[..., 0].reshape(-1).index_select(0, gid).view(3, b * f)
        y = xy[..., 1].reshape(-1).index_select(0, gid).view(3, b * f)
        z = depth.reshape(-1).index_select(0, gid).view(3, b * f).to(x.dtype)
        lo = lambda t: torch.minimum(torch.minimum(t[0], t[1]), t[2])  # noqa: E731
        hi = lambda t: torch.maximum(torch.maximum(t[0], t[1]), t[2])  # noqa: E731

        big = float(max(h, w) + 2)
        xmin = torch.ceil(lo(x).clamp_(-2.0, big) - 0.5).clamp_(min=0)
        xmax = torch.floor(hi(x).clamp_(-2.0, big) - 0.5).clamp_(max=w - 1)
        ymin = torch.ceil(lo(y).clamp_(-2.0, big) - 0.5).clamp_(min=0)
        ymax = torch.floor(hi(y).clamp_(-2.0, big) - 0.5).clamp_(max=h - 1)
        self.bw = (xmax - xmin + 1).clamp_(min=0)
        self.bh = (ymax - ymin + 1).clamp_(min=0)
        x0, y0 = x[0], y[0]
        e1x, e1y = x[1] - x0, y[1] - y0
        e2x, e2y = x[2] - x0, y[2] - y0
        area = e1x * e2y - e1y * e2x
        zmin = lo(z)
        valid = (self.bw > 0) & (self.bh > 0) & torch.isfinite(area) & (area != 0)
        valid &= (zmin > znear) & (zmin < zfar) & torch.isfinite(hi(z))
        if padded:
            valid &= (faces >= 0).all(-1).reshape(-1)
        if cull_backfaces:
            # y points down in pixels, so a face counter-clockwise as seen by the camera has negative area.
            valid &= area < 0
        self.valid = valid
        inv_area = 1.0 / torch.where(valid, area, torch.ones_like(area))
        q = 1.0 / torch.where(valid, z, torch.ones_like(z)) if perspective_correct else z
        self.ox, self.oy = x0 - xmin - 0.5, y0 - ymin - 0.5
        self.a, self.b, self.c, self.d = e2y * inv_area, e2x * inv_area, e1x * inv_area, e1y * inv_area
        self.q0, self.dq1, self.dq2 = q[0], q[1] - q[0], q[2] - q[0]
        batch_of_face = torch.arange(b, device=faces.device).repeat_interleave(f)
        self.base = batch_of_face * (h * w) + ymin.long() * w + xmin.long()
        self.width = w

    def test(self, fid: torch.Tensor | None, row: torch.Tensor | int, col: torch.Tensor | int):
        """Inside mask, depth-test value and pixel index of candidates (box-local row, col) of faces
        ``fid``; fid None means one candidate per face, for all faces (no gathers)."""
        if fid is None:
            g = lambda t: t  # noqa: E731
        else:
            g = lambda t: t.index_select(0, fid)  # noqa: E731
        if isinstance(col, int):
            dx, dy = col - g(self.ox), row - g(self.oy)
        else:
            dx = col.to(self.ox.dtype) - g(self.ox)
            dy = row.to(self.ox.dtype) - g(self.oy)
        w1 = dx * g(self.a) - dy * g(self.b)
        w2 = dy * g(self.c) - dx * g(self.d)
        inside = (w1 >= -INSIDE_EPS) & (w2 >= -INSIDE_EPS) & ((w1 + w2) <= 1.0 + INSIDE_EPS)
        q = g(self.q0) + w1 * g(self.dq1) + w2 * g(self.dq2)
        inside &= q > 0
        pix = g(self.base) + row * self.width + col
        return inside, q, pix


def _first_candidates(s: _FaceSetup):
    """The first pixel of every face's box, for all faces at once with contiguous vector ops only.
    At 256 px nearly all faces of a face mesh have a 1-pixel box, so this is most of the work."""
    inside, q, pix = s.test(None, 0, 0)
    keep = torch.nonzero(inside & s.valid).squeeze(1)
    return pix.index_select(0, keep), q.index_select(0, keep), keep


def _chunks(counts: torch.Tensor, max_candidates: int) -> list[tuple[int, int, int]]:
    """Face ranges [start, stop) with their candidate totals, each at most max_candidates (unless a
    single face needs more: then it is a chunk of its own, bounded by the image size)."""
    total = int(counts.sum())
    n = counts.shape[0]
    if total <= max_candidates:
        return [(0, n, total)] if total else []
    cum = torch.cumsum(counts, 0)
    out = []
    start, done = 0, 0
    while start < n:
        stop = int(torch.searchsorted(cum, done + max_candidates, right=True))
        stop = max(stop, start + 1)
        upto = int(cum[stop - 1])
        if upto > done:
            out.append((start, stop, upto - done))
        start, done = stop, upto
    return out


def _box_candidates(s: _FaceSetup, fids: torch.Tensor, counts: torch.Tensor, chunk: tuple[int, int, int]):
    """The remaining pixels (all but the first) of larger boxes, enumerated with repeat_interleave."""
    start, stop, total = chunk
    cnt = counts[start:stop]
    idx = torch.repeat_interleave(torch.arange(start, stop, device=counts.device), cnt, output_size=total)
    offsets = torch.cumsum(cnt, 0) - cnt
    local = torch.arange(1, total + 1, device=counts.device) - offsets.index_select(0, idx - start)
    fid = fids.index_select(0, idx)
    bw = s.bw.long().index_select(0, fid)
    row = torch.div(local, bw, rounding_mode="floor")
    col = local - row * bw
    inside, q, pix = s.test(fid, row, col)
    keep = torch.nonzero(inside).squeeze(1)
    return pix.index_select(0, keep), q.index_select(0, keep), fid.index_select(0, keep)


def front_faces(xy: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, image_size: tuple[int, int], *,
                faces_per_pixel: int = 1, znear: float = 0.0, zfar: float = float("inf"),
                perspective_correct: bool = True, cull_backfaces: bool = False,
                max_candidates: int = 1 << 22) -> torch.Tensor:
    """Packed face ids (B, H, W, K) of the K nearest faces per pixel centre, -1 where empty.

    xy (B, V, 2) continuous pixel coordinates (pixel centres at +0.5); depth (B, V) view depth;
    faces (B, F, 3) int64 (rows with a negative index are padding). No autograd.
    """
    with torch.no_grad():
        h, w = image_size
        b, f = faces.shape[:2]
        if b * f >= 1 << 31:
            raise ValueError("too many faces for the packed depth/face key")
        s = _FaceSetup(xy.detach(), depth.detach(), faces, image_size, znear, zfar, perspective_correct,
                       cull_backfaces)
        area = s.bw * s.bh
        fids = torch.nonzero(s.valid & (area > 1)).squeeze(1)
        counts = area.index_select(0, fids).long() - 1
        chunks = _chunks(counts, max_candidates)
        n_pix = b * h * w
        # Depth peeling revisits the candidates once per layer: keep them if they fit in one chunk.
        cache: list[tuple[torch.Tensor, torch.Tensor]] | None = \
            [] if faces_per_pixel > 1 and len(chunks) <= 1 else None

        def to_key(pix: torch.Tensor, q: torch.Tensor, face: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            z = (1.0 / q) if perspective_correct else q
            return pix, (z.float().view(torch.int32).long() << 32) | face

        def keyed() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            if cache:
                yield from cache
                return
            parts = (_box_candidates(s, fids, counts, ch) for ch in chunks)
            for part in itertools.chain([_first_candidates(s)], parts):
                item = to_key(*part)
                if cache is not None:
                    cache.append(item)
                yield item

        layers = []
        prev = None
        for _ in range(faces_per_pixel):
            best = torch.full((n_pix,), EMPTY_KEY, dtype=torch.int64, device=faces.device)
            for pix, key in keyed():
                if prev is not None:
                    key = torch.where(key > prev[pix], key, torch.full_like(key, EMPTY_KEY))
                best.scatter_reduce_(0, pix, key, reduce="amin", include_self=True)
            layers.append(best)
            prev = best
        keys = torch.stack(layers, dim=-1)
        p2f = torch.where(keys == EMPTY_KEY, torch.full_like(keys, -1), keys & 0xFFFFFFFF)
        return p2f.view(b, h, w, faces_per_pixel)
