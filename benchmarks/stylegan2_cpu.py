"""CPU speed of the pure-PyTorch StyleGAN2 generator (default: 256 px, channel multiplier 2 = rosinality's
FFHQ-256 network, random weights; speed does not depend on the values).

Run:  /work/venv/bin/python benchmarks/stylegan2_cpu.py [--batches 1 4] [--repeats 5] [--threads N]

Prints, per batch size, the best wall-clock time per image over ``--repeats`` runs of W+ -> image
synthesis (constant noise, no autograd) and the process CPU time of that run. On a shared machine
the wall time of a multi-threaded run suffers badly from other processes (the load average is printed
so numbers can be judged); the CPU time of a ``--threads 1`` run is the contention-free measure.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from styleface.nets.stylegan2 import Generator


def time_batch(g: Generator, batch: int, repeats: int) -> tuple[float, float]:
    """(best wall ms per image, CPU ms per image of that run)."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(batch, g.style_dim, generator=gen)
    best = (float("inf"), float("inf"))
    with torch.inference_mode():
        wplus = g.to_wplus(z)
        g.synthesis(wplus, noise="const")  # warm-up: oneDNN primitives, derived-weight caches
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            g.synthesis(wplus, noise="const")
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            if wall < best[0]:
                best = (wall, cpu)
    return best[0] * 1000.0 / batch, best[1] * 1000.0 / batch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--channel-multiplier", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    g = Generator(args.size, channel_multiplier=args.channel_multiplier).eval()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {load:.2f}; Generator({args.size}, channel_multiplier={args.channel_multiplier})")
    for b in args.batches:
        wall, cpu = time_batch(g, b, args.repeats)
        print(f"batch {b}: {wall:.0f} ms per image (CPU time {cpu:.0f} ms per image)")


if __name__ == "__main__":
    main()
