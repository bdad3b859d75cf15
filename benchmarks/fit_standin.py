"""Benchmark of the 3DMM fitter on stand-in images, whose true pose and face mask are known.

Reports the mean absolute yaw error (target: < 3 degrees), the photometric error of the fit and of the
mean face over the true face mask (the fit must be lower), the landmark RMSE, and the time per fitted
image. Defaults are the fitting tool's (1000 rigid + 500 non-rigid iterations) on 256 px images of the
demo head.

    python benchmarks/fit_standin.py --count 8 --batch-size 8 --threads 2
    python benchmarks/fit_standin.py --count 16 --size 128 --json out.json
"""
from __future__ import annotations

import argparse
import json
import math
import time

import torch

from styleface_train.fitting.fit import FitConfig, Fitter, photometric
from styleface_train.standin import StandInConfig, StandInGenerator


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=8, help="images to fit (seeds 0..count-1 plus --seed)")
    p.add_argument("--seed", type=int, default=1000, help="first item seed (default 1000)")
    p.add_argument("--size", type=int, default=256, help="image size (default 256)")
    p.add_argument("--texture-size", type=int, default=256)
    p.add_argument("--face-model", default="demo")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--rigid-iters", type=int, default=FitConfig.rigid_iters)
    p.add_argument("--nonrigid-iters", type=int, default=FitConfig.nonrigid_iters)
    p.add_argument("--photo-size", type=int, default=None)
    p.add_argument("--albedo", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None, help="also write the results here")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)

    gen = StandInGenerator(StandInConfig(image_size=a.size, texture_size=a.texture_size, face_model=a.face_model))
    fitter = Fitter(gen.face_model, FitConfig(rigid_iters=a.rigid_iters, nonrigid_iters=a.nonrigid_iters,
                                              photo_size=a.photo_size, albedo=a.albedo), a.device)
    yi, rot = gen.layout.yaw_index, gen.layout.slice("rot")
    rows, fit_time = [], 0.0
    for start in range(0, a.count, a.batch_size):
        seeds = list(range(a.seed + start, a.seed + min(start + a.batch_size, a.count)))
        z = torch.stack([torch.randn(gen.style_dim, generator=torch.Generator().manual_seed(s)) for s in seeds])
        with torch.no_grad():
            img, truth = gen.synthesis(gen.to_wplus(z), return_truth=True)
        images = ((img + 1) / 2).clamp(0, 1)
        t0 = time.perf_counter()
        res = fitter.fit(images, truth["landmarks"])
        fit_time += time.perf_counter() - t0
        with torch.no_grad():
            render = res.render
            if render.shape[-1] != a.size:
                from styleface_train.fitting.fit_run import fitter_render_full
                render = fitter_render_full(fitter, res, a.size)
            mean_img, _ = fitter.render_mean_face(images)
            mask = truth["mask"].to(render)
            pf = photometric(render, images.to(render), mask).cpu()
            pm = photometric(mean_img, images.to(render), mask).cpu()
        deg = 180 / math.pi
        for i, s in enumerate(seeds):
            rows.append({"seed": s, "true_yaw_deg": float(truth["coeffs"][i, yi] * deg),
                         "fit_yaw_deg": float(res.coeffs[i, yi].cpu() * deg),
                         "yaw_error_deg": float((res.coeffs[i, yi].cpu() - truth["coeffs"][i, yi]).abs() * deg),
                         "rot_error_deg": float((res.coeffs[i, rot].cpu() - truth["coeffs"][i, rot]).abs().mean()
                                                * deg),
                         "coeff_l1_vs_truth": float((res.coeffs[i].cpu() - truth["coeffs"][i]).abs().mean()),
                         "landmark_rmse_px": float(res.landmark_rmse[i]), "photo_fit": float(pf[i]),
                         "photo_mean_face": float(pm[i])})
    n = len(rows)
    mean = lambda k: sum(r[k] for r in rows) / n  # noqa: E731
    summary = {"images": n, "size": a.size, "face_model": gen.face_model.name, "vertices": gen.face_model.n_vertices,
               "albedo_mode": fitter.albedo_mode, "rigid_iters": a.rigid_iters, "nonrigid_iters": a.nonrigid_iters,
               "photo_size": a.photo_size or a.size, "batch_size": a.batch_size, "threads": torch.get_num_threads(),
               "device": a.device, "mean_abs_yaw_error_deg": mean("yaw_error_deg"),
               "max_abs_yaw_error_deg": max(r["yaw_error_deg"] for r in rows),
               "mean_landmark_rmse_px": mean("landmark_rmse_px"),
               "coeff_l1_vs_truth": mean("coeff_l1_vs_truth"), "photo_fit": mean("photo_fit"),
               "photo_mean_face": mean("photo_mean_face"),
               "fit_better_than_mean_face": sum(r["photo_fit"] < r["photo_mean_face"] for r in rows),
               "seconds_per_image": fit_time / n}
    print(json.dumps(summary, indent=1))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"summary": summary, "items": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
