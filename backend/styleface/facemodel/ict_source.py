"""Reading ICT-FaceKit as its users have it: the ``FaceXModel/`` folder of OBJ files.

ICT-FaceKit (USC Institute for Creative Technologies, MIT licence) ships one OBJ per shape
(``generic_neutral_mesh.obj``, ``identity000.obj`` ... ``identity099.obj``, 57 expression OBJs) with the
same vertices in the same order, plus ``vertex_indices.json`` (landmarks). This module turns that folder
into an :class:`IctSource`: positions in the original centimetres, the neutral mesh's polygons, per-corner
UVs and material groups. :mod:`.ict` turns a source into a FaceModel. Every problem with a file is one
line naming the file.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._matio import PathLike, fail

NEUTRAL_OBJ = "generic_neutral_mesh.obj"
INDEX_JSON = "vertex_indices.json"
# The 57 expression shapes of ICT-FaceKit, in the toolkit's (sorted) order.
ICT_EXPRESSIONS: tuple[str, ...] = tuple(sorted(
    [f"{base}_{side}" for side in "LR" for base in (
        "PupilDilate", "browDown", "browInnerUp", "browOuterUp", "cheekPuff", "cheekRaiser", "cheekSquint",
        "eyeBlink", "eyeLookDown", "eyeLookIn", "eyeLookOut", "eyeLookUp", "eyeSquint", "eyeWide",
        "mouthDimple", "mouthFrown", "mouthLowerDown", "mouthPress", "mouthSmile", "mouthStretch",
        "mouthUpperUp", "noseSneer")]
    + ["jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthFunnel", "mouthLeft", "mouthPucker",
       "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper"]))
_IDENTITY = re.compile(r"^identity(\d{3})\.obj$")


@dataclass(eq=False)
class IctSource:
    """ICT-FaceKit data as read: positions in centimetres (+y up, facing +z), original vertex order.

    polygon_vertices / polygon_uv_ids are flat corner lists (``polygon_sizes`` corners each) into the
    vertices and into ``uv_coords`` (the OBJ's ``vt``, UDIM tiles: u may exceed 1); polygon_materials
    indexes ``material_names`` (the OBJ's ``usemtl`` groups).
    """

    neutral: np.ndarray
    identity_deltas: np.ndarray
    identity_names: tuple[str, ...]
    expression_deltas: np.ndarray
    expression_names: tuple[str, ...]
    uv_coords: np.ndarray
    polygon_sizes: np.ndarray
    polygon_vertices: np.ndarray
    polygon_uv_ids: np.ndarray
    polygon_materials: np.ndarray
    material_names: tuple[str, ...]
    landmarks: np.ndarray

    @property
    def n_vertices(self) -> int:
        return int(self.neutral.shape[0])


@dataclass(eq=False)
class ObjMesh:
    positions: np.ndarray
    uv_coords: np.ndarray
    polygon_sizes: np.ndarray
    polygon_vertices: np.ndarray
    polygon_uv_ids: np.ndarray
    polygon_materials: np.ndarray
    material_names: tuple[str, ...]


def _read_text(path: Path, what: str) -> str:
    if not path.is_file():
        raise fail(path, f"file not found (expected {what})")
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise fail(path, f"cannot read ({exc.strerror or type(exc).__name__})") from None


def _floats(path: Path, lines: list[str], width: int, what: str) -> np.ndarray:
    if not lines:
        return np.zeros((0, width), np.float32)
    try:
        rows = [ln.split()[1:width + 1] for ln in lines]
        arr = np.array(rows, dtype=np.float64)
    except ValueError:
        raise fail(path, f"malformed {what} line (expected {width} numbers)") from None
    if arr.ndim != 2 or arr.shape[1] != width:
        raise fail(path, f"malformed {what} line (expected {width} numbers)")
    return arr


def read_obj_positions(path: PathLike, expected_vertices: int | None = None) -> np.ndarray:
    """The ``v`` positions of an OBJ (V, 3) float64, checked for count and finiteness."""
    p = Path(path)
    text = _read_text(p, "an ICT-FaceKit shape OBJ")
    v = _floats(p, [ln for ln in text.splitlines() if ln.startswith("v ")], 3, "vertex")
    if not len(v):
        raise fail(p, "no vertices ('v' lines) in this OBJ")
    if expected_vertices is not None and len(v) != expected_vertices:
        raise fail(p, f"has {len(v)} vertices, expected {expected_vertices} like {NEUTRAL_OBJ}")
    if not np.isfinite(v).all():
        bad = int(np.flatnonzero(~np.isfinite(v).all(1))[0])
        raise fail(p, f"vertex {bad} is not finite (NaN or infinity)")
    return v


def read_obj_mesh(path: PathLike) -> ObjMesh:
    """Positions, UVs, polygons (any size), corner UV ids and material groups of an OBJ."""
    p = Path(path)
    text = _read_text(p, f"the ICT-FaceKit neutral mesh {NEUTRAL_OBJ}")
    lines = text.splitlines()
    v = read_obj_positions(p)
    vt = _floats(p, [ln for ln in lines if ln.startswith("vt ")], 2, "texture coordinate")
    sizes, verts, uvids, mats = [], [], [], []
    names: list[str] = []
    cur = -1
    for ln in lines:
        if ln.startswith("usemtl"):
            name = ln.split(maxsplit=1)[1].strip() if len(ln.split()) > 1 else ""
            if name not in names:
                names.append(name)
            cur = names.index(name)
        elif ln.startswith("f "):
            corners = ln.split()[1:]
            try:
                parts = [c.split("/") for c in corners]
                vi = [int(c[0]) for c in parts]
                ti = [int(c[1]) if len(c) > 1 and c[1] else 0 for c in parts]
            except (ValueError, IndexError):
                raise fail(p, f"malformed face line '{ln.strip()[:60]}'") from None
            sizes.append(len(vi))
            verts.extend(vi)
            uvids.extend(ti)
            mats.append(cur)
    if not sizes:
        raise fail(p, "no faces ('f' lines): the neutral mesh must carry the topology")
    vv = np.asarray(verts, np.int64)
    tt = np.asarray(uvids, np.int64)
    vv = np.where(vv < 0, vv + len(v), vv - 1)  # OBJ ids are 1-based, negative ones count from the end
    tt = np.where(tt < 0, tt + len(vt), tt - 1)
    if vv.min() < 0 or vv.max() >= len(v):
        raise fail(p, "a face refers to a vertex that does not exist")
    if len(vt) == 0 or tt.min() < 0 or tt.max() >= len(vt):
        raise fail(p, "every face corner needs a texture coordinate (f v/vt ...) for the UV layout")
    if min(sizes) < 3:
        raise fail(p, "a face has fewer than 3 corners")
    if -1 in mats:
        names.append("default")
        mats = [len(names) - 1 if m < 0 else m for m in mats]
    return ObjMesh(v, vt, np.asarray(sizes, np.int64), vv, tt, np.asarray(mats, np.int64), tuple(names))


def read_landmarks(path: PathLike, n_vertices: int) -> np.ndarray:
    """The 68 landmark vertex ids (Multi-PIE order) from ``vertex_indices.json``."""
    p = Path(path)
    try:
        doc = json.loads(_read_text(p, f"ICT-FaceKit's {INDEX_JSON}"))
    except json.JSONDecodeError as exc:
        raise fail(p, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    lm = doc.get("idx_to_landmark_verts") if isinstance(doc, dict) else None
    if not isinstance(lm, list) or len(lm) != 68 or not all(isinstance(i, int) for i in lm):
        raise fail(p, "'idx_to_landmark_verts' must list 68 vertex ids")
    ids = np.asarray(lm, np.int64)
    if ids.min() < 0 or ids.max() >= n_vertices:
        raise fail(p, f"landmark ids must lie in [0, {n_vertices})")
    return ids


def find_facex_folder(folder: PathLike) -> Path:
    """``folder`` itself or its ``FaceXModel/`` subfolder, whichever holds the neutral mesh."""
    p = Path(folder)
    for cand in (p, p / "FaceXModel"):
        if (cand / NEUTRAL_OBJ).is_file():
            return cand
    if not p.exists():
        raise fail(p, "no such folder (expected ICT-FaceKit's FaceXModel/ folder)")
    raise fail(p, f"no {NEUTRAL_OBJ} here or in FaceXModel/ (expected ICT-FaceKit's FaceXModel/ folder)")


def load_ict_folder(folder: PathLike, progress=None) -> IctSource:
    """Read an ICT-FaceKit ``FaceXModel/`` folder (or the repository root holding it).

    Needs the neutral mesh, ``vertex_indices.json``, at least one ``identityNNN.obj`` (numbered from 000
    without gaps) and all 57 expression OBJs. ``progress`` (optional) is called with (done, total).
    """
    root = find_facex_folder(folder)
    mesh = read_obj_mesh(root / NEUTRAL_OBJ)
    n = len(mesh.positions)
    landmarks = read_landmarks(root / INDEX_JSON, n)
    numbers = sorted(int(m.group(1)) for f in root.iterdir() if (m := _IDENTITY.match(f.name)))
    if not numbers:
        raise fail(root, "no identityNNN.obj files (expected identity000.obj ... identity099.obj)")
    if numbers != list(range(len(numbers))):
        missing = sorted(set(range(max(numbers) + 1)) - set(numbers))[0]
        raise fail(root / f"identity{missing:03d}.obj", "missing (identity files must be numbered from 000 "
                                                          "without gaps)")
    missing_exp = [e for e in ICT_EXPRESSIONS if not (root / f"{e}.obj").is_file()]
    if missing_exp:
        raise fail(root / f"{missing_exp[0]}.obj",
                   f"expression shape missing ({len(missing_exp)} of {len(ICT_EXPRESSIONS)} missing)")
    total = len(numbers) + len(ICT_EXPRESSIONS)
    neutral = mesh.positions
    ids = np.empty((len(numbers), n, 3), np.float32)
    exps = np.empty((len(ICT_EXPRESSIONS), n, 3), np.float32)
    names = [f"identity{i:03d}" for i in numbers]
    for k, name in enumerate(names + list(ICT_EXPRESSIONS)):
        delta = read_obj_positions(root / f"{name}.obj", n) - neutral
        if k < len(names):
            ids[k] = delta
        else:
            exps[k - len(names)] = delta
        if progress is not None:
            progress(k + 1, total)
    return IctSource(neutral.astype(np.float32), ids, tuple(names), exps, ICT_EXPRESSIONS, mesh.uv_coords,
                     mesh.polygon_sizes, mesh.polygon_vertices, mesh.polygon_uv_ids, mesh.polygon_materials,
                     mesh.material_names, landmarks)


def load_ict_arrays(shapes_npz: PathLike, neutral_obj: PathLike, index_json: PathLike) -> IctSource:
    """The same source from the converted form in shared data: ``ict_shapes.npz`` (neutral, identity and
    expression deltas) with the neutral OBJ for the topology and ``vertex_indices.json``."""
    p = Path(shapes_npz)
    mesh = read_obj_mesh(neutral_obj)
    n = len(mesh.positions)
    try:
        with np.load(p, allow_pickle=False) as z:
            neutral = np.asarray(z["neutral"], np.float32)
            ids = np.asarray(z["identity_deltas"], np.float32)
            exps = np.asarray(z["expression_deltas"], np.float32)
            id_names = tuple(str(s) for s in z["identity_names"])
            exp_names = tuple(str(s) for s in z["expression_names"])
    except FileNotFoundError:
        raise fail(p, "file not found (expected ict_shapes.npz)") from None
    except (KeyError, ValueError, OSError) as exc:
        raise fail(p, f"not a readable ict_shapes.npz ({type(exc).__name__})") from None
    if neutral.shape != (n, 3) or ids.shape[1:] != (n, 3) or exps.shape[1:] != (n, 3):
        raise fail(p, f"shapes do not match the {n}-vertex neutral mesh")
    if set(exp_names) != set(ICT_EXPRESSIONS):
        raise fail(p, "expression names differ from ICT-FaceKit's 57")
    order = [exp_names.index(e) for e in ICT_EXPRESSIONS]
    return IctSource(neutral, ids, id_names, exps[order], ICT_EXPRESSIONS, mesh.uv_coords, mesh.polygon_sizes,
                     mesh.polygon_vertices, mesh.polygon_uv_ids, mesh.polygon_materials, mesh.material_names,
                     read_landmarks(index_json, n))
