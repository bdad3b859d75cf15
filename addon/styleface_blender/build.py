"""FaceData -> one complete Blender object (mesh, UVs, material, images, modifiers, shape keys).

Everything goes through vectorised ``foreach_set`` calls on attributes: a 35k-vertex face has 200k
face corners, and per-element Python loops would cost seconds per face. The object is built in one
go and removed again if anything fails, so a scene never holds half a face (crowds rely on that).

Frame: the mesh keeps the backend's axes (+y up, facing +z) but in metres (x0.1), and the object is
rotated +90 degrees about X, so in the scene the face is Z-up and looks along -Y (towards the front
view). Keeping the model axes in local space lets the generalized displacement map, a model-space XYZ
offset, drive the Displace modifier's RGB-to-XYZ in LOCAL space with unchanged pixels: the offset is
(pixel - mid_level) * scale model units = (pixel - mid_level) * scale * 0.1 local metres.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import bpy
import numpy as np

from . import rig_build
from .facedata import METRES_PER_UNIT, FaceData
from .rigdata import arkit_missing

UV_NAME = "UVMap"
SUBSURF_NAME = "StyleFace Subdivision"
DISPLACE_NAME = "StyleFace Displacement"
DISPLACEMENT_METHODS = ("MODIFIER", "SHADER", "NONE")
IMAGE_STORAGE = ("PACK", "EXTERNAL", "MEMORY")
PROP_PREFIX = "styleface_"
UV_MAX = 1.0 - 2.0 ** -20


@dataclass
class BuildOptions:
    """How to turn a face into an object. Angles in radians; strength multiplies the map's own scale.

    displacement_method: MODIFIER (Subdivision + Displace, visible everywhere and exportable),
    SHADER (Cycles true displacement through a Vector Displacement node; the Displace modifier is
    disabled so the detail is not applied twice) or NONE. image_storage: PACK into the .blend,
    EXTERNAL (written to ``texture_dir``; a relative ``//`` path needs a saved .blend) or MEMORY (the
    caller packs or saves later). Faces with a rig (ICT-FaceKit) become a welded quad mesh with a
    material slot per part and ARKit shape keys (``rig_build``).
    """

    name: str | None = None
    collection: Any = None
    location: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw: float = 0.0
    pitch: float = 0.0
    displacement_strength: float = 1.0
    displacement_method: str = "MODIFIER"
    subdivision_type: str = "AUTO"     # AUTO: CATMULL_CLARK for quad (rig) meshes, SIMPLE for triangles
    subdivision_viewport: int = 0
    subdivision_render: int = 2
    image_storage: str = "PACK"
    texture_dir: str = "//styleface_textures"
    shape_keys: bool = True
    properties: dict[str, Any] = field(default_factory=dict)


# -- small helpers ---------------------------------------------------------------------------------

def _set_attribute(mesh: "bpy.types.Mesh", name: str, key: str, values: np.ndarray) -> bool:
    attr = mesh.attributes.get(name)
    if attr is None:
        return False
    attr.data.foreach_set(key, values)
    return True


def _rgba(channels_first: np.ndarray) -> np.ndarray:
    """(C, H, W) with row 0 = v 1 -> flat RGBA rows bottom-up (Blender's pixel order), float32."""
    c, h, w = channels_first.shape
    out = np.ones((h, w, 4), np.float32)
    src = np.transpose(channels_first[:, ::-1, :], (1, 2, 0))
    out[..., :3] = src if c == 3 else src[..., :1]
    return out.reshape(-1)


def image_to_array(image: "bpy.types.Image", channels: int = 3) -> np.ndarray:
    """Inverse of the builder's pixel write: Blender image -> (C, H, W), row 0 = v 1 (for tests)."""
    w, h = image.size
    buf = np.empty(w * h * 4, np.float32)
    image.pixels.foreach_get(buf)
    return np.ascontiguousarray(np.transpose(buf.reshape(h, w, 4)[::-1, :, :channels], (2, 0, 1)))


def _new_image(name: str, data: np.ndarray, *, is_float: bool) -> "bpy.types.Image":
    _, h, w = data.shape
    img = bpy.data.images.new(name, w, h, alpha=False, float_buffer=is_float, is_data=is_float)
    img.colorspace_settings.name = "Non-Color" if is_float else "sRGB"
    img.pixels.foreach_set(_rgba(data))
    img.file_format = "OPEN_EXR" if is_float else "PNG"
    return img


def _store_image(img: "bpy.types.Image", storage: str, texture_dir: str) -> None:
    """Pack or write the generated pixels; unsaved generated images would vanish on save/reload."""
    if storage == "MEMORY":
        return
    if storage == "EXTERNAL":
        folder = bpy.path.abspath(texture_dir)
        if texture_dir.startswith("//") and not bpy.data.filepath:
            storage = "PACK"  # no .blend path yet: a relative folder has no meaning, pack instead
        else:
            os.makedirs(folder, exist_ok=True)
            ext = ".exr" if img.file_format == "OPEN_EXR" else ".png"
            path = os.path.join(folder, bpy.path.clean_name(img.name) + ext)
            img.filepath_raw = path
            img.save()
            img.source = "FILE"
            img.filepath = bpy.path.relpath(path) if bpy.data.filepath else path
            return
    img.pack()


def _id_safe(value: Any) -> Any:
    """Custom properties hold 32-bit ints: larger seeds are stored as strings (read back with int())."""
    if isinstance(value, bool) or value is None:
        return value if value is not None else ""
    if isinstance(value, int) and not -2**31 <= value < 2**31:
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return value


# -- mesh ------------------------------------------------------------------------------------------

def build_mesh(name: str, data: FaceData) -> "bpy.types.Mesh":
    """Triangle mesh in metres (model axes), per-corner UVs, smooth shading; no Python loops."""
    verts = data.vertices * np.float32(METRES_PER_UNIT)
    tris = data.faces
    n_corners = tris.size
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(verts))
    if not _set_attribute(mesh, "position", "vector", verts.ravel()):
        mesh.vertices.foreach_set("co", verts.ravel())
    mesh.loops.add(n_corners)
    corner_verts = np.ascontiguousarray(tris.ravel(), dtype=np.int32)
    # '.corner_vert' is the raw attribute behind loops[].vertex_index (4.0+); it is ~10x faster.
    if not _set_attribute(mesh, ".corner_vert", "value", corner_verts):
        mesh.loops.foreach_set("vertex_index", corner_verts)
    mesh.polygons.add(len(tris))
    mesh.polygons.foreach_set("loop_start", np.arange(0, n_corners, 3, dtype=np.int32))
    mesh.update(calc_edges=True)
    uv_attr = mesh.attributes.new(UV_NAME, "FLOAT2", "CORNER")
    uvs = np.minimum(data.blender_uvs(), np.float32(UV_MAX))  # u or v == 1 would fall outside a CLIP texture
    uv_attr.data.foreach_set("vector", np.ascontiguousarray(uvs[corner_verts]).ravel())
    mesh.uv_layers.active = mesh.uv_layers[UV_NAME]
    mesh.shade_smooth()
    return mesh


