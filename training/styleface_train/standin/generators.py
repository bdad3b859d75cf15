"""Choosing the image generator for data generation: the procedural stand-in or a real StyleGAN2.

Both expose ``to_wplus``, ``synthesis``, ``style_dim``, ``n_latent`` and ``size``; ``describe`` gives the
JSON a dataset records so a resumed run can check it still uses the same generator.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from styleface.errors import StyleFaceError

from . import StandInConfig, StandInGenerator

STANDIN = "standin"


@dataclass
class GeneratorHandle:
    module: torch.nn.Module
    description: dict[str, Any]
    has_truth: bool

    @property
    def style_dim(self) -> int:
        return int(self.module.style_dim)

    @property
    def n_latent(self) -> int:
        return int(self.module.n_latent)

    @property
    def size(self) -> int:
        return int(self.module.size)


def standin_config_from(options: dict[str, Any]) -> StandInConfig:
    """A StandInConfig from ``standin_<field>`` options (unset ones keep the defaults)."""
    kw = {f.name: options[f"standin_{f.name}"] for f in fields(StandInConfig)
          if options.get(f"standin_{f.name}") is not None}
    return StandInConfig(**kw)


_STANDIN_CACHE: dict[StandInConfig, StandInGenerator] = {}


def make_standin(config: StandInConfig) -> StandInGenerator:
    """One stand-in per config per process (building it bakes texture layers)."""
    if config not in _STANDIN_CACHE:
        _STANDIN_CACHE[config] = StandInGenerator(config).eval()
    return _STANDIN_CACHE[config]


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def load_generator(spec: str, options: dict[str, Any] | None = None, device: str | torch.device = "cpu"
                   ) -> GeneratorHandle:
    """``spec`` is ``standin`` or the path of a rosinality ``.pt`` / NVlabs ``.pkl`` StyleGAN2 checkpoint."""
    options = options or {}
    if spec == STANDIN:
        gen = make_standin(standin_config_from(options))
        return GeneratorHandle(gen.to(device), gen.config_dict(), True)
    path = Path(spec)
    if not path.exists():
        raise StyleFaceError(f"generator '{spec}' is neither 'standin' nor an existing checkpoint file")
    from styleface.nets import load_stylegan2

    gen = load_stylegan2(path).generator.to(device).eval()
    desc = {"kind": "stylegan2", "path": path.name, "sha256_16": _file_digest(path), "size": int(gen.size),
            "style_dim": int(gen.style_dim), "n_latent": int(gen.n_latent)}
    return GeneratorHandle(gen, desc, False)
