"""Round-trip cost per face of the worker process versus calling the generator in-process.

Why: the add-on gets every face through ``styleface.worker``; the protocol (encode, pipe, decode,
FaceAssets validation) must stay small next to generation itself (target: <= 20 ms per face). The
generator here returns a prebuilt face of realistic size (20k vertices, 256x256 diffuse and
displacement maps), so the difference measured is the protocol cost, not generation.

    python benchmarks/worker_overhead.py [--faces 50] [--vertices 20000] [--texture-size 256]

This file doubles as the worker's generator module (STYLEFACE_WORKER_GENERATOR=worker_overhead:make_generator).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from styleface.assets import DisplacementInfo, FaceAssets

TARGET_MS = 20.0


class PrebuiltGenerator:
    """Returns the same realistic-size face for every seed (cost: FaceAssets construction only)."""

    device = "cpu"

    def __init__(self, n_vertices: int = 20000, texture_size: int = 256):
        side = int(np.ceil(np.sqrt(n_vertices)))
        rng = np.random.default_rng(0)
        g = np.stack(np.meshgrid(np.linspace(0, 1, side), np.linspace(0, 1, side)), -1).reshape(-1, 2)
        g = g[:n_vertices]
        rows = n_vertices // side
        tris = []
        for r in range(rows - 1):
            a = r * side + np.arange(side - 1)
            tris.append(np.stack([a, a + 1, a + side + 1], 1))
            tris.append(np.stack([a, a + side + 1, a + side], 1))
        s = texture_size
        self.arrays = dict(
            vertices=np.concatenate([g * 2 - 1, rng.normal(0, 0.1, (len(g), 1))], 1).astype(np.float32),
            faces=np.concatenate(tris).astype(np.int64), uvs=g.astype(np.float32),
            diffuse=rng.uniform(0, 1, (3, s, s)).astype(np.float32),
            displacement=rng.uniform(-1, 1, (3, s, s)).astype(np.float32),
        )
        self.coefficients = {"id": rng.normal(size=80), "exp": rng.normal(size=64), "tex": np.zeros(80),
                             "rot": np.zeros(3), "gamma": np.zeros(27), "trans": np.zeros(3)}
        self.stylecode = rng.normal(size=(14, 512)).astype(np.float32)

    def generate(self, seed: int, **options: Any) -> FaceAssets:
        return FaceAssets(**self.arrays, displacement_info=DisplacementInfo(), coefficients=self.coefficients,
                          stylecode=self.stylecode, seed=int(seed),
                          provenance={"generator": "benchmark", "options": options})


def make_generator() -> PrebuiltGenerator:
    return PrebuiltGenerator(int(os.environ.get("BENCH_VERTICES", 20000)),
                             int(os.environ.get("BENCH_TEXTURE", 256)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=50)
    ap.add_argument("--vertices", type=int, default=20000)
    ap.add_argument("--texture-size", type=int, default=256)
    args = ap.parse_args()

    from styleface.client import WorkerClient

    os.environ["BENCH_VERTICES"] = str(args.vertices)
    os.environ["BENCH_TEXTURE"] = str(args.texture_size)
    gen = make_generator()
    arrays, _ = gen.generate(0).to_arrays()
    mb = sum(a.nbytes for a in arrays.values()) / 2**20
    n = args.faces

    gen.generate(0)
    t0 = time.perf_counter()
    for s in range(n):
        gen.generate(s)
    inproc = (time.perf_counter() - t0) / n * 1e3

    env = dict(os.environ)
    here = str(Path(__file__).resolve().parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    env["STYLEFACE_WORKER_GENERATOR"] = "worker_overhead:make_generator"
    rows = []
    for as_assets in (True, False):
        with WorkerClient(env=env, as_assets=as_assets) as w:
            w.generate([0, 1])  # load + warm up
            t0 = time.perf_counter()
            r = w.generate(range(n), collect=False, on_face=lambda i, f: None)
            batch = (time.perf_counter() - t0) / r.done * 1e3
            singles = []
            for s in range(min(n, 20)):
                t1 = time.perf_counter()
                w.generate([s])
                singles.append((time.perf_counter() - t1) * 1e3)
            rows.append((as_assets, batch, statistics.median(singles)))

    print(f"face payload: {args.vertices} vertices, {len(arrays['faces'])} triangles, "
          f"{args.texture_size}^2 maps = {mb:.2f} MiB; {n} faces; python {sys.version.split()[0]}")
    print(f"in-process generate:                          {inproc:7.2f} ms/face")
    ok = True
    for as_assets, batch, single in rows:
        kind = "FaceAssets" if as_assets else "raw arrays"
        print(f"worker, {kind:10s}, one batch of {n:3d}:          {batch:7.2f} ms/face  "
              f"overhead {batch - inproc:6.2f} ms")
        print(f"worker, {kind:10s}, one request per face:     {single:7.2f} ms/face  "
              f"overhead {single - inproc:6.2f} ms (median)")
        ok = ok and max(batch, single) - inproc <= TARGET_MS
    print(f"target <= {TARGET_MS:.0f} ms overhead per face: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
