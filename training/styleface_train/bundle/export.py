"""Assembling a model bundle from the outputs of the training stages.

The bundle is what the inference side (``styleface generate``, the worker, the Blender add-on) loads:
F3D, the yaw symmetry (direction + Fyaw), the UV generator and either the stand-in's mapping network or
the real StyleGAN2 generator (for z -> w and 2D reference images), plus the face model (the built-in demo
head by name, anything else embedded).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from styleface import __version__
from styleface.bundle import BundleManifest, write_bundle
from styleface.errors import StyleFaceError
from styleface.facemodel.store import BUILTIN_NAMES
from styleface.nets.mapping import MappingNetwork
from styleface.nets.uvgen import UVGenerator
from styleface.nets.yaw import YawSymmetry

from ..standin.generators import GeneratorHandle
from ..common.modelfile import load_f3d, load_network

DISPLACEMENT_SCALE = 0.01


def standin_mapping(standin: Any) -> MappingNetwork:
    """The stand-in's z -> w as a bundle MappingNetwork (same weights, same result)."""
    lat = standin.latent
    m = MappingNetwork(standin.style_dim, lat.mlp.shape[0], standin.n_latent, gain=math.sqrt(2 / 1.04))
    with torch.no_grad():
        m.weight.copy_(lat.mlp)
        m.bias.copy_(lat.mlp_bias)
        m.latent_avg.copy_(lat.latent_avg)
    return m


@dataclass
class ExportOptions:
    out: Path
    f3d: Path                          # f3d.safetensors or the f3d run folder
    yaw: Path                          # yaw_symmetry.safetensors or the fyaw run folder
    uvgen: Path                        # uvgen.safetensors or the uvgen run folder
    bundle_id: str = "styleface-trained"
    name: str = ""
    description: str = ""
    truncation: float = 0.7
    licence: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    overwrite: bool = False


def export_bundle(handle: GeneratorHandle, opts: ExportOptions, face_model: Any = None) -> Path:
    """Write a bundle from trained networks and the generator they were trained against; a real
    generator needs the ``face_model`` the networks were trained on (the stand-in carries its own)."""
    f3d = load_f3d(opts.f3d)
    yaw = load_network(opts.yaw, YawSymmetry, "yaw_symmetry.safetensors", "yaw symmetry")
    uvgen = load_network(opts.uvgen, UVGenerator, "uvgen.safetensors", "UV generator")
    networks: dict[str, Any] = {"f3d": f3d, "yaw": yaw, "uvgen": uvgen}
    if handle.description.get("kind") == "standin":
        standin = handle.module
        networks["mapping"] = standin_mapping(standin)
        fm_spec = handle.description.get("face_model", "demo")
        builtin = fm_spec in BUILTIN_NAMES  # a built-in face model ships with StyleFace: name it, don't copy it
        if builtin:  # its 2D images too, for `styleface views` (only built-in heads are portable)
            from styleface.standin.network import StandInImageGenerator
            networks["generator2d"] = StandInImageGenerator.from_standin(standin)
        face_ref = {"builtin": fm_spec} if builtin else {"embedded": "face_model.npz"}
        face_model = None if builtin else standin.face_model
        image_res = int(standin.size)
        licence = opts.licence or ("GPL-3.0-or-later; trained by StyleFace on its own procedural data "
                                   "(no third-party data).")
    else:
        networks["generator2d"] = handle.module
        face_ref = {"embedded": "face_model.npz"}
        if face_model is None:
            raise StyleFaceError("exporting a bundle for a real StyleGAN2 needs the face model the networks "
                                 "were trained on")
        image_res = int(handle.size)
        licence = opts.licence or "See the licences of the StyleGAN2 checkpoint and the face model used."
    manifest = BundleManifest(
        id=opts.bundle_id, name=opts.name or opts.bundle_id, description=opts.description,
        face_model=face_ref, n_latent=int(handle.n_latent), style_dim=int(handle.style_dim),
        uv_resolution=int(uvgen.size), image_resolution=image_res, networks={}, truncation=opts.truncation,
        provenance={"builder": "styleface_train.bundle.export", "styleface": __version__, "torch": torch.__version__,
                    "generator": handle.description,
                    "command": " ".join(["styleface-train"] + sys.argv[1:]) if sys.argv else "",
                    **opts.provenance},
        licence=licence)
    if abs(manifest.displacement.scale - DISPLACEMENT_SCALE) > 1e-12:
        raise StyleFaceError("the bundle's displacement scale differs from the training renderer's")
    return write_bundle(opts.out, manifest, networks, face_model=face_model, overwrite=opts.overwrite)
