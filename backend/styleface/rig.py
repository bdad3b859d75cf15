"""FaceRig: what Blender and the exporters need beyond the render mesh.

A face model with an artist mesh (ICT-FaceKit) gives every generated face its original polygons, parts
and welded vertices (:class:`~styleface.facemodel.topology.MeshTopology`) and its expression shapes
(ARKit-named deltas per welded vertex), so a face becomes one quad mesh with material slots and shape
keys / morph targets. The shapes are the model's own arrays, shared by every face (no copies).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .errors import StyleFaceError
from .facemodel.topology import MeshTopology

_TOPOLOGY_KEYS = ("polygon_sizes", "polygon_corners", "polygon_parts", "source_vertex")


@dataclass(eq=False)
class FaceRig:
    """topology over the face's render vertices; expression_names (E,); expression_deltas (E, W, 3)
    float32 per welded vertex in model units (a weight of 1 adds the whole delta)."""

    topology: MeshTopology
    expression_names: tuple[str, ...] = ()
    expression_deltas: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.expression_names = tuple(str(n) for n in self.expression_names)
        if self.expression_deltas is not None:
            d = np.asarray(self.expression_deltas)
            self.expression_deltas = d if d.dtype == np.float32 else d.astype(np.float32)

    def validate(self, n_vertices: int) -> None:
        self.topology.validate(n_vertices, "face assets rig")
        if self.expression_deltas is not None:
            d = self.expression_deltas
            if d.shape != (len(self.expression_names), self.topology.n_welded, 3):
                raise StyleFaceError(f"face assets rig: expression_deltas must be ({len(self.expression_names)}, "
                                     f"{self.topology.n_welded}, 3), got {d.shape}")

    @classmethod
    def from_model(cls, model: Any) -> "FaceRig":
        """The rig of a FaceModel, cached on it (the arrays are shared)."""
        cached = model.__dict__.get("_face_rig")
        if cached is None:
            topo = model.mesh_topology
            deltas = np.ascontiguousarray(topo.weld(model.exp_basis).transpose(2, 0, 1), dtype=np.float32)
            names = tuple(model.exp_names) + tuple(f"exp{i:02d}" for i in range(len(model.exp_names), model.n_exp))
            cached = model.__dict__["_face_rig"] = cls(topo, names, deltas)
        return cached

    # -- welded views ------------------------------------------------------------------------------
    def welded(self, per_vertex: np.ndarray) -> np.ndarray:
        """Render-vertex values -> one value per original (welded) vertex."""
        return self.topology.weld(per_vertex)

    def neutral_welded(self, vertices: np.ndarray, expression: np.ndarray | None) -> np.ndarray:
        """Welded vertices with the face's expression taken out: the shape-key basis."""
        w = self.welded(vertices).astype(np.float32)
        if expression is None or self.expression_deltas is None or not len(expression):
            return w
        e = np.asarray(expression, np.float32).reshape(-1)[:len(self.expression_names)]
        return (w - np.tensordot(e, self.expression_deltas[:len(e)], axes=1)).astype(np.float32)

    # -- transport ---------------------------------------------------------------------------------
    def to_arrays(self, include_expressions: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        t = self.topology
        arrays = {f"rig.{k}": getattr(t, k).astype(np.int32) for k in _TOPOLOGY_KEYS}
        meta: dict[str, Any] = {"part_names": list(t.part_names), "expression_names": list(self.expression_names)}
        if include_expressions and self.expression_deltas is not None:
            arrays["rig.expression_deltas"] = self.expression_deltas
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> "FaceRig | None":
        if "rig.source_vertex" not in arrays:
            return None
        try:
            topo = MeshTopology(*(np.asarray(arrays[f"rig.{k}"]) for k in _TOPOLOGY_KEYS[:3]),
                                tuple(meta.get("part_names", ())), np.asarray(arrays["rig.source_vertex"]))
        except KeyError as e:
            raise StyleFaceError(f"face assets rig lacks {e.args[0]}") from None
        return cls(topo, tuple(meta.get("expression_names", ())), arrays.get("rig.expression_deltas"))
