"""Headless batch renders: one face per seed, rendered at the given yaws to PNG.

    python -m styleface_blender.batch --seeds 0-99 --out renders/ --engine CYCLES
    python -m styleface_blender.batch --cluster ray:HEAD:6379 --seeds 0-9999 --out s3://bucket/renders
    blender -b --python addon/styleface_blender/batch.py -- --seeds 0-99 --out renders/

Resumable: a seed whose PNGs all exist is skipped, and each PNG is written under a temporary name
and renamed, so an interrupted run never leaves a file that looks finished. Faces stream from the
worker while earlier ones render; each face is removed after its views are written, so memory stays
flat over thousands of seeds.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Sequence

if __package__ in (None, ""):  # run as a script (blender --python batch.py): make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "styleface_blender"

import bpy  # noqa: E402

from . import api, backend, vendor  # noqa: E402
from .build import BuildOptions, remove_face  # noqa: E402
from .lighting import ensure_default_lighting, match_lighting  # noqa: E402


def parse_seeds(text: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7] (order kept, duplicates dropped): the backend's parser, vendored."""
    seeds = vendor.backend_module("seeds")
    errors = vendor.backend_module("errors")
    try:
        return seeds.parse_seeds(text)
    except errors.StyleFaceError as e:
        raise ValueError(str(e)) from None


