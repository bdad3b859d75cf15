"""The ICT-FaceKit head as a FaceModel: a whole head from light-stage scans, in the shared frame.

From an :class:`~.ict_source.IctSource` this builds:

- parts by material group: ``skin`` (M_Face + M_BackHead: face, scalp, neck, ears, mouth and eye
  sockets; the part the UV generator's maps drive), ``sclera``, ``iris``, ``teeth``, ``gums`` (gums and
  tongue) and ``eyelashes``. ICT's M_LacrimalFluid, M_EyeBlend and M_EyeOcclusion are dropped: they are
  thin alpha-blended helper shells for real-time eye shading (no texture, transparency in the original
  material); an opaque renderer or a plain Blender material draws them as grey films over the eyes.
- one square UV atlas (:data:`ATLAS`): ICT lays its parts out in UDIM tiles (face 0-1, back of the head
  1-2, gums 2-3, teeth 3-4, lashes 6-7, each eyeball part on its own 0-1 tile). The UV generator makes one
  square map, so each tile is scaled into its own rectangle of the atlas: the face gets the largest.
- a render mesh split at UV seams (one UV per vertex) with the original quads, per-corner UVs and the
  welding map kept in :class:`~.topology.MeshTopology`.
- the frame: centimetres -> decimetres, +y up, facing +z, moved so that the 68 landmarks' centroid sits
  where the procedural head's does (the standard camera then frames it as an FFHQ crop).
- 100 identity modes with an N(0, 1) prior (a coefficient of 1 is one ICT identity delta) and 57
  expression shapes named in ARKit style (:mod:`.arkit`), weights in [0, 1].
"""
from __future__ import annotations

import numpy as np

from ..errors import StyleFaceError
from .arkit import ict_to_arkit
from .ict_source import IctSource
from .model import FaceModel
from .topology import MeshTopology

MODEL_NAME = "ict-facekit"
MODEL_VERSION = 1
CM_TO_MODEL = 0.1  # model units are decimetres (BFM's)
# Where the landmarks' centroid sits in the shared frame (the procedural head's, so cameras agree).
LANDMARK_CENTROID = np.array([0.0, -0.325, 0.726], np.float32)
PARTS = ("skin", "sclera", "iris", "teeth", "gums", "eyelashes")
MATERIAL_PARTS = {
    "M_Face": "skin", "M_BackHead": "skin", "M_ScleraLeft": "sclera", "M_ScleraRight": "sclera",
    "M_IrisLeft": "iris", "M_IrisRight": "iris", "M_Teeth": "teeth", "M_GumsTongue": "gums",
    "M_EyeLashes": "eyelashes",
}
DROPPED_MATERIALS = ("M_LacrimalFluid", "M_EyeBlend", "M_EyeOcclusion")
# Atlas rectangles (u0, v0, u1, v1) per material group; v up. The face tile keeps 5/8 x 3/4 of the map.
ATLAS = {
    "M_Face": (0.0, 0.25, 0.625, 1.0),
    "M_BackHead": (0.625, 0.25, 1.0, 1.0),
    "M_Teeth": (0.0, 0.0, 0.25, 0.25),
    "M_GumsTongue": (0.25, 0.0, 0.5, 0.25),
    "M_ScleraLeft": (0.5, 0.125, 0.625, 0.25),
    "M_IrisLeft": (0.5, 0.0, 0.625, 0.125),
    "M_ScleraRight": (0.625, 0.125, 0.75, 0.25),
    "M_IrisRight": (0.625, 0.0, 0.75, 0.125),
    "M_EyeLashes": (0.75, 0.0, 1.0, 0.25),
}
ATLAS_MARGIN = 1.0 / 256  # gutter inside each rectangle so bilinear lookups do not bleed across parts
NOTICE = ("ICT-FaceKit (ICT Face Model Light), Copyright (c) 2020 USC Institute for Creative Technologies, "
          "MIT licence; see THIRD_PARTY_NOTICES")


