"""The studio the documentation's Blender renders share: a camera, area lights aimed at a point, a grey
world and a Cycles still on the CPU (bpy only; imported by the ``render_blender_*`` scripts)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import bpy
from mathutils import Vector

#: (name, watts, offset from the target, size in metres)
Light = tuple[str, float, tuple[float, float, float], float]


def aim(obj: "bpy.types.Object", target: Vector) -> None:
    """Point an object's -Z axis (cameras, lights) at ``target``."""
    obj.rotation_euler = (target - obj.location).to_track_quat("-Z", "Y").to_euler()


def add_camera(scene: "bpy.types.Scene", location: Vector, target: Vector, lens: float) -> "bpy.types.Object":
    data = bpy.data.cameras.new("cam")
    data.lens = lens
    cam = bpy.data.objects.new("cam", data)
    scene.collection.objects.link(cam)
    cam.location = location
    aim(cam, target)
    scene.camera = cam
    return cam


def add_lights(scene: "bpy.types.Scene", target: Vector, lights: Iterable[Light]) -> None:
    """Area lights placed at ``target`` + offset, each aimed at ``target``."""
    for name, energy, offset, size in lights:
        light = bpy.data.lights.new(name, "AREA")
        light.energy = energy
        light.size = size
        obj = bpy.data.objects.new(name, light)
        obj.location = target + Vector(offset)
        aim(obj, target)
        scene.collection.objects.link(obj)


def render_still(scene: "bpy.types.Scene", out: Path, samples: int, size: tuple[int, int],
                 exposure: float) -> None:
    """Grey world, Cycles on the CPU, one PNG at ``out``."""
    world = bpy.data.worlds.new("world")
    world.use_nodes = True
    background = world.node_tree.nodes["Background"]
    background.inputs["Color"].default_value = (0.18, 0.19, 0.21, 1.0)
    background.inputs["Strength"].default_value = 0.6
    scene.world = world
    scene.view_settings.exposure = exposure
    scene.render.engine = "CYCLES"
    scene.cycles.samples = samples
    scene.cycles.device = "CPU"
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.filepath = str(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.render.render(write_still=True)
