"""Lighting match: a world colour and one sun from a face's spherical-harmonics lighting (gamma).

Why: each generated face carries the SH lighting that the paper's renderer estimated for the source
image (27 numbers, Deep3DFaceRecon layout: per colour channel 9 coefficients, +0.8 on coefficient 0).
The first two SH bands map onto Blender lights without a custom shader: band 0 is a uniform ambient
(world colour), band 1 a linear gradient that a sun lamp approximates on the lit side. Band 2 (subtle
shape of the light) is dropped; the match is approximate by design.
"""
from __future__ import annotations

import math
from typing import Any

import bpy
import numpy as np
from mathutils import Vector

from .build import face_props, world_matrix

SH_AMBIENT_INIT = 0.8
A0C0 = math.pi * (1.0 / math.sqrt(4.0 * math.pi))                       # a0 * c0
A1C1 = (2.0 * math.pi / math.sqrt(3.0)) * (math.sqrt(3.0) / math.sqrt(4.0 * math.pi))  # a1 * c1
WORLD_NAME = "StyleFace World"
SUN_NAME = "StyleFace Sun"


def gamma_of(obj: "bpy.types.Object") -> np.ndarray | None:
    """The 27 SH coefficients stored on a StyleFace object (custom property), or None."""
    g = face_props(obj).get("gamma")
    if g is None:
        return None
    arr = np.asarray(list(g), dtype=np.float64)
    return arr if arr.size == 27 else None


def sh_to_lights(gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(ambient RGB radiance, unit light direction in model space, sun irradiance) from 27 SH numbers.

    Band-1 basis of Deep3DFaceRecon: Y1 ~ -n_y, Y2 ~ n_z, Y3 ~ -n_x, so the irradiance gradient of a
    channel points along (-g3, -g1, g2). A sun of irradiance E adds albedo * E / pi * cos on the lit
    side, which matches the SH term's amplitude when E = pi * a1 c1 * |gradient|."""
    g = np.asarray(gamma, dtype=np.float64).reshape(3, 9).copy()
    g[:, 0] += SH_AMBIENT_INIT
    ambient = np.clip(A0C0 * g[:, 0], 0.0, None)
    grads = np.stack([-g[:, 3], -g[:, 1], g[:, 2]], axis=1)          # (3 channels, xyz)
    mean = grads.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    direction = mean / norm if norm > 1e-8 else np.array([0.0, 0.0, 1.0])
    strength = math.pi * A1C1 * norm
    return ambient, direction, strength


def _world(scene: "bpy.types.Scene") -> "bpy.types.World":
    world = bpy.data.worlds.get(WORLD_NAME) or bpy.data.worlds.new(WORLD_NAME)
    scene.world = world
    return world


def set_world_color(scene: "bpy.types.Scene", rgb: Any) -> "bpy.types.World":
    """Uniform world radiance; works whether the world uses nodes or not (4.2 .. 5.x)."""
    world = _world(scene)
    world.color = tuple(float(c) for c in rgb[:3])
    if world.node_tree is None:  # 4.x worlds get nodes on request; 5.0+ always have them
        world.use_nodes = True
    if world.node_tree is not None:
        bg = next((n for n in world.node_tree.nodes if n.type == "BACKGROUND"), None)
        if bg is not None:
            bg.inputs["Color"].default_value = (*[float(c) for c in rgb[:3]], 1.0)  # type: ignore[attr-defined]
            bg.inputs["Strength"].default_value = 1.0  # type: ignore[attr-defined]
    return world


def _sun(scene: "bpy.types.Scene") -> "bpy.types.Object":
    sun = bpy.data.objects.get(SUN_NAME)
    if sun is None or sun.type != "LIGHT":
        light = bpy.data.lights.new(SUN_NAME, "SUN")
        sun = bpy.data.objects.new(SUN_NAME, light)
    if scene.collection.objects.get(sun.name) is None and sun.name not in scene.objects:
        scene.collection.objects.link(sun)
    return sun


def point_sun(sun: "bpy.types.Object", direction_world: Any) -> None:
    """Aim a sun so light travels against ``direction_world`` (its +Z axis = the unit direction)."""
    d = Vector(direction_world).normalized()
    sun.rotation_euler = d.to_track_quat("Z", "Y").to_euler()


def match_lighting(obj: "bpy.types.Object", scene: "bpy.types.Scene | None" = None
                   ) -> "bpy.types.Object | None":
    """World + sun from the object's SH lighting, in the object's current orientation; None if the
    face carries no lighting coefficients."""
    scene = scene or bpy.context.scene
    assert scene is not None
    gamma = gamma_of(obj)
    if gamma is None:
        return None
    ambient, d_model, strength = sh_to_lights(gamma)
    set_world_color(scene, ambient)
    sun = _sun(scene)
    rot = world_matrix(obj).to_3x3().normalized()
    point_sun(sun, rot @ Vector(d_model.tolist()))
    sun.data.energy = float(strength)
    sun.data.color = (1.0, 1.0, 1.0)
    sun.data.angle = math.radians(10.0)
    return sun


def ensure_default_lighting(scene: "bpy.types.Scene | None" = None) -> None:
    """A neutral key light and grey world when the scene has no light at all (renders are not black)."""
    scene = scene or bpy.context.scene
    assert scene is not None
    if any(o.type == "LIGHT" for o in scene.objects):
        return
    set_world_color(scene, (0.35, 0.35, 0.35))
    sun = _sun(scene)
    point_sun(sun, (-0.45, -0.8, 0.55))
    sun.data.energy = 3.0
