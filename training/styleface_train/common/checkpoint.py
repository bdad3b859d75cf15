"""Trainer checkpoints as one safetensors file: model weights, optimiser state and counters together.

One file (not weights + a sidecar) so a kill between two writes can never pair new weights with old
counters; it is written atomically. Non-tensor state (counters, configs, optimiser hyper-parameters)
travels as JSON in the safetensors metadata, so loading never unpickles anything.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from styleface.errors import StyleFaceError

from .atomic import atomic_write_bytes, remove_stale_temps

_META_KEY = "styleface_train"


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, pstate in state["state"].items():
        for name, value in pstate.items():
            if torch.is_tensor(value):
                tensors[f"optim/{pid}/{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, pid, name = key.split("/", 2)
        state.setdefault(int(pid), {})[name] = value
    for pid, values in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(path: str | os.PathLike, modules: dict[str, torch.nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer] | None = None,
                    counters: dict[str, Any] | None = None, config: dict[str, Any] | None = None) -> None:
    """Write modules' weights, optimisers' state, counters and config to ``path`` atomically."""
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {"counters": counters or {}, "config": config or {}, "optimizers": {}}
    for name, module in modules.items():
        for k, v in module.state_dict().items():
            tensors[f"model/{name}/{k}"] = v.detach().cpu().contiguous()
    for name, opt in (optimizers or {}).items():
        t, m = _flatten_optimizer(opt.state_dict())
        tensors.update({f"opt/{name}/{k}": v for k, v in t.items()})
        meta["optimizers"][name] = m
    atomic_write_bytes(path, st_save(tensors, {_META_KEY: json.dumps(meta)}))


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, metadata) of a checkpoint; a clear error when the file is not one of ours."""
    path = Path(path)
    try:
        data = path.read_bytes()
        tensors = st_load(data)
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + n])
        meta = json.loads(header["__metadata__"][_META_KEY])
    except FileNotFoundError:
        raise StyleFaceError(f"checkpoint {path} does not exist") from None
    except (SafetensorError, KeyError, ValueError, TypeError) as exc:
        raise StyleFaceError(f"{path} is not a styleface training checkpoint ({exc})") from None
    return tensors, meta


def load_checkpoint(path: str | os.PathLike, modules: dict[str, torch.nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer] | None = None) -> dict[str, Any]:
    """Restore modules and optimisers in place; return the metadata (counters, config)."""
    tensors, meta = read_checkpoint(path)
    for name, module in modules.items():
        prefix = f"model/{name}/"
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not state:
            raise StyleFaceError(f"checkpoint {path} holds no weights for '{name}'")
        module.load_state_dict(state, strict=True)
    for name, opt in (optimizers or {}).items():
        prefix = f"opt/{name}/"
        t = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if name not in meta.get("optimizers", {}):
            raise StyleFaceError(f"checkpoint {path} holds no optimiser state for '{name}'")
        opt.load_state_dict(_unflatten_optimizer(t, meta["optimizers"][name]))
    return meta


def module_state(path: str | os.PathLike, name: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Only the weights of module ``name`` (e.g. to use a trained F3D elsewhere) and the metadata."""
    tensors, meta = read_checkpoint(path)
    prefix = f"model/{name}/"
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    if not state:
        raise StyleFaceError(f"checkpoint {path} holds no weights for '{name}'")
    return state, meta


def clean_temps(path: str | os.PathLike) -> None:
    """Remove temporaries a killed writer of ``path`` left behind."""
    remove_stale_temps(path)