def add_shape_keys(obj: "bpy.types.Object", data: FaceData) -> list[str]:
    """Basis + one key per named expression component (value 0 = the face as generated)."""
    if data.expression_deltas is None or not len(data.expression_names):
        return []
    basis = data.vertices * np.float32(METRES_PER_UNIT)
    obj.shape_key_add(name="Basis", from_mix=False)
    names = []
    for name, delta in zip(data.expression_names, data.expression_deltas):
        kb = obj.shape_key_add(name=str(name), from_mix=False)
        getattr(kb, "points", kb.data).foreach_set("co", (basis + delta * np.float32(METRES_PER_UNIT)).ravel())
        kb.slider_min, kb.slider_max = -2.0, 2.0
        kb.value = 0.0   # new keys start at 1.0 in 5.0; 0 keeps the face as generated
        names.append(kb.name)
    obj.data.shape_keys.use_relative = True
    return names


# -- material and displacement ---------------------------------------------------------------------

def build_material(name: str, diffuse: "bpy.types.Image", displacement: "bpy.types.Image",
                   data: FaceData) -> "bpy.types.Material":
    """Principled BSDF with the diffuse map; the displacement image waits in a (Vector) Displacement
    node that ``configure_displacement`` links only for the SHADER method."""
    mat = bpy.data.materials.new(name)
    if mat.node_tree is None:  # 4.x: nodes on request; 5.0+: always (use_nodes is deprecated there)
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    out = next(n for n in nodes if n.type == "OUTPUT_MATERIAL")
    uv = nodes.new("ShaderNodeUVMap")
    uv.uv_map = UV_NAME
    uv.location = (-900, 200)
    tex = nodes.new("ShaderNodeTexImage")
    tex.name = tex.label = "StyleFace Diffuse"
    tex.image = diffuse
    tex.extension = "EXTEND"
    tex.location = (-600, 300)
    links.new(uv.outputs["UV"], tex.inputs["Vector"])
    links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 0.55

    dtex = nodes.new("ShaderNodeTexImage")
    dtex.name = dtex.label = "StyleFace Displacement Map"
    dtex.image = displacement
    dtex.extension = "EXTEND"
    dtex.location = (-600, -250)
    links.new(uv.outputs["UV"], dtex.inputs["Vector"])
    if data.displacement_mode == "generalized-xyz":
        dnode = nodes.new("ShaderNodeVectorDisplacement")
        dnode.space = "OBJECT"
        links.new(dtex.outputs["Color"], dnode.inputs["Vector"])
    else:
        dnode = nodes.new("ShaderNodeDisplacement")
        dnode.space = "OBJECT"
        links.new(dtex.outputs["Color"], dnode.inputs["Height"])
    dnode.name = dnode.label = "StyleFace Displacement"
    dnode.location = (-250, -250)
    dnode.inputs["Midlevel"].default_value = data.displacement_mid_level
    return mat


