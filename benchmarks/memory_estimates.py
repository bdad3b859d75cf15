"""Peak resident memory of one procedural face per texture size, next to ``styleface.limits``' estimate.

Usage: python benchmarks/memory_estimates.py [sizes...]   (default 256 512 1024 2048)
Each size runs in a fresh process (peak RSS is per process); prints size, measured peak above the
import/model baseline, and the estimate the worker and CLI check before work starts.
"""
from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import resource, sys
from styleface.generation import ProceduralSource
src = ProceduralSource(texture_size=int(sys.argv[1]))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
src.generate([1])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base * 1024, peak * 1024)
"""


def main(sizes: list[int]) -> None:
    from styleface.limits import estimate_batch_bytes

    print(f"{'size':>6} {'baseline MiB':>13} {'peak-baseline MiB':>18} {'estimate MiB':>13}")
    for size in sizes:
        out = subprocess.run([sys.executable, "-c", CHILD, str(size)], capture_output=True, text=True, check=True)
        base, peak = map(int, out.stdout.split())
        print(f"{size:>6} {base >> 20:>13} {(peak - base) >> 20:>18} {estimate_batch_bytes(1, size) >> 20:>13}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [256, 512, 1024, 2048])
