"""JSON sidecar: what the mesh and image files cannot say themselves.

Seed, coefficients, stylecode shape, how to apply each displacement file (mode, scale, mid-level per
encoding), units and provenance, so a face can be reproduced and re-assembled without StyleFace.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from .. import __version__
from ..assets import FaceAssets
from .atomic import atomic_write_text
from .rig_mesh import rig_summary

SIDECAR_FORMAT = "styleface-face"
SIDECAR_VERSION = 1


def sidecar_dict(assets: FaceAssets, files: Mapping[str, Path | str],
                 bake_displacement: bool = False) -> dict[str, Any]:
    """The sidecar content; ``files`` maps format keys to written paths (only names are stored)."""
    info = assets.displacement_info
    names = {k: Path(p).name for k, p in files.items()}
    encodings: dict[str, Any] = {}
    if "exr" in names:
        encodings["exr"] = {"file": names["exr"], "type": "float32", "mid_level": info.mid_level,
                            "scale": info.scale}
    if "png16" in names:
        encodings["png16"] = {"file": names["png16"], "type": "uint16",
                              "encoding": "encoded = map * 0.5 + 0.5",
                              "mid_level": info.png16_mid_level, "scale": info.png16_scale}
    _, h, w = assets.displacement.shape
    return {
        "format": SIDECAR_FORMAT,
        "version": SIDECAR_VERSION,
        "styleface_version": __version__,
        "seed": assets.seed,
        "coefficients": {k: [float(x) for x in v] for k, v in assets.coefficients.items()},
        "coefficient_sizes": assets.coefficient_sizes(),
        "stylecode_shape": None if assets.stylecode is None else list(assets.stylecode.shape),
        "mesh": {
            "vertices": assets.n_vertices, "faces": assets.n_faces,
            "units": "decimetres (model units); GLB positions are in metres",
            "up": "+y", "front": "+z", "posed": False,
            "displacement_baked": bool(bake_displacement),
        },
        "diffuse": {"file": names.get("diffuse"), "size": list(assets.diffuse.shape[1:]),
                    "colour_space": "sRGB", "row0": "v = 1"},
        "displacement": {
            "mode": info.mode, "channels": info.channels, "scale": info.scale,
            "mid_level": info.mid_level, "units": "model units (decimetres) per map unit",
            "space": "model (object)", "size": [h, w], "row0": "v = 1",
            "applied": "offset = (value - mid_level) * scale, sampled bilinearly at vertex UVs"
                       + (" along the vertex normal" if info.mode == "normal" else " as XYZ"),
            "encodings": encodings,
        },
        "files": names,
        "rig": rig_summary(assets),
        "provenance": assets.provenance,
    }


def write_sidecar(assets: FaceAssets, path: str | Path, files: Mapping[str, Path | str],
                  bake_displacement: bool = False) -> Path:
    path = Path(path)
    atomic_write_text(path, json.dumps(sidecar_dict(assets, files, bake_displacement), indent=2,
                                       allow_nan=False) + "\n")
    return path
