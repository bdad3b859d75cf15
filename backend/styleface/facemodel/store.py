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
from .topology import MeshTopology

FORMAT_KEY = "styleface_face_model"
FORMAT_VERSION = 2  # 2: optional topology arrays and the compact layout (see save_face_model)
_ARRAYS = ("mean_shape", "id_basis", "exp_basis", "triangles", "uvs", "landmarks", "point_buf")
_OPTIONAL = ("mean_albedo", "albedo_basis", "uv_mask")
_META_PREFIX = "metadata."
BFM_MODEL_NAMES = ("BFM_model_front.mat", "BFM09_model_info.mat")
BFM_UV_NAMES = ("BFM_UV_refined.mat", "BFM_UV.mat")
BFM_MASK_NAMES = ("mask.png",)


def save_face_model(model: FaceModel, path: PathLike, *, compact: bool = False) -> Path:
    """Write ``model`` to ``path`` (.npz) so :func:`load_face_model` restores it.

    The default restores it exactly. ``compact=True`` (for shipping, e.g. the ICT head) stores shapes per
    welded vertex, bases as int16 multiples of a fixed step (:data:`COMPACT_STEPS`: 1 and 2 micrometres
    per unit coefficient for identity and expression in decimetre models), regions as float16 and
    compresses the file; positions of a face then stay within a few hundredths of a millimetre.
    Metadata must be JSON-serialisable apart from numpy arrays, which get their own entries.
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
    if model.topology is not None:
        t = model.topology
        entries.update({"topology.polygon_sizes": t.polygon_sizes.astype(np.int32),
                        "topology.polygon_corners": t.polygon_corners.astype(np.int32),
                        "topology.polygon_parts": t.polygon_parts.astype(np.int32),
                        "topology.part_names": np.array(t.part_names, dtype=np.str_),
                        "topology.source_vertex": t.source_vertex.astype(np.int32)})
    if compact:
        _compact(model, entries)
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
    if compact:
        for k, v in entries.items():
            if k.startswith(_META_PREFIX) and v.dtype.kind == "f":
                entries[k] = v.astype(np.float16)
    try:
        (np.savez_compressed if compact else np.savez)(out, **entries)
    except OSError as exc:
        raise fail(out, f"cannot write the face model ({exc.strerror or type(exc).__name__})") from None
    return out


COMPACT_STEPS = {"id_basis": 1e-5, "exp_basis": 2e-5}


def _compact(model: FaceModel, entries: dict[str, np.ndarray]) -> None:
    """Replace dense per-render-vertex shapes by welded, quantized ones (see save_face_model)."""
    t = model.mesh_topology
    entries["mean_shape"] = t.weld(model.mean_shape).astype(np.float32)
    for key, step in COMPACT_STEPS.items():
        welded = t.weld(getattr(model, key)).astype(np.float64)
        q = np.round(welded / step)
        if np.abs(q).max(initial=0) > 32767:
            raise StyleFaceError(f"face model '{model.name}': {key} too large for the compact format "
                                 f"(|value| > {32767 * step})")
        entries[key] = q.astype(np.int16)
        entries[f"compact.{key}.step"] = np.array(step)
    entries["triangles"] = model.triangles.astype(np.int32)
    del entries["point_buf"]  # rebuilt on load
    entries["compact"] = np.array(1)


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
            compact = "compact" in files
            required = tuple(k for k in _ARRAYS if not (compact and k == "point_buf"))
            missing = [k for k in required + ("name", "exp_names", "metadata_json") if k not in files]
            if missing:
                raise fail(p, f"missing entries {', '.join(missing)} (expected {what})")
            arrays = {k: npz[k] for k in required}
            optional = {k: (npz[k] if k in files else None) for k in _OPTIONAL}
            topology = None
            if "topology.source_vertex" in files:
                topology = MeshTopology(npz["topology.polygon_sizes"], npz["topology.polygon_corners"],
                                        npz["topology.polygon_parts"],
                                        tuple(str(s) for s in npz["topology.part_names"]),
                                        npz["topology.source_vertex"])
            if compact:
                if topology is None:
                    raise fail(p, "compact face model without topology")
                sv = topology.source_vertex
                arrays["mean_shape"] = arrays["mean_shape"][sv]
                for key in COMPACT_STEPS:
                    step = float(npz[f"compact.{key}.step"])
                    arrays[key] = arrays[key][sv].astype(np.float32) * np.float32(step)
            name = str(npz["name"])
            exp_names = tuple(str(s) for s in npz["exp_names"])
            meta_doc = json.loads(str(npz["metadata_json"]))
            metadata = dict(meta_doc["values"])
            for path in meta_doc["array_keys"]:
                path = [path] if isinstance(path, str) else list(path)  # version 1 wrote flat keys
                owner = metadata
                for part in path[:-1]:
                    owner = owner[part]
                value = npz[_META_PREFIX + ".".join(path)]
                owner[path[-1]] = value.astype(np.float32) if value.dtype == np.float16 else value
    except StyleFaceError:
        raise
    except (ValueError, OSError, KeyError, TypeError, IndexError, zipfile.BadZipFile,
            json.JSONDecodeError) as exc:
        raise fail(p, f"not a readable face model .npz ({type(exc).__name__}: "
                      f"{' '.join(str(exc).split())[:100]}); expected {what}") from None
    return FaceModel(name=name, exp_names=exp_names, metadata=metadata, topology=topology, **arrays, **optional)


def _first(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


# Built-in face models: the ICT-FaceKit head (the default) and the small procedural head. "demo" names
# the procedural head, as bundles trained on it say.
BUILTIN_NAMES = ("default", "ict", "procedural", "demo")
ICT_FILE = Path(__file__).resolve().parent.parent / "data" / "face_models" / "ict_facekit.npz"
_BUILTIN_CACHE: dict[str, FaceModel] = {}


def builtin_face_model(name: str = "default") -> FaceModel:
    """A built-in face model by name (the ICT head is read once per process; a fresh copy each call
    would cost its 0.1-0.2 s load again, so callers share it and must not modify its arrays)."""
    if name in ("procedural", "demo"):
        return importlib.import_module(".procedural", __package__).demo_face_model()
    if name not in ("default", "ict"):
        raise StyleFaceError(f"unknown built-in face model '{name}' (known: {', '.join(BUILTIN_NAMES)})")
    if "ict" not in _BUILTIN_CACHE:
        if not ICT_FILE.is_file():
            raise fail(ICT_FILE, "the shipped ICT-FaceKit face model is missing from this installation")
        _BUILTIN_CACHE["ict"] = load_face_model_npz(ICT_FILE)
    return _BUILTIN_CACHE["ict"]


def load_face_model(path_or_name: PathLike | str, *, uv_path: PathLike | None = None,
                    mask_path: PathLike | None = None, front_idx_path: PathLike | None = None) -> FaceModel:
    """Any face model: a built-in name ('default' / 'ict': the ICT-FaceKit head; 'procedural' / 'demo':
    the procedural head), a BFM .mat, a saved .npz, or a folder.

    A folder is searched for BFM_model_front.mat / BFM09_model_info.mat, BFM_UV_refined.mat / BFM_UV.mat
    and mask.png (StyleFaceUV's data/ layout); explicit ``uv_path`` / ``mask_path`` take precedence.
    """
    if isinstance(path_or_name, str) and path_or_name in BUILTIN_NAMES:
        return builtin_face_model(path_or_name)
    p = Path(path_or_name)
    expected = (f"{', '.join(repr(n) for n in BUILTIN_NAMES)}, a BFM_model_front.mat, a face model .npz or a "
                f"folder holding BFM_model_front.mat")
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
