"""Load time of the shipped ICT-FaceKit face model and its size in the package.

    python benchmarks/facemodel_load.py [--repeats 5]

Each repeat loads the file in a fresh process state (the per-process cache is bypassed), as the first
`styleface generate` of a session does. Target: <= 0.3 s on the 2-core CI machine.
"""
from __future__ import annotations

import argparse
import statistics
import time

from styleface.facemodel.store import ICT_FILE, load_face_model_npz


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    load_face_model_npz(ICT_FILE)  # warm the OS file cache, as an installed package would be
    times = []
    for _ in range(a.repeats):
        t = time.perf_counter()
        m = load_face_model_npz(ICT_FILE)
        times.append(time.perf_counter() - t)
    notices = ICT_FILE.parent / "THIRD_PARTY_NOTICES"
    size = ICT_FILE.stat().st_size + notices.stat().st_size
    print(f"face model {m.name}: {m.n_vertices} render vertices, {m.mesh_topology.n_polygons} polygons, "
          f"{m.n_id} identity + {m.n_exp} expression shapes")
    print(f"load: median {statistics.median(times):.3f} s, min {min(times):.3f} s over {a.repeats} "
          f"(target <= 0.3 s)")
    print(f"package size added: {size / 1e6:.2f} MB ({ICT_FILE.name} + THIRD_PARTY_NOTICES; limit 20 MB)")


if __name__ == "__main__":
    main()
