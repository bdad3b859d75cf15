"""Blend to seed: animate a StyleFace object from its own face to another seed's over a frame range.

The paper's stylecode interpolation (its Figure 5) as a Blender animation, built from what the face
already has, so nothing is re-generated per frame:

- geometry: a shape key with the target's base vertices (same face model, same topology), its value
  keyed 0 -> 1;
- diffuse: a Mix node between the face's diffuse image and the target's, its factor keyed 0 -> 1;
- displacement: the generalized displacement is linear in the map, so a second Displace modifier with
  the target's map, strengths keyed (s, 0) -> (0, s), gives exactly the displacement of the mixed map;
  for the SHADER method the two maps are mixed in the material instead.

The end of the animation is the target's base mesh and maps, i.e. a linear blend of the two faces'
outputs (the backend's ``styleface interpolate`` blends stylecodes instead). Keys are linear; later
changes of the displacement strength are overridden by the keyed strengths (run the blend again).
"""
from __future__ import annotations

import os
from typing import Any

import bpy
import numpy as np

from . import build as _build
from .facedata import METRES_PER_UNIT, FaceData

KEY_PREFIX = "StyleFace Blend"
MIX_NODE = "StyleFace Blend Diffuse"
MIX_DISP_NODE = "StyleFace Blend Displacement Mix"
TARGET_DIFFUSE = "StyleFace Blend Diffuse Map"
TARGET_DISP = "StyleFace Blend Displacement Map"
DISPLACE_NAME = "StyleFace Blend Displacement"


def _sock(sockets: Any, identifier: str) -> Any:
    """A Mix node socket by identifier (indices differ between Blender versions)."""
    return next(s for s in sockets if s.identifier == identifier)


def _linear(id_data: Any) -> None:
    ad = getattr(id_data, "animation_data", None)
    action = getattr(ad, "action", None) if ad is not None else None
    if action is None:
        return
    curves = getattr(action, "fcurves", None)
    if curves is None:  # 5.0 layered actions: channel bags under layers/strips
        curves = [fc for layer in action.layers for strip in layer.strips
                  for bag in strip.channelbags for fc in bag.fcurves]
    for fc in curves:
        for kp in fc.keyframe_points:
            kp.interpolation = "LINEAR"


def has_prop(obj: Any, name: str) -> bool:
    """Whether the face carries StyleFace's custom property ``name`` (ID properties support ``in``;
    the type stubs do not say so)."""
    return (_build.PROP_PREFIX + name) in obj


def _blend_frames(obj: "bpy.types.Object") -> list[int]:
    import json

    raw = obj[_build.PROP_PREFIX + "blend"] if has_prop(obj, "blend") else None
    try:
        return [int(f) for f in json.loads(raw)["frames"]] if raw else []
    except (ValueError, KeyError, TypeError):
        return []


def _unkey(owner: Any, path: str, frames: list[int]) -> None:
    for f in frames:
        try:
            owner.keyframe_delete(path, frame=f)
        except (RuntimeError, TypeError):  # no key there (already removed by the user)
            pass


