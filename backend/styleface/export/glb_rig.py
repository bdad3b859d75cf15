"""GLB of a rigged face (ICT head): one mesh, a primitive and a material per part, expressions as morph targets.

glTF wants one UV per vertex, so each primitive holds the *render* vertices of its part (split at UV
seams); positions and normals still come from the welded mesh, so the seams do not open or shade.
The base positions are the neutral face (its expression removed) and ``mesh.weights`` are the face's
expression coefficients, so a viewer shows the face as generated and every slider works from zero.
Every primitive carries all targets (glTF requires the same count); a target's POSITION accessor is
sparse where few vertices move, and has no data at all where none move (the spec's zero-initialised
accessor). Names are in ``mesh.extras.targetNames``, the convention three.js, Blender and Babylon read.
Units: metres (model decimetres x 0.1), +y up, facing +z, t = 1 - v, as in :mod:`.glb`.
"""
from __future__ import annotations

import json
import struct

import numpy as np

from .. import __version__
from ..assets import FaceAssets
from ..facemodel.parts import part_material
from .glb import (METRES_PER_MODEL_UNIT, _ARRAY_BUFFER, _CLAMP_TO_EDGE, _ELEMENT_ARRAY_BUFFER, _FLOAT,
                  _LINEAR, _LINEAR_MIPMAP_LINEAR, _UNSIGNED_INT, _pad)
from .png import diffuse_png_bytes
from .rig_mesh import rig_mesh

_UNSIGNED_SHORT = 5123
_SPARSE_FRACTION = 0.5  # sparse when fewer than this share of a primitive's vertices move


