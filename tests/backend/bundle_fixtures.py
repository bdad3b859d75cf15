"""A tiny random-weight bundle for pipeline, worker and CLI tests."""
from __future__ import annotations

from pathlib import Path

import torch

from styleface.bundle import BundleManifest, write_bundle
from styleface.facemodel import FaceModel
from styleface.nets.f3d import F3D
from styleface.nets.mapping import MappingNetwork
from styleface.nets.uvgen import UVGenerator
from styleface.nets.yaw import YawSymmetry

STYLE_DIM = 32
UV_SIZE = 16
N_LATENT = 6  # 2 * log2(16) - 2


def tiny_networks(model: FaceModel, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    mapping = MappingNetwork(STYLE_DIM, 2, N_LATENT)
    with torch.no_grad():
        mapping.weight.normal_(0, 1 / STYLE_DIM ** 0.5)
        mapping.bias.normal_(0, 0.1)
        mapping.latent_avg.copy_(mapping(torch.randn(500, STYLE_DIM)).mean(0))
    uvgen = UVGenerator(UV_SIZE, style_dim=STYLE_DIM, n_mlp=1, channel_max=16)
    f3d = F3D(N_LATENT, STYLE_DIM, model.layout, hidden=(24,))
    yaw = YawSymmetry(N_LATENT, STYLE_DIM, hidden=(8,))
    yaw.set_direction(torch.randn(N_LATENT, STYLE_DIM))
    return {"mapping": mapping, "f3d": f3d, "yaw": yaw, "uvgen": uvgen}


def tiny_manifest(**kw) -> BundleManifest:
    base = dict(id="tiny-test", face_model={"embedded": "face_model.npz"}, n_latent=N_LATENT,
                style_dim=STYLE_DIM, uv_resolution=UV_SIZE, networks={}, truncation=0.8,
                licence="test weights, random")
    base.update(kw)
    return BundleManifest(**base)


def write_tiny_bundle(path: Path, model: FaceModel) -> Path:
    return write_bundle(path, tiny_manifest(), tiny_networks(model), face_model=model)