def remove_blend(obj: "bpy.types.Object") -> None:
    """Undo a previous blend on ``obj`` (its shape key, nodes, modifier and keys), keeping the face and
    any other animation."""
    frames = _blend_frames(obj)
    keys = obj.data.shape_keys
    if keys is not None:
        for kb in [k for k in keys.key_blocks if k.name.startswith(KEY_PREFIX)]:
            _unkey(kb, "value", frames)
            obj.shape_key_remove(kb)
    mod = obj.modifiers.get(DISPLACE_NAME)
    if mod is not None:
        _unkey(mod, "strength", frames)
        tex = mod.texture
        obj.modifiers.remove(mod)
        if tex is not None and tex.users == 0:
            bpy.data.textures.remove(tex)
    base = obj.modifiers.get(_build.DISPLACE_NAME)
    if base is not None:
        _unkey(base, "strength", frames)
    mat = obj.active_material
    if mat is not None and mat.node_tree is not None:
        nodes, links = mat.node_tree.nodes, mat.node_tree.links
        for name, src_name, result in ((MIX_NODE, "StyleFace Diffuse", "Result_Color"),
                                       (MIX_DISP_NODE, "StyleFace Displacement Map", "Result_Vector")):
            mix, src = nodes.get(name), nodes.get(src_name)
            if mix is None:
                continue
            _unkey(_sock(mix.inputs, "Factor_Float"), "default_value", frames)
            if src is not None:
                for link in list(_sock(mix.outputs, result).links):
                    links.new(src.outputs["Color"], link.to_socket)
        for name in (MIX_NODE, MIX_DISP_NODE, TARGET_DIFFUSE, TARGET_DISP):
            node = nodes.get(name)
            if node is not None:
                nodes.remove(node)
    if has_prop(obj, "blend"):
        del obj[_build.PROP_PREFIX + "blend"]
    if base is not None:
        _build.configure_displacement(obj)


def blend_to_data(obj: "bpy.types.Object", target: FaceData | Any, frame_start: int = 1, frame_end: int = 48,
                  label: str = "target", image_storage: str = "PACK") -> "bpy.types.Object":
    """Animate ``obj`` (a StyleFace object) into the face ``target`` between the two frames."""
    data = FaceData.from_any(target)
    mat = obj.active_material if obj.type == "MESH" else None
    if mat is None or mat.node_tree is None or "StyleFace Diffuse" not in mat.node_tree.nodes:
        raise ValueError(f"'{obj.name}' is not a StyleFace face object")
    if len(obj.data.vertices) != data.n_vertices:
        raise ValueError(f"'{obj.name}' has {len(obj.data.vertices)} vertices, the target face "
                         f"{data.n_vertices}: blending needs the same face model")
    if int(frame_end) <= int(frame_start):
        raise ValueError("frame_end must be after frame_start")
    frames = (int(frame_start), int(frame_end))
    remove_blend(obj)
    name = f"{obj.name}_{label}"

    # Geometry: one shape key with the target's base vertices.
    if obj.data.shape_keys is None:
        obj.shape_key_add(name="Basis", from_mix=False)
    kb = obj.shape_key_add(name=f"{KEY_PREFIX} {label}", from_mix=False)
    kb.data.foreach_set("co", (data.vertices * np.float32(METRES_PER_UNIT)).ravel())
    for frame, value in zip(frames, (0.0, 1.0)):
        kb.value = value
        kb.keyframe_insert("value", frame=frame)
    _linear(obj.data.shape_keys)

    # Maps: the target's images, mixed in the material.
    diffuse_map, disp_map = data.blender_maps()
    diffuse = _build._new_image(f"{name}_diffuse", diffuse_map, is_float=False)
    disp_img = _build._new_image(f"{name}_displacement", disp_map, is_float=True)
    for img in (diffuse, disp_img):
        _build._store_image(img, image_storage, "//styleface_textures")
    mat = obj.active_material
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    src, dsrc = nodes["StyleFace Diffuse"], nodes["StyleFace Displacement Map"]
    uv_out = src.inputs["Vector"].links[0].from_socket
    tex = nodes.new("ShaderNodeTexImage")
    tex.name = tex.label = TARGET_DIFFUSE
    tex.image, tex.extension, tex.location = diffuse, src.extension, (src.location.x, src.location.y + 300)
    links.new(uv_out, tex.inputs["Vector"])
    mix = nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    mix.name = mix.label = MIX_NODE
    mix.location = (src.location.x + 300, src.location.y + 150)
    for link in list(src.outputs["Color"].links):
        links.new(_sock(mix.outputs, "Result_Color"), link.to_socket)
    links.new(src.outputs["Color"], _sock(mix.inputs, "A_Color"))
    links.new(tex.outputs["Color"], _sock(mix.inputs, "B_Color"))
    dtex = nodes.new("ShaderNodeTexImage")
    dtex.name = dtex.label = TARGET_DISP
    dtex.image, dtex.extension = disp_img, dsrc.extension
    dtex.location = (dsrc.location.x, dsrc.location.y - 300)
    links.new(uv_out, dtex.inputs["Vector"])
    dmix = nodes.new("ShaderNodeMix")
    dmix.data_type = "VECTOR"
    dmix.name = dmix.label = MIX_DISP_NODE
    dmix.location = (dsrc.location.x + 300, dsrc.location.y - 150)
    for link in list(dsrc.outputs["Color"].links):
        links.new(_sock(dmix.outputs, "Result_Vector"), link.to_socket)
    links.new(dsrc.outputs["Color"], _sock(dmix.inputs, "A_Vector"))
    links.new(dtex.outputs["Color"], _sock(dmix.inputs, "B_Vector"))
    for frame, value in zip(frames, (0.0, 1.0)):
        for node in (mix, dmix):
            factor = _sock(node.inputs, "Factor_Float")
            factor.default_value = value
            factor.keyframe_insert("default_value", frame=frame)
    _linear(mat.node_tree)

    # Modifier displacement: the target map in a second Displace modifier, strengths cross-faded.
    base = obj.modifiers.get(_build.DISPLACE_NAME)
    if base is not None:
        ttex = bpy.data.textures.new(f"{name}_displacement", "IMAGE")
        ttex.image = disp_img
        if base.texture is not None:  # sample the target map exactly as the face's own map is sampled
            for attr in ("extension", "use_interpolation", "filter_type", "use_mipmap", "use_alpha",
                         "use_clamp"):
                if hasattr(ttex, attr) and hasattr(base.texture, attr):
                    setattr(ttex, attr, getattr(base.texture, attr))
        mod = obj.modifiers.new(DISPLACE_NAME, "DISPLACE")
        for attr in ("texture_coords", "uv_layer", "mid_level", "direction", "space", "show_viewport",
                     "show_render"):
            setattr(mod, attr, getattr(base, attr))
        mod.texture = ttex
        # keep it right after the face's own Displace modifier
        idx = list(obj.modifiers).index(base)
        obj.modifiers.move(len(obj.modifiers) - 1, idx + 1)
        strength = base.strength
        for frame, (a, b) in zip(frames, ((strength, 0.0), (0.0, strength))):
            base.strength, mod.strength = a, b
            base.keyframe_insert("strength", frame=frame)
            mod.keyframe_insert("strength", frame=frame)
        _linear(obj)
    obj[_build.PROP_PREFIX + "blend"] = _build._id_safe({"target": label, "frames": list(frames)})
    return obj


