"""Blender add-on benchmark: FaceAssets -> complete Blender object, and a 100-face crowd end to end.

Run with the bpy venv (Blender as a Python module); the worker runs in the backend (torch) venv:

    .venv-bpy/bin/python benchmarks/blender_build.py [--backend-python .venv/bin/python]

Reports the median milliseconds to build one complete object (mesh, UVs, material, both images
packed, modifiers, shape keys) for a demo-model face and for a BFM-sized 35,709-vertex / 70,789-face
mesh with 256 px maps, and the seconds for ``populate_crowd(100)`` with the demo generator on CPU
(worker start, generation, transfer and building). Targets: <= 100 ms per object, <= 60 s per crowd.

ICT-FaceKit head (``--ict``, on by default; the procedural generator paints its textures): one face
with every part and all 57 + 2 ARKit shape keys -> object, the bytes a face message carries with and
without the expression shapes (``rig_expressions``), and a 100-face crowd end to end (no shape keys,
the crowd default) plus, with ``--crowd-keys``, the same crowd with shape keys on every face.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "addon"), str(REPO / "tests" / "blender")]

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from styleface_blender import api, backend, build  # noqa: E402
from styleface_blender.facedata import FaceData  # noqa: E402

TARGET_MS, TARGET_CROWD_S = 100.0, 60.0


def bfm_sized(tex: int = 256) -> FaceData:
    from conftest import grid_mesh
    return grid_mesh(35709, 70789, tex=tex)


def time_build(data: FaceData, repeats: int, storage: str = "PACK") -> tuple[float, float]:
    """(median ms, min ms) of build_face, clearing the scene between runs so sizes stay equal."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        obj = build.build_face(data, image_storage=storage)
        times.append((time.perf_counter() - t0) * 1e3)
        build.remove_face(obj)
    return statistics.median(times), min(times)


def demo_face(python: str | None) -> FaceData | None:
    got: list[FaceData] = []
    config = backend.resolve_config(python)
    job = api.create_job([0], api.worker_options(), build.BuildOptions(), config)
    job.on_face = lambda i, s, d: got.append(d)
    job.run()
    return got[0] if got else None


def message_mb(data: FaceData) -> float:
    arrays, _ = data.to_arrays()
    return sum(a.nbytes for a in arrays.values()) / 1e6


def ict_face(python: str | None, texture_size: int = 256) -> FaceData:
    """One ICT face (procedural generator) with its expression shapes, through the real worker."""
    got: list[FaceData] = []
    config = backend.resolve_config(python, bundle="procedural")
    job = api.create_job([3], api.worker_options(texture_size=texture_size, expression={"jawOpen": 0.4}),
                         build.BuildOptions(), config)
    job.on_face = lambda i, s, d: got.append(d)
    job.run()
    return got[0]


def run_ict(args: argparse.Namespace) -> bool:
    ok = True
    t0 = time.perf_counter()
    face = ict_face(args.backend_python)
    rig = face.rig
    print(f"ICT: worker start + first face: {time.perf_counter() - t0:.2f} s")
    if rig is None or rig.expression_deltas is None:
        print("ICT: the procedural generator returned no rig (not the ICT head?)")
        return False
    sizes = np.bincount(rig.polygon_sizes)
    print(f"ICT face: {face.n_vertices} render / {rig.n_welded} welded vertices, {rig.n_polygons} polygons "
          f"({sizes[4] if len(sizes) > 4 else 0} quads), parts {', '.join(rig.part_names)}, "
          f"{len(rig.expression_names)} expressions, maps {face.diffuse.shape[1]} px")
    full = message_mb(face)
    shapes = rig.expression_deltas.nbytes / 1e6
    print(f"ICT message: {full:.1f} MB with the expression shapes, {full - shapes:.1f} MB without "
          f"(rig_expressions='first' sends the {shapes:.1f} MB once per request)")
    build.remove_face(build.build_face(face))  # warm-up
    for keys in (True, False):
        med, best, cpu = time_build_opts(face, args.repeats, shape_keys=keys)
        label = "all parts + 59 shape keys" if keys else "all parts, no shape keys"
        print(f"build ICT face ({label}, images packed): median {med:6.1f} ms wall (min {best:.1f}), "
              f"median {cpu:.1f} ms CPU")
        ok &= not keys or min(med, cpu) <= TARGET_MS
    backend.get_backend().release()
    for keys in ((False, True) if args.crowd_keys else (False,)):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        api._RIG_BASES.clear()
        t0 = time.perf_counter()
        objs = api.populate_crowd(args.crowd, layout="grid", backend_python=args.backend_python, batch_size=4,
                                  bundle="procedural", shape_keys=keys)
        total = time.perf_counter() - t0
        print(f"crowd of {len(objs)} ICT faces{' with shape keys' if keys else ''} end to end (worker start "
              f"included, CPU): {total:.1f} s ({total / max(len(objs), 1) * 1e3:.0f} ms per face)")
        ok &= keys or (total <= TARGET_CROWD_S and len(objs) == args.crowd)
        backend.get_backend().release()
    return ok