class _Buffer:
    """Accumulates bufferViews and accessors over one binary chunk."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []
        self.views: list[dict] = []
        self.accessors: list[dict] = []
        self.size = 0

    def view(self, data: bytes, target: int | None = None) -> int:
        v = {"buffer": 0, "byteOffset": self.size, "byteLength": len(data)}
        if target is not None:
            v["target"] = target
        self.views.append(v)
        padded = _pad(data, b"\x00")
        self.blobs.append(padded)
        self.size += len(padded)
        return len(self.views) - 1

    def accessor(self, a: np.ndarray, kind: str, component: int, target: int | None,
                 bounds: bool = False) -> int:
        acc = {"bufferView": self.view(np.ascontiguousarray(a).tobytes(), target), "byteOffset": 0,
               "componentType": component, "count": int(a.shape[0]), "type": kind}
        if bounds:
            acc["min"], acc["max"] = _bounds(a)
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def morph_positions(self, d: np.ndarray) -> int:
        """A VEC3 float target: no data when all zero, sparse when few rows move, else dense."""
        moved = np.flatnonzero(np.any(d != 0, axis=1))
        if len(moved) >= _SPARSE_FRACTION * len(d):
            return self.accessor(d, "VEC3", _FLOAT, _ARRAY_BUFFER, bounds=True)
        acc = {"componentType": _FLOAT, "count": int(len(d)), "type": "VEC3"}
        acc["min"], acc["max"] = _bounds(d)
        if len(moved):
            small = len(d) <= 65535
            idx = moved.astype(np.uint16 if small else np.uint32)
            acc["sparse"] = {
                "count": int(len(moved)),
                "indices": {"bufferView": self.view(idx.tobytes()), "byteOffset": 0,
                            "componentType": _UNSIGNED_SHORT if small else _UNSIGNED_INT},
                "values": {"bufferView": self.view(np.ascontiguousarray(d[moved]).tobytes()), "byteOffset": 0},
            }
        self.accessors.append(acc)
        return len(self.accessors) - 1


def _bounds(a: np.ndarray) -> tuple[list[float], list[float]]:
    return [float(x) for x in a.min(axis=0)], [float(x) for x in a.max(axis=0)]


def rig_glb_bytes(assets: FaceAssets, bake_displacement: bool = False,
                  unit_scale: float = METRES_PER_MODEL_UNIT, name: str = "styleface_face") -> bytes:
    """The rigged face as one GLB (see the module docstring)."""
    mesh = rig_mesh(assets, bake_displacement)
    topo = mesh.topology
    buf = _Buffer()
    scale = np.float64(unit_scale)
    tri_part = topo.polygon_parts[mesh.triangle_polygon]
    render_tri, _ = topo.triangulate()
    deltas = mesh.deltas if mesh.deltas is not None else np.zeros((0, topo.n_welded, 3), np.float32)

    materials, primitives = [], []
    for part, part_name in mesh.parts_present():
        m = part_material(part_name)
        mat: dict = {"name": m.name, "doubleSided": part_name == "eyelashes",
                     "pbrMetallicRoughness": {"metallicFactor": 0.0, "roughnessFactor": float(m.roughness)}}
        if m.textured:
            mat["pbrMetallicRoughness"]["baseColorTexture"] = {"index": 0, "texCoord": 0}
        if not m.textured or tuple(m.base_color) != (1.0, 1.0, 1.0):
            mat["pbrMetallicRoughness"]["baseColorFactor"] = [float(c) for c in m.base_color] + [1.0]
        materials.append(mat)

        tris = render_tri[tri_part == part]
        verts = np.unique(tris)                       # render vertices of this part, ascending
        local = np.searchsorted(verts, tris).astype(np.uint32).reshape(-1)
        src = topo.source_vertex[verts]
        positions = (mesh.neutral[src].astype(np.float64) * scale).astype(np.float32)
        uv = assets.uvs[verts]
        texcoords = np.stack([uv[:, 0], 1.0 - uv[:, 1]], axis=1).astype(np.float32)
        prim = {
            "attributes": {
                "POSITION": buf.accessor(positions, "VEC3", _FLOAT, _ARRAY_BUFFER, bounds=True),
                "NORMAL": buf.accessor(mesh.neutral_normals[src], "VEC3", _FLOAT, _ARRAY_BUFFER),
                "TEXCOORD_0": buf.accessor(texcoords, "VEC2", _FLOAT, _ARRAY_BUFFER),
            },
            "indices": buf.accessor(local, "SCALAR", _UNSIGNED_INT, _ELEMENT_ARRAY_BUFFER),
            "material": len(materials) - 1, "mode": 4,
            "extras": {"part": part_name},
        }
        buf.accessors[prim["indices"]]["min"] = [int(local.min())]
        buf.accessors[prim["indices"]]["max"] = [int(local.max())]
        if len(mesh.names):
            prim["targets"] = [
                {"POSITION": buf.morph_positions((deltas[e, src].astype(np.float64) * scale).astype(np.float32))}
                for e in range(len(mesh.names))]
        primitives.append(prim)

    img_view = buf.view(diffuse_png_bytes(assets.diffuse))
    gl_mesh: dict = {"name": name, "primitives": primitives}
    if len(mesh.names):
        gl_mesh["weights"] = [float(w) for w in mesh.weights]
        gl_mesh["extras"] = {"targetNames": list(mesh.names)}
    doc = {
        "asset": {"version": "2.0", "generator": f"StyleFace {__version__}",
                  "extras": {"seed": assets.seed, "displacement_baked": bool(bake_displacement),
                             "metres_per_unit": unit_scale,
                             "base": "neutral; mesh.weights = the face's expression"}},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [gl_mesh],
        "materials": materials,
        "textures": [{"sampler": 0, "source": 0}],
        "samplers": [{"magFilter": _LINEAR, "minFilter": _LINEAR_MIPMAP_LINEAR,
                      "wrapS": _CLAMP_TO_EDGE, "wrapT": _CLAMP_TO_EDGE}],
        "images": [{"bufferView": img_view, "mimeType": "image/png", "name": "diffuse"}],
        "accessors": buf.accessors,
        "bufferViews": buf.views,
        "buffers": [{"byteLength": buf.size}],
    }
    json_chunk = _pad(json.dumps(doc, separators=(",", ":")).encode("utf-8"), b" ")
    bin_chunk = b"".join(buf.blobs)
    total = 12 + 8 + len(json_chunk) + 8 + len(bin_chunk)
    return b"".join([
        struct.pack("<4sII", b"glTF", 2, total),
        struct.pack("<I4s", len(json_chunk), b"JSON"), json_chunk,
        struct.pack("<I4s", len(bin_chunk), b"BIN\x00"), bin_chunk,
    ])
