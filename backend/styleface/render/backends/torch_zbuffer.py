"""The default backend: the pure-PyTorch z-buffer of ``render.frontface`` (CPU and CUDA)."""
from __future__ import annotations

import torch

from ..frontface import front_faces as _front_faces


def is_available() -> bool:
    return True


def why_unavailable() -> str:
    return ""


def front_faces(xy: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, image_size: tuple[int, int], *,
                faces_per_pixel: int, znear: float, zfar: float, perspective_correct: bool,
                cull_backfaces: bool, settings) -> torch.Tensor:
    return _front_faces(xy, depth, faces, image_size, faces_per_pixel=faces_per_pixel, znear=znear, zfar=zfar,
                        perspective_correct=perspective_correct, cull_backfaces=cull_backfaces,
                        max_candidates=settings.max_candidates)
