"""``styleface-train f3d``: train F3D (W+ -> 3DMM coefficients) with an L1 loss, as StyleFaceUV does.

Defaults are the paper's: Adam at 1e-5, MultiStepLR at epochs 5/10/15 (x0.1), batch 16, 25 epochs,
first 90% train / last 10% validation. Validation reports the L1 of F3D and of the mean-coefficient
baseline (predicting the training mean), plus the yaw error in degrees and the L1 per coefficient group.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from styleface.facemodel.coeffs import CoeffLayout
from styleface.nets.f3d import F3D

from ..common.atomic import atomic_write_text
from ..common.modelfile import save_network
from ..data.pairs import Pairs, load_pairs
from ..common.trainloop import LoopConfig, run_loop

DEFAULT_LOOP = LoopConfig(epochs=25, batch_size=16, lr=1e-5, milestones=(5, 10, 15))


@dataclass
class F3DOptions:
    samples: Path
    out: Path
    coeffs: str = "truth"
    val_fraction: float = 0.1
    hidden: tuple[int, ...] | None = None   # None: the official widths scaled with style_dim
    layout: dict | None = None              # None: from the samples' face model / coefficient size
    device: str = "cpu"
    progress: bool = True


def infer_layout(pairs: Pairs, samples: Path, explicit: dict | None) -> CoeffLayout:
    """The coefficient layout: explicit, else the stand-in's face model, else the BFM 257-layout."""
    if explicit:
        return CoeffLayout(**explicit)
    from ..data.shards import read_manifest

    gen = read_manifest(samples).get("generator", {})
    if gen.get("kind") == "standin":
        from styleface.facemodel import load_face_model

        return load_face_model(gen["face_model"]).layout
    layout = CoeffLayout()
    if layout.size != pairs.coeffs.shape[1]:
        from styleface.errors import StyleFaceError

        raise StyleFaceError(f"coefficients have {pairs.coeffs.shape[1]} entries; pass the face model's layout")
    return layout


def train_f3d(opts: F3DOptions, loop: LoopConfig = DEFAULT_LOOP) -> dict:
    """Train (or resume) F3D; write f3d.safetensors + metrics.json to ``opts.out``; return the metrics."""
    pairs = load_pairs(opts.samples, opts.coeffs)
    layout = infer_layout(pairs, Path(opts.samples), opts.layout)
    train, val = pairs.split(opts.val_fraction)
    n_latent, style_dim = pairs.wplus.shape[1:]
    torch.manual_seed(loop.seed)
    net = F3D(n_latent, style_dim, layout, opts.hidden).to(opts.device)
    opt = torch.optim.Adam(net.parameters(), lr=loop.lr)
    dev = opts.device
    tw, tc = train.wplus.to(dev), train.coeffs.to(dev)
    vw, vc = val.wplus.to(dev), val.coeffs.to(dev)
    mean = tc.mean(0, keepdim=True)
    yaw = layout.yaw_index

    def step(idx: torch.Tensor) -> dict[str, float]:
        pred = net(tw[idx])
        loss = (pred - tc[idx]).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"l1": loss.item()}

    def validate() -> dict[str, float]:
        if vw.shape[0] == 0:
            return {}
        pred = torch.cat([net(vw[i:i + 1024]) for i in range(0, vw.shape[0], 1024)])
        return {"l1": float((pred - vc).abs().mean()), "baseline_l1": float((mean - vc).abs().mean()),
                "yaw_error_deg": float((pred[:, yaw] - vc[:, yaw]).abs().mean() * 180 / math.pi),
                "baseline_yaw_error_deg": float((mean[:, yaw] - vc[:, yaw]).abs().mean() * 180 / math.pi),
                **{f"l1_{g}": float((pred[:, layout.slice(g)] - vc[:, layout.slice(g)]).abs().mean())
                   for g, n in layout.sizes().items() if n}}

    config = {"trainer": "f3d", "data": pairs.source, "net": net.config(), "val_fraction": opts.val_fraction}
    state = run_loop(opts.out, train.index.shape[0], {"f3d": net}, opt, step, validate, loop, config, opts.progress)
    net.eval()
    final = state.history[-1] if state.history else {}
    metrics = {"steps": state.step, "epochs": state.epoch, "n_train": int(train.index.shape[0]),
               "n_val": int(val.index.shape[0]), **final}
    save_network(opts.out / "f3d.safetensors", net.cpu())
    atomic_write_text(opts.out / "metrics.json", json.dumps(metrics, indent=1))
    return metrics
