"""Cycles render of a crowd of twelve faces built by the Blender add-on from a bundle (docs/images).

Run with Blender-as-a-module (bpy venv) and the backend venv for the worker:

    .venv-bpy-5.0.1/bin/python scripts/render_blender_crowd.py [--bundle default] [--seeds 0-11]
        [--out docs/images/blender_crowd_cycles.png]

The faces come through `api.populate_crowd` exactly as the panel's Populate Crowd makes them (one
worker, batches, grid layout), stand in three staggered rows of four, and are lit by a key, a fill and
a rim light. Seeds are listed so a reader can regenerate any face.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "addon"))

import bpy  # noqa: E402
from mathutils import Vector  # noqa: E402

from studio import add_camera, add_lights, render_still  # noqa: E402
from styleface_blender import api  # noqa: E402


def seed_list(text: str) -> list[int]:
    """'0-11' or '3,5,8' -> seeds."""
    if "-" in text and "," not in text:
        a, b = (int(x) for x in text.split("-"))
        return list(range(a, b + 1))
    return [int(x) for x in text.split(",") if x]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "blender_crowd_cycles.png")
    ap.add_argument("--bundle", default=None, help="bundle name or folder (default: the add-on's default)")
    ap.add_argument("--seeds", default="0-11")
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--texture-size", type=int, default=512)
    ap.add_argument("--width", type=int, default=1600)
    a = ap.parse_args()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    seeds = seed_list(a.seeds)
    objs = api.populate_crowd(seeds=seeds, layout="grid", spacing=0.32, texture_size=a.texture_size,
                              backend_python=str(REPO / ".venv" / "bin" / "python"), bundle=a.bundle,
                              subdivision_levels=(0, 1))
    # Stagger the rows sideways so the back rows show between the front row's heads.
    ys = sorted({round(o.location.y, 3) for o in objs})
    for o in objs:
        row = ys.index(round(o.location.y, 3))
        o.location.x += 0.16 * (row % 2)
        o.location.z += 0.05 * row
    bpy.context.view_layer.update()  # matrix_world after the moves
    lo = Vector((min(o.location.x for o in objs), min(o.location.y for o in objs), 0.0))
    hi = Vector((max(o.location.x for o in objs), max(o.location.y for o in objs), 0.0))
    heights = [(o.matrix_world @ Vector(c)).z for o in objs for c in o.bound_box]
    # aim a little above the middle of the heads and necks
    centre = Vector(((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, min(heights) + 0.55 * (max(heights) - min(heights))))
    add_camera(scene, centre + Vector((0.0, -2.6, 0.55)), centre, lens=50)
    add_lights(scene, centre, (("key", 110.0, (-1.4, -1.6, 1.4), 1.2), ("fill", 35.0, (1.6, -1.4, 0.5), 2.0),
                               ("rim", 90.0, (0.3, 1.6, 1.2), 1.0)))
    render_still(scene, a.out, a.samples, (a.width, int(a.width * 0.45)), exposure=-0.3)
    print(f"wrote {a.out}: seeds {seeds}")


if __name__ == "__main__":
    main()
