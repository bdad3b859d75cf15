"""Front-face backends: ``torch`` (default, CPU and CUDA) and optional ``pytorch3d`` / ``nvdiffrast``.

Optional backends are imported only when asked for, and only if installed; each answers the same
question (packed face id per pixel) so gradients and layout never depend on the backend. nvdiffrast is
under NVIDIA's non-commercial licence: using it is the user's choice, it is never a dependency.
"""
from __future__ import annotations

import importlib
from typing import Protocol

import torch

from ...errors import StyleFaceError

_MODULES = {"torch": "torch_zbuffer", "pytorch3d": "pytorch3d_backend", "nvdiffrast": "nvdiffrast_backend"}


class FrontFaceBackend(Protocol):
    def front_faces(self, xy: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor,
                    image_size: tuple[int, int], *, faces_per_pixel: int, znear: float, zfar: float,
                    perspective_correct: bool, cull_backfaces: bool, settings) -> torch.Tensor: ...


def available_backends() -> list[str]:
    """Backends whose libraries import here (``torch`` always)."""
    out = []
    for name in _MODULES:
        try:
            get_backend(name)
            out.append(name)
        except StyleFaceError:
            pass
    return out


def get_backend(name: str) -> FrontFaceBackend:
    """The backend module ``name``; a clear error when unknown or not installed."""
    if name not in _MODULES:
        raise StyleFaceError(f"unknown render backend '{name}'; choose one of {', '.join(_MODULES)}")
    module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    if not module.is_available():
        raise StyleFaceError(f"render backend '{name}' is not usable here: {module.why_unavailable()}")
    return module
