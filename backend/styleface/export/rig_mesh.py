"""The welded artist mesh of a rigged face, as the OBJ, GLB and USD writers need it.

A face with a :class:`~styleface.rig.FaceRig` (ICT head) exports its original polygons over welded
vertices (one per position) instead of the seam-split render triangles. Displacement and normals of a
welded vertex come from the whole welded mesh or its representative render vertex, so every format
agrees on the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..assets import FaceAssets, vertex_normals
from ..errors import StyleFaceError
from ..facemodel.topology import MeshTopology


@dataclass(frozen=True)
class RigMesh:
    """posed (W, 3): the face as generated (its expression applied); neutral (W, 3): the shape-key
    basis (expression removed); *_normals (W, 3) unit normals of each; triangles (F, 3) welded ids
    with triangle_polygon (F,) their polygon; weights (E,): the face's expression coefficients;
    deltas (E, W, 3) or None."""

    topology: MeshTopology
    posed: np.ndarray
    neutral: np.ndarray
    posed_normals: np.ndarray
    neutral_normals: np.ndarray
    triangles: np.ndarray
    triangle_polygon: np.ndarray
    names: tuple[str, ...]
    weights: np.ndarray
    deltas: np.ndarray | None

    def parts_present(self) -> list[tuple[int, str]]:
        """(part id, part name) of every part that has polygons, in part order."""
        used = np.unique(self.topology.polygon_parts)
        return [(int(p), self.topology.part_names[int(p)]) for p in used]


def rig_mesh(assets: FaceAssets, bake_displacement: bool = False) -> RigMesh:
    """The welded mesh of ``assets`` (which must carry a rig); with ``bake_displacement`` both the posed
    and the neutral vertices carry the displacement of their representative render vertex."""
    rig = assets.rig
    if rig is None:
        raise StyleFaceError("this face has no artist mesh (rig); it exports as triangles")
    topo = rig.topology
    render = assets.displaced_vertices() if bake_displacement else assets.vertices
    posed = rig.welded(render).astype(np.float32)
    exp = np.asarray(assets.coefficients.get("exp", np.zeros(0)), np.float32).reshape(-1)
    names = tuple(rig.expression_names) if rig.expression_deltas is not None else ()  # shapes not shipped
    weights = np.zeros(len(names), np.float32)
    k = min(len(exp), len(names))
    weights[:k] = exp[:k]
    neutral = rig.neutral_welded(render, weights if rig.expression_deltas is not None else None)
    tri, owner = topo.triangulate()
    welded_tri = topo.source_vertex[tri]
    return RigMesh(topo, posed, neutral.astype(np.float32), vertex_normals(posed, welded_tri),
                   vertex_normals(neutral, welded_tri), welded_tri, owner, names, weights,
                   rig.expression_deltas)


def rig_summary(assets: FaceAssets) -> dict | None:
    """What the sidecar says about the artist mesh (None for triangle-only faces)."""
    rig = assets.rig
    if rig is None:
        return None
    topo = rig.topology
    return {
        "welded_vertices": topo.n_welded, "polygons": topo.n_polygons,
        "quads": int((topo.polygon_sizes == 4).sum()), "parts": list(topo.part_names),
        "expression_names": list(rig.expression_names),
        "obj": "welded vertices with the face's expression applied; original polygons, a material per part",
        "glb_usd": "neutral base; the face's expression as morph-target / blend-shape weights "
                   "(coefficients.exp, in expression_names order)",
    }
