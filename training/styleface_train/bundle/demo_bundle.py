"""Build the *distilled* demo bundle (v1) from the procedural stand-in by supervised distillation.

The stand-in's truth is known, so its networks can be fitted directly to that truth: F3D to the true
coefficients (L1), the UV generator to the true diffuse and displacement maps (texel-weighted L1, see
``UVFit``), the yaw direction by a linear SVM on F3D's yaw predictions (the paper's recipe), Fyaw so that
F3D(w + Fyaw(w) d) has the opposite yaw. The mapping network is the stand-in's own, copied exactly.
Validation metrics, each next to its mean baseline, go into the provenance. It was the shipped default
until the paper's self-supervised pipeline (``styleface-train all``) produced it (v2); it stays as a
sharper-featured reference that is not the paper's method:

    python -m styleface_train.bundle.demo_bundle --out bundles/distilled

takes about 40 minutes on one CPU thread (``--threads``, default 1: on small shared machines more
threads made the small operations several times slower); the log gives the time per step early.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from styleface import __version__
from styleface.bundle import BundleManifest, write_bundle
from styleface.nets.f3d import F3D
from styleface.nets.uvgen import UVGenerator
from styleface.nets.yaw import YawSymmetry
from styleface.texture import UVLayers

from .export import standin_mapping
from ..standin import DISPLACEMENT_SCALE, StandInConfig, StandInGenerator

DEMO_ID = "styleface-demo-standin-v1"


def _sample_w(standin: StandInGenerator, batch: int, gen: torch.Generator) -> torch.Tensor:
    """W+ codes with truncation drawn in [0.5, 1] so both typical and average faces are covered."""
    z = torch.randn(batch, standin.style_dim, generator=gen)
    psi = torch.empty(batch, 1).uniform_(0.5, 1.0, generator=gen)
    w = standin.mapping(z)
    w = standin.latent_avg + psi * (w - standin.latent_avg)
    return w.unsqueeze(1).expand(-1, standin.n_latent, -1).contiguous()


def _schedule(steps: int, warmup: int) -> Callable[[int], float]:
    """Linear warm-up, then cosine decay to 5% of each group's learning rate."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    return factor


def _fit(params, lr: float, steps: int, step_loss: Callable[[], tuple[torch.Tensor, str]],
         log_every: int, log: Callable[[str], None], label: str, warmup: int = 0) -> None:
    """Adam, optional warm-up, cosine decay to 5% of ``lr``; ``params`` may be Adam parameter groups.
    ``step_loss`` draws a batch and returns (loss, log text). Logs the measured time per step early."""
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(steps, warmup))
    t0 = time.perf_counter()
    for step in range(steps):
        loss, text = step_loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step == min(10, steps - 1):
            per = (time.perf_counter() - t0) / (step + 1)
            log(f"{label}: {per:.3f} s/step, about {per * steps / 60:.1f} min for {steps} steps")
        if step % log_every == 0 or step == steps - 1:
            log(f"{label} {step:5d} {text}")


def fit_f3d(standin: StandInGenerator, steps: int, batch: int, gen: torch.Generator,
            log: Callable[[str], None]) -> tuple[F3D, dict[str, float]]:
    """F3D regressed onto the true coefficients (L1)."""
    model = standin.face_model
    yi = model.layout.yaw_index
    f3d = F3D(standin.n_latent, standin.style_dim, model.layout, hidden=(512, 256, 128))

    def f3d_loss() -> tuple[torch.Tensor, str]:
        with torch.no_grad():
            w = _sample_w(standin, batch * 4, gen)
            target = standin.coefficients(w)
        loss = (f3d(w) - target).abs().mean()
        return loss, f"L1 {loss.item():.4f}"

    _fit(f3d.parameters(), 1e-3, steps, f3d_loss, 250, log, "f3d")
    f3d.eval().requires_grad_(False)
    with torch.no_grad():
        w = _sample_w(standin, 2000, gen)
        target = standin.coefficients(w)
        pred = f3d(w)
    return f3d, {"f3d_val_l1": float((pred - target).abs().mean()),
                 "f3d_mean_baseline_l1": float((target - target.mean(0)).abs().mean()),
                 "f3d_val_yaw_mae_deg": float((pred[:, yi] - target[:, yi]).abs().mean() * 180 / math.pi)}


