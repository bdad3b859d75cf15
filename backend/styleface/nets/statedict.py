"""Building modules from state dicts with one-line, user-facing errors.

Models are constructed on the meta device and the checkpoint tensors are assigned, so loading a
30M-parameter generator does not first fill it with random numbers; any mismatch in key names or
shapes becomes a StyleFaceError that names the file part, not a PyTorch traceback.
"""
from __future__ import annotations

from typing import Any, Mapping, TypeVar

import torch
from torch import nn

from ..errors import StyleFaceError

M = TypeVar("M", bound=nn.Module)


def _short(keys: list[str], n: int = 3) -> str:
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def check_state_dict(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """Raise StyleFaceError unless ``state`` has exactly the module's keys with the same shapes."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected {_short(unexpected)}")
        raise StyleFaceError(f"{what}: keys do not match the network ({'; '.join(parts)})")
    for k, v in expected.items():
        got = state[k]
        if not isinstance(got, torch.Tensor):
            raise StyleFaceError(f"{what}: entry {k} is not a tensor")
        if tuple(got.shape) != tuple(v.shape):
            raise StyleFaceError(f"{what}: {k} has shape {tuple(got.shape)}, expected {tuple(v.shape)}")


def _clean(state: Mapping[str, Any], reference: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for k, ref in reference.items():
        t = state[k].detach()
        out[k] = t.to(dtype=ref.dtype if ref.is_floating_point() else t.dtype).contiguous().clone()
    return out


def build_module(cls: type[M], kwargs: Mapping[str, Any], state: Mapping[str, torch.Tensor], what: str) -> M:
    """Instantiate ``cls(**kwargs)`` without random init and load ``state`` strictly (CPU, float32)."""
    try:
        with torch.device("meta"):
            module = cls(**kwargs)
    except StyleFaceError:
        raise
    except (TypeError, ValueError, KeyError) as e:
        raise StyleFaceError(f"{what}: cannot build {cls.__name__} from its configuration ({e})") from None
    check_state_dict(module, state, what)
    module.load_state_dict(_clean(state, module.state_dict()), strict=True, assign=True)
    _materialise_leftovers(module)
    return module.eval()


def _materialise_leftovers(module: nn.Module) -> None:
    """Non-persistent buffers were created on meta; they carry no data worth keeping, so drop them."""
    for sub in module.modules():
        for name, buf in list(sub._buffers.items()):
            if buf is not None and buf.is_meta:
                if name in sub._non_persistent_buffers_set:
                    sub._buffers[name] = None
                else:  # pragma: no cover - check_state_dict guarantees persistent buffers are loaded
                    raise StyleFaceError(f"{type(sub).__name__}.{name} was not loaded")
        for name, p in sub._parameters.items():
            if p is not None and p.is_meta:  # pragma: no cover
                raise StyleFaceError(f"{type(sub).__name__}.{name} was not loaded")


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """Copy ``state`` into an existing module after checking keys and shapes."""
    check_state_dict(module, state, what)
    module.load_state_dict(_clean(state, module.state_dict()), strict=True)