def displacement_strength_m(data_scale: float, strength: float) -> float:
    """Local metres per map unit: map scale (model units) x 0.1 m per unit x the user's multiplier."""
    return float(data_scale) * METRES_PER_UNIT * float(strength)


def configure_displacement(obj: "bpy.types.Object", method: str | None = None,
                           strength: float | None = None, levels_viewport: int | None = None,
                           levels_render: int | None = None) -> None:
    """Switch between modifier, shader and no displacement, and set strength/levels, in place.

    Used by the builder and by the panel's live controls, so both paths agree."""
    method = method or obj.get(PROP_PREFIX + "displacement_method", "MODIFIER")
    if method not in DISPLACEMENT_METHODS:
        raise ValueError(f"displacement method must be one of {DISPLACEMENT_METHODS}, got {method!r}")
    if strength is None:
        strength = float(obj.get(PROP_PREFIX + "displacement_strength", 1.0))
    scale = float(obj.get(PROP_PREFIX + "displacement_scale", 0.01))
    metres = displacement_strength_m(scale, strength)
    obj[PROP_PREFIX + "displacement_method"] = method
    obj[PROP_PREFIX + "displacement_strength"] = float(strength)

    sub = obj.modifiers.get(SUBSURF_NAME)
    if sub is not None:
        if levels_viewport is not None:
            sub.levels = int(levels_viewport)
        if levels_render is not None:
            sub.render_levels = int(levels_render)
        if hasattr(sub, "use_adaptive_subdivision"):  # 5.0+: Cycles dices finely only where needed
            sub.use_adaptive_subdivision = method == "SHADER"
    disp = obj.modifiers.get(DISPLACE_NAME)
    if disp is not None:
        disp.strength = metres
        disp.show_viewport = disp.show_render = method == "MODIFIER"

    mats = [m for m in getattr(obj.data, "materials", ()) if m is not None] or [obj.active_material]
    for mat in dict.fromkeys(mats):  # a face with parts has one displacement node per textured part
        _configure_material_displacement(mat, method, metres)


def _configure_material_displacement(mat: "bpy.types.Material | None", method: str, metres: float) -> None:
    if mat is None or mat.node_tree is None:
        return
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    dnode = nodes.get("StyleFace Displacement")
    out = next((n for n in nodes if n.type == "OUTPUT_MATERIAL"), None)
    if dnode is None or out is None:
        return
    dnode.inputs["Scale"].default_value = metres
    sock = out.inputs["Displacement"]
    for link in list(sock.links):
        links.remove(link)
    if method == "SHADER":
        links.new(dnode.outputs["Displacement"], sock)
    if hasattr(mat, "displacement_method"):  # 4.2+: on the material; older: material.cycles
        mat.displacement_method = "DISPLACEMENT" if method == "SHADER" else "BUMP"
    elif hasattr(mat, "cycles"):
        mat.cycles.displacement_method = "DISPLACEMENT" if method == "SHADER" else "BUMP"


