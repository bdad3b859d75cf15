"""Cycles render of three ICT heads built by the Blender add-on (the picture in docs/images).

Run with Blender-as-a-module (bpy venv) and the backend venv for the worker:

    .venv-bpy-5.0.1/bin/python scripts/render_blender_ict.py [--out docs/images/blender_ict_cycles.png]

Three seeds from `--bundle procedural` (ICT heads, painted textures), one with a smile and one with
jawOpen + browInnerUp through their ARKit shape keys, side by side under a key light and a soft fill.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "addon"))

import bpy  # noqa: E402
from mathutils import Vector  # noqa: E402

from studio import add_camera, add_lights, render_still  # noqa: E402
from styleface_blender import api  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "blender_ict_cycles.png")
    ap.add_argument("--samples", type=int, default=48)
    ap.add_argument("--seeds", default="1,4,3")
    a = ap.parse_args()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    seeds = [int(s) for s in a.seeds.split(",")]
    keys = [{}, {"mouthSmileLeft": 0.8, "mouthSmileRight": 0.8}, {"jawOpen": 0.45, "browInnerUp": 0.9}]
    objs = []
    for i, seed in enumerate(seeds):
        obj = api.generate_face(seed, bundle="procedural", backend_python=str(REPO / ".venv" / "bin" / "python"),
                                texture_size=1024, location=((i - 1) * 0.3, 0.0, 0.0), yaw=math.radians(12 * (1 - i)),
                                subdivision_levels=(0, 1), shape_keys=True)
        for name, value in keys[i % len(keys)].items():
            obj.data.shape_keys.key_blocks[name].value = value
        objs.append(obj)
    centre = sum((o.matrix_world @ Vector(o.bound_box[6]) + o.matrix_world @ Vector(o.bound_box[0]) for o in objs),
                 Vector()) / (2 * len(objs))
    cam = add_camera(scene, centre + Vector((0.0, -1.75, 0.06)), centre, lens=70)
    cam.rotation_euler = (math.radians(88), 0.0, 0.0)  # level with the faces, not aimed at their centre
    add_lights(scene, centre, (("key", 70.0, (-0.8, -1.0, 0.9), 0.8), ("fill", 25.0, (1.0, -0.9, 0.3), 1.5),
                               ("rim", 60.0, (0.2, 1.0, 0.8), 0.5)))
    render_still(scene, a.out, a.samples, (1200, 520), exposure=-0.4)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
