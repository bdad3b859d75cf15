"""The procedural demo face model: a full head (face, ears, neck, eyes, mouth) written from scratch.

BFM cannot be shipped, so the project ships this model: a linear 3DMM in the shared frame (+y up,
facing +z, decimetres, about 2.3 units chin to crown) with a non-overlapping UV layout that gives the
face most of the texture, 68 iBUG landmarks, a semantic identity basis (coefficients ~N(0, 1)), named
expressions, per-vertex regions for procedural texturing and a plausible mean albedo. Everything is
deterministic (no random numbers at all) and builds in about a second, so nothing is cached on disk.

Modules: :mod:`procedural_shape` (the implicit mean head), :mod:`procedural_mesh` (ray-cast grid, ears,
UVs), :mod:`procedural_regions` (regions, albedo, landmarks), :mod:`procedural_basis` (bases).
"""
from __future__ import annotations

import numpy as np

from . import procedural_shape as S
from .model import FaceModel
from .procedural_basis import build_bases
from .procedural_mesh import HeadMesh, build_head_mesh
from .procedural_regions import landmark_ids, mean_albedo, soft_regions
from ..uvbake import triangle_pixels

MODEL_NAME = "styleface-demo-head"
MODEL_VERSION = 1
UV_MASK_SIZE = 256
# Region masks stored in metadata["regions"] (bool per vertex).
REGION_NAMES = ("skin", "face", "lips", "mouth_interior", "brows", "eyes", "iris", "nose", "cheeks",
                "forehead", "ears", "scalp", "neck")

_CACHE: dict[str, dict] = {}


def rasterize_uv_coverage(uvs: np.ndarray, triangles: np.ndarray, size: int) -> np.ndarray:
    """How many triangles cover each texel centre (size, size) int32; row 0 is v = 1.

    A texel centre on an edge shared by two triangles counts for both, so callers looking for overlaps
    must tolerate a few doubly covered texels along edges.
    """
    count = np.zeros((size, size), np.int32)
    px = uvs[:, 0].astype(np.float64) * size - 0.5
    py = (1.0 - uvs[:, 1].astype(np.float64)) * size - 0.5
    x, y = px[triangles], py[triangles]
    t, cx, cy = triangle_pixels(x, y, size)
    ax, ay, bx, by, qx, qy = x[t, 0], y[t, 0], x[t, 1], y[t, 1], x[t, 2], y[t, 2]
    e0 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    e1 = (qx - bx) * (cy - by) - (qy - by) * (cx - bx)
    e2 = (ax - qx) * (cy - qy) - (ay - qy) * (cx - qx)
    inside = ((e0 >= 0) & (e1 >= 0) & (e2 >= 0)) | ((e0 <= 0) & (e1 <= 0) & (e2 <= 0))
    area = np.abs((bx - ax) * (qy - ay) - (by - ay) * (qx - ax)) > 0
    np.add.at(count, (cy[inside & area], cx[inside & area]), 1)
    return count


def _uv_box(uvs: np.ndarray, mask: np.ndarray) -> dict:
    uv = uvs[mask]
    lo, hi = uv.min(0), uv.max(0)
    return {"center": [float(v) for v in (lo + hi) / 2], "bbox": [float(lo[0]), float(lo[1]), float(hi[0]),
                                                                 float(hi[1])]}


