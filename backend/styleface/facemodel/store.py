"""Saving face models to .npz and the one entry point that finds any face model by name or path.

The .npz holds plain numeric/string arrays plus metadata as a JSON string (arrays in metadata are stored
as their own entries), so loading never needs pickle: a file from a stranger cannot execute code.
"""
from __future__ import annotations

import importlib
import json
import zipfile
from pathlib import Path

import numpy as np

from ..errors import StyleFaceError
from ._matio import PathLike, fail
from .model import FaceModel

FORMAT_KEY = "styleface_face_model"
FORMAT_VERSION = 1
_ARRAYS = ("mean_shape", "id_basis", "exp_basis", "triangles", "uvs", "landmarks", "point_buf")
_OPTIONAL = ("mean_albedo", "albedo_basis", "uv_mask")
_META_PREFIX = "metadata."
BFM_MODEL_NAMES = ("BFM_model_front.mat", "BFM09_model_info.mat")
BFM_UV_NAMES = ("BFM_UV_refined.mat", "BFM_UV.mat")
BFM_MASK_NAMES = ("mask.png",)


def save_face_model(model: FaceModel, path: PathLike) -> Path:
    """Write ``model`` to ``path`` (.npz) so :func:`load_face_model` restores it exactly.

    Metadata must be JSON-serialisable apart from top-level numpy arrays, which get their own entries.
    """
    entries: dict[str, np.ndarray] = {
        FORMAT_KEY: np.array(FORMAT_VERSION, dtype=np.int64),
        "name": np.array(model.name),
        "exp_names": np.array(model.exp_names, dtype=np.str_).reshape(-1),
    }
    for key in _ARRAYS + _OPTIONAL:
        value = getattr(model, key)
        if value is not None:
            entries[key] = np.asarray(value)
    array_keys: list[list[str]] = []

    def split(value: object, path: list[str]) -> object:
        """JSON part of a metadata value; arrays (also inside nested dicts) go to their own entries."""
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biufU":
                raise StyleFaceError(f"face model '{model.name}': metadata '{'.'.join(path)}' is a {value.dtype} "
                                     f"array; only numeric, bool or string arrays can be saved")
            entries[_META_PREFIX + ".".join(path)] = value
            array_keys.append(path)
            return None
        if isinstance(value, dict):
            return {str(k): split(v, path + [str(k)]) for k, v in value.items()}
        return value

    meta = {str(k): split(v, [str(k)]) for k, v in model.metadata.items()}
    try:
        text = json.dumps({"values": meta, "array_keys": array_keys}, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise StyleFaceError(f"face model '{model.name}': metadata cannot be saved as JSON ({exc})") from None
    entries["metadata_json"] = np.array(text)
    out = Path(path)
    if out.suffix != ".npz":
        out = out.with_name(out.name + ".npz")  # np.savez would append it silently
    try:
        np.savez(out, **entries)
    except OSError as exc:
        raise fail(out, f"cannot write the face model ({exc.strerror or type(exc).__name__})") from None
    return out


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def load_face_model_npz(path: PathLike) -> FaceModel:
    """A FaceModel from an .npz written by :func:`save_face_model` (no pickle involved)."""
    p = Path(path)
    what = "a face model .npz written by save_face_model"
    if not p.is_file():
        raise fail(p, f"file not found (expected {what})")
    try:
        with np.load(p, allow_pickle=False) as npz:
            files = set(npz.files)
            if FORMAT_KEY not in files:
                raise fail(p, f"not {what} (no '{FORMAT_KEY}' entry)")
            version = int(npz[FORMAT_KEY])
            if version > FORMAT_VERSION:
                raise fail(p, f"face model format {version} is newer than this StyleFace ({FORMAT_VERSION})")
            missing = [k for k in _ARRAYS + ("name", "exp_names", "metadata_json") if k not in files]
            if missing:
                raise fail(p, f"missing entries {', '.join(missing)} (expected {what})")
            arrays = {k: npz[k] for k in _ARRAYS}
            optional = {k: (npz[k] if k in files else None) for k in _OPTIONAL}
            name = str(npz["name"])
            exp_names = tuple(str(s) for s in npz["exp_names"])
            meta_doc = json.loads(str(npz["metadata_json"]))
            metadata = dict(meta_doc["values"])
            for path in meta_doc["array_keys"]:
                path = [path] if isinstance(path, str) else list(path)  # version 1 wrote flat keys
                owner = metadata
                for part in path[:-1]:
                    owner = owner[part]
                owner[path[-1]] = npz[_META_PREFIX + ".".join(path)]
    except StyleFaceError:
        raise
    except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise fail(p, f"not a readable face model .npz ({type(exc).__name__}: "
                      f"{' '.join(str(exc).split())[:100]}); expected {what}") from None
    return FaceModel(name=name, exp_names=exp_names, metadata=metadata, **arrays, **optional)


def _first(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def load_face_model(path_or_name: PathLike | str, *, uv_path: PathLike | None = None,
                    mask_path: PathLike | None = None, front_idx_path: PathLike | None = None) -> FaceModel:
    """Any face model: 'demo' (the shipped procedural head), a BFM .mat, a saved .npz, or a folder.

    A folder is searched for BFM_model_front.mat / BFM09_model_info.mat, BFM_UV_refined.mat / BFM_UV.mat
    and mask.png (StyleFaceUV's data/ layout); explicit ``uv_path`` / ``mask_path`` take precedence.
    """
    if isinstance(path_or_name, str) and path_or_name == "demo":
        return importlib.import_module(".procedural", __package__).demo_face_model()
    p = Path(path_or_name)
    expected = "'demo', a BFM_model_front.mat, a face model .npz or a folder holding BFM_model_front.mat"
    if p.is_dir():
        model_file = _first(p, BFM_MODEL_NAMES)
        if model_file is None:
            raise fail(p, f"no {' or '.join(BFM_MODEL_NAMES)} in this folder (expected {expected})")
        from .bfm import load_bfm_front

        return load_bfm_front(model_file, uv_path if uv_path is not None else _first(p, BFM_UV_NAMES),
                              mask_path if mask_path is not None else _first(p, BFM_MASK_NAMES),
                              front_idx_path=front_idx_path)
    if not p.exists():
        raise fail(p, f"no such face model file (expected {expected})")
    suffix = p.suffix.lower()
    if suffix == ".mat":
        from .bfm import load_bfm_front

        return load_bfm_front(p, uv_path, mask_path, front_idx_path=front_idx_path)
    if suffix == ".npz":
        return load_face_model_npz(p)
    raise fail(p, f"unknown face model file type '{p.suffix}' (expected {expected})")
