"""Trained networks on disk: ``NAME.safetensors`` (weights + JSON config in its metadata) and a
readable ``NAME.json`` next to it, both written atomically.

Used for the finished F3D, Fyaw and the yaw direction, so the inference side can rebuild the
architecture from the config without pickle.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as st_save
from styleface.errors import StyleFaceError

from .atomic import atomic_write_bytes, atomic_write_text
from .checkpoint import module_state

META_KEY = "styleface"


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    path = Path(path)
    text = json.dumps(meta, sort_keys=True)
    atomic_write_bytes(path, st_save({k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                                     {META_KEY: text}))
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=1, sort_keys=True))
    return path


def save_network(path: str | os.PathLike, module: torch.nn.Module) -> Path:
    """Save a network with ``styleface.nets.io.save_model`` (NAME.safetensors + NAME.json, what the
    inference side loads), staged in a temporary folder and renamed into place file by file."""
    from styleface.nets.io import model_paths, save_model

    weights, cfg = model_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=weights.parent, prefix=".stage-") as tmp:
        tw, tc = model_paths(save_model(module, Path(tmp) / weights.stem))
        os.replace(tw, weights)
        os.replace(tc, cfg)
    return weights


def read_tensors_meta(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {}).get(META_KEY, "{}"))
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except FileNotFoundError:
        raise StyleFaceError(f"{path} does not exist") from None
    except (SafetensorError, ValueError) as exc:
        raise StyleFaceError(f"{path} is not a readable safetensors file ({exc})") from None
    return tensors, meta


def load_network(path: str | os.PathLike, cls: type, default_name: str, what: str, hint: str = "") -> Any:
    """A network saved with ``save_network`` (a file, or the run folder holding ``default_name``), in eval
    mode; clear errors for a missing file or a file of another class (``hint`` says which file is meant)."""
    from styleface.nets.io import load_model

    path = Path(path)
    if path.is_dir():
        path = path / default_name
    if not path.is_file():
        raise StyleFaceError(f"{what}: {path} does not exist")
    net = load_model(path)
    if not isinstance(net, cls):
        raise StyleFaceError(f"{path} holds a {type(net).__name__}, not a {cls.__name__}{hint}")
    return net.eval()


def load_f3d(path: str | os.PathLike):
    """An F3D from ``f3d.safetensors`` (+ .json), its run folder, or a trainer checkpoint."""
    from styleface.nets.f3d import F3D
    from styleface.nets.io import load_model, model_paths

    path = Path(path)
    if path.is_dir():
        path = path / "f3d.safetensors"
    if model_paths(path)[1].is_file():
        net = load_model(path)
        if not isinstance(net, F3D):
            raise StyleFaceError(f"{path} holds a {type(net).__name__}, not an F3D")
        return net.eval()
    state, cmeta = module_state(path, "f3d")
    net = F3D(**cmeta["config"]["net"])
    net.load_state_dict(state)
    return net.eval()


def load_direction(path: str | os.PathLike) -> tuple[torch.Tensor, dict[str, Any]]:
    """The unit yaw direction (n_latent, style_dim) and its metadata."""
    path = Path(path)
    if path.is_dir():
        path = path / "yaw_direction.safetensors"
    tensors, meta = read_tensors_meta(path)
    if "direction" not in tensors:
        raise StyleFaceError(f"{path} holds no 'direction' tensor")
    d = tensors["direction"].float()
    return d / d.norm(), meta
