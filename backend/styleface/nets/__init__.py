"""Networks: StyleGAN2 (rosinality layout), the UV generator, F3D, the yaw edit, and their loaders."""
from __future__ import annotations

from .checkpoints import StyleGAN2Checkpoint, load_nvlabs, load_rosinality, load_stylegan2
from .f3d import F3D
from .io import load_model, register_model_class, save_model
from .official import OfficialCheckpoint, load_official, load_pose_direction
from .stylegan2 import Discriminator, Generator, channel_table
from .uvgen import UVGenerator
from .yaw import Fyaw, YawSymmetry

__all__ = [
    "F3D", "Discriminator", "Fyaw", "Generator", "OfficialCheckpoint", "StyleGAN2Checkpoint", "UVGenerator",
    "YawSymmetry", "channel_table", "load_model", "load_nvlabs", "load_official", "load_pose_direction",
    "load_rosinality", "load_stylegan2", "register_model_class", "save_model",
]
