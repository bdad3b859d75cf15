"""Faces with a rig (ICT-FaceKit head): one welded quad mesh, a material slot per part, ARKit shape keys.

The backend renders on a mesh split at UV seams; an artist wants the original mesh: welded vertices,
the original quads, UVs per face corner (the seams live in the UV layer), one material slot per part
(skin, sclera, iris, teeth, gums, eyelashes) and one shape key per expression with Apple ARKit names,
so capture data drives the face without renaming. Everything is written with ``foreach_set``.

Shape keys: Basis is the neutral face (the face's own expression removed), each expression key is
Basis + its delta, and the key values are the face's expression coefficients, so the object looks
exactly as generated while every expression stays editable. ARKit's single ``browInnerUp`` and
``cheekPuff`` get keys of that name whose shape is the Left + Right pair (so name-matching capture
tools drive both sides); ARKit's ``tongueOut`` has no ICT shape (listed in the object's
``styleface_arkit_missing`` property and reported by the capture importer).
"""
from __future__ import annotations

from typing import Any, Callable

import bpy
import numpy as np

from .facedata import METRES_PER_UNIT, FaceData
from .rigdata import RigData, arkit_pairs, part_material

UV_NAME = "UVMap"
UV_MAX = 1.0 - 2.0 ** -20
SLIDER_LIMIT = 10.0  # Blender's own bound for shape key slider ranges


def welded_positions(data: FaceData) -> np.ndarray:
    """(W, 3) model units: the face as generated, one position per original vertex."""
    assert data.rig is not None
    return np.ascontiguousarray(data.rig.weld(data.vertices), dtype=np.float32)


def face_expression(data: FaceData) -> np.ndarray | None:
    """The face's own expression coefficients, one per rig expression (None without a basis)."""
    rig = data.rig
    if rig is None or rig.expression_deltas is None:
        return None
    e = data.coefficient("exp")
    out = np.zeros(len(rig.expression_names), np.float32)
    if e is None:  # no coefficients sent: the face as generated is the Basis
        return out
    n = min(len(e), len(out))
    out[:n] = e[:n]
    return out


def build_rig_mesh(name: str, data: FaceData, positions: np.ndarray) -> "bpy.types.Mesh":
    """Welded mesh in metres (model axes) with the original polygons, per-corner UVs, a material
    index per polygon (the part id) and smooth shading. ``positions`` (W, 3) in model units."""
    rig: RigData = data.rig  # type: ignore[assignment]
    verts = np.ascontiguousarray(positions * np.float32(METRES_PER_UNIT), dtype=np.float32)
    corners = np.ascontiguousarray(rig.welded_corners, dtype=np.int32)
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(verts))
    pos: Any = mesh.attributes.get("position")
    if pos is not None:
        pos.data.foreach_set("vector", verts.ravel())
    else:  # pragma: no cover - Blender < 3.5
        mesh.vertices.foreach_set("co", verts.ravel())
    mesh.loops.add(len(corners))
    cv: Any = mesh.attributes.get(".corner_vert")
    if cv is not None:
        cv.data.foreach_set("value", corners)
    else:  # pragma: no cover
        mesh.loops.foreach_set("vertex_index", corners)
    mesh.polygons.add(rig.n_polygons)
    mesh.polygons.foreach_set("loop_start", rig.loop_starts)  # 4.0+: sizes follow from the starts
    mi: Any = mesh.attributes.get("material_index") or mesh.attributes.new("material_index", "INT", "FACE")
    mi.data.foreach_set("value", rig.polygon_parts)  # the raw attribute: ~20x faster than polygons[]
    mesh.update(calc_edges=True)
    uv_attr: Any = mesh.attributes.new(UV_NAME, "FLOAT2", "CORNER")
    uvs = np.minimum(data.blender_uvs(), np.float32(UV_MAX))[rig.polygon_corners]
    uv_attr.data.foreach_set("vector", np.ascontiguousarray(uvs, dtype=np.float32).ravel())
    mesh.uv_layers.active = mesh.uv_layers[UV_NAME]
    mesh.shade_smooth()
    return mesh


