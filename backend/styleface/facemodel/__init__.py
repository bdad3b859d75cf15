"""Face models (the ICT-FaceKit head, the procedural head, BFM) and their coefficient layout.

Names are imported on first use (PEP 562), so numpy-only modules such as :mod:`.topology` can be
imported without torch (the worker client and FaceAssets need them in torch-free processes).
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ExpPca": "bfm", "build_bfm_front": "bfm", "load_bfm_front": "bfm", "load_exp_pca": "bfm",
    "BFM_LAYOUT": "coeffs", "CoeffLayout": "coeffs", "Coeffs": "coeffs",
    "FaceModel": "model", "FaceModelTensors": "model", "build_point_buf": "model",
    "load_face_model": "store", "load_face_model_npz": "store", "save_face_model": "store",
    "builtin_face_model": "store",
    "MeshTopology": "topology",
    "cylindrical_uvs": "uv_files", "load_face3d_uv": "uv_files", "load_uv_mask": "uv_files",
    "load_uv_refine": "uv_files", "load_uvs": "uv_files",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