def _add_modifiers(obj: "bpy.types.Object", tex: "bpy.types.Texture", data: FaceData,
                   opts: BuildOptions) -> None:
    sub = obj.modifiers.new(SUBSURF_NAME, "SUBSURF")
    kind = opts.subdivision_type
    if kind == "AUTO":  # smooth the artist's quads; keep triangle meshes' shape (Simple)
        kind = "CATMULL_CLARK" if data.rig is not None else "SIMPLE"
    sub.subdivision_type = kind
    sub.levels = opts.subdivision_viewport
    sub.render_levels = opts.subdivision_render
    if hasattr(sub, "uv_smooth"):
        sub.uv_smooth = "PRESERVE_BOUNDARIES"
    disp = obj.modifiers.new(DISPLACE_NAME, "DISPLACE")
    disp.texture = tex
    disp.texture_coords = "UV"
    disp.uv_layer = UV_NAME
    disp.mid_level = data.displacement_mid_level
    if data.displacement_mode == "generalized-xyz":
        disp.direction = "RGB_TO_XYZ"
        disp.space = "LOCAL"
    else:
        disp.direction = "NORMAL"


# -- the object ------------------------------------------------------------------------------------

def object_rotation(yaw: float = 0.0, pitch: float = 0.0) -> tuple[float, float, float]:
    """Euler XYZ that stands the model (+y up, facing +z) Z-up facing -Y, then tilts the face up by
    ``pitch`` and turns it by ``yaw`` about the world Z axis (positive = towards the face's left)."""
    return (math.pi / 2 - pitch, 0.0, yaw)


def build_face(data: FaceData | Any, options: BuildOptions | None = None, **overrides: Any
               ) -> "bpy.types.Object":
    """Build one face object and link it into ``options.collection`` (default: the scene's).

    All data-blocks are removed again if any step fails, so callers see either a whole face or an
    exception. Keyword overrides update fields of ``options``."""
    data = FaceData.from_any(data)
    opts = options or BuildOptions()
    for k, v in overrides.items():
        if not hasattr(opts, k):
            raise TypeError(f"unknown build option {k!r}")
        setattr(opts, k, v)
    if opts.displacement_method not in DISPLACEMENT_METHODS:
        raise ValueError(f"displacement_method must be one of {DISPLACEMENT_METHODS}")
    if opts.image_storage not in IMAGE_STORAGE:
        raise ValueError(f"image_storage must be one of {IMAGE_STORAGE}")
    name = opts.name or (f"StyleFace_{data.seed}" if data.seed is not None else "StyleFace")

    created: list[tuple[Any, Any]] = []
    rig = data.rig
    try:
        if rig is not None:
            welded = rig_build.welded_positions(data)
            values = rig_build.face_expression(data) if opts.shape_keys else None
            neutral = rig.neutral(data.vertices, values) if values is not None else welded
            mesh = rig_build.build_rig_mesh(name, data, neutral)
        else:
            mesh = build_mesh(name, data)
        created.append((bpy.data.meshes, mesh))
        obj = bpy.data.objects.new(name, mesh)
        created.insert(0, (bpy.data.objects, obj))
        diffuse_map, disp_map = data.blender_maps()
        diffuse = _new_image(f"{name}_diffuse", diffuse_map, is_float=False)
        created.append((bpy.data.images, diffuse))
        disp_img = _new_image(f"{name}_displacement", disp_map, is_float=True)
        created.append((bpy.data.images, disp_img))
        mat = build_material(name, diffuse, disp_img, data)
        created.append((bpy.data.materials, mat))
        if rig is not None:
            made: list[Any] = []

            def make_textured(mat_name: str) -> Any:
                made.append(build_material(mat_name, diffuse, disp_img, data))
                created.append((bpy.data.materials, made[-1]))
                return made[-1]

            part_mats = rig_build.build_part_materials(name, mat, data, make_textured)
            created += [(bpy.data.materials, m) for m in part_mats if m is not mat and m not in made]
            for m in part_mats:
                mesh.materials.append(m)
        else:
            mesh.materials.append(mat)
        tex = bpy.data.textures.new(f"{name}_displacement", "IMAGE")
        created.append((bpy.data.textures, tex))
        tex.image = disp_img
        # CLIP, not EXTEND: Blender 5.0's EXTEND drops the bilinear blend in the last texel interval;
        # CLIP matches grid_sample (border) on [0, 1) and UVs are kept below 1 in build_mesh.
        tex.extension = "CLIP"
        tex.use_clamp = False          # signed offsets: the default clamp would cut negatives
        tex.use_interpolation = True

        obj.location = opts.location
        obj.rotation_euler = object_rotation(opts.yaw, opts.pitch)
        props = {
            "seed": data.seed, "bundle": data.bundle_id,
            "displacement_mode": data.displacement_mode,
            "displacement_scale": float(data.displacement_scale),
            "displacement_mid_level": float(data.displacement_mid_level),
            "provenance": data.provenance,
        }
        gamma = data.coefficient("gamma")
        if gamma is not None:
            props["gamma"] = [round(float(x), 7) for x in gamma]  # for the lighting match
        if rig is not None:
            props["parts"] = list(rig.part_names)
            props["expressions"] = list(rig.expression_names)
            props["arkit_missing"] = arkit_missing(rig.expression_names)
        elif data.expression_names:
            props["expressions"] = list(data.expression_names)
        props.update(opts.properties)
        for k, v in props.items():
            obj[PROP_PREFIX + k] = _id_safe(v)
        if rig is not None:
            if values is not None:
                rig_build.add_rig_shape_keys(obj, data, neutral, values)
        elif opts.shape_keys:
            add_shape_keys(obj, data)
        _add_modifiers(obj, tex, data, opts)
        configure_displacement(obj, opts.displacement_method, opts.displacement_strength)
        for img in (diffuse, disp_img):
            _store_image(img, opts.image_storage, opts.texture_dir)
        collection = opts.collection or bpy.context.scene.collection
        collection.objects.link(obj)
        return obj
    except BaseException:
        for coll, block in created:
            try:
                coll.remove(block)
            except (ReferenceError, RuntimeError):
                pass
        raise


