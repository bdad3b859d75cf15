"""Loading pre-trained StyleGAN2 weights: rosinality ``.pt`` and NVlabs stylegan2-ada-pytorch ``.pkl``.

Both end in the rosinality layout and the same :class:`Generator`. Nothing in a file is executed:
``.pt`` files go through ``torch.load(weights_only=True)`` (plus ``argparse.Namespace``, which
rosinality's ``train.py`` stores as ``args``), ``.pkl`` files through a restricted unpickler.
"""
from __future__ import annotations

import argparse
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from ..errors import StyleFaceError
from .nvlabs import nvlabs_networks
from .nvlabs_pickle import load_network_pickle
from .safeload import existing_file, load_torch_file
from .stylegan2 import Discriminator, Generator

# rosinality train.py checkpoints: {g, d, g_ema, g_optim, d_optim, args (Namespace), ada_aug_p}.
ROSINALITY_ALLOW = [argparse.Namespace]
MEAN_LATENT_SAMPLES = 10_000
MEAN_LATENT_SEED = 0
# torch.save's legacy (pre-zip) format starts with a pickled magic number.
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


@dataclass
class StyleGAN2Checkpoint:
    """A loaded StyleGAN2: the EMA generator (ready, with latent_avg) and raw optional extras."""

    generator: Generator
    source: str  # "rosinality" | "nvlabs"
    path: Path
    latent_avg_computed: bool = False
    d_state: dict[str, torch.Tensor] | None = None
    d_options: dict[str, Any] = field(default_factory=dict)
    g_state: dict[str, torch.Tensor] | None = None
    notes: list[str] = field(default_factory=list)

    def discriminator(self) -> Discriminator | None:
        """The discriminator in rosinality layout, or None when the file has none (or it is unmappable)."""
        if self.d_state is None:
            return None
        return Discriminator.from_state_dict(self.d_state, what=f"{self.path.name}: d", **self.d_options)

    def training_generator(self) -> Generator | None:
        """The non-EMA generator ``g`` when the file has one (rosinality training checkpoints)."""
        if self.g_state is None:
            return None
        g = Generator.from_state_dict(self.g_state, what=f"{self.path.name}: g")
        g.set_latent_avg(self.generator.latent_avg)
        return g


def _state(obj: Any, key: str, path: Path) -> dict[str, torch.Tensor] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(v, torch.Tensor) for v in value.values()):
        raise StyleFaceError(f"{path}: '{key}' is not a state dict of tensors")
    return dict(value)


def _finish_generator(g: Generator, latent_avg: Any, path: Path) -> bool:
    if isinstance(latent_avg, torch.Tensor):
        g.set_latent_avg(latent_avg)
        return False
    # No stored mean (training checkpoints): estimate it reproducibly.
    g.set_latent_avg(g.mean_latent(MEAN_LATENT_SAMPLES, seed=MEAN_LATENT_SEED))
    return True


def load_rosinality(path: str | os.PathLike[str]) -> StyleGAN2Checkpoint:
    """A rosinality/stylegan2-pytorch ``.pt``: ``g_ema`` required; ``d``, ``g``, ``latent_avg`` optional."""
    p = existing_file(path, "StyleGAN2 checkpoint")
    obj = load_torch_file(p, "rosinality StyleGAN2 checkpoint", ROSINALITY_ALLOW)
    if not isinstance(obj, Mapping) or "g_ema" not in obj:
        raise StyleFaceError(f"{p} is not a rosinality StyleGAN2 checkpoint (no 'g_ema' entry)")
    g_state = _state(obj, "g_ema", p)
    g = Generator.from_state_dict(g_state, what=f"{p.name}: g_ema")
    computed = _finish_generator(g, obj.get("latent_avg"), p)
    return StyleGAN2Checkpoint(g, "rosinality", p, computed, d_state=_state(obj, "d", p), g_state=_state(obj, "g", p))


def load_nvlabs(path: str | os.PathLike[str]) -> StyleGAN2Checkpoint:
    """An NVlabs stylegan2-ada-pytorch network ``.pkl`` (G_ema, optionally D), converted to rosinality."""
    p = existing_file(path, "StyleGAN2 network pickle")
    with open(p, "rb") as f:
        obj = load_network_pickle(f, str(p))
    try:
        g_sd, latent_avg, d_sd, d_opts, notes = nvlabs_networks(obj, str(p))
    except RecursionError:
        raise StyleFaceError(f"{p}: network pickle is nested too deeply to be a StyleGAN2") from None
    g = Generator.from_state_dict(g_sd, what=f"{p.name}: G_ema")
    computed = _finish_generator(g, latent_avg, p)
    return StyleGAN2Checkpoint(g, "nvlabs", p, computed, d_state=d_sd, d_options=d_opts, notes=notes)


def load_stylegan2(path: str | os.PathLike[str]) -> StyleGAN2Checkpoint:
    """Load either format, recognised by content (zip / legacy torch.save -> rosinality, else NVlabs)."""
    p = existing_file(path, "StyleGAN2 checkpoint")
    with open(p, "rb") as f:
        head = f.read(len(_LEGACY_TORCH_MAGIC))
    if head.startswith(b"PK") or zipfile.is_zipfile(p) or head.startswith(_LEGACY_TORCH_MAGIC):
        return load_rosinality(p)
    if head[:1] != b"\x80":
        raise StyleFaceError(f"{p} is neither a PyTorch checkpoint nor a network pickle")
    return load_nvlabs(p)
