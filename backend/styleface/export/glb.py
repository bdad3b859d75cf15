"""Binary glTF 2.0 (GLB) with the diffuse texture embedded; written with struct + json only.

glTF's frame is +y up with the front facing +z, as ours, but its unit is the metre, so positions are
scaled by 0.1 (decimetres -> metres). glTF's texture t runs downward from the image top, so
t = 1 - v; with row 0 of the diffuse at v = 1 the PNG goes in unchanged.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from .. import __version__
from ..assets import FaceAssets, vertex_normals
from .atomic import atomic_write_bytes
from .png import diffuse_png_bytes

METRES_PER_MODEL_UNIT = 0.1

_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_FLOAT, _UNSIGNED_INT = 5126, 5125
_LINEAR, _LINEAR_MIPMAP_LINEAR, _CLAMP_TO_EDGE = 9729, 9987, 33071


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 4)


def glb_bytes(assets: FaceAssets, bake_displacement: bool = False,
              unit_scale: float = METRES_PER_MODEL_UNIT, name: str = "styleface_face") -> bytes:
    """The face as one GLB: positions, normals, TEXCOORD_0, uint32 indices, one textured material."""
    assets.validate()
    if assets.rig is not None:  # artist mesh: a primitive per part, expressions as morph targets
        from .glb_rig import rig_glb_bytes
        return rig_glb_bytes(assets, bake_displacement, unit_scale, name)
    verts = assets.displaced_vertices() if bake_displacement else assets.vertices
    normals = vertex_normals(verts, assets.faces)
    positions = (verts.astype(np.float64) * unit_scale).astype(np.float32)
    texcoords = np.stack([assets.uvs[:, 0], 1.0 - assets.uvs[:, 1]], axis=1).astype(np.float32)
    indices = assets.faces.astype(np.uint32).reshape(-1)
    png = diffuse_png_bytes(assets.diffuse)

    blobs: list[bytes] = []
    views: list[dict] = []

    def add_view(data: bytes, target: int | None = None) -> int:
        offset = sum(len(b) for b in blobs)
        view = {"buffer": 0, "byteOffset": offset, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        views.append(view)
        blobs.append(_pad(data, b"\x00"))
        return len(views) - 1

    accessors = []

    def add_accessor(a: np.ndarray, kind: str, component: int, target: int, bounds: bool = False) -> int:
        acc = {"bufferView": add_view(np.ascontiguousarray(a).tobytes(), target), "byteOffset": 0,
               "componentType": component, "count": int(a.shape[0]), "type": kind}
        if bounds:
            acc["min"] = [float(x) for x in a.min(axis=0)]
            acc["max"] = [float(x) for x in a.max(axis=0)]
        accessors.append(acc)
        return len(accessors) - 1

    pos_i = add_accessor(positions, "VEC3", _FLOAT, _ARRAY_BUFFER, bounds=True)
    nrm_i = add_accessor(normals, "VEC3", _FLOAT, _ARRAY_BUFFER)
    uv_i = add_accessor(texcoords, "VEC2", _FLOAT, _ARRAY_BUFFER)
    idx_i = add_accessor(indices, "SCALAR", _UNSIGNED_INT, _ELEMENT_ARRAY_BUFFER)
    accessors[idx_i]["min"] = [int(indices.min())]
    accessors[idx_i]["max"] = [int(indices.max())]
    img_view = add_view(png)

    doc = {
        "asset": {"version": "2.0", "generator": f"StyleFace {__version__}",
                  "extras": {"seed": assets.seed, "displacement_baked": bool(bake_displacement),
                             "metres_per_unit": unit_scale}},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{"name": name, "primitives": [{
            "attributes": {"POSITION": pos_i, "NORMAL": nrm_i, "TEXCOORD_0": uv_i},
            "indices": idx_i, "material": 0, "mode": 4}]}],
        "materials": [{"name": "styleface_skin", "doubleSided": False,
                       "pbrMetallicRoughness": {"baseColorTexture": {"index": 0, "texCoord": 0},
                                                "metallicFactor": 0.0, "roughnessFactor": 0.6}}],
        "textures": [{"sampler": 0, "source": 0}],
        "samplers": [{"magFilter": _LINEAR, "minFilter": _LINEAR_MIPMAP_LINEAR,
                      "wrapS": _CLAMP_TO_EDGE, "wrapT": _CLAMP_TO_EDGE}],
        "images": [{"bufferView": img_view, "mimeType": "image/png", "name": "diffuse"}],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": sum(len(b) for b in blobs)}],
    }
    json_chunk = _pad(json.dumps(doc, separators=(",", ":")).encode("utf-8"), b" ")
    bin_chunk = b"".join(blobs)
    total = 12 + 8 + len(json_chunk) + 8 + len(bin_chunk)
    return b"".join([
        struct.pack("<4sII", b"glTF", 2, total),
        struct.pack("<I4s", len(json_chunk), b"JSON"), json_chunk,
        struct.pack("<I4s", len(bin_chunk), b"BIN\x00"), bin_chunk,
    ])


def write_glb(assets: FaceAssets, path: str | Path, bake_displacement: bool = False,
              unit_scale: float = METRES_PER_MODEL_UNIT) -> Path:
    path = Path(path)
    atomic_write_bytes(path, glb_bytes(assets, bake_displacement, unit_scale, name=path.stem))
    return path