def time_build_opts(data: FaceData, repeats: int, **opts) -> tuple[float, float, float]:
    """(median wall ms, min wall ms, median CPU ms). The CPU time (all threads of this process) is the
    figure to trust on a shared machine, where other processes stretch the wall time."""
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        obj = build.build_face(data, **opts)
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
        build.remove_face(obj)
    return statistics.median(times), min(times), statistics.median(cpu)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend-python", default=None)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--crowd", type=int, default=100)
    p.add_argument("--no-ict", dest="ict", action="store_false", help="skip the ICT-FaceKit head")
    p.add_argument("--ict-only", action="store_true", help="only the ICT-FaceKit head")
    p.add_argument("--crowd-keys", action="store_true", help="also an ICT crowd with shape keys")
    args = p.parse_args()
    os.environ.pop("STYLEFACE_WORKER_GENERATOR", None)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    print(f"Blender {bpy.app.version_string}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    ok = True
    if args.ict:
        ok &= run_ict(args)
        if args.ict_only:
            print("targets met" if ok else "TARGETS MISSED")
            return 0 if ok else 1
        bpy.ops.wm.read_factory_settings(use_empty=True)

    big = bfm_sized()
    build.remove_face(build.build_face(big))  # warm-up
    for storage in ("PACK", "MEMORY"):
        med, best = time_build(big, args.repeats, storage)
        print(f"build 35,709 v / 70,789 f, 256 px maps, images {storage:6s}: median {med:6.1f} ms "
              f"(min {best:.1f})")
        ok &= storage != "PACK" or med <= TARGET_MS

    try:
        t0 = time.perf_counter()
        demo = demo_face(args.backend_python)
        print(f"worker start + first demo face: {time.perf_counter() - t0:.2f} s")
    except backend.BackendError as e:
        print(f"demo model unavailable: {e}")
        demo = None
    if demo is not None:
        print(f"demo face: {demo.n_vertices} vertices, {demo.n_faces} faces, maps {demo.diffuse.shape[1]} px, "
              f"{len(demo.expression_names)} expression keys")
        med, best = time_build(demo, args.repeats)
        print(f"build demo face (images packed): median {med:6.1f} ms (min {best:.1f})")
        ok &= med <= TARGET_MS
        backend.get_backend().release()
        bpy.ops.wm.read_factory_settings(use_empty=True)
        t0 = time.perf_counter()
        objs = api.populate_crowd(args.crowd, layout="grid", backend_python=args.backend_python, batch_size=4)
        total = time.perf_counter() - t0
        print(f"crowd of {len(objs)} demo faces end to end (worker start included, CPU): {total:.1f} s "
              f"({total / max(len(objs), 1) * 1e3:.0f} ms per face)")
        ok &= total <= TARGET_CROWD_S and len(objs) == args.crowd
        backend.get_backend().release()
    print(("targets met" if ok else "TARGETS MISSED") + ("" if demo is not None else " (demo parts not run)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