def atlas_uvs(uv: np.ndarray, material: str) -> np.ndarray:
    """Map a material group's UDIM-tile UVs (u may exceed 1) into its atlas rectangle."""
    u0, v0, u1, v1 = ATLAS[material]
    m = ATLAS_MARGIN
    local = uv.copy()
    local[:, 0] -= np.floor(max(float(uv[:, 0].mean()), 0.0))  # the group's UDIM tile
    local = np.clip(local, 0.0, 1.0)
    out = np.empty_like(local)
    out[:, 0] = u0 + m + local[:, 0] * (u1 - u0 - 2 * m)
    out[:, 1] = v0 + m + local[:, 1] * (v1 - v0 - 2 * m)
    return out


CORNEA_DEG = 20.0  # sclera polygons within this angle of the gaze axis are cut away (the cornea window)


def _cornea_window(src: IctSource, poly_part: np.ndarray, corner_poly: np.ndarray) -> np.ndarray:
    """Sclera polygons in front of the iris, per eye.

    ICT's sclera is a closed shell over the iris, meant for a shader with a transparent cornea; with
    opaque materials it would hide the iris, so the window in front of each iris is cut out. The gaze
    axis runs from the least-squares centre of the eye's sclera to the centroid of its iris.
    """
    out = np.zeros(len(poly_part), bool)
    sclera, iris = PARTS.index("sclera"), PARTS.index("iris")
    v = src.neutral.astype(np.float64)
    for side in (1.0, -1.0):
        on_side = side * v[src.polygon_vertices, 0] > 0
        sc_c = on_side & (poly_part[corner_poly] == sclera)
        ir_ids = np.unique(src.polygon_vertices[on_side & (poly_part[corner_poly] == iris)])
        sc_ids = np.unique(src.polygon_vertices[sc_c])
        if len(sc_ids) < 4 or not len(ir_ids):
            continue
        a = np.c_[2 * v[sc_ids], np.ones(len(sc_ids))]
        sol, *_ = np.linalg.lstsq(a, (v[sc_ids] ** 2).sum(1), rcond=None)
        centre = sol[:3]
        axis = v[ir_ids].mean(0) - centre
        if not np.linalg.norm(axis) > 0:
            continue
        axis /= np.linalg.norm(axis)
        d = v[src.polygon_vertices] - centre
        cos = d @ axis / np.maximum(np.linalg.norm(d, axis=1), 1e-12)
        inside = np.zeros(len(poly_part), bool)
        np.logical_or.at(inside, corner_poly, ~(cos > np.cos(np.radians(CORNEA_DEG))))
        out |= (poly_part == sclera) & ~inside & np.bincount(corner_poly, sc_c, len(poly_part)).astype(bool)
    return out


def _corner_atlas_uvs(src: IctSource, keep_poly: np.ndarray, corner_poly: np.ndarray) -> np.ndarray:
    """Atlas UV of every corner of the kept polygons (flat, corner order)."""
    uv = src.uv_coords[src.polygon_uv_ids].astype(np.float64)
    keep_corner = keep_poly[corner_poly]
    corner_material = src.polygon_materials[corner_poly]
    out = np.zeros_like(uv)
    for mi, name in enumerate(src.material_names):
        sel = (corner_material == mi) & keep_corner
        if name in ATLAS and sel.any():
            out[sel] = atlas_uvs(uv[sel], name)
    return out[keep_corner]


