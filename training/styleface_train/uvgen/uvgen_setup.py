"""Everything the UV-generator training needs before its first step: the frozen parts (2D generator,
F3D, yaw symmetry, face model, renderer, perceptual net) and the trained ones (UV generator, D).

Initialisation follows StyleFaceUV: the UV generator's trunk is copied from the 2D generator's
``g_ema`` and D from the checkpoint's ``d`` when their sizes match; otherwise (the procedural stand-in
is not a convolutional network, or other sizes were asked for) they start from seeded random weights,
with a warning. The UV generator's mapping MLP is frozen: it is fed W+ directly and never used.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from styleface.errors import StyleFaceError
from styleface.facemodel import load_face_model
from styleface.facemodel.model import FaceModel
from styleface.nets.discriminator import Discriminator
from styleface.nets.stylegan2 import Generator
from styleface.nets.uvgen import UVGenerator
from styleface.nets.yaw import YawSymmetry
from styleface.render.cameras import PinholeCamera
from styleface.render.face import FaceRenderer

from ..standin.generators import STANDIN, GeneratorHandle, load_generator
from ..common.modelfile import load_f3d, load_network
from .perceptual import build_perceptual
from .uvgen_config import UVGenConfig

DISPLACEMENT_SCALE = 0.01


@dataclass
class UVGenOptions:
    """Inputs and output of a run (what the command line's paths are)."""

    out: Path
    f3d: Path                                   # f3d.safetensors, its run folder, or an F3D checkpoint
    yaw: Path | None = None                     # yaw_symmetry.safetensors or the fyaw run folder
    generator: str | GeneratorHandle = STANDIN  # 'standin', a StyleGAN2 checkpoint path, or a loaded handle
    generator_options: dict[str, Any] = field(default_factory=dict)   # standin_* sizes
    discriminator: Path | None = None           # checkpoint whose 'd' initialises D (default: the generator's)
    face_model: str | None = None               # 'demo' or a path (default: the stand-in's, else demo)
    init_uvgen: Path | None = None              # a trained UV generator to start G from (fine-tuning)


@dataclass
class Frozen:
    handle: GeneratorHandle
    f3d: torch.nn.Module
    yaw: YawSymmetry | None
    face_model: FaceModel
    renderer: FaceRenderer
    perceptual: torch.nn.Module | None
    image_size: int
    uv_mask: torch.Tensor | None                # the face model's, at its own size (see resized_mask)
    d_state_source: Path | None
    description: dict[str, Any]


def load_yaw_symmetry(path: Path) -> YawSymmetry:
    return load_network(path, YawSymmetry, "yaw_symmetry.safetensors", "yaw symmetry",
                        hint=" (the fyaw run's yaw_symmetry.safetensors)")


def _handle(opts: UVGenOptions, device: torch.device) -> tuple[GeneratorHandle, Path | None]:
    if isinstance(opts.generator, GeneratorHandle):
        return opts.generator, opts.discriminator
    if opts.generator == STANDIN:
        return load_generator(STANDIN, opts.generator_options, device), opts.discriminator
    path = Path(opts.generator)
    if not path.is_file():
        raise StyleFaceError(f"generator '{opts.generator}' is neither 'standin' nor an existing checkpoint file")
    return load_generator(str(path), opts.generator_options, device), opts.discriminator or path


def resized_mask(mask: torch.Tensor | None, size: int) -> torch.Tensor | None:
    if mask is None:
        return None
    m = torch.as_tensor(mask).float().view(1, 1, *mask.shape[-2:])
    if m.shape[-1] != size or m.shape[-2] != size:
        m = torch.nn.functional.interpolate(m, size=(size, size), mode="nearest")
    return m[0, 0] > 0.5


def load_frozen(opts: UVGenOptions, cfg: UVGenConfig, device: torch.device) -> Frozen:
    handle, d_source = _handle(opts, device)
    gen = handle.module.to(device).eval().requires_grad_(False)
    f3d = load_f3d(opts.f3d).to(device).requires_grad_(False)
    if (f3d.n_latent, f3d.style_dim) != (handle.n_latent, handle.style_dim):
        raise StyleFaceError(f"F3D takes W+ of {f3d.n_latent} x {f3d.style_dim}, the generator makes "
                             f"{handle.n_latent} x {handle.style_dim}")
    yaw = None
    if cfg.symmetric:
        if opts.yaw is None:
            raise StyleFaceError("the symmetric view needs --yaw (the fyaw run folder or yaw_symmetry.safetensors); "
                                 "use --lambda-mv 0 to train without it")
        yaw = load_yaw_symmetry(opts.yaw).to(device).requires_grad_(False)
        if (yaw.n_latent, yaw.style_dim) != (handle.n_latent, handle.style_dim):
            raise StyleFaceError("the yaw symmetry and the generator disagree on the W+ shape")
    if opts.face_model is not None:
        model = load_face_model(opts.face_model)
    elif isinstance(gen, torch.nn.Module) and hasattr(gen, "face_model"):
        model = gen.face_model
    else:
        model = load_face_model("demo")
    if model.layout.size != f3d.layout.size:
        raise StyleFaceError(f"F3D predicts {f3d.layout.size} coefficients, the face model '{model.name}' takes "
                             f"{model.layout.size}")
    image_size = int(cfg.image_size or handle.size)
    if image_size < 8 or image_size & (image_size - 1):
        raise StyleFaceError(f"the generator makes {image_size} px images; the discriminator needs a power of two "
                             "(pass --image-size to resize the targets)")
    renderer = FaceRenderer(model, PinholeCamera(image_size=image_size), mode=cfg.render_mode,
                            displacement_scale=DISPLACEMENT_SCALE)
    perceptual = build_perceptual(cfg.perceptual, cfg.vgg_weights, cfg.lpips_heads, cfg.seed)
    if perceptual is not None:
        perceptual = perceptual.to(device)
    desc = {"generator": handle.description, "f3d": f3d.config(), "face_model": model.name,
            "yaw": None if yaw is None else yaw.config(), "image_size": image_size}
    return Frozen(handle, f3d, yaw, model, renderer, perceptual, image_size,
                  renderer.uv_mask, d_source, desc)


def load_init_uvgen(path: Path, frozen: Frozen, cfg: UVGenConfig) -> UVGenerator:
    """A trained UV generator to fine-tune; its size and style size must be this run's."""
    path = Path(path)
    net = load_network(path, UVGenerator, "uvgen.safetensors", "--init-uvgen")
    if net.size != cfg.uv_size or net.style_dim != frozen.handle.style_dim:
        raise StyleFaceError(f"--init-uvgen {path} is a {net.size} px UV generator for style size "
                             f"{net.style_dim}; this run needs {cfg.uv_size} px and style size "
                             f"{frozen.handle.style_dim}")
    return net


def build_uvgen(frozen: Frozen, cfg: UVGenConfig, init: Path | None = None) -> tuple[UVGenerator, str]:
    """The UV generator: ``init`` when given (its widths, not ``--channel-*``, apply); else the 2D
    generator's trunk when it is a StyleGAN2 of size uv_size; else random."""
    gen = frozen.handle.module
    if init is not None:
        uv = load_init_uvgen(init, frozen, cfg).cpu()
        how = f"file {Path(init).name}"
    elif isinstance(gen, Generator) and gen.size == cfg.uv_size:
        uv = UVGenerator.from_generator(gen, seed=cfg.seed).cpu()
        how = "2d"
    else:
        why = ("the stand-in is not a StyleGAN2 network" if not isinstance(gen, Generator)
               else f"the generator is {gen.size} px, the UV maps {cfg.uv_size} px")
        warnings.warn(f"UV generator starts from random weights ({why})", stacklevel=2)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            uv = UVGenerator(cfg.uv_size, style_dim=frozen.handle.style_dim, n_mlp=1,
                             channel_multiplier=cfg.channel_multiplier, channel_max=cfg.channel_max)
        how = "random"
    uv.style.requires_grad_(False)
    return uv.train(), how


def build_discriminator(frozen: Frozen, cfg: UVGenConfig) -> tuple[Discriminator, str]:
    """D from the checkpoint's ``d`` when it exists and its size is the image size, else random."""
    why = "the generator is the stand-in"
    if frozen.d_state_source is not None:
        from styleface.nets import load_stylegan2

        d = load_stylegan2(frozen.d_state_source).discriminator()
        if d is not None and d.size == frozen.image_size:
            return d.float().train(), "checkpoint"
        why = (f"{frozen.d_state_source.name} has no discriminator" if d is None
               else f"its discriminator is {d.size} px, the images {frozen.image_size} px")
    warnings.warn(f"discriminator starts from random weights ({why})", stacklevel=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed + 1)
        d = Discriminator(frozen.image_size, channel_multiplier=cfg.channel_multiplier, channel_max=cfg.channel_max)
    return d.train(), "random"
