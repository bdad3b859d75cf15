"""Export benchmark for the ICT head: seconds and bytes per format, and the Khronos validator's counts.

    .venv/bin/python benchmarks/export_formats.py [--texture-size 256] [--seed 0] [--out DIR]

Generates one procedural face on the shipped ICT model, then times each writer on its own (median of
--repeats runs): OBJ+MTL+PNG, GLB (57 morph targets), USD (if usd-core is installed), EXR, 16-bit PNG.
With node and ``npm install --prefix .ci/gltf gltf-validator`` it also prints the validator's counts.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texture-size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="keep the files here (default: a temp folder)")
    args = ap.parse_args()

    from styleface.export import export_face
    from styleface.export.usd import usd_available
    from styleface.generation import ProceduralSource

    face = ProceduralSource(texture_size=args.texture_size).generate(
        [args.seed], expression={"jawOpen": 0.4, "mouthSmileLeft": 0.6, "mouthSmileRight": 0.6})[0]
    topo = face.rig.topology
    print(f"ICT face seed {args.seed}: {topo.n_welded} welded / {face.n_vertices} render vertices, "
          f"{topo.n_polygons} polygons ({int((topo.polygon_sizes == 4).sum())} quads), "
          f"{len(face.rig.expression_names)} expressions, {args.texture_size} px maps")
    out = args.out or Path(tempfile.mkdtemp(prefix="styleface_export_bench_"))
    formats = ["obj", "glb"] + (["usd"] if usd_available() else []) + ["exr", "png16"]
    glb = None
    for fmt in formats:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            files = export_face(face, out, "face", formats=[fmt])
            times.append(time.perf_counter() - t0)
        sizes = ", ".join(f"{p.name} {_size(p.stat().st_size)}" for p in files.values())
        print(f"{fmt:6s} {statistics.median(times):6.2f} s   {sizes}")
        glb = files.get("glb", glb)
    if not usd_available():
        print("usd    skipped (pip install 'styleface[usd]')")
    validator = REPO / ".ci" / "gltf" / "node_modules" / "gltf-validator"
    if glb and shutil.which("node") and validator.is_dir():
        r = subprocess.run(["node", str(REPO / ".ci" / "gltf_validate.js"), str(glb)], capture_output=True, text=True)
        rep = json.loads(r.stdout)
        counts = {k: rep["issues"][k] for k in ("numErrors", "numWarnings", "numInfos", "numHints")}
        info = {k: rep["info"][k] for k in ("drawCallCount", "totalVertexCount", "totalTriangleCount",
                                            "materialCount", "hasMorphTargets")}
        print(f"glTF validator: {counts} {info}")
    else:
        print("glTF validator: not installed (npm install --prefix .ci/gltf gltf-validator)")
    if args.out is None:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
