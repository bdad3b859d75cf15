"""Saving and loading the project's own networks as safetensors + a JSON config.

``model.safetensors`` holds the tensors, ``model.json`` the class name and constructor kwargs. Loading
instantiates only classes on an allow-list (``register_model_class``), so a config file can never
name arbitrary code; the tensors are data only. Non-persistent buffers that carry information (the
generator's ``latent_avg``) are stored under ``__extra__.`` so a round trip is exact.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import StyleFaceError
from .statedict import build_module

FORMAT = "styleface.nets"
VERSION = 1
EXTRA = "__extra__."
_REGISTRY: dict[str, type[nn.Module]] = {}
C = TypeVar("C", bound=type)


def register_model_class(cls: C) -> C:
    """Allow ``cls`` (an nn.Module with ``config() -> dict`` of constructor kwargs) in saved configs."""
    if not callable(getattr(cls, "config", None)):
        raise TypeError(f"{cls.__name__} needs a config() method to be saved")
    _REGISTRY[cls.__name__] = cls
    return cls


def _register_builtin() -> None:
    if _REGISTRY:
        return
    from .f3d import F3D
    from .mapping import MappingNetwork
    from .stylegan2 import Discriminator, Generator
    from .uvgen import UVGenerator
    from .yaw import Fyaw, YawSymmetry
    from ..standin.network import StandInImageGenerator

    for cls in (Generator, UVGenerator, Discriminator, F3D, Fyaw, YawSymmetry, MappingNetwork,
                StandInImageGenerator):
        register_model_class(cls)


def model_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """(weights .safetensors, config .json) for ``path`` given as either file or as a stem."""
    p = Path(path).expanduser()
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def _extra_buffers(module: nn.Module) -> dict[str, torch.Tensor]:
    out = {}
    for mod_name, sub in module.named_modules():
        for name in sub._non_persistent_buffers_set:
            buf = sub._buffers.get(name)
            if buf is not None:
                out[f"{EXTRA}{mod_name + '.' if mod_name else ''}{name}"] = buf
    return out


def save_model(module: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write ``module`` as safetensors + JSON; returns the weights path."""
    _register_builtin()
    name = type(module).__name__
    if _REGISTRY.get(name) is not type(module):
        raise StyleFaceError(f"cannot save {name}: not a registered model class")
    config = {"format": FORMAT, "version": VERSION, "class": name, "kwargs": module.config()}
    try:
        text = json.dumps(config, indent=2, sort_keys=True)
    except TypeError as e:
        raise StyleFaceError(f"cannot save {name}: its configuration is not JSON-serialisable ({e})") from None
    tensors = {**module.state_dict(), **_extra_buffers(module)}
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    weights, cfg = model_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(weights), metadata={"styleface": json.dumps(config, sort_keys=True)})
    cfg.write_text(text + "\n", encoding="utf-8")
    return weights


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON config of a saved model, validated (format, version, allowed class, kwargs dict)."""
    _register_builtin()
    _, cfg = model_paths(path)
    if not cfg.is_file():
        raise StyleFaceError(f"model config not found: {cfg}")
    from ..bundle_schema import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, check_network_kwargs
    from ..jsonfile import read_json_file

    config = read_json_file(cfg, MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, "model config")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise StyleFaceError(f"{cfg} is not a StyleFace model config")
    if config.get("version") != VERSION:
        raise StyleFaceError(f"{cfg}: unsupported model config version {config.get('version')!r}")
    if config.get("class") not in _REGISTRY:
        raise StyleFaceError(f"{cfg}: model class {config.get('class')!r} is not allowed")
    if not isinstance(config.get("kwargs"), dict):
        raise StyleFaceError(f"{cfg}: 'kwargs' must be an object")
    config["kwargs"] = check_network_kwargs(config["class"], config["kwargs"], str(cfg))
    return config


def load_model(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild a model written by :func:`save_model` (eval mode, on ``device``)."""
    config = read_config(path)
    weights, _ = model_paths(path)
    if not weights.is_file():
        raise StyleFaceError(f"model weights not found: {weights}")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as e:
        raise StyleFaceError(f"cannot read model weights {weights}: {str(e).splitlines()[0][:160]}") from None
    state = {k: v for k, v in tensors.items() if not k.startswith(EXTRA)}
    module = build_module(_REGISTRY[config["class"]], config["kwargs"], state, str(weights))
    for key, value in tensors.items():
        if key.startswith(EXTRA):
            *parents, name = key[len(EXTRA):].split(".")
            try:
                owner = module.get_submodule(".".join(parents))
            except AttributeError:
                raise StyleFaceError(f"{weights}: unexpected extra tensor {key}") from None
            if name not in owner._non_persistent_buffers_set:
                raise StyleFaceError(f"{weights}: unexpected extra tensor {key}")
            setattr(owner, name, value)
    return module.to(device)
