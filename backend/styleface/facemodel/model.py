"""The face model: a linear 3DMM with triangles, per-vertex UVs and landmarks.

Every face model shares one frame (ARCHITECTURE.md): centred near the origin, +y up, facing +z, about
2 units from chin to crown. Bases are pre-scaled so coefficients are roughly N(0, 1).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import StyleFaceError
from .coeffs import CoeffLayout
from .topology import MeshTopology


def build_point_buf(triangles: np.ndarray, n_vertices: int) -> np.ndarray:
    """Adjacent faces per vertex, padded with the index ``n_faces`` (which points at a zero normal)."""
    n_faces = len(triangles)
    counts = np.bincount(triangles.reshape(-1), minlength=n_vertices)
    width = max(int(counts.max()) if n_faces else 1, 1)
    buf = np.full((n_vertices, width), n_faces, dtype=np.int64)
    order = np.argsort(triangles.reshape(-1), kind="stable")
    verts = triangles.reshape(-1)[order]
    faces = order // 3
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(verts)) - starts[verts]
    buf[verts, slot] = faces
    return buf


@dataclass(eq=False)
class FaceModel:
    """Arrays of a linear face model (numpy, float32 / int64).

    mean_shape (N, 3); id_basis (N, 3, K_id); exp_basis (N, 3, K_exp); mean_albedo (N, 3) in [0, 1] or
    None; albedo_basis (N, 3, K_tex) or None; triangles (F, 3) counter-clockwise seen from outside;
    uvs (N, 2) in [0, 1] (v up); landmarks (68,) vertex ids; point_buf (N, M) adjacent faces padded with F;
    uv_mask (H, W) bool (row 0 is v = 1) or None; exp_names names the leading expression components;
    topology (optional) holds the original polygons, parts and the welding of seam-split vertices
    (:mod:`.topology`); without it :attr:`mesh_topology` is one triangle per polygon and one part.
    """

    name: str
    mean_shape: np.ndarray
    id_basis: np.ndarray
    exp_basis: np.ndarray
    triangles: np.ndarray
    uvs: np.ndarray
    landmarks: np.ndarray
    mean_albedo: np.ndarray | None = None
    albedo_basis: np.ndarray | None = None
    point_buf: np.ndarray | None = None
    uv_mask: np.ndarray | None = None
    exp_names: tuple[str, ...] = ()
    metadata: dict = field(default_factory=dict)
    topology: MeshTopology | None = None

    def __post_init__(self) -> None:
        self.mean_shape = np.ascontiguousarray(self.mean_shape, dtype=np.float32)
        self.id_basis = np.ascontiguousarray(self.id_basis, dtype=np.float32)
        self.exp_basis = np.ascontiguousarray(self.exp_basis, dtype=np.float32)
        self.triangles = np.ascontiguousarray(self.triangles, dtype=np.int64)
        self.uvs = np.ascontiguousarray(self.uvs, dtype=np.float32)
        self.landmarks = np.ascontiguousarray(self.landmarks, dtype=np.int64).reshape(-1)
        if self.mean_albedo is not None:
            self.mean_albedo = np.ascontiguousarray(self.mean_albedo, dtype=np.float32)
        if self.albedo_basis is not None:
            self.albedo_basis = np.ascontiguousarray(self.albedo_basis, dtype=np.float32)
        if self.topology is not None:
            self.topology.validate(self.n_vertices, f"face model '{self.name}'")
        if self.point_buf is None:
            self.point_buf = self._build_point_buf()
        self.point_buf = np.ascontiguousarray(self.point_buf, dtype=np.int64)
        if self.uv_mask is not None:
            self.uv_mask = np.asarray(self.uv_mask).astype(bool)
        self.exp_names = tuple(self.exp_names)
        self.validate()

    def _build_point_buf(self) -> np.ndarray:
        """Adjacent triangles per vertex; split seam vertices share their welded vertex's triangles, so
        normals stay smooth across UV seams."""
        t = self.topology
        if t is None or t.n_welded == self.n_vertices:
            return build_point_buf(self.triangles, self.n_vertices)
        return build_point_buf(t.source_vertex[self.triangles], t.n_welded)[t.source_vertex]

    @property
    def mesh_topology(self) -> MeshTopology:
        """The polygons/parts/welding of this model (a trivial one for triangle-only models)."""
        if self.topology is not None:
            return self.topology
        cached = self.__dict__.get("_trivial_topology")
        if cached is None:
            cached = self.__dict__["_trivial_topology"] = MeshTopology.from_triangles(self.triangles,
                                                                                      self.n_vertices)
        return cached

    # -- sizes -----------------------------------------------------------------------------------
    @property
    def n_vertices(self) -> int:
        return int(self.mean_shape.shape[0])

    @property
    def n_faces(self) -> int:
        return int(self.triangles.shape[0])

    @property
    def n_id(self) -> int:
        return int(self.id_basis.shape[2])

    @property
    def n_exp(self) -> int:
        return int(self.exp_basis.shape[2])

    @property
    def n_tex(self) -> int:
        return 0 if self.albedo_basis is None else int(self.albedo_basis.shape[2])

    @property
    def layout(self) -> CoeffLayout:
        return CoeffLayout(n_id=self.n_id, n_exp=self.n_exp, n_tex=self.n_tex)

    def validate(self) -> None:
        """Raise StyleFaceError naming the first inconsistent array."""
        n = self.n_vertices
        f = self.n_faces

        def need(cond: bool, what: str) -> None:
            if not cond:
                raise StyleFaceError(f"face model '{self.name}': {what}")

        need(self.mean_shape.ndim == 2 and self.mean_shape.shape[1] == 3, "mean_shape must be (N, 3)")
        need(self.id_basis.ndim == 3 and self.id_basis.shape[:2] == (n, 3), f"id_basis must be ({n}, 3, K)")
        need(self.exp_basis.ndim == 3 and self.exp_basis.shape[:2] == (n, 3), f"exp_basis must be ({n}, 3, K)")
        need(self.triangles.ndim == 2 and self.triangles.shape[1] == 3, "triangles must be (F, 3)")
        need(f == 0 or (self.triangles.min() >= 0 and self.triangles.max() < n),
             f"triangle indices must lie in [0, {n})")
        need(self.uvs.shape == (n, 2), f"uvs must be ({n}, 2)")
        need(self.landmarks.shape == (68,), "landmarks must hold 68 vertex ids")
        need(self.landmarks.min() >= 0 and self.landmarks.max() < n, "landmark ids out of range")
        need(self.point_buf.shape[0] == n and self.point_buf.min() >= 0 and self.point_buf.max() <= f,
             f"point_buf must be ({n}, M) with face ids in [0, {f}]")
        if self.mean_albedo is not None:
            need(self.mean_albedo.shape == (n, 3), f"mean_albedo must be ({n}, 3)")
        if self.albedo_basis is not None:
            need(self.mean_albedo is not None, "albedo_basis needs mean_albedo")
            need(self.albedo_basis.ndim == 3 and self.albedo_basis.shape[:2] == (n, 3),
                 f"albedo_basis must be ({n}, 3, K)")
        if self.uv_mask is not None:
            need(self.uv_mask.ndim == 2, "uv_mask must be (H, W)")
        need(len(self.exp_names) <= self.n_exp, "more expression names than components")

    # -- torch views -----------------------------------------------------------------------------
    def tensors(self, device: torch.device | str = "cpu") -> "FaceModelTensors":
        """Torch copies of the arrays on ``device``, cached per device."""
        key = str(torch.device(device))
        cache = self.__dict__.setdefault("_tensor_cache", {})
        if key not in cache:
            cache[key] = FaceModelTensors.from_model(self, torch.device(device))
        return cache[key]

    def expression_index(self, name: str) -> int:
        try:
            return self.exp_names.index(name)
        except ValueError:
            raise StyleFaceError(
                f"face model '{self.name}' has no expression '{name}'; known: {', '.join(self.exp_names)}"
            ) from None


@dataclass
class FaceModelTensors:
    mean_shape: torch.Tensor
    id_basis: torch.Tensor
    exp_basis: torch.Tensor
    triangles: torch.Tensor
    uvs: torch.Tensor
    landmarks: torch.Tensor
    point_buf: torch.Tensor
    mean_albedo: torch.Tensor | None
    albedo_basis: torch.Tensor | None

    @classmethod
    def from_model(cls, m: FaceModel, device: torch.device) -> "FaceModelTensors":
        t = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
        return cls(t(m.mean_shape), t(m.id_basis), t(m.exp_basis), t(m.triangles), t(m.uvs),
                   t(m.landmarks), t(m.point_buf), t(m.mean_albedo), t(m.albedo_basis))
