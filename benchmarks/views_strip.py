"""Seconds per `styleface views` strip with the default (demo) bundle, after one warm-up strip.

    python benchmarks/views_strip.py [--seeds 8] [--yaws=-30,0,30] [--extra-rows] [--device cpu] [--threads N]

--extra-rows adds the README's relighting/expression rows (2 presets, 2 light rotations, 1 expression).
Prints the median and range over the seeds; the render, the 2D generator and the yaw-edit search all count.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from styleface.pipeline import Pipeline
from styleface.views import ViewSynthesis, default_variants


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--yaws", default="-30,0,30")
    ap.add_argument("--extra-rows", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    yaws = [float(x) for x in a.yaws.split(",")]
    variants = default_variants(["left", "top"], [-45, 45], [{"smile_left": 1.0, "smile_right": 1.0}]) \
        if a.extra_rows else default_variants()
    t = time.perf_counter()
    pipe = Pipeline.load(None, a.device)
    vs = ViewSynthesis(pipe)
    load = time.perf_counter() - t
    vs.strips([0], yaws, variants=variants)  # warm-up
    times = [vs.strips([s], yaws, variants=variants)[0].seconds for s in range(1, a.seeds + 1)]
    print(f"bundle {pipe.bundle.id} on {pipe.device} ({torch.get_num_threads()} threads), load {load:.2f} s; "
          f"{len(yaws)} yaws, {len(variants)} 3D row(s): median {statistics.median(times):.2f} s per strip "
          f"(min {min(times):.2f}, max {max(times):.2f}, {len(times)} strips)")


if __name__ == "__main__":
    main()