def fit_yaw(standin: StandInGenerator, f3d: F3D, steps: int, batch: int, svm_samples: int, gen: torch.Generator,
            log: Callable[[str], None]) -> tuple[YawSymmetry, dict[str, float]]:
    """Yaw direction by a linear SVM on F3D's yaw (top and bottom 2%, StyleFaceUV's recipe), then Fyaw
    trained so that F3D(w + Fyaw(w) d) has the opposite yaw."""
    from sklearn.svm import LinearSVC

    yi = standin.face_model.layout.yaw_index
    n_latent, style_dim = standin.n_latent, standin.style_dim
    report: dict[str, float] = {}
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

    _fit(sym.fyaw.parameters(), 1e-3, steps, fyaw_loss, 200, log, "fyaw")
    sym.eval().requires_grad_(False)
    with torch.no_grad():
        w = _sample_w(standin, 2000, gen)
        yaw0 = standin.coefficients(w)[:, yi]
        yaw_sym = standin.coefficients(sym(w))[:, yi]
        report["fyaw_true_yaw_residual_deg"] = float((yaw_sym + yaw0).abs().mean() * 180 / math.pi)
    return sym, report


@dataclass(frozen=True)
class UVFit:
    """How the UV generator is distilled.

    Why these choices: the stand-in's maps are fixed layers (eyes, lips, brows, pores, moles) mixed with
    w-dependent weights, so the network must first store full-resolution spatial templates, then learn
    how w mixes them. With rosinality's initialisation the stand-in's w swings every modulation by
    about +-60%, so early outputs are w-dependent colour blobs and the template is never found (the
    previous build was worse than the mean map); ``style_init`` scales the modulation weights down so
    training starts nearly w-independent. The displacement head adds the previous resolution's RGB skip
    (the official architecture), which leaked diffuse blobs into the displacement; ``skip_penalty`` keeps
    that skip small. The fixed noise maps the pipeline feeds (``noise='const'``) are saved with the
    network, so they are trained as per-layer spatial inputs (``learn_noise``, from zero with strength
    ``noise_strength``): convolutions are translation-equivariant, so texel-level detail can only enter
    there. The loss is L1 weighted per texel: texels the mesh uses count fully, the small facial
    features ``feature_weight`` times more, unused texels ``outside_weight``. In 400-step trials at
    128 px these changes took the displacement L1 from 0.064 to 0.017 and let the diffuse reach the
    mean-map baseline, which the full run then beat by 2.6x.

    The small ``style_init`` leaves every layer only weakly w-dependent, and Adam grows the modulation
    weights slowly, so a colour that is a non-linear function of w (the iris: a softmax blend of six
    colours) stays at what a linear map of w can do. ``modulation_lr`` (a multiplier of their learning
    rate) and ``iris_weight`` (extra loss weight on iris texels) are the late-stage lever: on the ICT world
    400 steps with the irises weighted 40 stopped at 0.55 of the mean map's iris L1 (from 0.57), the
    irises alone in the loss at 0.53, and the modulation rate at 20x reached 0.49 (2,400 steps: 0.42).
    """

    size: int = 128
    channels: tuple[tuple[int, int], ...] = ((128, 24), (64, 32), (32, 48))
    channel_max: int = 64
    steps: int = 2500
    batch: int = 16
    lr: float = 2e-3
    noise_lr: float = 1e-2
    warmup: int = 100
    learn_noise: bool = True
    noise_init: str = "zero"  # 'zero' or 'random' (the generator's own random buffers)
    noise_strength: float = 1.0  # initial noise-injection weight when learning the maps (0 stalls their training)
    disp_weight: float = 2.0  # displacement L1 weight relative to diffuse
    style_init: float = 0.1  # scale of the initial modulation weights: start nearly independent of w
    skip_penalty: float = 1.0  # L1 on the RGB skip that the displacement head adds (keeps it free of diffuse)
    feature_weight: float = 4.0
    iris_weight: float = 0.0  # extra weight of iris texels on top of feature_weight (colour is all they carry)
    modulation_lr: float = 1.0  # learning-rate multiplier of the modulation (w -> style) weights
    outside_weight: float = 0.05
    init: str | None = None  # continue from this trained UV generator (uvgen.safetensors, its noise maps too)