def blend_to_seed(obj: "bpy.types.Object", seed: int, frame_start: int = 1, frame_end: int = 48, *,
                  backend_python: str | None = None, bundle: str | None = None, device: str | None = None
                  ) -> "bpy.types.Object":
    """Generate ``seed`` with ``obj``'s bundle and options (no new object) and blend ``obj`` into it."""
    from .api import worker_options
    from .backend import BackendError, GenerateJob, resolve_config

    props = _build.face_props(obj)
    if "seed" not in props:
        raise ValueError(f"'{obj.name}' is not a StyleFace object")
    opts = dict(props.get("options") or {})
    stored = props.get("bundle")
    if bundle is None and stored and os.path.exists(str(stored)):  # a path, not just a bundle id
        bundle = str(stored)
    config = resolve_config(backend_python, bundle, device)
    options = worker_options(opts.get("truncation"), opts.get("expression"), 1.0,
                             opts.get("expression_from_seed"), opts.get("texture_size"))
    got: list[FaceData] = []

    def keep(_index: int, _seed: int, data: FaceData) -> FaceData:
        got.append(data)
        return data

    GenerateJob([int(seed)], options, keep, config=config, label="Blend").run()
    if not got:
        raise BackendError(f"the backend returned no face for seed {seed}")
    return blend_to_data(obj, got[0], frame_start, frame_end, label=f"seed {int(seed)}")
