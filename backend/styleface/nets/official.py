"""Loading the official StyleFaceUV checkpoints (PyTorch Lightning ``.ckpt`` and older plain dicts).

A Lightning checkpoint is a dict whose ``state_dict`` has one prefix per sub-network:
``stylecode_to_3dmm_coeff_model.`` (F3D), ``stylecode_to_scalar_model.`` (Fyaw), ``generator_3d.`` (UV
generator), ``generator_2d.`` and ``discriminator_3d.``, plus ``pose_direction`` (14x512) and
``uvmask`` (1x256x256). The F3D-only and Fyaw-only trainers' checkpoints hold just their prefix. The
pre-Lightning form is a dict with ``'Stylecode to 3DMM Coeff'`` / ``'Stylecode to Pose Scalar'``.

Lightning checkpoints also hold callback states keyed by the callback class, LR-scheduler counters and
hyper-parameters; those names are mapped to inert stand-ins, everything else is refused.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from ..errors import StyleFaceError
from ..facemodel.coeffs import CoeffLayout
from .f3d import F3D
from .safeload import existing_file, inert, load_torch_file
from .stylegan2 import Discriminator, Generator
from .uvgen import UVGenerator
from .yaw import Fyaw, YawSymmetry, unit_direction

PREFIXES = {
    "f3d": "stylecode_to_3dmm_coeff_model.",
    "fyaw": "stylecode_to_scalar_model.",
    "generator_3d": "generator_3d.",
    "generator_2d": "generator_2d.",
    "discriminator_3d": "discriminator_3d.",
}
LEGACY_KEYS = {"f3d": "Stylecode to 3DMM Coeff", "fyaw": "Stylecode to Pose Scalar"}

LIGHTNING_ALLOW = [
    argparse.Namespace,
    inert("pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint"),
    inert("pytorch_lightning.callbacks.early_stopping.EarlyStopping"),
    inert("lightning.pytorch.callbacks.model_checkpoint.ModelCheckpoint"),
    inert("lightning.pytorch.callbacks.early_stopping.EarlyStopping"),
    # AttributeDict is a dict with attribute access; torch's unpickler only fills real dicts.
    (dict, "pytorch_lightning.utilities.parsing.AttributeDict"),
    (dict, "lightning_fabric.utilities.data.AttributeDict"),
    (dict, "lightning.fabric.utilities.data.AttributeDict"),
]


@dataclass
class OfficialCheckpoint:
    """The sub-networks found in an official checkpoint, as unprefixed state dicts (None when absent)."""

    path: Path
    kind: str  # "lightning" | "legacy" | "state_dict"
    f3d_state: dict[str, torch.Tensor] | None = None
    fyaw_state: dict[str, torch.Tensor] | None = None
    generator_3d_state: dict[str, torch.Tensor] | None = None
    generator_2d_state: dict[str, torch.Tensor] | None = None
    discriminator_3d_state: dict[str, torch.Tensor] | None = None
    pose_direction: torch.Tensor | None = None
    uvmask: torch.Tensor | None = None

    def _what(self, part: str) -> str:
        return f"{self.path.name}: {part}"

    def f3d(self, layout: CoeffLayout | None = None) -> F3D | None:
        """F3D (default layout: the BFM 257-layout the official model predicts)."""
        return None if self.f3d_state is None else F3D.from_state_dict(self.f3d_state, layout, what=self._what("F3D"))

    def fyaw(self) -> Fyaw | None:
        return None if self.fyaw_state is None else Fyaw.from_state_dict(self.fyaw_state, what=self._what("Fyaw"))

    def yaw_symmetry(self, direction: torch.Tensor | None = None) -> YawSymmetry | None:
        """Fyaw with the yaw direction (``direction`` or the checkpoint's ``pose_direction``)."""
        fyaw = self.fyaw()
        d = direction if direction is not None else self.pose_direction
        if fyaw is None:
            return None
        if d is None:
            raise StyleFaceError(f"{self.path}: no yaw direction stored; pass one (pose_direction-new.pkl)")
        return YawSymmetry.from_parts(fyaw, d)

    def uv_generator(self) -> UVGenerator | None:
        if self.generator_3d_state is None:
            return None
        return UVGenerator.from_state_dict(self.generator_3d_state, what=self._what("generator_3d"))

    def generator_2d(self) -> Generator | None:
        if self.generator_2d_state is None:
            return None
        return Generator.from_state_dict(self.generator_2d_state, what=self._what("generator_2d"))

    def discriminator(self) -> Discriminator | None:
        if self.discriminator_3d_state is None:
            return None
        return Discriminator.from_state_dict(self.discriminator_3d_state, what=self._what("discriminator_3d"))


def _tensors(d: Any, where: str, path: Path) -> dict[str, torch.Tensor]:
    if not isinstance(d, Mapping) or not all(isinstance(v, torch.Tensor) for v in d.values()):
        raise StyleFaceError(f"{path}: '{where}' is not a state dict of tensors")
    return dict(d)


def _strip(sd: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor] | None:
    out = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    return out or None


def load_official(path: str | os.PathLike[str]) -> OfficialCheckpoint:
    """Read any official StyleFaceUV checkpoint (F3D, Fyaw or the full model; Lightning or legacy)."""
    p = existing_file(path, "StyleFaceUV checkpoint")
    obj = load_torch_file(p, "StyleFaceUV checkpoint", LIGHTNING_ALLOW)
    if not isinstance(obj, Mapping):
        raise StyleFaceError(f"{p} is not a StyleFaceUV checkpoint (top level is not a dict)")
    if "state_dict" in obj:
        sd = _tensors(obj["state_dict"], "state_dict", p)
        ck = OfficialCheckpoint(p, "lightning", **{f"{name}_state": _strip(sd, pre) for name, pre in PREFIXES.items()})
        # The full model stores d as 'pose_direction'; the Fyaw trainer's checkpoint as 'pose_normal_direction'.
        ck.pose_direction = sd.get("pose_direction", sd.get("pose_normal_direction"))
        ck.uvmask = sd.get("uvmask")
    elif any(k in obj for k in LEGACY_KEYS.values()):
        ck = OfficialCheckpoint(p, "legacy")
        for name, key in LEGACY_KEYS.items():
            if key in obj:
                setattr(ck, f"{name}_state", _tensors(obj[key], key, p))
    elif "Net1.0.weight" in obj or "Net.0.weight" in obj:
        sd = _tensors(obj, "<root>", p)
        ck = OfficialCheckpoint(p, "state_dict")
        setattr(ck, "f3d_state" if "Net1.0.weight" in sd else "fyaw_state", sd)
    else:
        raise StyleFaceError(f"{p} is not a StyleFaceUV checkpoint (no 'state_dict' or known network keys)")
    if not any(getattr(ck, f"{n}_state") is not None for n in PREFIXES):
        raise StyleFaceError(f"{p} contains none of the StyleFaceUV networks")
    return ck


def load_pose_direction(path: str | os.PathLike[str], n_latent: int = 14, style_dim: int = 512) -> torch.Tensor:
    """The yaw direction file (``pose_direction-new.pkl``: a saved tensor of 7168 values), unit norm."""
    p = existing_file(path, "yaw direction file")
    obj = load_torch_file(p, "yaw direction file")
    if not isinstance(obj, torch.Tensor):
        raise StyleFaceError(f"{p} does not hold a tensor (expected the saved yaw direction)")
    return unit_direction(obj, n_latent, style_dim)
