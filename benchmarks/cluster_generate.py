"""Faces per second on Ray against in-process generation: 64 faces with the default bundle, all the
default export formats (OBJ/MTL/PNG, GLB, EXR, 16-bit PNG, JSON) written to a temp folder.

Rows: (1) in-process, as ``styleface generate`` does it (one process, ``--threads`` torch threads,
bundle load counted); (2..) ``styleface.cluster.generate_on_ray`` on a local Ray with ``--cpus`` CPUs
and 1, 2, ... workers (one actor per CPU slot, one torch thread each; actor start-up, i.e. importing
torch and loading the bundle in each actor, is counted in the job). Ray's own start-up
(``ray.init`` of a fresh local instance) is timed separately and not counted in any row. Each Ray row
starts fresh actors, as a new job on a cluster does.

    python benchmarks/cluster_generate.py [--count 64] [--workers 1,2] [--cpus 2] [--threads 2] [--device cpu]

Expect about linear scaling up to the number of free cores; the warm per-face cost of the default
bundle is a few hundredths of a second of network time plus the exporters, so with 64 faces each
actor's few seconds of start-up weigh in: larger jobs scale better. With ``--device cuda`` on a GPU
node, use ``--cpus`` for the CPU slots and expect one worker per GPU (``num_gpus=1``).

Measured on the 2-core dev machine (torch 2.13 CPU, ray 2.60.0, 2026-12-06), SHARED with four other
agents (load average 6-12 on 2 cores), so the wall-clock rows do not show scaling; the CPU column does:

    run 1 (load 8.2): Ray start-up 10.1 s; in-process 83.0 s = 0.77 faces/s (0.581 CPU s/face);
                      Ray 1 worker 80.6 s = 0.79 faces/s (0.443); Ray 2 workers 73.1 s = 0.88 faces/s (0.431)
    run 2 (load 6.4): Ray start-up 12.1 s; in-process 117.5 s = 0.54 faces/s (0.600);
                      Ray 1 worker 73.4 s = 0.87 faces/s (0.430); Ray 2 workers 91.6 s = 0.70 faces/s (0.436)

At ~0.43 CPU s/face per one-thread worker, an idle 2-core machine would give about 2.3 faces/s with one
worker and 4.6 with two, minus each actor's start-up (torch import + bundle load, 4-7 s here). Of the
0.43 s, the OBJ export (with its diffuse PNG) is ~0.25 s and generation ~0.14 s (batch 16, one thread).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_FORMATS = ("obj", "glb", "exr", "png16", "json")


def in_process(count: int, device: str, threads: int, out: Path) -> tuple[float, float, float]:
    """(seconds for the whole job including the bundle load, of which loading, CPU seconds after it)."""
    import torch

    from styleface.cluster.completion import face_stem
    from styleface.export import export_face
    from styleface.generation import open_generator

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    gen = open_generator(None, device=device)
    load = time.perf_counter() - t0
    c0 = time.process_time()
    seeds = list(range(count))
    for i in range(0, count, 8):
        chunk = seeds[i:i + 8]
        for seed, face in zip(chunk, gen.generate(chunk)):
            export_face(face, out, face_stem(seed), formats=DEFAULT_FORMATS)
    return time.perf_counter() - t0, load, time.process_time() - c0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--workers", default="1,2", help="Ray worker counts to time (default 1,2)")
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray (default 2)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the in-process row (default 2)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    try:
        import ray
    except ImportError:
        print("needs Ray: pip install -e '.[cluster]'", file=sys.stderr)
        return 2
    from styleface.bundle import default_bundle_path
    from styleface.cluster import generate_on_ray

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.count} faces, default bundle {default_bundle_path()}, formats {','.join(DEFAULT_FORMATS)}; "
          f"{os.cpu_count()} CPUs, load average {load:.2f} at start, ray {ray.__version__}")
    rows: list[tuple[str, float, float, str]] = []
    tmp = Path(tempfile.mkdtemp(prefix="styleface-cluster-bench-"))
    try:
        sec, load_s, cpu = in_process(args.count, args.device, args.threads, tmp / "local")
        rows.append((f"in-process, {args.threads} torch thread(s)", sec, cpu, f"bundle load {load_s:.2f} s"))
        t0 = time.perf_counter()
        ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, logging_level="WARNING")
        ray_start = time.perf_counter() - t0
        try:
            for n in (int(w) for w in args.workers.split(",") if w.strip()):
                out = tmp / f"ray{n}"
                rep = generate_on_ray(range(args.count), out, device=args.device, formats=DEFAULT_FORMATS,
                                      batch_size=args.batch_size, workers=n, progress=False)
                assert rep.ok and len(rep.done) == args.count, rep
                rows.append((f"Ray, {n} worker(s)", rep.seconds, rep.worker_cpu_s,
                             f"{rep.workers} actor(s) started in the job"))
        finally:
            ray.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"Ray start-up (ray.init, fresh local instance, {args.cpus} CPUs): {ray_start:.1f} s (not in the rows)")
    width = max(len(r[0]) for r in rows)
    print(f"{'':<{width}}  {'seconds':>8}  {'faces/s':>8}  {'CPU s/face':>10}")
    for name, sec, cpu, note in rows:
        print(f"{name:<{width}}  {sec:8.2f}  {args.count / sec:8.2f}  {cpu / args.count:10.3f}  {note}")
    print("CPU s/face: CPU time of the generating process(es) per face, start-up excluded: the cost without "
          "contention; faces/s = count / wall seconds, start-up included")
    return 0


if __name__ == "__main__":
    sys.exit(main())
