"""Helpers of the UV-generator training tests: a quickly fitted tiny F3D and yaw symmetry for the toy
stand-in (written once per session with ``styleface.nets.io``), and tiny training configurations."""
from __future__ import annotations

from pathlib import Path

import torch
from styleface.nets.f3d import F3D
from styleface.nets.yaw import YawSymmetry
from trainhelpers import generator_args, small_config

from styleface_train.standin.generators import GeneratorHandle
from styleface_train.common.modelfile import save_network
from styleface_train.standin import StandInGenerator
from styleface_train.uvgen.uvgen_config import UVGenConfig
from styleface_train.uvgen.uvgen_setup import UVGenOptions


def _wplus(standin: StandInGenerator, n: int, gen: torch.Generator) -> torch.Tensor:
    return standin.to_wplus(torch.randn(n, standin.style_dim, generator=gen))


def fit_parts(standin: StandInGenerator, folder: Path, steps: int = 150) -> tuple[Path, Path]:
    """F3D fitted to the stand-in's true coefficients and Fyaw fitted so the true yaw flips (a few
    hundred Adam steps on tiny MLPs: good enough for renders that overlap the targets)."""
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        layout = standin.face_model.layout
        f3d = F3D(standin.n_latent, standin.style_dim, layout, hidden=(128,))
        opt = torch.optim.Adam(f3d.parameters(), lr=3e-3)
        for _ in range(steps):
            w = _wplus(standin, 64, gen)
            loss = (f3d(w) - standin.coefficients(w)).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        f3d.eval().requires_grad_(False)
        sym = YawSymmetry(standin.n_latent, standin.style_dim, hidden=(32,))
        sym.set_direction(standin.latent.factor_direction("yaw"))
        yi = layout.yaw_index
        opt = torch.optim.Adam(sym.fyaw.parameters(), lr=3e-3)
        for _ in range(steps):
            w = _wplus(standin, 64, gen)
            loss = (standin.coefficients(sym(w))[:, yi] + standin.coefficients(w)[:, yi]).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    folder.mkdir(parents=True, exist_ok=True)
    save_network(folder / "f3d.safetensors", f3d)
    save_network(folder / "yaw_symmetry.safetensors", sym.eval())
    return folder / "f3d.safetensors", folder / "yaw_symmetry.safetensors"


_PARTS: dict = {}


def parts_for(standin: StandInGenerator, folder: Path) -> tuple[Path, Path]:
    """fit_parts once per session for each stand-in configuration (the first caller's folder holds them)."""
    if standin.config not in _PARTS:
        _PARTS[standin.config] = fit_parts(standin, folder)
    return _PARTS[standin.config]


def uvgen_standin(toy_npz: Path, toy_model) -> StandInGenerator:
    """The toy stand-in with 8 W+ rows (a 32 px UV generator reads 8) and 32 px images."""
    return StandInGenerator(small_config(toy_npz, n_latent=8, image_size=32), model=toy_model).eval()


def uvgen_options(out: Path, standin: StandInGenerator, parts: tuple[Path, Path], *, yaw: bool = True,
                  **kw) -> UVGenOptions:
    """Options of a run on an already loaded stand-in with the F3D / yaw symmetry of ``parts``."""
    return UVGenOptions(out=out, f3d=parts[0], yaw=parts[1] if yaw else None,
                        generator=GeneratorHandle(standin, standin.config_dict(), True), **kw)


def cli_generator_args(toy_npz: Path) -> list[str]:
    return [*generator_args(toy_npz), "--standin-n-latent", "8", "--standin-image-size", "32"]


def tiny_config(**kw) -> UVGenConfig:
    """(32 px UV maps with an 8-row stand-in) 16-wide networks, batch 2, random perceptual net: a step takes well under a second."""
    base = dict(batch_size=2, channel_max=16, channel_multiplier=1, perceptual="random",
                steps=3, checkpoint_every=100, image_every=0, val_batches=1, progress=False, n_critic=2,
                d_reg_every=2, max_yaw_deg=40.0)
    base.update(kw)
    return UVGenConfig(**base)