def _principled(mat: "bpy.types.Material") -> Any:
    return next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")


def _set_surface(mat: "bpy.types.Material", roughness: float, specular: float,
                 color: tuple[float, float, float] | None = None) -> None:
    bsdf = _principled(mat)
    bsdf.inputs["Roughness"].default_value = roughness
    for key in ("Specular IOR Level", "Specular"):  # 4.0+ / 3.x
        if key in bsdf.inputs:
            bsdf.inputs[key].default_value = specular
            break
    if color is not None:
        bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    mat.diffuse_color = (*(color or (0.8, 0.8, 0.8)), 1.0)


def build_part_materials(name: str, textured: "bpy.types.Material", data: FaceData,
                         make_textured: "Callable[[str], bpy.types.Material]") -> list["bpy.types.Material"]:
    """One material per part, in part order. ``textured`` (the builder's diffuse + displacement
    material) becomes the first textured part's; other textured parts get their own from
    ``make_textured(name)`` (not ``Material.copy()``: in Blender 4.2 copies keep image users after
    removal), the untextured eyelashes a flat dark Principled BSDF. Every material made here is in the
    returned list, so a failed build can remove them."""
    rig: RigData = data.rig  # type: ignore[assignment]
    mats: list[bpy.types.Material] = []
    first = True
    for part in rig.part_names:
        mat_name, is_textured, color, rough, spec = part_material(part)
        if is_textured:
            mat = textured if first else make_textured(f"{name}_{mat_name}")
            first = False
            mat.name = f"{name}_{mat_name}"
            _set_surface(mat, rough, spec)
            if any(c != 1.0 for c in color):  # a multiplier on the map: not used by the shipped table
                mat.diffuse_color = (*color, 1.0)
        else:
            mat = bpy.data.materials.new(f"{name}_{mat_name}")
            if mat.node_tree is None:
                mat.use_nodes = True
            _set_surface(mat, rough, spec, color)
        mats.append(mat)
    return mats


def add_rig_shape_keys(obj: "bpy.types.Object", data: FaceData, neutral: np.ndarray,
                       values: np.ndarray) -> list[str]:
    """Basis = ``neutral`` (W, 3 model units), one key per expression with its value, and the ARKit
    single-name keys for the Left/Right pairs (value 0). Returns the key names."""
    rig: RigData = data.rig  # type: ignore[assignment]
    deltas = rig.expression_deltas
    assert deltas is not None
    scale = np.float32(METRES_PER_UNIT)
    base = np.ascontiguousarray(neutral * scale, dtype=np.float32)
    obj.shape_key_add(name="Basis", from_mix=False)
    names: list[str] = []
    shapes: list[tuple[str, np.ndarray, float]] = [
        (n, deltas[i], float(values[i])) for i, n in enumerate(rig.expression_names)]
    index = {n: i for i, n in enumerate(rig.expression_names)}
    for single, (left, right) in arkit_pairs(rig.expression_names).items():
        if single not in index:
            shapes.append((single, deltas[index[left]] + deltas[index[right]], 0.0))
    buf = np.empty_like(base)
    for key_name, delta, value in shapes:
        kb = obj.shape_key_add(name=key_name, from_mix=False)
        np.multiply(delta, scale, out=buf)
        buf += base
        getattr(kb, "points", kb.data).foreach_set("co", buf.reshape(-1))  # points: 4.1+, ~15x faster
        v = float(np.clip(value, -SLIDER_LIMIT, SLIDER_LIMIT))
        kb.slider_min = float(min(0.0, np.floor(v)))
        kb.slider_max = float(max(1.0, np.ceil(v)))
        kb.value = v  # new keys start at 1.0 in 5.0: always set
        names.append(kb.name)
    obj.data.shape_keys.use_relative = True
    return names