def _uv_regions(mesh: HeadMesh, regions: dict[str, np.ndarray]) -> dict:
    """UV-space centres and bounding boxes of eyes, irises, lips, brows and nose for texture painters."""
    uvs, v = mesh.uvs, mesh.vertices
    left, right = v[:, 0] > 0, v[:, 0] < 0
    out: dict = {}
    for side, m in (("left", left), ("right", right)):
        out[f"eye_{side}"] = _uv_box(uvs, regions["eyes"] & m)
        out[f"brow_{side}"] = _uv_box(uvs, regions["brows"] & m)
    out["lips"] = _uv_box(uvs, regions["lips"] | regions["mouth_interior"])
    out["mouth"] = _uv_box(uvs, regions["mouth_interior"])
    out["nose"] = _uv_box(uvs, regions["nose"])
    iris = []
    for sgn in (1.0, -1.0):  # left eye first, as in the eye_left / eye_right boxes
        c = S.EYE_CENTRE * np.array([sgn, 1.0, 1.0])
        centre = c + np.array([0.0, 0.0, S.EYE_RADIUS])
        edge = c + S.EYE_RADIUS * np.array([S.IRIS_RADIUS / S.EYE_RADIUS * sgn, 0.0,
                                            np.sqrt(1 - (S.IRIS_RADIUS / S.EYE_RADIUS) ** 2)])
        eye_ids = np.flatnonzero(regions["eyes"])
        i_c = eye_ids[np.argmin(np.linalg.norm(v[eye_ids] - centre, axis=1))]
        i_e = eye_ids[np.argmin(np.linalg.norm(v[eye_ids] - edge, axis=1))]
        r_uv = float(np.linalg.norm(uvs[i_e] - uvs[i_c]))
        iris.append([float(uvs[i_c, 0]), float(uvs[i_c, 1]), r_uv])
    out["iris_centres"] = iris
    out["eye_centres"] = [list(c) for c in iris]
    return out


def build_demo_arrays() -> dict:
    """Every array and metadata entry of the demo model (deterministic; ~1 s)."""
    mesh = build_head_mesh()
    soft = soft_regions(mesh)
    regions = {k: soft[k] > 0.5 for k in REGION_NAMES}
    id_basis, id_names, exp_basis, exp_names = build_bases(mesh, soft["eyes"])
    face_tri = regions["face"][mesh.triangles].all(1)
    uv_mask = rasterize_uv_coverage(mesh.uvs, mesh.triangles[face_tri], UV_MASK_SIZE) > 0
    metadata = {
        "source": "procedural (StyleFace project, no third-party data)",
        "version": MODEL_VERSION,
        "units": "decimetres (BFM); +y up, facing +z",
        "id_names": list(id_names),
        "regions": regions,
        "uv_regions": _uv_regions(mesh, regions),
        "parts": {"head": 0, "crown": 1, "ear_left": 2, "ear_right": 3},
        "part": mesh.part.copy(),
    }
    return {
        "mean_shape": mesh.vertices.astype(np.float32),
        "id_basis": id_basis,
        "exp_basis": exp_basis,
        "triangles": mesh.triangles,
        "uvs": mesh.uvs.astype(np.float32),
        "landmarks": landmark_ids(mesh, soft),
        "mean_albedo": mean_albedo(soft).astype(np.float32),
        "uv_mask": uv_mask,
        "exp_names": tuple(exp_names),
        "metadata": metadata,
    }


def demo_face_model(cache: bool = True) -> FaceModel:
    """The procedural demo head as a :class:`FaceModel`.

    The arrays are built once per process when ``cache`` is true (each call still returns a new
    FaceModel with its own copies, so callers may modify it); ``cache=False`` always rebuilds.
    """
    if cache and "demo" in _CACHE:
        arrays = _CACHE["demo"]
    else:
        arrays = build_demo_arrays()
        if cache:
            _CACHE["demo"] = arrays
    meta = dict(arrays["metadata"])
    meta["regions"] = {k: v.copy() for k, v in meta["regions"].items()}
    meta["uv_regions"] = {k: (dict(v) if isinstance(v, dict) else [list(c) for c in v])
                          for k, v in meta["uv_regions"].items()}
    meta["id_names"] = list(meta["id_names"])
    meta["part"] = meta["part"].copy()
    copy = lambda a: None if a is None else np.array(a, copy=True)  # noqa: E731
    return FaceModel(
        name=MODEL_NAME,
        mean_shape=copy(arrays["mean_shape"]),
        id_basis=copy(arrays["id_basis"]),
        exp_basis=copy(arrays["exp_basis"]),
        triangles=copy(arrays["triangles"]),
        uvs=copy(arrays["uvs"]),
        landmarks=copy(arrays["landmarks"]),
        mean_albedo=copy(arrays["mean_albedo"]),
        albedo_basis=None,
        uv_mask=copy(arrays["uv_mask"]),
        exp_names=arrays["exp_names"],
        metadata=meta,
    )
