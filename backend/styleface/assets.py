"""FaceAssets: everything one generated face consists of, in one validated, numpy-only container.

The same object feeds the exporters (OBJ/GLB/EXR/PNG), the Blender add-on and the worker protocol, so
it holds plain numpy arrays and JSON-able metadata only (no torch, no pickle). Conventions follow
ARCHITECTURE.md: model units (decimetres), +y up, facing +z, per-vertex UVs in [0, 1] with v up, UV maps
(C, H, W) with row 0 at v = 1 (the grid_sample convention).
"""
from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .errors import StyleFaceError
from .rig import FaceRig

DISPLACEMENT_MODES = ("generalized-xyz", "normal")
ASSETS_FORMAT = "styleface-assets"
ASSETS_FORMAT_VERSION = 1


@dataclass(frozen=True)
class DisplacementInfo:
    """How to read the displacement map: offset = (map - mid_level) * scale, in model units.

    ``generalized-xyz`` (StyleFaceUV's default) is a 3-channel model-space XYZ offset; ``normal`` is a
    1-channel offset along the base mesh's vertex normal. ``mid_level`` is 0 for the signed float map;
    the 16-bit PNG encoding has its own mid-level 0.5 (see ``png16_mid_level``).
    """

    mode: str = "generalized-xyz"
    scale: float = 0.01
    mid_level: float = 0.0

    @property
    def channels(self) -> int:
        return 3 if self.mode == "generalized-xyz" else 1

    @property
    def png16_mid_level(self) -> float:
        """Mid-level of the 16-bit PNG, whose encoded value is map * 0.5 + 0.5."""
        return self.mid_level * 0.5 + 0.5

    @property
    def png16_scale(self) -> float:
        """Model units per encoded PNG unit (the Blender Displace strength for the PNG)."""
        return self.scale * 2.0

    def validate(self) -> None:
        if self.mode not in DISPLACEMENT_MODES:
            raise StyleFaceError(
                f"displacement mode '{self.mode}' unknown; use one of {', '.join(DISPLACEMENT_MODES)}")
        if not (isinstance(self.scale, numbers.Real) and math.isfinite(self.scale) and self.scale > 0):
            raise StyleFaceError(f"displacement scale must be a finite number > 0, got {self.scale!r}")
        if not (isinstance(self.mid_level, numbers.Real) and math.isfinite(self.mid_level)):
            raise StyleFaceError(f"displacement mid_level must be a finite number, got {self.mid_level!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "scale": float(self.scale), "mid_level": float(self.mid_level)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DisplacementInfo":
        try:
            return cls(mode=str(d.get("mode", "generalized-xyz")), scale=float(d.get("scale", 0.01)),
                       mid_level=float(d.get("mid_level", 0.0)))
        except (TypeError, ValueError, AttributeError) as e:
            raise StyleFaceError(f"displacement metadata is malformed: {e}") from None


# -- numpy helpers shared by assets and exporters ------------------------------------------------

UV_PADDING_MODES = ("border", "zeros")


def check_uv_padding(mode: Any) -> str:
    """The UV padding mode, or a StyleFaceError naming the allowed ones."""
    if mode not in UV_PADDING_MODES:
        raise StyleFaceError(f"uv_padding must be one of {', '.join(UV_PADDING_MODES)}, got {mode!r}")
    return str(mode)


def sample_uv_map(uv_map: np.ndarray, uvs: np.ndarray, padding_mode: str = "border") -> np.ndarray:
    """Bilinearly sample a (C, H, W) map at (N, 2) UVs -> (N, C) float32.

    Matches torch's grid_sample(grid x = 2u - 1, y = 1 - 2v, align_corners=False, padding_mode) so
    baked vertices equal what training and rendering saw: "border" clamps to the edge texels (the
    project's bundles), "zeros" reads 0 outside the map (the official code, whose v = 1.0 vertices get
    half a texel of zeros).
    """
    check_uv_padding(padding_mode)
    m = np.asarray(uv_map, dtype=np.float32)
    _, h, w = m.shape
    uv = np.asarray(uvs, dtype=np.float64)
    x = uv[:, 0] * w - 0.5
    y = (1.0 - uv[:, 1]) * h - 0.5
    if padding_mode == "border":
        x = np.clip(x, 0.0, w - 1)
        y = np.clip(y, 0.0, h - 1)
    x0 = np.floor(x).astype(np.int64)
    y0 = np.floor(y).astype(np.int64)
    fx = x - x0
    fy = y - y0
    out = np.zeros((m.shape[0], uv.shape[0]), np.float64)
    for dx, dy, wt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
        out += m[:, np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)] * np.where(inside, wt, 0.0)[None]
    return np.ascontiguousarray(out.T, dtype=np.float32)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (N, 3) float32; vertices in no face get +z (the facing axis)."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    n = np.zeros_like(v)
    if len(f):
        fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # length = twice the area
        for k in range(3):
            np.add.at(n, f[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    ok = length[:, 0] > 1e-20
    n[ok] /= length[ok]
    n[~ok] = (0.0, 0.0, 1.0)
    return n.astype(np.float32)


def _array(value: Any, dtype: Any, name: str) -> np.ndarray:
    """numpy copy of an array-like (including detached CPU tensors) or a StyleFaceError."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise StyleFaceError(f"face assets: {name} is not an array ({e})") from None
    if arr.dtype.kind not in "biuf":
        raise StyleFaceError(f"face assets: {name} must be numeric, got dtype {arr.dtype}")
    if np.dtype(dtype).kind in "iu" and arr.dtype.kind == "f":
        if arr.size and not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
            raise StyleFaceError(f"face assets: {name} must hold integers")
    return np.ascontiguousarray(arr, dtype=dtype)


# -- the container -------------------------------------------------------------------------------

@dataclass(eq=False)
class FaceAssets:
    """One generated face: base mesh (not posed), UV maps, displacement metadata and provenance.

    vertices (N, 3) float32 model units; faces (F, 3) int64, counter-clockwise seen from outside;
    uvs (N, 2) float32 in [0, 1], v up; diffuse (3, H, W) float32 in [0, 1]; displacement (C, H, W)
    float32 in [-1, 1] with C = 3 ('generalized-xyz') or 1 ('normal'); coefficients: named groups in
    layout order (1-D float32 each); stylecode (n_latent, style_dim) or None; seed int or None;
    provenance: JSON-able dict (bundle id, versions, options); uv_padding: how the maps are sampled
    outside [0, 1] ("border", or "zeros" for official weights); rig: polygons, parts, welding and
    expression shapes of the artist mesh (:class:`~styleface.rig.FaceRig`) or None (triangles only).
    Construction converts dtypes and validates, so a FaceAssets that exists is consistent; call
    ``validate()`` again after mutating it.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    diffuse: np.ndarray
    displacement: np.ndarray
    displacement_info: DisplacementInfo = field(default_factory=DisplacementInfo)
    coefficients: dict[str, np.ndarray] = field(default_factory=dict)
    stylecode: np.ndarray | None = None
    seed: int | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    uv_padding: str = "border"
    rig: "FaceRig | None" = None

    def __post_init__(self) -> None:
        self.vertices = _array(self.vertices, np.float32, "vertices")
        self.faces = _array(self.faces, np.int64, "faces")
        self.uvs = _array(self.uvs, np.float32, "uvs")
        self.diffuse = _array(self.diffuse, np.float32, "diffuse")
        self.displacement = _array(self.displacement, np.float32, "displacement")
        if isinstance(self.displacement_info, Mapping):
            self.displacement_info = DisplacementInfo.from_dict(self.displacement_info)
        if not isinstance(self.coefficients, Mapping):
            raise StyleFaceError("face assets: coefficients must be a dict of named groups "
                                 "(use FaceAssets.split_coefficients for a flat vector)")
        self.coefficients = {str(k): np.atleast_1d(_array(v, np.float32, f"coefficients['{k}']"))
                             for k, v in self.coefficients.items()}
        if self.stylecode is not None:
            self.stylecode = _array(self.stylecode, np.float32, "stylecode")
        if isinstance(self.seed, np.integer):
            self.seed = int(self.seed)
        self.provenance = dict(self.provenance) if isinstance(self.provenance, Mapping) else self.provenance
        self.validate()

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def n_faces(self) -> int:
        return int(self.faces.shape[0])

    # -- coefficients --------------------------------------------------------------------------
    @staticmethod
    def split_coefficients(vector: Any, sizes: Mapping[str, int]) -> dict[str, np.ndarray]:
        """Named groups from a flat vector and ordered group sizes (e.g. ``CoeffLayout.sizes()``)."""
        v = _array(vector, np.float32, "coefficient vector").reshape(-1)
        total = sum(int(n) for n in sizes.values())
        if v.size != total:
            raise StyleFaceError(f"coefficient vector has {v.size} entries, layout expects {total}")
        out, start = {}, 0
        for name, n in sizes.items():
            out[str(name)] = v[start:start + int(n)].copy()
            start += int(n)
        return out

    def coefficient_sizes(self) -> dict[str, int]:
        return {k: int(v.size) for k, v in self.coefficients.items()}

    def coefficient_vector(self) -> np.ndarray:
        """All groups concatenated in their order (the flat layout vector)."""
        if not self.coefficients:
            return np.zeros(0, np.float32)
        return np.concatenate([v.reshape(-1) for v in self.coefficients.values()]).astype(np.float32)

    # -- checks --------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise StyleFaceError naming the first inconsistent field (shapes, ranges, NaNs)."""

        def need(cond: bool, what: str) -> None:
            if not cond:
                raise StyleFaceError(f"face assets: {what}")

        def finite(a: np.ndarray, name: str) -> None:
            need(bool(np.all(np.isfinite(a))), f"{name} contains NaN or infinite values")

        for name in ("vertices", "faces", "uvs", "diffuse", "displacement"):
            need(isinstance(getattr(self, name), np.ndarray), f"{name} must be a numpy array")
        need(self.vertices.ndim == 2
             and self.vertices.shape[1] == 3 and self.vertices.shape[0] > 0,
             f"vertices must be (N, 3) with N > 0, got {np.shape(self.vertices)}")
        n = self.n_vertices
        finite(self.vertices, "vertices")
        need(self.faces.ndim == 2 and self.faces.shape[1] == 3 and self.faces.shape[0] > 0,
             f"faces must be (F, 3) with F > 0, got {self.faces.shape}")
        need(np.issubdtype(self.faces.dtype, np.integer), "faces must hold integers")
        need(int(self.faces.min()) >= 0 and int(self.faces.max()) < n,
             f"face indices must lie in [0, {n}), got [{int(self.faces.min())}, {int(self.faces.max())}]")
        need(self.uvs.shape == (n, 2), f"uvs must be ({n}, 2), got {self.uvs.shape}")
        finite(self.uvs, "uvs")
        need(bool(np.all((self.uvs >= -1e-6) & (self.uvs <= 1 + 1e-6))), "uvs must lie in [0, 1]")

        need(self.diffuse.ndim == 3 and self.diffuse.shape[0] == 3 and min(self.diffuse.shape[1:]) > 0,
             f"diffuse must be (3, H, W), got {self.diffuse.shape}")
        finite(self.diffuse, "diffuse")
        need(bool(np.all((self.diffuse >= 0) & (self.diffuse <= 1))), "diffuse values must lie in [0, 1]")

        info = self.displacement_info
        need(isinstance(info, DisplacementInfo), "displacement_info must be a DisplacementInfo")
        info.validate()
        c = info.channels
        need(self.displacement.ndim == 3 and self.displacement.shape[0] == c
             and min(self.displacement.shape[1:]) > 0,
             f"displacement must be ({c}, H, W) for mode '{info.mode}', got {self.displacement.shape}")
        finite(self.displacement, "displacement")
        need(bool(np.all(np.abs(self.displacement) <= 1)), "displacement values must lie in [-1, 1]")

        need(isinstance(self.coefficients, dict), "coefficients must be a dict of named groups")
        for k, v in self.coefficients.items():
            need(isinstance(v, np.ndarray) and v.ndim == 1, f"coefficient group '{k}' must be 1-D")
            finite(v, f"coefficient group '{k}'")
        if self.stylecode is not None:
            need(self.stylecode.ndim == 2 and self.stylecode.size > 0,
                 f"stylecode must be (n_latent, style_dim), got {self.stylecode.shape}")
            finite(self.stylecode, "stylecode")
        need(self.seed is None or (isinstance(self.seed, int) and not isinstance(self.seed, bool)),
             f"seed must be an int or None, got {self.seed!r}")
        need(isinstance(self.provenance, dict), "provenance must be a dict")
        check_uv_padding(self.uv_padding)
        try:
            json.dumps(self.provenance, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise StyleFaceError(f"face assets: provenance must be JSON-serialisable ({e})") from None
        if self.rig is not None:
            need(isinstance(self.rig, FaceRig), "rig must be a FaceRig or None")
            self.rig.validate(self.n_vertices)

    # -- geometry ------------------------------------------------------------------------------
    def normals(self) -> np.ndarray:
        """Area-weighted vertex normals of the base mesh."""
        return vertex_normals(self.vertices, self.faces)

    def vertex_displacement(self) -> np.ndarray:
        """Per-vertex offset (N, 3) in model units that the displacement map applies at the vertex UVs."""
        info = self.displacement_info
        sampled = (sample_uv_map(self.displacement, self.uvs, self.uv_padding) - np.float32(info.mid_level)) \
            * np.float32(info.scale)
        if info.mode == "normal":
            return (sampled[:, :1] * self.normals()).astype(np.float32)
        return sampled.astype(np.float32)

    def displaced_vertices(self) -> np.ndarray:
        """Vertices with the displacement baked in (N, 3) float32: the detail that Blender's modifier
        would add, for formats and tools without displacement maps."""
        return (self.vertices + self.vertex_displacement()).astype(np.float32)

    # -- transport (worker protocol) -----------------------------------------------------------
    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Plain numpy arrays plus JSON-able metadata, so the worker can ship assets without pickle."""
        arrays = {
            "vertices": self.vertices, "faces": self.faces, "uvs": self.uvs,
            "diffuse": self.diffuse, "displacement": self.displacement,
            "coefficients": self.coefficient_vector(),
        }
        if self.stylecode is not None:
            arrays["stylecode"] = self.stylecode
        rig_meta = None
        if self.rig is not None:
            rig_arrays, rig_meta = self.rig.to_arrays()
            arrays.update(rig_arrays)
        meta = {
            "format": ASSETS_FORMAT,
            "version": ASSETS_FORMAT_VERSION,
            "displacement": self.displacement_info.to_dict(),
            "coefficient_layout": [[k, n] for k, n in self.coefficient_sizes().items()],
            "seed": self.seed,
            "provenance": self.provenance,
            "uv_padding": self.uv_padding,
        }
        if rig_meta is not None:
            meta["rig"] = rig_meta
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> "FaceAssets":
        """Inverse of ``to_arrays``; validates, so malformed messages become StyleFaceError."""
        if meta.get("format") != ASSETS_FORMAT:
            raise StyleFaceError(f"not a StyleFace assets message (format {meta.get('format')!r})")
        if int(meta.get("version", 0)) > ASSETS_FORMAT_VERSION:
            raise StyleFaceError(f"face assets format version {meta.get('version')} is newer than this "
                                 f"StyleFace understands ({ASSETS_FORMAT_VERSION}); update StyleFace")
        missing = [k for k in ("vertices", "faces", "uvs", "diffuse", "displacement") if k not in arrays]
        if missing:
            raise StyleFaceError(f"face assets message lacks arrays: {', '.join(missing)}")
        try:
            sizes = {str(k): int(n) for k, n in meta.get("coefficient_layout", [])}
        except (TypeError, ValueError):
            raise StyleFaceError("face assets: coefficient_layout must be [[name, size], ...]") from None
        coeffs = cls.split_coefficients(arrays.get("coefficients", np.zeros(0, np.float32)), sizes)
        return cls(
            vertices=arrays["vertices"], faces=arrays["faces"], uvs=arrays["uvs"],
            diffuse=arrays["diffuse"], displacement=arrays["displacement"],
            displacement_info=DisplacementInfo.from_dict(meta.get("displacement", {})),
            coefficients=coeffs, stylecode=arrays.get("stylecode"), seed=meta.get("seed"),
            provenance=dict(meta.get("provenance", {})), uv_padding=meta.get("uv_padding", "border"),
            rig=FaceRig.from_arrays(arrays, meta.get("rig") or {}),
        )
