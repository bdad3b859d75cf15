"""``styleface-train fit``: fit every image of a sample dataset, shard by shard, resumably.

Fit shard j holds the coefficients of sample shard j (same items, same order), so F3D pairs them by
index. When the samples carry the stand-in's truth, each shard also records the yaw error and the
photometric error of the fit and of the mean face over the true face mask: the fitting benchmark.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from styleface.errors import StyleFaceError
from styleface.facemodel import load_face_model
from styleface.facemodel.model import FaceModel

from .fit import FitConfig, Fitter, photometric
from .landmarks import make_source
from ..data.shards import (Worker, read_manifest, read_tensors, shard_complete, shard_name, shard_paths,
                     write_manifest, write_shard)

FORMAT = "styleface-fits/1"
PREFIX = "fit"
SAMPLE_PREFIX = "shard"


@dataclass
class FitRunOptions:
    samples: Path
    out: Path
    landmarks: str = "truth"
    face_model: str | None = None   # None: the stand-in's face model, else 'demo' for real generators
    batch_size: int = 8
    device: str = "cpu"
    limit: int | None = None        # fit only the first N items of each shard (quick checks)
    progress: bool = True


def face_model_for(samples_manifest: dict, spec: str | None) -> FaceModel:
    """The face model to fit: explicit, else the one the stand-in rendered with, else the demo head."""
    if spec is None:
        gen = samples_manifest.get("generator", {})
        spec = gen.get("face_model") if gen.get("kind") == "standin" else "demo"
    return load_face_model(spec)


def run_fit(opts: FitRunOptions, config: FitConfig, worker: Worker = Worker()) -> list[Path]:
    """Fit this worker's missing shards; return the fit shards written."""
    if not Path(opts.samples).is_dir():
        raise StyleFaceError(f"fit needs the sample shard folder, not {opts.samples}")
    sman = read_manifest(opts.samples)
    if not sman.get("images", True):
        raise StyleFaceError(f"{opts.samples} was made with --no-images; fitting needs the images")
    if opts.batch_size < 1:
        raise StyleFaceError("--batch-size must be at least 1")
    model = face_model_for(sman, opts.face_model)
    fitter = Fitter(model, config, opts.device)
    source = make_source(opts.landmarks, opts.device)
    keys = ("count", "base_seed", "shard_size", "n_shards", "generator")
    manifest = {"format": FORMAT, "samples": {k: sman[k] for k in keys},
                "n_shards": sman["n_shards"], "landmarks": opts.landmarks, "fit": fitter.config_dict(),
                "limit": opts.limit, "coeff_layout": model.layout.sizes(),
                "device_type": torch.device(opts.device).type}
    write_manifest(opts.out, manifest)
    sample_paths = shard_paths(opts.samples, SAMPLE_PREFIX, sman["n_shards"])
    todo = [j for j in range(sman["n_shards"])
            if worker.owns(j) and not shard_complete(opts.out / shard_name(PREFIX, j))]
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=f"fit [{worker.rank}/{worker.count}]", unit="shard",
               disable=not opts.progress, dynamic_ncols=True)
    written = []
    try:
        for j in todo:
            if not shard_complete(sample_paths[j]):
                raise StyleFaceError(f"sample shard {sample_paths[j]} is missing; run 'sample' first")
            written.append(_fit_shard(j, sample_paths[j], opts, fitter, source))
            bar.update(1)
    finally:
        bar.close()
    return written


def _fit_shard(j: int, path: Path, opts: FitRunOptions, fitter: Fitter, source) -> Path:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        keys = [k for k in fh.keys() if k in ("index", "image", "truth_coeffs", "truth_landmarks", "truth_mask")]
    items = read_tensors([path], keys)
    n = items["index"].shape[0] if opts.limit is None else min(opts.limit, items["index"].shape[0])
    items = {k: v[:n] for k, v in items.items()}
    out: dict[str, list[torch.Tensor]] = {}
    yaw_i = fitter.layout.yaw_index
    for b in range(0, n, opts.batch_size):
        sl = slice(b, b + opts.batch_size)
        batch = {k: v[sl] for k, v in items.items()}
        images = batch["image"].permute(0, 3, 1, 2).float() / 255
        lms = source(batch["image"], batch)
        valid = torch.isfinite(lms).all(-1).all(-1)
        coeffs = torch.zeros(images.shape[0], fitter.layout.size)
        rmse = torch.full((images.shape[0],), float("nan"))
        photo = torch.full((images.shape[0],), float("nan"))
        if valid.any():
            res = fitter.fit(images[valid], lms[valid])
            coeffs[valid] = res.coeffs.cpu()
            rmse[valid] = res.landmark_rmse.cpu()
            photo[valid] = res.photo.cpu()
            if "truth_mask" in batch:
                tmask = batch["truth_mask"][valid].float().unsqueeze(1).to(fitter.device) / 255
                tgt = images[valid].to(fitter.device)
                fit_img = res.render if res.render.shape[-1] == tgt.shape[-1] else \
                    fitter_render_full(fitter, res, tgt.shape[-1])
                mean_img, _ = fitter.render_mean_face(tgt)
                _put(out, "photo_truth_mask", photometric(fit_img, tgt, tmask).cpu(), valid)
                _put(out, "photo_truth_mask_mean_face", photometric(mean_img, tgt, tmask).cpu(), valid)
        if "truth_coeffs" in batch:
            err = (coeffs[:, yaw_i] - batch["truth_coeffs"][:, yaw_i]).abs() * 180 / math.pi
            out.setdefault("yaw_error_deg", []).append(torch.where(valid, err, torch.full_like(err, float("nan"))))
        for k, v in (("coeffs", coeffs), ("landmark_rmse", rmse), ("photo", photo), ("valid", valid),
                     ("index", batch["index"])):
            out.setdefault(k, []).append(v)
    tensors = {k: torch.cat(v, 0) for k, v in out.items()}
    dest = opts.out / shard_name(PREFIX, j)
    write_shard(dest, tensors, {"shard": j, "format": FORMAT, "count": n})
    return dest


def _put(out: dict[str, list[torch.Tensor]], key: str, values: torch.Tensor, valid: torch.Tensor) -> None:
    full = torch.full((valid.shape[0],), float("nan"))
    full[valid] = values
    out.setdefault(key, []).append(full)


@torch.no_grad()
def fitter_render_full(fitter: Fitter, res, size: int) -> torch.Tensor:
    """Re-render a fit at the image size (when the photometric term ran at a smaller one)."""
    from styleface.camera import PinholeCamera
    from styleface.render.face import FaceRenderer

    r = FaceRenderer(fitter.model, PinholeCamera(image_size=size), mode="vertex")
    return r.render(res.coeffs.to(fitter.device), res.albedo_uv).image.clamp(0, 1)