def parse_expression(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        name, sep, val = part.strip().partition("=")
        if name:
            out[name.strip()] = float(val) if sep else 1.0
    return out or None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m styleface_blender.batch", description=__doc__.splitlines()[0])
    p.add_argument("--seeds", required=True, help="seed list such as 0-99 or 3,7,10-12")
    p.add_argument("--out", required=True, help="output folder for face_<seed>_yaw<deg>.png")
    p.add_argument("--engine", default="CYCLES", help="CYCLES (headless-safe) or BLENDER_EEVEE (needs a GPU context)")
    p.add_argument("--yaws", default="-30,0,30", help="yaw angles in degrees, comma list (default -30,0,30)")
    p.add_argument("--resolution", type=int, default=256, help="square image size in pixels (default 256)")
    p.add_argument("--samples", type=int, default=32, help="Cycles samples per pixel (default 32)")
    p.add_argument("--device", default="CPU", choices=["CPU", "GPU"], help="Cycles device (default CPU)")
    p.add_argument("--lighting", default="match", choices=["match", "studio"],
                   help="match: world + sun from each face's SH lighting; studio: one fixed key light")
    p.add_argument("--displacement", default="MODIFIER", choices=["MODIFIER", "SHADER", "NONE"])
    p.add_argument("--subdivision", type=int, default=1, help="render subdivision levels (default 1)")
    p.add_argument("--displacement-strength", type=float, default=1.0)
    p.add_argument("--truncation", type=float, default=None)
    p.add_argument("--expression", default=None, help="named expression, e.g. jaw_open=0.5")
    p.add_argument("--texture-size", type=int, default=None)
    p.add_argument("--backend-python", default=None, help=f"backend interpreter (default: ${backend.ENV_PYTHON}, ...)")
    p.add_argument("--bundle", default=None, help="model bundle (default: the embedded demo)")
    p.add_argument("--backend-device", default=None, help="generation device: cpu or cuda (default auto)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--cluster", default=None, metavar="ray[:ADDRESS]",
                   help="render on a Ray cluster (the backend Python needs 'styleface[cluster]'); --out may be "
                        "an fsspec URL; see styleface.cluster.render for task options")
    return p


def _run_on_cluster(args: argparse.Namespace, argv: list[str]) -> int:
    """--cluster: the Ray driver runs in the backend's Python (Ray lives there, bpy does not); its tasks
    start this Blender on the nodes to run this command on a few seeds each (styleface.cluster.render)."""
    import subprocess

    try:
        config = backend.resolve_config(args.backend_python, args.bundle, args.backend_device)
    except backend.BackendError as e:
        print(f"styleface batch: error: {e}", file=sys.stderr)
        return 2
    binary = bpy.app.binary_path or ""
    blender = binary if os.path.basename(binary).lower().startswith("blender") else sys.executable
    addon_path = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cmd = [config.python, "-m", "styleface.cluster.render", "--blender-python", blender,
           "--addon-path", addon_path, *argv]
    return subprocess.call(cmd, env=config.environment())


def pending_seeds(seeds: Sequence[int], out: str, yaws: Sequence[float]) -> list[int]:
    """Seeds that still miss at least one view (what a resumed run has left to do)."""
    return [s for s in seeds
            if not all(os.path.isfile(os.path.join(out, api.view_filename(s, y))) for y in yaws)]


def _reset_scene() -> None:
    """Empty scene without bpy.ops: remove every object and orphan the rest."""
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    for coll in (bpy.data.meshes, bpy.data.materials, bpy.data.images, bpy.data.textures,
                 bpy.data.cameras, bpy.data.lights):
        for block in list(coll):
            if block.users == 0:
                coll.remove(block)  # type: ignore[arg-type]


def run(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)  # --cluster runs take task options too
    if args.cluster:
        return _run_on_cluster(args, argv)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    try:
        seeds = parse_seeds(args.seeds)
        yaws = [float(y) for y in args.yaws.split(",") if y.strip()]
        expression = parse_expression(args.expression)
    except ValueError as e:
        print(f"styleface batch: error: {e}", file=sys.stderr)
        return 2
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    todo = pending_seeds(seeds, out, yaws)
    say(f"StyleFace batch: {len(seeds)} seeds x {len(yaws)} views -> {out}; "
        f"{len(seeds) - len(todo)} already done, {len(todo)} to render")
    if not todo:
        return 0
    _reset_scene()
    scene = bpy.context.scene
    if args.lighting == "studio":
        ensure_default_lighting(scene)
    try:
        config = backend.resolve_config(args.backend_python, args.bundle, args.backend_device)
    except backend.BackendError as e:
        print(f"styleface batch: error: {e}", file=sys.stderr)
        return 2
    options = api.worker_options(truncation=args.truncation, expression=expression,
                                 texture_size=args.texture_size, batch_size=1)
    base = BuildOptions(displacement_strength=args.displacement_strength,
                        displacement_method=args.displacement, subdivision_viewport=0,
                        subdivision_render=args.subdivision, image_storage="MEMORY", shape_keys=False)
    builder = api._face_builder(base, options, config)
    t0 = time.perf_counter()
    done = [0]

    def on_face(index: int, seed: int, data: api.FaceData) -> None:
        obj = builder(index, seed, data)
        try:
            if args.lighting == "match" and match_lighting(obj, scene) is None:
                ensure_default_lighting(scene)
            pattern = os.path.join(out, "face_{seed:06d}_yaw{yaw}.png")
            api.render_views(obj, yaws, pattern.replace("{seed:06d}", f"{seed:06d}"), engine=args.engine,
                             resolution=args.resolution, samples=args.samples, device=args.device,
                             skip_existing=True)
        finally:
            remove_face(obj)
        done[0] += 1
        el = time.perf_counter() - t0
        eta = el / done[0] * (len(todo) - done[0])
        say(f"[{done[0]}/{len(todo)}] seed {seed}: {len(yaws)} views ({el:.1f} s elapsed, ~{eta:.0f} s left)")
        return None

    job = backend.GenerateJob(todo, options, on_face, config=config, label="Batch")
    try:
        job.run()
    except backend.BackendError as e:
        print(f"styleface batch: error: {e} (rendered {done[0]} of {len(todo)}; run again to resume)",
              file=sys.stderr)
        if e.details:
            print(e.details, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"styleface batch: interrupted after {done[0]} faces; run again to resume", file=sys.stderr)
        return 130
    finally:
        backend.get_backend().release()
    say(f"done: {done[0]} faces in {time.perf_counter() - t0:.1f} s")
    return 0


def _argv() -> list[str]:
    argv = sys.argv
    return argv[argv.index("--") + 1:] if "--" in argv else argv[1:]


if __name__ == "__main__":
    sys.exit(run(_argv()))
