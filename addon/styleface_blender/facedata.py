"""FaceData: the add-on's numpy-only view of one generated face.

The add-on must not depend on the backend's Python package layout (it only vendors the worker client),
so it reads the worker's plain ``(arrays, meta)`` messages (``FaceAssets.to_arrays()``), a FaceAssets
instance (duck-typed), or an ``.npz`` written by a helper, into this small container. Conventions are
the backend's: model units (decimetres), +y up, facing +z, per-vertex UVs with v up, UV maps (C, H, W)
with row 0 at v = 1, displacement offset = (map - mid_level) * scale model units.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .rigdata import RigData, RigDataError

#: Blender metres per model unit (the backend works in BFM decimetres).
METRES_PER_UNIT = 0.1
#: How a face's maps are sampled outside [0, 1] (the backend's ``assets.UV_PADDING_MODES``).
UV_PADDING_MODES = ("border", "zeros")


class FaceDataError(ValueError):
    """A face message that cannot be turned into a Blender object (bad shape, missing array)."""


@dataclass(eq=False)
class FaceData:
    """One face as arrays: enough to build a Blender object and to reproduce it later."""

    vertices: np.ndarray                 # (N, 3) float32 model units
    faces: np.ndarray                    # (F, 3) int32
    uvs: np.ndarray                      # (N, 2) float32, v up
    diffuse: np.ndarray                  # (3, H, W) float32 in [0, 1], row 0 = v 1
    displacement: np.ndarray             # (C, H, W) float32 in [-1, 1], row 0 = v 1
    displacement_mode: str = "generalized-xyz"
    displacement_scale: float = 0.01     # model units per map unit
    displacement_mid_level: float = 0.0
    seed: int | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    coefficients: np.ndarray | None = None
    coefficient_layout: list[tuple[str, int]] = field(default_factory=list)
    expression_names: list[str] = field(default_factory=list)
    expression_deltas: np.ndarray | None = None   # (K, N, 3) model units per unit coefficient
    rig: RigData | None = None           # original polygons, parts, ARKit shapes (ICT-FaceKit faces)
    uv_padding: str = "border"           # how the maps read outside [0, 1]: "border", or "zeros" (official)

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float32)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int32)
        self.uvs = np.ascontiguousarray(self.uvs, dtype=np.float32)
        self.diffuse = np.ascontiguousarray(self.diffuse, dtype=np.float32)
        self.displacement = np.ascontiguousarray(self.displacement, dtype=np.float32)
        if self.expression_deltas is not None:
            self.expression_deltas = np.ascontiguousarray(self.expression_deltas, dtype=np.float32)
        self.validate()

    # -- checks ------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise FaceDataError on shapes the builder cannot use (the backend validated ranges already)."""
        v, f = self.vertices, self.faces
        if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
            raise FaceDataError(f"vertices must be (N, 3), got {v.shape}")
        if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
            raise FaceDataError(f"faces must be (F, 3) triangles, got {f.shape}")
        if int(f.min()) < 0 or int(f.max()) >= len(v):
            raise FaceDataError("face indices out of range")
        if self.uvs.shape != (len(v), 2):
            raise FaceDataError(f"uvs must be ({len(v)}, 2), got {self.uvs.shape}")
        if self.diffuse.ndim != 3 or self.diffuse.shape[0] != 3:
            raise FaceDataError(f"diffuse must be (3, H, W), got {self.diffuse.shape}")
        channels = 3 if self.displacement_mode == "generalized-xyz" else 1
        if self.displacement_mode not in ("generalized-xyz", "normal"):
            raise FaceDataError(f"unknown displacement mode {self.displacement_mode!r}")
        if self.displacement.ndim != 3 or self.displacement.shape[0] != channels:
            raise FaceDataError(f"displacement must be ({channels}, H, W), got {self.displacement.shape}")
        if not (np.isfinite(self.displacement_scale) and self.displacement_scale > 0):
            raise FaceDataError(f"displacement scale must be > 0, got {self.displacement_scale}")
        if self.expression_deltas is not None:
            k = len(self.expression_names)
            if self.expression_deltas.shape != (k, len(v), 3):
                raise FaceDataError(f"expression_deltas must be ({k}, {len(v)}, 3), "
                                    f"got {self.expression_deltas.shape}")
        if self.uv_padding not in UV_PADDING_MODES:
            raise FaceDataError(f"uv_padding must be one of {', '.join(UV_PADDING_MODES)}, got {self.uv_padding!r}")
        if self.rig is not None:
            try:
                self.rig.validate(len(v))
            except RigDataError as e:
                raise FaceDataError(str(e)) from None

    # -- sizes and derived values ------------------------------------------------------------------
    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def n_faces(self) -> int:
        return int(self.faces.shape[0])

    @property
    def bundle_id(self) -> str:
        p = self.provenance
        return str(p.get("bundle_id") or p.get("bundle") or p.get("generator") or "unknown")

    # -- what Blender samples ---------------------------------------------------------------------
    def _zero_padded(self) -> bool:
        """Zero padding is reproduced by a one-texel zero frame around the maps (needs one map size)."""
        return self.uv_padding == "zeros" and self.diffuse.shape[1:] == self.displacement.shape[1:]

    def blender_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """(diffuse, displacement) as Blender gets them. Blender's image lookups clamp at the edge
        (the backend's "border"); for "zeros" (official weights) each map gets a frame of zero texels
        and :meth:`blender_uvs` moves the UVs into it, so the last half texel blends towards zero as
        grid_sample's zero padding does."""
        if not self._zero_padded():
            return self.diffuse, self.displacement
        pad = ((0, 0), (1, 1), (1, 1))
        return np.pad(self.diffuse, pad), np.pad(self.displacement, pad)

    def blender_uvs(self) -> np.ndarray:
        """Per-vertex UVs for :meth:`blender_maps` (the same UVs unless the maps were framed)."""
        if not self._zero_padded():
            return self.uvs
        _, h, w = self.diffuse.shape
        scale = np.array([w / (w + 2.0), h / (h + 2.0)], np.float32)
        offset = np.array([1.0 / (w + 2.0), 1.0 / (h + 2.0)], np.float32)
        return (self.uvs * scale + offset).astype(np.float32)

    def sample_displacement(self) -> np.ndarray:
        """Per-vertex offset (N, 3) in model units, bilinear at the vertex UVs (grid_sample, with the
        face's padding), the same rule as the backend's ``FaceAssets.vertex_displacement`` (used by
        tests/benchmarks)."""
        m = self.blender_maps()[1]
        _, h, w = m.shape
        uv = self.blender_uvs().astype(np.float64)
        x = np.clip(uv[:, 0] * w - 0.5, 0.0, w - 1)
        y = np.clip((1.0 - uv[:, 1]) * h - 0.5, 0.0, h - 1)
        x0 = np.floor(x).astype(np.int64)
        y0 = np.floor(y).astype(np.int64)
        x1 = np.minimum(x0 + 1, w - 1)
        y1 = np.minimum(y0 + 1, h - 1)
        fx, fy = (x - x0)[None], (y - y0)[None]
        top = m[:, y0, x0] * (1 - fx) + m[:, y0, x1] * fx
        bottom = m[:, y1, x0] * (1 - fx) + m[:, y1, x1] * fx
        s = (((top * (1 - fy) + bottom * fy).T) - self.displacement_mid_level) * self.displacement_scale
        return s.astype(np.float32)  # (N, C): C = 1 for the 'normal' mode (offset along the normal)

    def coefficient(self, name: str) -> np.ndarray | None:
        """One named coefficient group (e.g. 'gamma', 'exp') of the flat vector, or None."""
        if self.coefficients is None:
            return None
        start = 0
        for key, n in self.coefficient_layout:
            if key == name:
                return np.asarray(self.coefficients[start:start + n], dtype=np.float32)
            start += n
        return None

    # -- constructors --------------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any], meta: Mapping[str, Any]) -> "FaceData":
        """From the worker's ``(arrays, meta)`` message (``FaceAssets.to_arrays()`` layout)."""
        fmt = meta.get("format", "styleface-assets")
        if fmt != "styleface-assets":
            raise FaceDataError(f"not a StyleFace assets message (format {fmt!r})")
        missing = [k for k in ("vertices", "faces", "uvs", "diffuse", "displacement") if k not in arrays]
        if missing:
            raise FaceDataError(f"face message lacks arrays: {', '.join(missing)}")
        disp = dict(meta.get("displacement") or {})
        names = list(meta.get("expression_names") or [])
        deltas = arrays.get("expression_deltas")
        try:
            rig = RigData.from_arrays(arrays, meta)
        except RigDataError as e:
            raise FaceDataError(str(e)) from None
        if deltas is not None and not names:
            names = [f"expression_{i}" for i in range(len(deltas))]
        return cls(
            vertices=arrays["vertices"], faces=arrays["faces"], uvs=arrays["uvs"],
            diffuse=arrays["diffuse"], displacement=arrays["displacement"],
            displacement_mode=str(disp.get("mode", "generalized-xyz")),
            displacement_scale=float(disp.get("scale", 0.01)),
            displacement_mid_level=float(disp.get("mid_level", 0.0)),
            seed=None if meta.get("seed") is None else int(meta["seed"]),
            provenance=dict(meta.get("provenance") or {}),
            coefficients=None if arrays.get("coefficients") is None else np.asarray(arrays["coefficients"]),
            coefficient_layout=[(str(k), int(n)) for k, n in meta.get("coefficient_layout", [])],
            expression_names=names if deltas is not None else [],
            expression_deltas=deltas, rig=rig, uv_padding=str(meta.get("uv_padding", "border")),
        )

    @classmethod
    def from_any(cls, obj: Any) -> "FaceData":
        """FaceData, (arrays, meta) tuple, or anything with ``to_arrays()`` (the backend's FaceAssets)."""
        if isinstance(obj, FaceData):
            return obj
        if isinstance(obj, tuple) and len(obj) == 2:
            return cls.from_arrays(obj[0], obj[1])
        if hasattr(obj, "to_arrays"):
            arrays, meta = obj.to_arrays()
            extra = {k: getattr(obj, k) for k in ("expression_deltas",) if getattr(obj, k, None) is not None}
            return cls.from_arrays({**arrays, **extra}, meta)
        raise FaceDataError(f"cannot read face data from {type(obj).__name__}")

    @classmethod
    def load_npz(cls, path: str) -> "FaceData":
        """From an ``.npz`` with the message arrays plus a JSON ``meta`` string (see ``save_npz``)."""
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "meta"}
            meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
        return cls.from_arrays(arrays, meta)

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The message layout again (inverse of ``from_arrays``)."""
        arrays = {"vertices": self.vertices, "faces": self.faces, "uvs": self.uvs,
                  "diffuse": self.diffuse, "displacement": self.displacement}
        if self.coefficients is not None:
            arrays["coefficients"] = self.coefficients
        if self.expression_deltas is not None:
            arrays["expression_deltas"] = self.expression_deltas
        meta = {"format": "styleface-assets", "version": 1,
                "displacement": {"mode": self.displacement_mode, "scale": self.displacement_scale,
                                 "mid_level": self.displacement_mid_level},
                "coefficient_layout": [list(x) for x in self.coefficient_layout],
                "seed": self.seed, "provenance": self.provenance,
                "expression_names": list(self.expression_names), "uv_padding": self.uv_padding}
        if self.rig is not None:
            rig_arrays, meta["rig"] = self.rig.to_arrays()
            arrays.update(rig_arrays)
        return arrays, meta

    def save_npz(self, path: str) -> None:
        arrays, meta = self.to_arrays()
        np.savez(path, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
