"""Build the embedded interim demo bundle from the procedural stand-in by supervised distillation.

The stand-in's truth is known, so until the paper's self-supervised UV-generator training (training
part 2) produces the shipped bundle, the demo bundle's networks are fitted directly to that truth:
F3D to the true coefficients (L1), the UV generator to the true diffuse and displacement maps (L1), the
yaw direction by a linear SVM on F3D's yaw predictions (the paper's recipe), Fyaw so that
F3D(w + Fyaw(w) d) has the opposite yaw. The mapping network is the stand-in's own, copied exactly.

    python -m styleface_train.demo_bundle --out backend/styleface/data/demo_bundle
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from styleface import __version__
from styleface.bundle import BundleManifest, write_bundle
from styleface.nets.f3d import F3D
from styleface.nets.mapping import MappingNetwork
from styleface.nets.uvgen import UVGenerator
from styleface.nets.yaw import Fyaw, YawSymmetry

from .standin import DISPLACEMENT_SCALE, StandInConfig, StandInGenerator

DEMO_ID = "styleface-demo-standin-v1"


def standin_mapping(standin: StandInGenerator) -> MappingNetwork:
    """The stand-in's z -> w as a bundle MappingNetwork (same weights, same result)."""
    lat = standin.latent
    m = MappingNetwork(standin.style_dim, lat.mlp.shape[0], standin.n_latent, gain=math.sqrt(2 / 1.04))
    with torch.no_grad():
        m.weight.copy_(lat.mlp)
        m.bias.copy_(lat.mlp_bias)
        m.latent_avg.copy_(lat.latent_avg)
    return m


def _sample_w(standin: StandInGenerator, batch: int, gen: torch.Generator) -> torch.Tensor:
    """W+ codes with truncation drawn in [0.5, 1] so both typical and average faces are covered."""
    z = torch.randn(batch, standin.style_dim, generator=gen)
    psi = torch.empty(batch, 1).uniform_(0.5, 1.0, generator=gen)
    w = standin.mapping(z)
    w = standin.latent_avg + psi * (w - standin.latent_avg)
    return w.unsqueeze(1).expand(-1, standin.n_latent, -1).contiguous()


def _fit(params, lr: float, steps: int, step_loss: Callable[[], tuple[torch.Tensor, str]],
         log_every: int, log: Callable[[str], None], label: str) -> None:
    """Adam with cosine decay to 5% of ``lr``; ``step_loss`` draws a batch and returns (loss, log text)."""
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1), eta_min=lr * 0.05)
    for step in range(steps):
        loss, text = step_loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % log_every == 0 or step == steps - 1:
            log(f"{label} {step:5d} {text}")


