"""Turning files users download into StyleFace bundles, without executing code from them.

``import_official``: the official StyleFaceUV release (full-model Lightning checkpoint, the rosinality
StyleGAN2 checkpoint, BFM_model_front.mat, the UV file, mask.png, the pose direction) -> a bundle.
``import_stylegan2``: a rosinality ``.pt`` or NVlabs ``.pkl`` -> safetensors + JSON (generator and,
when present, discriminator), the safe input for training and for bundles.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .bundle import BundleManifest, write_bundle
from .errors import StyleFaceError

PathLike = str | os.PathLike[str]

OFFICIAL_LICENCE = (
    "StyleFaceUV code: MIT (jack111331/StyleFaceUV). Network weights: the official StyleFaceUV release; "
    "check its terms before redistributing. Face model: Basel Face Model 2009 (non-commercial licence of "
    "the University of Basel; do not redistribute this bundle). StyleGAN2: trained on FFHQ "
    "(CC BY-NC-SA 4.0 images)."
)


def import_official(checkpoint: PathLike, out: PathLike, *, bfm: PathLike, uv: PathLike | None = None,
                    mask: PathLike | None = None, stylegan2: PathLike | None = None,
                    pose_direction: PathLike | None = None, f3d_checkpoint: PathLike | None = None,
                    fyaw_checkpoint: PathLike | None = None, truncation: float = 0.7,
                    overwrite: bool = False) -> Path:
    """Build a bundle from the official release files; returns the bundle folder."""
    from .facemodel.bfm import load_bfm_front
    from .nets.checkpoints import load_stylegan2
    from .nets.official import load_official, load_pose_direction

    ck = load_official(checkpoint)
    face_model = load_bfm_front(bfm, uv_path=uv, mask_path=mask)
    if face_model.metadata.get("uv_source") == "cylindrical-fallback":
        raise StyleFaceError("import-official needs the UV file (BFM_UV_refined.mat or BFM_UV.mat) so the "
                             "UV maps line up with the official weights: pass --uv")
    uvgen = ck.uv_generator()
    if uvgen is None:
        raise StyleFaceError(f"{checkpoint}: no 'generator_3d.' weights; pass the full StyleFaceUV checkpoint")
    f3d_src = load_official(f3d_checkpoint) if f3d_checkpoint else ck
    f3d = f3d_src.f3d(face_model.layout)
    if f3d is None:
        raise StyleFaceError(f"{checkpoint}: no F3D weights ('stylecode_to_3dmm_coeff_model.'); pass --f3d")
    fyaw_src = load_official(fyaw_checkpoint) if fyaw_checkpoint else ck
    direction = None
    if pose_direction is not None:
        direction = load_pose_direction(pose_direction, uvgen.n_latent, uvgen.style_dim)
    yaw = None
    if fyaw_src.fyaw_state is not None:  # the direction Fyaw was trained with comes first
        if direction is None:
            direction = fyaw_src.pose_direction if fyaw_src.pose_direction is not None else ck.pose_direction
        yaw = fyaw_src.yaw_symmetry(direction)
    g2d = None
    source = "official generator_2d"
    if stylegan2 is not None:
        g2d = load_stylegan2(stylegan2).generator
        source = str(Path(stylegan2).name)
    elif ck.generator_2d_state is not None:
        g2d = ck.generator_2d()
        g2d.set_latent_avg(g2d.mean_latent())
    if g2d is None:
        raise StyleFaceError("no StyleGAN2 generator: pass --stylegan2 (the rosinality 550000.pt) "
                             "or a full checkpoint with 'generator_2d.' weights")
    if uvgen.latent_avg is None and g2d.latent_avg is not None:
        uvgen.set_latent_avg(g2d.latent_avg)
    if face_model.uv_mask is None and ck.uvmask is not None:
        face_model.uv_mask = ck.uvmask.reshape(ck.uvmask.shape[-2:]).bool().numpy()
    networks: dict[str, Any] = {"generator2d": g2d, "f3d": f3d, "uvgen": uvgen}
    if yaw is not None:
        networks["yaw"] = yaw
    manifest = BundleManifest(
        id=f"styleface-uv-official-{Path(checkpoint).stem}", name="StyleFaceUV (official weights)",
        description="Imported from the official StyleFaceUV release.", face_model={"embedded": "face_model.npz"},
        n_latent=uvgen.n_latent, style_dim=uvgen.style_dim, uv_resolution=uvgen.size,
        image_resolution=g2d.size, networks={}, truncation=truncation,
        provenance={"imported_from": {"checkpoint": Path(checkpoint).name, "stylegan2": source,
                                      "bfm": Path(bfm).name, "uv": None if uv is None else Path(uv).name,
                                      "mask": None if mask is None else Path(mask).name},
                    "checkpoint_kind": ck.kind},
        licence=OFFICIAL_LICENCE, uv_padding="zeros")  # the official code samples maps with zero padding
    return write_bundle(out, manifest, networks, face_model=face_model, overwrite=overwrite)


def import_stylegan2(checkpoint: PathLike, out: PathLike, overwrite: bool = False) -> dict[str, Any]:
    """Convert a StyleGAN2 checkpoint to ``generator2d`` (+ ``discriminator``) safetensors + JSON."""
    from .nets.checkpoints import load_stylegan2
    from .nets.io import save_model

    ck = load_stylegan2(checkpoint)
    dst = Path(out).expanduser()
    if dst.exists() and any(dst.iterdir()) and not overwrite:
        raise StyleFaceError(f"{dst} is not empty (pass --force to overwrite)")
    dst.mkdir(parents=True, exist_ok=True)
    g = ck.generator
    save_model(g, dst / "generator2d")
    written = ["generator2d"]
    d = ck.discriminator()
    if d is not None:
        save_model(d, dst / "discriminator")
        written.append("discriminator")
    summary = {"source": ck.source, "checkpoint": Path(checkpoint).name, "size": g.size,
               "style_dim": g.style_dim, "n_latent": g.n_latent, "networks": written,
               "latent_avg_computed": ck.latent_avg_computed, "notes": list(ck.notes)}
    (dst / "stylegan2.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
