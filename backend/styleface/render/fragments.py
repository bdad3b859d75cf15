"""Rasteriser output in PyTorch3D's layout (``Fragments``), plus the sparse list of covered pixels."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Hits:
    """The covered (pixel, layer) slots of a render, without the empty ones.

    ``index`` is the flat index into (N*H*W*K); ``face`` the packed face id; ``bary`` (M, 3) the
    perspective-correct barycentrics (differentiable); ``zbuf`` (M,) view depth. Shading only the
    covered pixels is what keeps the pure-PyTorch renderer fast. ``vertex_ids`` (3, M), when the
    rasteriser sets it, holds each hit's corners as rows of the flattened (B * ``n_vertices``) vertex
    arrays, so that interpolation does not recompute them.
    """

    index: torch.Tensor
    face: torch.Tensor
    bary: torch.Tensor
    zbuf: torch.Tensor
    vertex_ids: torch.Tensor | None = None
    n_vertices: int = 0

    def layer(self, k: int, faces_per_pixel: int) -> "Hits":
        """Only the hits of layer ``k`` (0 = front)."""
        if faces_per_pixel == 1:
            return self
        keep = torch.nonzero((self.index % faces_per_pixel) == k).squeeze(1)
        ids = None if self.vertex_ids is None else self.vertex_ids[:, keep]
        return Hits(self.index[keep], self.face[keep], self.bary[keep], self.zbuf[keep], ids, self.n_vertices)

    def detach(self) -> "Hits":
        return Hits(self.index, self.face, self.bary.detach(), self.zbuf.detach(), self.vertex_ids, self.n_vertices)


class Fragments:
    """PyTorch3D-compatible rasterisation result.

    pix_to_face (N, H, W, K) int64, packed face ids (batch b holds b*F .. (b+1)*F-1), -1 for empty;
    zbuf (N, H, W, K) view depth, -1 for empty; bary_coords (N, H, W, K, 3) perspective-correct, -1 for
    empty; dists is None (hard rasterisation). ``hits`` holds the same data for covered slots only;
    the dense zbuf / bary_coords are built from it on first access (renderers never need them).
    """

    def __init__(self, pix_to_face: torch.Tensor, zbuf: torch.Tensor | None = None,
                 bary_coords: torch.Tensor | None = None, dists: torch.Tensor | None = None,
                 hits: Hits | None = None, faces_per_mesh: int = 0) -> None:
        if hits is None and (zbuf is None or bary_coords is None):
            raise ValueError("Fragments need hits or dense zbuf and bary_coords")
        self.pix_to_face = pix_to_face
        self._zbuf = zbuf
        self._bary = bary_coords
        self.dists = dists
        self._hits = hits
        self.faces_per_mesh = faces_per_mesh

    @property
    def hits(self) -> Hits:
        if self._hits is None:
            flat = self.pix_to_face.reshape(-1)
            index = torch.nonzero(flat >= 0).squeeze(1)
            self._hits = Hits(index, flat[index], self._bary.reshape(-1, 3)[index], self._zbuf.reshape(-1)[index])
        return self._hits

    @property
    def zbuf(self) -> torch.Tensor:
        if self._zbuf is None:
            h = self._hits
            z = h.zbuf.new_full((self.pix_to_face.numel(),), -1.0).index_put((h.index,), h.zbuf)
            self._zbuf = z.view(self.pix_to_face.shape)
        return self._zbuf

    @property
    def bary_coords(self) -> torch.Tensor:
        if self._bary is None:
            h = self._hits
            b = h.bary.new_full((self.pix_to_face.numel(), 3), -1.0).index_put((h.index,), h.bary)
            self._bary = b.view(*self.pix_to_face.shape, 3)
        return self._bary

    @property
    def image_size(self) -> tuple[int, int]:
        return (int(self.pix_to_face.shape[1]), int(self.pix_to_face.shape[2]))

    def mask(self) -> torch.Tensor:
        """(N, 1, H, W) float coverage of the front layer."""
        dtype = self._hits.bary.dtype if self._hits is not None else self._zbuf.dtype
        return (self.pix_to_face[..., 0] >= 0).unsqueeze(1).to(dtype)

    def detach(self) -> "Fragments":
        return Fragments(self.pix_to_face,
                         None if self._zbuf is None else self._zbuf.detach(),
                         None if self._bary is None else self._bary.detach(),
                         None if self.dists is None else self.dists.detach(),
                         None if self._hits is None else self._hits.detach(), self.faces_per_mesh)

    def __iter__(self):
        """Unpack like PyTorch3D's NamedTuple: ``pix_to_face, zbuf, bary, dists = fragments``."""
        return iter((self.pix_to_face, self.zbuf, self.bary_coords, self.dists))
