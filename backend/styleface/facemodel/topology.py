"""The artist-facing mesh beside the render triangulation: polygons (quads), named parts, welded vertices.

The renderer, the fitting and the UV pipeline want one UV per vertex, so a face model with UV seams
(ICT-FaceKit) keeps a *render mesh* whose vertices are split where a vertex has several UVs. Blender and
the exporters want the original mesh: quads, one vertex per position, a UV per polygon corner and a
material per part. :class:`MeshTopology` links the two: each polygon corner names a render vertex (whose
UV is the corner's UV) and ``source_vertex`` welds render vertices back to the original ones.

Models without seams or polygons (BFM, the procedural head) get a trivial topology: one triangle per
polygon, one part, no split vertices (:meth:`MeshTopology.from_triangles`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import StyleFaceError


@dataclass(eq=False)
class MeshTopology:
    """Polygons over render vertices plus the welding map.

    polygon_sizes (P,) corners per polygon (3 or 4 for ICT); polygon_corners (sum sizes,) render vertex
    ids, counter-clockwise seen from outside; polygon_parts (P,) index into part_names; source_vertex
    (N,) the welded (original) vertex of each render vertex, ids 0..n_welded-1 all used.
    """

    polygon_sizes: np.ndarray
    polygon_corners: np.ndarray
    polygon_parts: np.ndarray
    part_names: tuple[str, ...]
    source_vertex: np.ndarray

    def __post_init__(self) -> None:
        self.polygon_sizes = np.ascontiguousarray(self.polygon_sizes, dtype=np.int64).reshape(-1)
        self.polygon_corners = np.ascontiguousarray(self.polygon_corners, dtype=np.int64).reshape(-1)
        self.polygon_parts = np.ascontiguousarray(self.polygon_parts, dtype=np.int64).reshape(-1)
        self.source_vertex = np.ascontiguousarray(self.source_vertex, dtype=np.int64).reshape(-1)
        self.part_names = tuple(str(p) for p in self.part_names)

    @classmethod
    def from_triangles(cls, triangles: np.ndarray, n_vertices: int, part: str = "skin") -> "MeshTopology":
        t = np.asarray(triangles, dtype=np.int64)
        return cls(np.full(len(t), 3), t.reshape(-1), np.zeros(len(t)), (part,), np.arange(n_vertices))

    # -- sizes and checks --------------------------------------------------------------------------
    @property
    def n_polygons(self) -> int:
        return int(self.polygon_sizes.shape[0])

    @property
    def n_render(self) -> int:
        return int(self.source_vertex.shape[0])

    @cached_property
    def n_welded(self) -> int:
        return int(self.source_vertex.max()) + 1 if self.n_render else 0

    def validate(self, n_vertices: int, where: str) -> None:
        def need(cond: bool, what: str) -> None:
            if not cond:
                raise StyleFaceError(f"{where}: topology {what}")

        need(self.n_render == n_vertices, f"source_vertex must have one entry per vertex ({n_vertices})")
        need(bool((self.polygon_sizes >= 3).all()), "polygons need at least 3 corners")
        need(int(self.polygon_sizes.sum()) == len(self.polygon_corners), "polygon sizes must sum to the corner count")
        need(len(self.polygon_parts) == self.n_polygons, "needs one part per polygon")
        need(len(self.polygon_corners) == 0 or (self.polygon_corners.min() >= 0
                                                and self.polygon_corners.max() < n_vertices),
             "corner ids out of range")
        need(len(self.part_names) > 0 and (self.n_polygons == 0 or (self.polygon_parts.min() >= 0 and
                                                                   self.polygon_parts.max() < len(self.part_names))),
             "part ids out of range")
        need(self.n_render == 0 or (self.source_vertex.min() >= 0 and
                                    len(np.unique(self.source_vertex)) == self.n_welded),
             "source_vertex must use every welded id 0..n-1")

    # -- welding -----------------------------------------------------------------------------------
    @cached_property
    def welded_index(self) -> np.ndarray:
        """(n_welded,) the first render vertex of each welded vertex (its representative)."""
        first = np.full(self.n_welded, -1, np.int64)
        order = np.arange(self.n_render)[::-1]
        first[self.source_vertex[order]] = order  # later writes win: the smallest render id stays
        return first

    def weld(self, per_vertex: np.ndarray) -> np.ndarray:
        """Render-vertex values (N, ...) -> welded-vertex values (n_welded, ...), from representatives."""
        return np.asarray(per_vertex)[self.welded_index]

    @property
    def welded_corners(self) -> np.ndarray:
        """(sum sizes,) welded vertex id of each polygon corner."""
        return self.source_vertex[self.polygon_corners]

    @property
    def polygon_offsets(self) -> np.ndarray:
        """(P + 1,) start of each polygon in ``polygon_corners``."""
        return np.concatenate([[0], np.cumsum(self.polygon_sizes)])

    # -- triangulation -----------------------------------------------------------------------------
    def triangulate(self) -> tuple[np.ndarray, np.ndarray]:
        """Fan triangulation over render vertices -> (triangles (F, 3), polygon of each triangle (F,))."""
        offs = self.polygon_offsets
        tris, owner = [], []
        for k in range(3, int(self.polygon_sizes.max(initial=3)) + 1):
            polys = np.flatnonzero(self.polygon_sizes == k)
            if not len(polys):
                continue
            corners = self.polygon_corners[offs[polys][:, None] + np.arange(k)]
            for j in range(1, k - 1):
                tris.append(corners[:, [0, j, j + 1]])
                owner.append(polys)
        if not tris:
            return np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
        tri, own = np.concatenate(tris), np.concatenate(owner)
        order = np.argsort(own, kind="stable")
        return tri[order], own[order]

    def vertex_parts(self) -> np.ndarray:
        """(N,) part id of each render vertex (the part of the last polygon using it)."""
        out = np.zeros(self.n_render, np.int64)
        out[self.polygon_corners] = np.repeat(self.polygon_parts, self.polygon_sizes)
        return out

    def part_polygons(self, name: str) -> np.ndarray:
        """Polygon ids of part ``name``."""
        if name not in self.part_names:
            raise StyleFaceError(f"no part '{name}'; parts: {', '.join(self.part_names)}")
        return np.flatnonzero(self.polygon_parts == self.part_names.index(name))