def remove_face(obj: "bpy.types.Object") -> None:
    """Delete a StyleFace object with its mesh, material, images and texture (nothing left orphaned)."""
    mesh = obj.data if obj.type == "MESH" else None
    mats = [m for m in (mesh.materials if mesh else []) if m is not None]
    images, textures = [], []
    mats = list(dict.fromkeys(mats))  # part materials share the face's images: remove each once
    for m in mats:
        if m.node_tree:
            images += [n.image for n in m.node_tree.nodes if n.type == "TEX_IMAGE" and n.image]
    images = list(dict.fromkeys(images))
    for mod in obj.modifiers:
        if mod.type == "DISPLACE" and mod.texture is not None:
            textures.append(mod.texture)
    key = mesh.shape_keys if mesh is not None else None
    action = key.animation_data.action if key is not None and key.animation_data is not None else None
    bpy.data.objects.remove(obj)
    if mesh is not None and mesh.users == 0:
        bpy.data.meshes.remove(mesh)
    if action is not None and action.users == 0:  # an imported capture that only animated this face
        bpy.data.actions.remove(action)
    for m in mats:
        if m.users == 0:
            bpy.data.materials.remove(m)
    for t in textures:
        if t.users == 0:
            bpy.data.textures.remove(t)
    for img in images:
        if img.users == 0:
            bpy.data.images.remove(img)


def face_props(obj: "bpy.types.Object") -> dict[str, Any]:
    """The StyleFace custom properties of an object, prefix removed, seed as int, JSON decoded."""
    out: dict[str, Any] = {}
    for k in obj.keys():
        if k.startswith(PROP_PREFIX):
            v = obj[k]
            key = k[len(PROP_PREFIX):]
            if isinstance(v, str) and v[:1] in "{[":
                try:
                    v = json.loads(v)
                except ValueError:
                    pass
            out[key] = v
    if isinstance(out.get("seed"), str) and out["seed"].isdigit():
        out["seed"] = int(out["seed"])
    return out


def world_matrix(obj: "bpy.types.Object") -> Any:
    """The object's world matrix without a depsgraph update (matrix_world lags behind a fresh
    transform until the scene is evaluated; evaluating per face would cost crowds dearly)."""
    m = obj.matrix_basis.copy()
    parent = obj.parent
    while parent is not None:
        m = parent.matrix_basis @ obj.matrix_parent_inverse @ m
        obj, parent = parent, parent.parent
    return m


def is_styleface(obj: Any) -> bool:
    return obj is not None and getattr(obj, "type", None) == "MESH" and (PROP_PREFIX + "seed") in obj