def uv_texel_weights(standin: StandInGenerator, size: int, feature_weight: float, outside_weight: float,
                     iris_weight: float = 0.0) -> torch.Tensor:
    """(1, 1, T, T) loss weights with mean 1 over the map (see UVFit)."""
    from scipy import ndimage

    layers = UVLayers.for_model(standin.face_model, size)
    used = ndimage.binary_dilation(layers.covered, iterations=1)
    feat = sum(layers.region(k) for k in ("eyes", "iris", "lips", "brows", "mouth_interior"))
    bank = standin.textures
    if bank.size == size:
        feat = feat + bank.moles.sum(0).numpy() + bank.scar.numpy()
    feat = np.clip(feat, 0, 1)
    w = np.where(used, 1.0 + feature_weight * feat + iris_weight * layers.region("iris"), outside_weight)
    w = w.astype(np.float32)
    return torch.from_numpy(w / w.mean())[None, None]


def _mean_maps(standin: StandInGenerator, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The stand-in's mean diffuse and displacement maps (the baseline a UV generator must beat)."""
    sd = sp = 0.0
    with torch.no_grad():
        for _ in range(n // 64):
            d, p = standin.maps(_sample_w(standin, 64, gen))
            sd, sp = sd + d.sum(0), sp + p.sum(0)
    k = 64 * (n // 64)
    return sd / k, sp / k


def _is_modulation(name: str) -> bool:
    """The w -> style weights of a modulated convolution (scaled by style_init, stepped at modulation_lr)."""
    return name.endswith("modulation.weight")


def fit_uvgen(standin: StandInGenerator, cfg: UVFit, gen: torch.Generator, log: Callable[[str], None],
              val_seed: int = 1234) -> tuple[UVGenerator, dict[str, float]]:
    """UV generator distilled onto the stand-in's true diffuse and displacement maps (weighted L1)."""
    for name in ("feature_weight", "iris_weight", "modulation_lr", "outside_weight"):
        if getattr(cfg, name) < 0:
            raise ValueError(f"{name} must be >= 0, got {getattr(cfg, name)}")
    if cfg.init is not None:
        from styleface.nets.io import load_model

        uvgen = load_model(cfg.init)
        if not isinstance(uvgen, UVGenerator) or uvgen.size != cfg.size:
            raise ValueError(f"--uv-init {cfg.init} is not a {cfg.size} px UV generator")
    else:  # a fresh network: nearly w-independent, noise injected at noise_strength when its maps are learned
        uvgen = UVGenerator(cfg.size, style_dim=standin.style_dim, n_mlp=1, channel_max=cfg.channel_max,
                            channels=dict(cfg.channels))
        with torch.no_grad():
            for name, t in uvgen.named_parameters():
                if _is_modulation(name):
                    t.mul_(cfg.style_init)
            if cfg.learn_noise:
                for layer in [uvgen.conv1, *uvgen.convs]:
                    layer.noise.weight.fill_(cfg.noise_strength)
    if uvgen.n_latent != standin.n_latent:
        raise ValueError(f"UV size {cfg.size} needs n_latent {uvgen.n_latent}, the stand-in has {standin.n_latent}")
    weights = uv_texel_weights(standin, cfg.size, cfg.feature_weight, cfg.outside_weight, cfg.iris_weight)
    noise: list[torch.Tensor] | str = "const"
    trained = [(n, p) for n, p in uvgen.named_parameters() if not n.startswith("style.")]
    groups = [{"params": [p for n, p in trained if not _is_modulation(n)]},
              {"params": [p for n, p in trained if _is_modulation(n)], "lr": cfg.lr * cfg.modulation_lr}]
    if cfg.learn_noise:
        if cfg.noise_init not in ("random", "zero"):
            raise ValueError(f"noise_init must be zero or random, got {cfg.noise_init!r}")
        if cfg.init is not None or cfg.noise_init == "random":  # its fixed maps: trained ones when continuing
            init = [b.clone() for b in uvgen.resolve_noise("const", 1)]
        else:
            init = [torch.zeros(1, 1, r, r) for r in uvgen.noise_shapes()]
        noise = [torch.nn.Parameter(m) for m in init]
        groups.append({"params": noise, "lr": cfg.noise_lr})

    def wl1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ((a - b).abs() * weights).mean()

    def uv_loss() -> tuple[torch.Tensor, str]:
        with torch.no_grad():
            w = _sample_w(standin, cfg.batch, gen)
            diffuse, disp = standin.maps(w)
        # UVGenerator.forward, keeping the skip: the displacement head adds the previous resolution's RGB.
        rgb, features, prev_skip = uvgen.synthesis_features(w, noise=noise)
        d = (torch.tanh(rgb) + 1) * 0.5
        p = torch.tanh(uvgen.uv_conv(features, w[:, -1], prev_skip))
        loss_d, loss_p = wl1(d, diffuse), wl1(p, disp)
        loss = loss_d + cfg.disp_weight * loss_p + cfg.skip_penalty * prev_skip.abs().mean()
        return loss, f"weighted L1 diffuse {loss_d.item():.4f} displacement {loss_p.item():.4f}"

    _fit(groups, cfg.lr, cfg.steps, uv_loss, 100, log, "uvgen", warmup=cfg.warmup)
    if cfg.learn_noise:
        with torch.no_grad():
            for i, m in enumerate(noise):
                getattr(uvgen.noises, f"noise_{i}").copy_(m)
    uvgen.eval().requires_grad_(False)
    return uvgen, uv_metrics(standin, uvgen, weights, val_seed)


def uv_metrics(standin: StandInGenerator, uvgen: UVGenerator, weights: torch.Tensor, seed: int,
               n: int = 256) -> dict[str, float]:
    """Validation L1 of the UV generator (whole map and texel-weighted) next to the mean-map baseline."""
    mean_d, mean_p = _mean_maps(standin, 2048, torch.Generator().manual_seed(seed + 1))
    gen = torch.Generator().manual_seed(seed)
    acc = {k: 0.0 for k in ("d", "p", "bd", "bp", "wd", "wp", "wbd", "wbp")}
    with torch.no_grad():
        for _ in range(n // 64):
            w = _sample_w(standin, 64, gen)
            diffuse, disp = standin.maps(w)
            d, p = uvgen(w, noise="const")
            for key, err in (("d", d - diffuse), ("p", p - disp), ("bd", mean_d - diffuse), ("bp", mean_p - disp)):
                acc[key] += float(err.abs().mean())
                acc["w" + key] += float((err.abs() * weights).mean())
    k = n // 64
    r = {k2: v / k for k2, v in acc.items()}
    return {"uv_val_l1_diffuse": r["d"], "uv_mean_baseline_l1_diffuse": r["bd"],
            "uv_val_l1_displacement": r["p"], "uv_mean_baseline_l1_displacement": r["bp"],
            "uv_val_weighted_l1_diffuse": r["wd"], "uv_mean_baseline_weighted_l1_diffuse": r["wbd"],
            "uv_val_weighted_l1_displacement": r["wp"], "uv_mean_baseline_weighted_l1_displacement": r["wbp"]}


def build_demo_bundle(out: Path, *, uv: UVFit = UVFit(), style_dim: int = 128, f3d_steps: int = 1500,
                      fyaw_steps: int = 600, batch: int = 16, seed: int = 0, svm_samples: int = 20_000,
                      log: Callable[[str], None] = print, overwrite: bool = False,
                      command: str | None = None, face_model: str = "demo", image_size: int = 64,
                      bundle_id: str = DEMO_ID) -> Path:
    """Distil all networks from the stand-in and write the bundle to ``out``."""
    t_start = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    n_latent = 2 * int(round(math.log2(uv.size))) - 2
    standin = StandInGenerator(StandInConfig(style_dim=style_dim, n_latent=n_latent, image_size=image_size,
                                             texture_size=uv.size, seed=seed, face_model=face_model))
    f3d, report = fit_f3d(standin, f3d_steps, batch, gen, log)
    sym, yaw_report = fit_yaw(standin, f3d, fyaw_steps, batch, svm_samples, gen, log)
    uvgen, uv_report = fit_uvgen(standin, uv, gen, log, val_seed=seed + 1234)
    report.update(yaw_report)
    report.update(uv_report)

    seconds = time.perf_counter() - t_start
    if command is None:
        command = " ".join(["python -m styleface_train.bundle.demo_bundle"] + sys.argv[1:])
    manifest = BundleManifest(
        id=bundle_id, name=f"StyleFace distilled ({face_model} stand-in)",
        description="Distilled: networks fitted to the procedural StyleGAN2 stand-in's ground truth "
                    f"(supervised), on the built-in '{face_model}' head; not the paper's self-supervised rendering "
                    "loop (a starting point for it: styleface-train all --init-uvgen).",
        face_model={"builtin": face_model}, n_latent=n_latent, style_dim=style_dim, uv_resolution=uv.size,
        networks={}, truncation=0.8,
        provenance={"builder": "styleface_train.bundle.demo_bundle", "styleface": __version__,
                    "torch": torch.__version__, "threads": torch.get_num_threads(), "seed": seed,
                    "steps": {"f3d": f3d_steps, "fyaw": fyaw_steps, "uvgen": uv.steps}, "batch": batch,
                    "uv_fit": {k: (dict(v) if k == "channels" else v) for k, v in asdict(uv).items()},
                    "standin": standin.config_dict(), "seconds": round(seconds, 1), "metrics": report,
                    "command": command},
        licence="GPL-3.0-or-later; trained by StyleFace on its own procedural data (no third-party data).")
    assert DISPLACEMENT_SCALE == manifest.displacement.scale
    networks = {"mapping": standin_mapping(standin), "f3d": f3d, "yaw": sym, "uvgen": uvgen}
    from styleface.standin.network import StandInImageGenerator  # its 2D images, for `styleface views`
    networks["generator2d"] = StandInImageGenerator.from_standin(standin)
    path = write_bundle(out, manifest, networks, overwrite=overwrite)
    log(f"wrote {path} in {seconds:.0f} s; metrics: {report}")
    return path


def _channels(text: str) -> tuple[tuple[int, int], ...]:
    """'128:24,64:32' -> ((128, 24), (64, 32))."""
    try:
        return tuple((int(a), int(b)) for a, b in (item.split(":") for item in text.split(",") if item))
    except ValueError:
        raise argparse.ArgumentTypeError(f"channels must look like 128:24,64:32, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    d = UVFit()
    p = argparse.ArgumentParser(prog="python -m styleface_train.bundle.demo_bundle", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: on small shared machines more threads are slower)")
    p.add_argument("--style-dim", type=int, default=128)
    p.add_argument("--face-model", default="demo", help="the stand-in's built-in head: demo (default) or ict")
    p.add_argument("--image-size", type=int, default=64, help="the stand-in's image size (its 2D generator's)")
    p.add_argument("--bundle-id", default=DEMO_ID)
    p.add_argument("--f3d-steps", type=int, default=1500)
    p.add_argument("--fyaw-steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=16, help="batch of the F3D and Fyaw fits (x4 codes)")
    p.add_argument("--svm-samples", type=int, default=20_000)
    p.add_argument("--uv-size", type=int, default=d.size)
    p.add_argument("--uv-channels", type=_channels, default=d.channels, help="e.g. 128:24,64:32,32:48")
    p.add_argument("--uv-channel-max", type=int, default=d.channel_max)
    p.add_argument("--uv-steps", type=int, default=d.steps)
    p.add_argument("--uv-batch", type=int, default=d.batch)
    p.add_argument("--uv-lr", type=float, default=d.lr)
    p.add_argument("--uv-noise-lr", type=float, default=d.noise_lr)
    p.add_argument("--uv-fixed-noise", action="store_true", help="keep the noise maps random (not trained)")
    p.add_argument("--uv-feature-weight", type=float, default=d.feature_weight,
                   help=f"loss weight of eyes, iris, lips, brows, mouth texels over other skin (default {d.feature_weight:g})")
    p.add_argument("--uv-iris-weight", type=float, default=d.iris_weight,
                   help="extra loss weight of iris texels (their colour is a non-linear function of w; default 0)")
    p.add_argument("--uv-modulation-lr", type=float, default=d.modulation_lr,
                   help="learning-rate multiplier of the modulation (w -> style) weights (default 1)")
    p.add_argument("--uv-init", help="continue from this trained UV generator (uvgen.safetensors)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, a.threads))
    uv = UVFit(size=a.uv_size, channels=a.uv_channels, channel_max=a.uv_channel_max, steps=a.uv_steps,
               batch=a.uv_batch, lr=a.uv_lr, noise_lr=a.uv_noise_lr, learn_noise=not a.uv_fixed_noise,
               feature_weight=a.uv_feature_weight, init=a.uv_init,
               iris_weight=a.uv_iris_weight, modulation_lr=a.uv_modulation_lr, warmup=50 if a.uv_init else d.warmup)
    cmd = " ".join(["python -m styleface_train.bundle.demo_bundle"] + list(sys.argv[1:] if argv is None else argv))
    build_demo_bundle(a.out, uv=uv, style_dim=a.style_dim, f3d_steps=a.f3d_steps, fyaw_steps=a.fyaw_steps,
                      batch=a.batch, seed=a.seed, svm_samples=a.svm_samples, overwrite=a.force, command=cmd,
                      face_model=a.face_model, image_size=a.image_size, bundle_id=a.bundle_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