def build_demo_bundle(out: Path, *, uv_size: int = 64, style_dim: int = 128, f3d_steps: int = 1500,
                      uv_steps: int = 600, fyaw_steps: int = 600, batch: int = 16, seed: int = 0,
                      svm_samples: int = 20_000, log: Callable[[str], None] = print, overwrite: bool = False) -> Path:
    t_start = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    n_latent = 2 * int(round(math.log2(uv_size))) - 2
    standin = StandInGenerator(StandInConfig(style_dim=style_dim, n_latent=n_latent, image_size=64,
                                             texture_size=uv_size, seed=seed))
    model = standin.face_model
    yi = model.layout.yaw_index
    report: dict[str, float] = {}

    f3d = F3D(n_latent, style_dim, model.layout, hidden=(512, 256, 128))
    def f3d_loss() -> tuple[torch.Tensor, str]:
        with torch.no_grad():
            w = _sample_w(standin, batch * 4, gen)
            target = standin.coefficients(w)
        loss = (f3d(w) - target).abs().mean()
        return loss, f"L1 {loss.item():.4f}"

    _fit(f3d.parameters(), 1e-3, f3d_steps, f3d_loss, 250, log, "f3d")
    f3d.eval().requires_grad_(False)
    with torch.no_grad():
        w = _sample_w(standin, 2000, gen)
        target = standin.coefficients(w)
        report["f3d_val_l1"] = float((f3d(w) - target).abs().mean())
        report["f3d_mean_baseline_l1"] = float((target - target.mean(0)).abs().mean())
        report["f3d_val_yaw_mae_deg"] = float((f3d(w)[:, yi] - target[:, yi]).abs().mean() * 180 / math.pi)

    # Yaw direction: SVM on F3D's yaw over many codes, top and bottom 2% (StyleFaceUV's recipe).
    from sklearn.svm import LinearSVC

    with torch.no_grad():
        w = _sample_w(standin, svm_samples, gen)
        yaw = f3d(w)[:, yi]
    k = max(10, int(0.02 * svm_samples))
    order = torch.argsort(yaw)
    idx = torch.cat([order[:k], order[-k:]])
    x = w[idx].reshape(len(idx), -1).numpy()
    y = np.r_[np.zeros(k), np.ones(k)]
    svm = LinearSVC(C=1.0, max_iter=20_000).fit(x, y)
    report["svm_train_accuracy"] = float(svm.score(x, y))
    direction = torch.as_tensor(svm.coef_[0], dtype=torch.float32).reshape(n_latent, style_dim)

    sym = YawSymmetry(n_latent, style_dim, hidden=(256, 64))
    sym.set_direction(direction)
    def fyaw_loss() -> tuple[torch.Tensor, str]:
        with torch.no_grad():
            w = _sample_w(standin, batch * 4, gen)
            yaw0 = standin.coefficients(w)[:, yi]
        loss = (f3d(sym(w))[:, yi] + yaw0).abs().mean()
        return loss, f"|yaw_sym + yaw| {loss.item() * 180 / math.pi:.2f} deg"

    _fit(sym.fyaw.parameters(), 1e-3, fyaw_steps, fyaw_loss, 200, log, "fyaw")
    sym.eval().requires_grad_(False)
    with torch.no_grad():
        w = _sample_w(standin, 2000, gen)
        yaw0 = standin.coefficients(w)[:, yi]
        yaw_sym = standin.coefficients(sym(w))[:, yi]
        report["fyaw_true_yaw_residual_deg"] = float((yaw_sym + yaw0).abs().mean() * 180 / math.pi)

    uvgen = UVGenerator(uv_size, style_dim=style_dim, n_mlp=1, channel_max=48,
                        channels={uv_size: 24, uv_size // 2: 32})
    def uv_loss() -> tuple[torch.Tensor, str]:
        with torch.no_grad():
            w = _sample_w(standin, batch, gen)
            diffuse, disp = standin.maps(w)
        d, p = uvgen(w, noise="const")
        loss_d = (d - diffuse).abs().mean()
        loss_p = (p - disp).abs().mean()
        return loss_d + 2.0 * loss_p, f"L1 diffuse {loss_d.item():.4f} displacement {loss_p.item():.4f}"

    _fit([p for n, p in uvgen.named_parameters() if not n.startswith("style.")], 2e-3, uv_steps, uv_loss, 100,
         log, "uvgen")
    uvgen.eval().requires_grad_(False)
    with torch.no_grad():
        w = _sample_w(standin, 64, gen)
        diffuse, disp = standin.maps(w)
        d, p = uvgen(w, noise="const")
        report["uv_val_l1_diffuse"] = float((d - diffuse).abs().mean())
        report["uv_val_l1_displacement"] = float((p - disp).abs().mean())
        report["uv_mean_baseline_l1_diffuse"] = float((diffuse - diffuse.mean(0)).abs().mean())

    seconds = time.perf_counter() - t_start
    manifest = BundleManifest(
        id=DEMO_ID, name="StyleFace demo (procedural stand-in)",
        description="Interim demo: networks distilled from the procedural StyleGAN2 stand-in's ground truth "
                    "(supervised), on the procedural demo head. Not trained with the paper's self-supervised "
                    "rendering loop yet.",
        face_model={"builtin": "demo"}, n_latent=n_latent, style_dim=style_dim, uv_resolution=uv_size,
        networks={}, truncation=0.8,
        provenance={"builder": "styleface_train.demo_bundle", "styleface": __version__,
                    "torch": torch.__version__, "seed": seed,
                    "steps": {"f3d": f3d_steps, "fyaw": fyaw_steps, "uvgen": uv_steps}, "batch": batch,
                    "standin": standin.config_dict(), "seconds": round(seconds, 1), "metrics": report,
                    "command": " ".join(["python -m styleface_train.demo_bundle"] + sys.argv[1:])},
        licence="GPL-3.0-or-later; trained by StyleFace on its own procedural data (no third-party data).")
    assert DISPLACEMENT_SCALE == manifest.displacement.scale
    path = write_bundle(out, manifest, {"mapping": standin_mapping(standin), "f3d": f3d, "yaw": sym,
                                        "uvgen": uvgen}, overwrite=overwrite)
    log(f"wrote {path} in {seconds:.0f} s; metrics: {report}")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m styleface_train.demo_bundle", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--uv-size", type=int, default=64)
    p.add_argument("--style-dim", type=int, default=128)
    p.add_argument("--f3d-steps", type=int, default=1500)
    p.add_argument("--uv-steps", type=int, default=600)
    p.add_argument("--fyaw-steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--svm-samples", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true")
    a = p.parse_args(argv)
    build_demo_bundle(a.out, uv_size=a.uv_size, style_dim=a.style_dim, f3d_steps=a.f3d_steps, uv_steps=a.uv_steps,
                      fyaw_steps=a.fyaw_steps, batch=a.batch, seed=a.seed, svm_samples=a.svm_samples,
                      overwrite=a.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
