"""Forward + backward time of the pure-PyTorch face renderer on a BFM-sized synthetic mesh.

35,721 vertices / 70,688 faces (a displaced spherical cap covering a face-sized ~60% of the 256 px
pinhole view), 256 x 256 diffuse and displacement maps that require grad (as in UV-generator
training; ``--coeff-grad`` adds the coefficients, as in 3DMM fitting), random coefficients with an
80/64/80 basis, and SH lighting. Prints ms per image for batch 1 and 8, vertex mode
(StyleFaceUV) and UV mode: the forward time and the forward + backward time, best and median over the
repeats. The machine may be shared: run it several times and compare runs made in the same conditions.
Usage: python benchmarks/render_cpu.py [--threads N] [--repeats R] [--modes uv,vertex] [--batches 1,8]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from styleface.render.face import FaceRenderer
from styleface.render.synthetic import cap_face_model


def bench(renderer: FaceRenderer, batch: int, mode: str, repeats: int, coeff_grad: bool) -> tuple[float, float, float]:
    m = renderer.model
    g = torch.Generator().manual_seed(batch)
    c = m.layout.split(0.3 * torch.randn(batch, m.layout.size, generator=g))
    c = c.replace(rot=0.3 * torch.randn(batch, 3, generator=g), trans=torch.zeros(batch, 3))
    if coeff_grad:
        c = c.replace(**{k: getattr(c, k).clone().requires_grad_() for k in ("id", "exp", "gamma", "rot")})
    diffuse = torch.rand(batch, 3, 256, 256, generator=g).requires_grad_()
    disp = (torch.rand(batch, 3, 256, 256, generator=g) * 2 - 1).requires_grad_()
    fwd, tot = [], []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        out = renderer.render(c, diffuse, disp, mode=mode)
        loss = (out.image * out.mask).mean()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        if i:  # the first run warms up allocators
            fwd.append((t1 - t0) * 1e3 / batch)
            tot.append((t2 - t0) * 1e3 / batch)
    return min(fwd), min(tot), statistics.median(tot)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--coeff-grad", action="store_true",
                    help="coefficients require grad too (3DMM fitting); default: only the UV maps do "
                         "(UV-generator training)")
    ap.add_argument("--modes", default="uv,vertex", help="comma-separated render modes")
    ap.add_argument("--batches", default="1,8", help="comma-separated batch sizes")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = cap_face_model(n=189, n_id=80, n_exp=64, n_tex=80)
    renderer = FaceRenderer(model)
    print(f"mesh: {model.n_vertices} vertices, {model.n_faces} faces; image 256x256; maps 256x256; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; grad to maps"
          f"{' and coefficients' if args.coeff_grad else ''}")
    print(f"{'mode':<8}{'batch':>6}{'fwd ms/img':>12}{'fwd+bwd ms/img (best)':>24}{'(median)':>10}")
    for mode in args.modes.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            f, best, med = bench(renderer, batch, mode, args.repeats, args.coeff_grad)
            print(f"{mode:<8}{batch:>6}{f:>12.1f}{best:>24.1f}{med:>10.1f}")


if __name__ == "__main__":
    main()
