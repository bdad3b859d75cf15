"""The front-face pass of the pure-PyTorch rasteriser: which face covers each pixel, without autograd.

Every (face, pixel-centre) pair inside a face's pixel bounding box becomes a candidate. The first box
pixel of every face is tested with plain vector ops over all faces. The other pixels of boxes up to
SMALL_BOX pixels a side (at 256 px, the mid-size triangles of a face mesh) are tested per box shape, as
dense (offset, face) grids; larger boxes are enumerated with ``repeat_interleave``, in chunks of at most
``max_candidates`` so large on-screen triangles cost memory in bounded pieces. Candidates that pass the
inside test get an int64 key: the float32 bits of the view depth in the high word (monotone for
positive floats) and the packed face id in the low word. One ``scatter_reduce('amin')`` per layer then
yields the nearest face per pixel, with ties broken by the lower face id. Layers k > 0 (depth peeling)
take the minimum over keys above layer k-1's key.

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


# Boxes of at most SMALL_BOX x SMALL_BOX pixels are tested in groups of equal box shape, as dense
# (offset, face) grids, when a group has at least MIN_GRID_CANDIDATES candidates; the other boxes go
# through the general repeat_interleave enumeration.
SMALL_BOX = 4
MIN_GRID_CANDIDATES = 4096


class _FaceSetup:
    """Per-face bounding boxes and the coefficients of the inside and depth tests (all (B*F,) vectors).

    Candidate (dx, dy) offsets from vertex 0 give w1 = dx*a - dy*b, w2 = dy*c - dx*d and the depth-test
    value q = q0 + w1*dq1 + w2*dq2 (q = 1/z when perspective-correct, else z). Columns are separate
    contiguous vectors: strided gathers dominate the cost on CPU otherwise. Vertices nearer than znear
    (or at infinity) get q = NaN, which fails every inside test of their faces; faces that are invalid
    otherwise (empty box, zero or non-finite area, padding, culled) are masked by ``valid``.
    """

    def __init__(self, xy: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, image_size: tuple[int, int],
                 znear: float, zfar: float, perspective_correct: bool, cull_backfaces: bool) -> None:
        h, w = image_size
        b, f = faces.shape[:2]
        one = shared_faces(faces)
        base_faces = one if one is not None else faces
        padded = bool((base_faces < 0).any())
        corners = (base_faces.clamp(min=0) if padded else base_faces).movedim(-1, -2)  # (3, F) or (B, 3, F)
        # Per vertex rows (x, y, q), gathered per corner: (B, 3 rows, 3 corners, F); x[:, i] is corner i
        # of every face, contiguous in F.
        z = depth.to(xy.dtype)
        q = torch.where((z > znear) & (z < float("inf")), z.reciprocal() if perspective_correct else z, float("nan"))
        table = torch.cat([xy.movedim(-1, 1), q.unsqueeze(1)], 1)  # (B, 3, V)
        index = corners.reshape(1 if one is not None else b, 1, 3 * f).expand(b, 3, 3 * f)
        x, y, q = torch.gather(table, 2, index).view(b, 3, 3, f).unbind(1)
        lo = lambda t: torch.minimum(torch.minimum(t[:, 0], t[:, 1]), t[:, 2])  # noqa: E731
        hi = lambda t: torch.maximum(torch.maximum(t[:, 0], t[:, 1]), t[:, 2])  # noqa: E731

        # Box of the pixel centres (j + 0.5, i + 0.5) inside the face's extent, clipped to the image
        # (clamping before the float -> int conversions keeps them defined for huge or infinite x).
        big = float(max(h, w) + 2)
        xmin = torch.ceil(lo(x) - 0.5).clamp_(0.0, big)
        xmax = torch.floor(hi(x) - 0.5).clamp_(max=w - 1)
        ymin = torch.ceil(lo(y) - 0.5).clamp_(0.0, big)
        ymax = torch.floor(hi(y) - 0.5).clamp_(max=h - 1)
        bw = (xmax - xmin).add_(1.0).clamp_(min=0)
        bh = (ymax - ymin).add_(1.0).clamp_(min=0)
        n_box = bw * bh
        x0, y0 = x[:, 0], y[:, 0]
        e1x, e1y = x[:, 1] - x0, y[:, 1] - y0
        e2x, e2y = x[:, 2] - x0, y[:, 2] - y0
        area = e1x * e2y - e1y * e2x
        # NaN fails every comparison below, so non-finite inputs are culled too.
        valid = (n_box > 0) & (area != 0) & (area.abs() < float("inf"))
        if zfar < float("inf"):  # culled when entirely beyond zfar
            valid &= (hi(q) > 1.0 / zfar) if perspective_correct else (lo(q) < zfar)
        if padded:
            valid &= (faces >= 0).all(-1).view(-1, f)
        if cull_backfaces:
            # y points down in pixels, so a face counter-clockwise as seen by the camera has negative area.
            valid &= area < 0
        inv_area = 1.0 / area
        flat = lambda t: t.reshape(-1)  # noqa: E731  (B, F) -> (B*F,), contiguous
        self.bw, self.bh, self.n_box, self.valid = flat(bw), flat(bh), flat(n_box), flat(valid)
        self.ox, self.oy = flat(x0 - xmin - 0.5), flat(y0 - ymin - 0.5)
        self.a, self.b, self.c, self.d = (flat(t * inv_area) for t in (e2y, e2x, e1x, e1y))
        self.q0, self.dq1, self.dq2 = flat(q[:, 0]), flat(q[:, 1] - q[:, 0]), flat(q[:, 2] - q[:, 0])
        # Flat index of the box's first pixel; in float the sum is exact below 2**24 pixels per image.
        first = torch.add(xmin, ymin, alpha=w) if h * w < 1 << 24 else torch.add(xmin.double(), ymin.double(), alpha=w)
        self.base = flat(first.long() + torch.arange(b, device=faces.device).unsqueeze(1) * (h * w))
        self.width = w

    def coefficients(self, fid: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        """(ox, oy, a, b, c, d, q0, dq1, dq2) of faces ``fid`` (None: all faces, no gathers)."""
        coef = (self.ox, self.oy, self.a, self.b, self.c, self.d, self.q0, self.dq1, self.dq2)
        return coef if fid is None else tuple(t.index_select(0, fid) for t in coef)


def _inside(coef: tuple[torch.Tensor, ...], row, col) -> tuple[torch.Tensor, torch.Tensor]:
    """Inside mask and depth-test value at box-local (row, col) offsets: numbers or float tensors that
    broadcast against the coefficient vectors."""
    ox, oy, a, b, c, d, q0, dq1, dq2 = coef
    dx, dy = col - ox, row - oy
    w1 = dx * a - dy * b
    w2 = dy * c - dx * d
    inside = (w1 >= -INSIDE_EPS) & (w2 >= -INSIDE_EPS) & ((w1 + w2) <= 1.0 + INSIDE_EPS)
    q = q0 + w1 * dq1 + w2 * dq2
    inside &= q > 0
    return inside, q


def _first_candidates(s: _FaceSetup):
    """The first pixel of every face's box, for all faces at once with contiguous vector ops only.
    At 256 px most faces of a face mesh have a 1-pixel box, so this is most of the work."""
    inside, q = _inside(s.coefficients(None), 0, 0)
    keep = torch.nonzero(inside & s.valid).squeeze(1)
    return s.base.index_select(0, keep), q.index_select(0, keep), keep


def _box_shape_groups(s: _FaceSetup, fids: torch.Tensor):
    """Sort faces ``fids`` (boxes of 2+ pixels) by box shape (a stable radix sort on a small key).

    Returns the sorted ids, the (rows, cols, start, stop) slices of the shapes worth a dense grid (at
    most SMALL_BOX pixels a side, at least MIN_GRID_CANDIDATES candidates: smaller groups would cost
    more in per-call overhead than they save), and the ids of the other faces.
    """
    bw, bh = s.bw.index_select(0, fids), s.bh.index_select(0, fids)
    small = (bw <= SMALL_BOX) & (bh <= SMALL_BOX)
    key_dtype = torch.uint8 if (SMALL_BOX + 1) ** 2 <= 256 else torch.int32
    key, order = torch.sort(torch.where(small, bh * (SMALL_BOX + 1) + bw, 0).to(key_dtype), stable=True)
    fids = fids.index_select(0, order)
    sizes = torch.bincount(key, minlength=(SMALL_BOX + 1) ** 2).tolist()
    groups, rest = [], [fids[:sizes[0]]]  # key 0: larger boxes
    start = sizes[0]
    for shape, n in enumerate(sizes[1:], start=1):
        rows, cols = divmod(shape, SMALL_BOX + 1)
        if n * (rows * cols - 1) >= MIN_GRID_CANDIDATES:
            groups.append((rows, cols, start, start + n))
        elif n:
            rest.append(fids[start:start + n])
        start += n
    return fids, groups, torch.cat(rest)


def _grid_candidates(s: _FaceSetup, fids: torch.Tensor, groups: list[tuple[int, int, int, int]],
                     max_candidates: int):
    """The remaining pixels of the boxes of each shape group, as one dense (offset, face) grid of
    broadcast vector ops: no per-candidate gathers or integer division (mid-size triangles)."""
    if not groups:
        return
    coef = s.coefficients(fids)
    base = s.base.index_select(0, fids)
    for rows, cols, start, stop in groups:
        r = torch.arange(rows * cols, device=fids.device)[1:]  # box offsets but the first (tested already)
        row, col = torch.div(r, cols, rounding_mode="floor"), r % cols
        pix_offset = row * s.width + col
        row, col = row.to(s.ox.dtype).unsqueeze(1), col.to(s.ox.dtype).unsqueeze(1)
        step = max(1, max_candidates // r.shape[0])
        for lo in range(start, stop, step):
            hi = min(lo + step, stop)
            inside, q = _inside(tuple(t[lo:hi] for t in coef), row, col)  # (K, faces)
            keep = torch.nonzero(inside.view(-1)).squeeze(1)
            k = torch.div(keep, hi - lo, rounding_mode="floor")
            j = keep - k * (hi - lo) + lo
            yield (base.index_select(0, j) + pix_offset.index_select(0, k), q.view(-1).index_select(0, keep),
                   fids.index_select(0, j))


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
    dtype = s.ox.dtype
    inside, q = _inside(s.coefficients(fid), row.to(dtype), col.to(dtype))
    keep = torch.nonzero(inside).squeeze(1)
    pix = s.base.index_select(0, fid.index_select(0, keep)) + (row * s.width + col).index_select(0, keep)
    return pix, q.index_select(0, keep), fid.index_select(0, keep)


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
        grid_fids, groups, fids = _box_shape_groups(s, torch.nonzero(s.valid & (s.n_box > 1)).squeeze(1))
        counts = s.n_box.index_select(0, fids).long() - 1
        chunks = _chunks(counts, max_candidates)
        n_pix = b * h * w
        # Depth peeling revisits the candidates once per layer: keep them if they are few enough.
        cache: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        if faces_per_pixel > 1 and int(s.n_box.index_select(0, grid_fids).sum()) <= max_candidates:
            cache = []

        def to_key(pix: torch.Tensor, q: torch.Tensor, face: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            z = (1.0 / q) if perspective_correct else q
            return pix, (z.float().view(torch.int32).long() << 32) | face

        def keyed() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            if cache:
                yield from cache
                return
            parts = itertools.chain([_first_candidates(s)], _grid_candidates(s, grid_fids, groups, max_candidates),
                                    (_box_candidates(s, fids, counts, ch) for ch in chunks))
            for part in parts:
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
