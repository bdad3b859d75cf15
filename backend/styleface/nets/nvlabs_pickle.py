"""A restricted unpickler for NVlabs stylegan2-ada-pytorch network pickles.

Those files are plain pickles whose networks were serialised by ``torch_utils.persistence``: each
module reduces to ``_reconstruct_persistent_obj(meta)``, where ``meta`` holds the module's source code
(normally ``exec``-ed on load), its class name and its ``__dict__`` (``_parameters``, ``_buffers``,
``_modules`` ...). Tensors reduce to ``torch._utils._rebuild_tensor_v2`` over storages that were
written as small legacy ``torch.save`` blobs (``torch.storage._load_from_bytes``).

This unpickler resolves only an allow-list of names: the persistence hook becomes a function that
records ``(class_name, state)`` and never looks at the source; tensors are rebuilt from storages read
with ``torch.load(weights_only=True)``; dnnlib's EasyDict becomes a plain dict. Any other global,
e.g. ``os.system``, stops loading with a StyleFaceError.
"""
from __future__ import annotations

import _compat_pickle
import io
import pickle
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from ..errors import StyleFaceError
from .safeload import REFUSED_GLOBAL, InertDict, refusal


@dataclass
class PersistentRecord:
    """What a persistence-pickled module was: its class name and its ``__dict__``."""

    class_name: str
    state: dict = field(default_factory=dict)

    def attr(self, name: str, default: Any = None) -> Any:
        return self.state.get(name, default)

    def child(self, name: str) -> "PersistentRecord | ModuleRecord | None":
        modules = self.state.get("_modules") or {}
        return modules.get(name)


class ModuleRecord(PersistentRecord):
    """A ``torch.nn`` container pickled the ordinary way (recorded, never instantiated)."""


class _UnpickleRefused(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("class_name"), str):
        raise pickle.UnpicklingError("malformed persistent object")
    state = meta.get("state")
    return PersistentRecord(meta["class_name"], dict(state) if isinstance(state, dict) else {})


def _load_storage(data: Any) -> Any:
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("storage payload is not bytes")
    try:
        storage = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        m = REFUSED_GLOBAL.search(str(e))
        if m:
            raise _UnpickleRefused(m.group(1)) from None
        raise pickle.UnpicklingError("embedded storage blob is not a valid torch storage") from None
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise pickle.UnpicklingError("embedded storage blob does not hold a storage")
    return storage


def _int_tuple(x: Any) -> tuple[int, ...]:
    if not isinstance(x, (tuple, list, torch.Size)) or not all(isinstance(i, int) for i in x):
        raise pickle.UnpicklingError("tensor size/stride must be a tuple of ints")
    return tuple(x)


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> torch.Tensor:
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)) or not isinstance(offset, int):
        raise pickle.UnpicklingError("bad tensor record")
    requires_grad = bool(rest[0]) if rest else False
    # torch's own rebuild checks the view against the storage bounds; hooks/metadata are dropped.
    return torch._utils._rebuild_tensor_v2(storage, offset, _int_tuple(size), _int_tuple(stride), requires_grad,
                                           OrderedDict())


def _rebuild_parameter(data: Any, *rest: Any) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("parameter data is not a tensor")
    return data


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    # Protocol-2 pickles store bytes as _codecs.encode(str, 'latin1').
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("unexpected _codecs.encode call")
    return text.encode("latin1")


def _numpy_core(name: str) -> Any:
    core = getattr(np, "_core", None) or np.core
    return getattr(core.multiarray, name)


_ALLOWED: dict[tuple[str, str], Callable[[], Any]] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): lambda: _reconstruct_persistent_obj,
    ("torch._utils", "_rebuild_tensor_v2"): lambda: _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): lambda: _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): lambda: _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): lambda: _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): lambda: _load_storage,
    ("_codecs", "encode"): lambda: _codecs_encode,
    ("collections", "OrderedDict"): lambda: OrderedDict,
    ("builtins", "set"): lambda: set,
    ("builtins", "frozenset"): lambda: frozenset,
    ("builtins", "slice"): lambda: slice,
    ("dnnlib.util", "EasyDict"): lambda: InertDict,
    ("dnnlib", "EasyDict"): lambda: InertDict,
    ("torch", "Size"): lambda: torch.Size,
    ("numpy", "dtype"): lambda: np.dtype,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy.core.multiarray", "scalar"): lambda: _numpy_core("scalar"),
    ("numpy._core.multiarray", "scalar"): lambda: _numpy_core("scalar"),
    ("numpy.core.multiarray", "_reconstruct"): lambda: _numpy_core("_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): lambda: _numpy_core("_reconstruct"),
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # Protocol-2 pickles use Python 2 names (__builtin__.set); the result still meets the allow-list.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        else:
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        factory = _ALLOWED.get((module, name))
        if factory is not None:
            return factory()
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if module.startswith("torch.nn.modules.") and name[:1].isupper():
            # Ordinary nn containers: record their state instead of creating real modules.
            full = f"{module}.{name}"
            return type(name, (_RecordedModule,), {"_pickled_name": full, "class_name": full})
        raise _UnpickleRefused(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise _UnpickleRefused("persistent id")


class _RecordedModule(ModuleRecord):
    # Pickle creates instances with __new__ (no __init__), so the fields need class-level defaults.
    _pickled_name = "torch.nn.Module"
    class_name = "torch.nn.Module"
    state: dict = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(self._pickled_name, {})

    def __setstate__(self, state: Any) -> None:
        self.state = dict(state) if isinstance(state, dict) else {}


def load_network_pickle(data: bytes | io.BufferedIOBase, source: str) -> Any:
    """Unpickle an NVlabs network pickle into records; StyleFaceError on anything not allowed."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        return _Unpickler(stream).load()
    except _UnpickleRefused as e:
        raise refusal(Path(source), e.name) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            RuntimeError, UnicodeDecodeError, OverflowError, MemoryError, RecursionError) as e:
        reason = "the file is truncated" if isinstance(e, EOFError) else (str(e).strip().splitlines() or [""])[0]
        message = f"cannot read NVlabs network pickle {source}: {reason or type(e).__name__}"
        raise StyleFaceError(message[:300]) from None


def record_state_dict(record: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Flatten a recorded module tree into ``state_dict()`` form (persistent buffers only)."""
    if not isinstance(record, PersistentRecord):
        raise StyleFaceError(f"network pickle entry {prefix or '<root>'} is not a module")
    out: dict[str, torch.Tensor] = {}
    state = record.state

    def table(key: str) -> Mapping[str, Any]:
        value = state.get(key) or {}
        if not isinstance(value, Mapping):
            raise StyleFaceError(f"network pickle entry {prefix or '<root>'}: '{key}' is not a mapping")
        return value

    skip = state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        for name, t in table(group).items():
            if t is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(t, torch.Tensor):
                raise StyleFaceError(f"network pickle entry {prefix}{name} is not a tensor")
            out[prefix + name] = t
    for name, child in table("_modules").items():
        if child is not None:
            out.update(record_state_dict(child, f"{prefix}{name}."))
    return out
