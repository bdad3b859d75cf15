"""Pluggable 68-point landmark sources for 3DMM fitting.

``truth`` reads the stand-in's exact landmarks from the dataset; ``face_alignment`` runs the FAN
detector the official fitting tool uses (optional package; it fetches its own weights on first use, so
it is never a dependency). Every source returns (B, 68, 2) pixel coordinates of the full image in the
iBUG order (x right, y down), NaN where no face was found.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from styleface.errors import StyleFaceError

LandmarkSource = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]
SOURCES = ("truth", "face_alignment")


def truth_landmarks(images: torch.Tensor, items: dict[str, torch.Tensor]) -> torch.Tensor:
    if "truth_landmarks" not in items:
        raise StyleFaceError("landmark source 'truth' needs a dataset with truth (made by the stand-in)")
    return items["truth_landmarks"].float()


class FaceAlignmentLandmarks:
    """FAN 2D landmarks from the ``face_alignment`` package, on the full uncropped image."""

    def __init__(self, device: str = "cpu") -> None:
        try:
            import face_alignment  # type: ignore[import-not-found]
        except ImportError:
            raise StyleFaceError("landmark source 'face_alignment' needs the face-alignment package "
                                 "(pip install face-alignment)") from None
        kind = getattr(face_alignment.LandmarksType, "TWO_D", None) or getattr(face_alignment.LandmarksType, "_2D")
        self.fa = face_alignment.FaceAlignment(kind, device=device, flip_input=False)

    def __call__(self, images: torch.Tensor, items: dict[str, torch.Tensor]) -> torch.Tensor:
        out = torch.full((images.shape[0], 68, 2), float("nan"))
        for i, img in enumerate(images.numpy()):
            found = self.fa.get_landmarks_from_image(np.ascontiguousarray(img))
            if found:
                # Several faces: take the largest (StyleGAN images hold one main face).
                best = max(found, key=lambda p: np.ptp(p[:, 0]) * np.ptp(p[:, 1]))
                out[i] = torch.from_numpy(np.asarray(best)[:, :2].astype(np.float32))
        return out


def make_source(name: str, device: str = "cpu") -> LandmarkSource:
    """The landmark source called ``name``; a clear error if unknown or not installed."""
    if name == "truth":
        return truth_landmarks
    if name == "face_alignment":
        return FaceAlignmentLandmarks(device)
    raise StyleFaceError(f"unknown landmark source '{name}'; choose one of {', '.join(SOURCES)}")


def landmark_weights(n: int = 68, device: str | torch.device = "cpu") -> torch.Tensor:
    """The fitting tool's weights: 10 on the nose ridge (28-30) and the mouth (48-67), 1 elsewhere,
    normalised to sum to 1."""
    w = torch.ones(n, device=device)
    if n == 68:
        w[28:31] = 10
        w[48:68] = 10
    return w / w.sum()
