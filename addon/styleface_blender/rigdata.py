"""RigData: the add-on's numpy-only view of a face's rig (original polygons, parts, welded vertices,
ARKit-named expression shapes), read from the worker's ``rig.*`` arrays and ``meta["rig"]``.

Why a separate container: a face model with an artist mesh (ICT-FaceKit) is rendered on a mesh split
at UV seams, but Blender wants the original welded mesh with per-corner UVs, one material slot per part
and shape keys per expression. This container keeps the message's arrays in Blender's dtypes; the rules
over them (validation, welding, the shape-key basis, the ARKit names, the part materials) are the
backend's own, from its torch-free modules loaded through the add-on's vendor loader.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

def _backend(name: str) -> Any:
    """A pure-Python module of the vendored backend (the ARKit names and the part materials are the
    backend's own tables, not copies)."""
    from .vendor import backend_module

    return backend_module(name)


def part_material(part: str) -> tuple[str, bool, tuple[float, float, float], float, float]:
    """(material name, samples the diffuse atlas, base colour, roughness, specular) of a part, from the
    backend's ``styleface.facemodel.parts``; unknown parts get a textured skin-like material."""
    m = _backend("facemodel.parts").part_material(part)
    return m.name, bool(m.textured), tuple(m.base_color), float(m.roughness), float(m.specular)


def arkit_blendshapes() -> tuple[str, ...]:
    """Apple ARKit's 52 blendshape names (``styleface.facemodel.arkit.ARKIT_BLENDSHAPES``)."""
    return tuple(_backend("facemodel.arkit").ARKIT_BLENDSHAPES)


def arkit_targets(arkit_name: str, names: list[str] | tuple[str, ...]) -> list[str]:
    """Expression keys one ARKit blendshape drives: itself, else its Left/Right pair, else none."""
    return list(_backend("facemodel.arkit").arkit_targets(arkit_name, tuple(names)))


def arkit_pairs(names: list[str] | tuple[str, ...]) -> dict[str, list[str]]:
    """ARKit blendshapes that are single where the model has a Left/Right pair (ICT: browInnerUp and
    cheekPuff) -> that pair."""
    have = set(names)
    return {a: [a + "Left", a + "Right"] for a in arkit_blendshapes()
            if a + "Left" in have and a + "Right" in have}


def arkit_missing(names: list[str] | tuple[str, ...]) -> list[str]:
    """ARKit blendshapes that no key of ``names`` can show (for ICT-FaceKit: ['tongueOut'])."""
    return [a for a in arkit_blendshapes() if not arkit_targets(a, names)]


class RigDataError(ValueError):
    """A rig message the builder cannot use."""


@dataclass(eq=False)
class RigData:
    """polygon_sizes (P,), polygon_corners (sum,) render-vertex ids, polygon_parts (P,) into part_names,
    source_vertex (N_render,) -> welded id; expression_deltas (E, W, 3) model units per welded vertex,
    or None when the worker left them out (the add-on then reuses a cached copy, see ``api``)."""

    polygon_sizes: np.ndarray
    polygon_corners: np.ndarray
    polygon_parts: np.ndarray
    source_vertex: np.ndarray
    part_names: list[str] = field(default_factory=list)
    expression_names: list[str] = field(default_factory=list)
    expression_deltas: np.ndarray | None = None

    def __post_init__(self) -> None:
        for k in ("polygon_sizes", "polygon_corners", "polygon_parts", "source_vertex"):
            setattr(self, k, np.ascontiguousarray(getattr(self, k), dtype=np.int32).reshape(-1))
        self.part_names = [str(p) for p in self.part_names] or ["skin"]
        self.expression_names = [str(n) for n in self.expression_names]
        if self.expression_deltas is not None:
            self.expression_deltas = np.ascontiguousarray(self.expression_deltas, dtype=np.float32)

    def face_rig(self) -> Any:
        """The vendored backend's ``styleface.rig.FaceRig`` over these arrays: its topology rules
        (validation, welding, the shape-key basis) are the backend's own, not a copy. The topology is
        built once; the expression shapes are read each time (``api`` fills in a cached copy later)."""
        topo = self.__dict__.get("_topology")
        if topo is None:
            topo = self.__dict__["_topology"] = _backend("facemodel.topology").MeshTopology(
                self.polygon_sizes, self.polygon_corners, self.polygon_parts, tuple(self.part_names),
                self.source_vertex)
        return _backend("rig").FaceRig(topo, tuple(self.expression_names), self.expression_deltas)

    def validate(self, n_render: int) -> None:
        from .vendor import backend_module

        try:
            self.face_rig().validate(n_render)
        except backend_module("errors").StyleFaceError as e:
            raise RigDataError(str(e)) from None

    # -- derived -------------------------------------------------------------------------------------
    @property
    def n_welded(self) -> int:
        return int(self.face_rig().topology.n_welded)

    @property
    def n_polygons(self) -> int:
        return int(len(self.polygon_sizes))

    def weld(self, per_vertex: np.ndarray) -> np.ndarray:
        """Render-vertex values -> one value per welded vertex (the backend's representative rule)."""
        return self.face_rig().welded(per_vertex)

    @property
    def welded_corners(self) -> np.ndarray:
        return self.source_vertex[self.polygon_corners]

    @property
    def loop_starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.polygon_sizes)[:-1]]).astype(np.int32)

    def neutral(self, vertices: np.ndarray, expression: np.ndarray | None) -> np.ndarray:
        """Welded vertices with the face's expression removed (the shape-key Basis), from render vertices."""
        return self.face_rig().neutral_welded(vertices, expression)

    # -- transport -----------------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any], meta: Mapping[str, Any]) -> "RigData | None":
        """From the worker message (``rig.*`` arrays, ``meta['rig']``); None when the face has no rig."""
        if "rig.source_vertex" not in arrays:
            return None
        rig_meta = meta.get("rig") or {}
        missing = [k for k in ("polygon_sizes", "polygon_corners", "polygon_parts") if f"rig.{k}" not in arrays]
        if missing:
            raise RigDataError(f"face message rig lacks arrays: {', '.join('rig.' + k for k in missing)}")
        return cls(arrays["rig.polygon_sizes"], arrays["rig.polygon_corners"], arrays["rig.polygon_parts"],
                   arrays["rig.source_vertex"], list(rig_meta.get("part_names") or ["skin"]),
                   list(rig_meta.get("expression_names") or []), arrays.get("rig.expression_deltas"))

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"rig.polygon_sizes": self.polygon_sizes, "rig.polygon_corners": self.polygon_corners,
                  "rig.polygon_parts": self.polygon_parts, "rig.source_vertex": self.source_vertex}
        if self.expression_deltas is not None:
            arrays["rig.expression_deltas"] = self.expression_deltas
        return arrays, {"part_names": list(self.part_names), "expression_names": list(self.expression_names)}