def build_ict_face_model(src: IctSource) -> FaceModel:
    """The FaceModel of an ICT-FaceKit source (any vertex count, e.g. tiny test folders)."""
    unknown = [n for n in src.material_names if n not in MATERIAL_PARTS and n not in DROPPED_MATERIALS]
    if unknown:
        raise StyleFaceError(f"ICT-FaceKit neutral mesh: unknown material group '{unknown[0]}' (expected "
                             f"{', '.join(list(MATERIAL_PARTS) + list(DROPPED_MATERIALS))})")
    mat_part = np.array([PARTS.index(MATERIAL_PARTS[n]) if n in MATERIAL_PARTS else -1
                         for n in src.material_names], np.int64)
    poly_part = mat_part[src.polygon_materials]
    corner_poly = np.repeat(np.arange(len(src.polygon_sizes)), src.polygon_sizes)  # polygon of each corner
    keep_poly = (poly_part >= 0) & ~_cornea_window(src, poly_part, corner_poly)
    if not (poly_part == 0).any():
        raise StyleFaceError("ICT-FaceKit neutral mesh: no skin polygons (M_Face / M_BackHead)")
    corners_orig = src.polygon_vertices[keep_poly[corner_poly]]
    # Welded vertices: the original ones that kept polygons use, in original order.
    used = np.unique(corners_orig)
    remap = np.full(src.n_vertices, -1, np.int64)
    remap[used] = np.arange(len(used))
    if (remap[src.landmarks] < 0).any():
        raise StyleFaceError("ICT-FaceKit: a landmark lies on a dropped part")
    corner_welded = remap[corners_orig]
    corner_uv = _corner_atlas_uvs(src, keep_poly, corner_poly)
    # Render vertices: one per distinct (welded vertex, atlas UV).
    key = np.column_stack([corner_welded, np.round(corner_uv * 2 ** 20).astype(np.int64)])
    uniq, corner_render = np.unique(key, axis=0, return_inverse=True)
    corner_render = corner_render.reshape(-1)
    source_vertex = uniq[:, 0]
    uvs = np.zeros((len(uniq), 2), np.float64)
    uvs[corner_render] = corner_uv
    topo = MeshTopology(src.polygon_sizes[keep_poly], corner_render, poly_part[keep_poly], PARTS, source_vertex)
    triangles, tri_poly = topo.triangulate()

    neutral = src.neutral.astype(np.float64) * CM_TO_MODEL
    shift = LANDMARK_CENTROID - neutral[src.landmarks].mean(0)
    orig_of_render = used[source_vertex]
    mean_shape = (neutral + shift)[orig_of_render]
    id_basis = np.ascontiguousarray((src.identity_deltas[:, orig_of_render] * CM_TO_MODEL).transpose(1, 2, 0))
    exp_basis = np.ascontiguousarray((src.expression_deltas[:, orig_of_render] * CM_TO_MODEL).transpose(1, 2, 0))
    landmarks = topo.welded_index[remap[src.landmarks]]

    from .ict_regions import ict_regions, ict_uv_regions  # geometry-derived labels for texturing
    metadata = {
        "source": NOTICE,
        "licence": "MIT",
        "version": MODEL_VERSION,
        "units": "decimetres (BFM); +y up, facing +z",
        "id_names": list(src.identity_names),
        "id_prior": "standard normal per mode (ICT-FaceKit samples N(0, 1))",
        "exp_source_names": list(src.expression_names),
        "atlas": {k: list(v) for k, v in ATLAS.items() if k in src.material_names},
        "dropped_parts": list(DROPPED_MATERIALS),
    }
    model = FaceModel(
        name=MODEL_NAME, mean_shape=mean_shape, id_basis=id_basis, exp_basis=exp_basis, triangles=triangles,
        uvs=uvs, landmarks=landmarks, exp_names=tuple(ict_to_arkit(n) for n in src.expression_names),
        metadata=metadata, topology=topo)
    model.metadata["regions"] = ict_regions(model)
    model.metadata["uv_regions"] = ict_uv_regions(model)
    model.uv_mask = face_uv_mask(model)
    return model


def face_uv_mask(model: FaceModel, size: int = 256) -> np.ndarray:
    """Texels of the face tile covered by skin triangles (row 0 is v = 1): the UV face mask."""
    from .procedural import rasterize_uv_coverage

    u0, v0, u1, v1 = ATLAS["M_Face"]
    tri = model.triangles
    uv = model.uvs[tri].mean(1)
    inside = (uv[:, 0] > u0) & (uv[:, 0] < u1) & (uv[:, 1] > v0) & (uv[:, 1] < v1)
    parts = model.mesh_topology.vertex_parts()[tri[:, 0]]
    return rasterize_uv_coverage(model.uvs, tri[inside & (parts == 0)], size) > 0
