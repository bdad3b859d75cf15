"""``styleface-train sample``: stylecodes and images (and the stand-in's truth) in resumable shards.

Item i has seed base_seed + i: its z (and, for a real StyleGAN2, its noise maps) come from a generator
seeded with that alone, so an item is the same whatever batch, shard or worker produced it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from styleface.errors import StyleFaceError

from ..standin.generators import GeneratorHandle
from .shards import Worker, shard_complete, shard_name, write_manifest, write_shard

FORMAT = "styleface-samples/1"
PREFIX = "shard"


@dataclass
class SampleOptions:
    out: Path
    count: int
    base_seed: int = 0
    shard_size: int = 256
    truncation: float = 1.0
    batch_size: int = 16
    save_uv: bool = False
    images: bool = True     # False: stylecodes (and the stand-in's truth coefficients) only, no rendering
    device: str = "cpu"
    progress: bool = True

    def validate(self) -> None:
        if self.count < 1 or self.shard_size < 1 or self.batch_size < 1:
            raise StyleFaceError("--count, --shard-size and --batch-size must be at least 1")
        if self.base_seed < 0:
            raise StyleFaceError("--seed must be >= 0")
        if not 0.0 <= self.truncation <= 1.0:
            raise StyleFaceError("--truncation must be in [0, 1]")
        if self.save_uv and not self.images:
            raise StyleFaceError("--save-uv needs images (drop --no-images)")


def item_latents(handle: GeneratorHandle, seeds: list[int]) -> tuple[torch.Tensor, list | None]:
    """z (B, style_dim) and, for generators with noise inputs, per-layer noise (B, 1, r, r)."""
    zs, noises = [], []
    wants_noise = hasattr(handle.module, "make_noise") and not handle.has_truth
    for s in seeds:
        g = torch.Generator().manual_seed(int(s))
        zs.append(torch.randn(handle.style_dim, generator=g))
        if wants_noise:
            noises.append(handle.module.make_noise(1, g, device="cpu"))
    noise = [torch.cat(layer, 0) for layer in zip(*noises)] if noises else None
    return torch.stack(zs), noise


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


@torch.no_grad()
def generate_items(handle: GeneratorHandle, seeds: list[int], truncation: float, save_uv: bool,
                   device: str, images: bool = True) -> dict[str, torch.Tensor]:
    g = handle.module
    z, noise = item_latents(handle, seeds)
    z = z.to(device)
    centre = g.latent_avg if truncation != 1.0 else None
    wplus = g.to_wplus(z, "z", truncation=truncation, truncation_latent=centre)
    out: dict[str, torch.Tensor] = {"seed": torch.tensor(seeds, dtype=torch.int64), "z": z.cpu(),
                                    "wplus": wplus.float().cpu()}
    if not images:
        if handle.has_truth:
            truth = g.truth(wplus)
            out["truth_coeffs"] = truth["coeffs"].float().cpu()
            out["truth_landmarks"] = truth["landmarks"].float().cpu()
        return out
    if handle.has_truth:
        image, truth = g.synthesis(wplus, return_truth=True)
        out["truth_coeffs"] = truth["coeffs"].float().cpu()
        out["truth_landmarks"] = truth["landmarks"].float().cpu()
        out["truth_mask"] = (truth["mask"][:, 0] * 255).round().to(torch.uint8).cpu()
        if save_uv:
            out["truth_diffuse"] = truth["diffuse"].half().cpu()
            out["truth_displacement"] = truth["displacement"].half().cpu()
    else:
        image = g.synthesis(wplus, noise=[n.to(device) for n in noise] if noise else "random")
    out["image"] = to_uint8(image.float().cpu())
    return out


def manifest_for(handle: GeneratorHandle, opts: SampleOptions) -> dict:
    n_shards = math.ceil(opts.count / opts.shard_size)
    return {"format": FORMAT, "count": opts.count, "base_seed": opts.base_seed, "shard_size": opts.shard_size,
            "n_shards": n_shards, "truncation": opts.truncation, "save_uv": opts.save_uv,
            "generator": handle.description, "image_size": handle.size, "n_latent": handle.n_latent,
            "style_dim": handle.style_dim, "device_type": torch.device(opts.device).type,
            "has_truth": handle.has_truth, "images": opts.images}


def generate_dataset(handle: GeneratorHandle, opts: SampleOptions, worker: Worker = Worker()) -> list[Path]:
    """Write this worker's missing shards of the dataset; return the shard files it wrote."""
    opts.validate()
    manifest = manifest_for(handle, opts)
    write_manifest(opts.out, manifest)
    todo = [j for j in range(manifest["n_shards"])
            if worker.owns(j) and not shard_complete(opts.out / shard_name(PREFIX, j))]
    total = sum(min(opts.shard_size, opts.count - j * opts.shard_size) for j in todo)
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"sample [{worker.rank}/{worker.count}]", unit="img", disable=not opts.progress,
               dynamic_ncols=True)
    written = []
    try:
        for j in todo:
            first = j * opts.shard_size
            idx = list(range(first, min(first + opts.shard_size, opts.count)))
            parts: dict[str, list[torch.Tensor]] = {}
            for b in range(0, len(idx), opts.batch_size):
                chunk = idx[b:b + opts.batch_size]
                items = generate_items(handle, [opts.base_seed + i for i in chunk], opts.truncation,
                                       opts.save_uv, opts.device, opts.images)
                items["index"] = torch.tensor(chunk, dtype=torch.int64)
                for k, v in items.items():
                    parts.setdefault(k, []).append(v)
                bar.update(len(chunk))
            tensors = {k: torch.cat(v, 0) for k, v in parts.items()}
            path = opts.out / shard_name(PREFIX, j)
            write_shard(path, tensors, {"shard": j, "first": first, "count": len(idx), "format": FORMAT})
            written.append(path)
    finally:
        bar.close()
    return written
