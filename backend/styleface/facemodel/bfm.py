"""The Basel Face Model as users bring it: Deep3DFaceRecon's front model, or the files to build it.

BFM cannot be shipped, so these loaders read the files users download (see the research note on the
formats): ``BFM_model_front.mat`` / ascust's ``BFM09_model_info.mat`` directly, or ``01_MorphableModel.mat``
+ ``Exp_Pca.bin`` + the small index files through :func:`build_bfm_front`. Everything is validated so a
wrong or damaged file gives one line naming the file and what was expected.

Frame: BFM already looks along +z with +y up; /1e5 turns micrometres into the decimetres the backend
uses. As in StyleFaceUV's renderer, the mean shape's centroid is subtracted (kept in metadata).
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._matio import PathLike, existing_file, fail, matrix, numeric, one_based, read_mat, require, vector
from .model import FaceModel, build_point_buf
from .uv_files import cylindrical_uvs, load_uv_mask, load_uvs

FRONT_WHAT = ("a Deep3DFaceRecon BFM_model_front.mat / BFM09_model_info.mat "
              "(keys meanshape, idBase, exBase, meantex, texBase, tri, point_buf, keypoints)")
FRONT_KEYS = ("meanshape", "idBase", "exBase", "meantex", "texBase", "tri", "point_buf", "keypoints",
              "tri_mask2", "frontmask2_idx", "skinmask")
BFM_SCALE = 1e5  # BFM09 micrometres -> decimetres


# -- the front model file ----------------------------------------------------------------------------
def _basis(data: dict, key: str, path: PathLike, n3: int) -> np.ndarray:
    arr = matrix(require(data, key, path, FRONT_WHAT), path, key, rows=n3,
                 expected=f"({n3}, K): 3N rows, x/y/z interleaved")
    return arr.reshape(n3 // 3, 3, arr.shape[1])


def _topology(data: dict, path: PathLike, n: int, what: str) -> dict[str, np.ndarray]:
    """tri, point_buf, keypoints and the optional masks of a front-model or facemodel_info file, 0-based."""
    tri = matrix(require(data, "tri", path, what), path, "tri", cols=3, expected="(F, 3) triangles")
    tri = one_based(tri, path, "tri", n)
    f = len(tri)
    out = {"tri": tri}
    if "point_buf" in data:
        buf = matrix(np.asarray(data["point_buf"]), path, "point_buf", rows=n,
                     expected=f"({n}, M) adjacent faces per vertex")
        out["point_buf"] = one_based(buf, path, "point_buf", f + 1)  # padding F+1 becomes F
    kp = vector(require(data, "keypoints", path, what), path, "keypoints", 68,
                expected="(1, 68) landmark vertex ids")
    out["keypoints"] = one_based(kp, path, "keypoints", n)
    if "tri_mask2" in data:
        t2 = matrix(np.asarray(data["tri_mask2"]), path, "tri_mask2", cols=3, expected="(T, 3) triangles")
        out["tri_mask2"] = one_based(t2, path, "tri_mask2", n)
    if "frontmask2_idx" in data:
        fm = vector(np.asarray(data["frontmask2_idx"]), path, "frontmask2_idx", expected="(M, 1) vertex ids")
        out["frontmask2_idx"] = one_based(fm, path, "frontmask2_idx", n)
    if "skinmask" in data:
        out["skinmask"] = vector(np.asarray(data["skinmask"]), path, "skinmask", n,
                                 expected=f"(1, {n}) 0/1 flags") != 0
    return out


def load_bfm_front(path: PathLike, uv_path: PathLike | None = None, mask_path: PathLike | None = None, *,
                   front_idx_path: PathLike | None = None) -> FaceModel:
    """FaceModel 'bfm' from ``BFM_model_front.mat`` (or ``BFM09_model_info.mat``, same keys).

    Bases become (N, 3, K); albedo is rescaled from 0-255 to [0, 1]; MATLAB indices become 0-based with
    point_buf padded by F. ``uv_path`` is StyleFaceUV's ``UV_refine`` or face3d's ``BFM_UV.mat`` (reduced
    with ``front_idx_path`` or a ``BFM_front_idx.mat`` beside it); without it the UVs are a cylindrical
    projection (metadata ``uv_source`` = 'cylindrical-fallback') so the model stays usable but its UV
    maps will not match StyleFaceUV weights. ``mask_path`` is the UV face mask PNG.
    """
    data = read_mat(path, FRONT_WHAT, keys=FRONT_KEYS)
    mean = vector(require(data, "meanshape", path, FRONT_WHAT), path, "meanshape",
                  expected="(1, 3N) x/y/z interleaved mean shape")
    if mean.size % 3:
        raise fail(path, f"'meanshape' has {mean.size} values, expected 3 per vertex (1, 3N)")
    n3 = mean.size
    n = n3 // 3
    mean = mean.astype(np.float64).reshape(n, 3)
    centroid = mean.mean(axis=0)
    id_basis = _basis(data, "idBase", path, n3)
    exp_basis = _basis(data, "exBase", path, n3)

    mean_albedo = albedo_basis = None
    if "meantex" in data or "texBase" in data:
        mean_albedo = vector(require(data, "meantex", path, FRONT_WHAT), path, "meantex", n3,
                             expected=f"(1, {n3}) mean albedo 0-255").reshape(n, 3) / 255.0
        albedo_basis = _basis(data, "texBase", path, n3) / 255.0

    topo = _topology(data, path, n, FRONT_WHAT)
    metadata: dict = {
        "source_file": Path(path).name,
        "format": "BFM_model_front",
        "units": "decimetre (BFM micrometres / 1e5)",
        "centroid_offset": [float(c) for c in centroid],
        "albedo_scale": "meantex / 255",
    }
    for key in ("tri_mask2", "frontmask2_idx", "skinmask"):
        if key in topo:
            metadata[key] = topo[key]

    if uv_path is None:
        uvs = cylindrical_uvs(mean)
        metadata["uv_source"] = "cylindrical-fallback"
    else:
        uvs = load_uvs(uv_path, n, front_idx_path=front_idx_path)
        metadata["uv_source"] = Path(uv_path).name
    uv_mask = None
    if mask_path is not None:
        uv_mask = load_uv_mask(mask_path)
        metadata["uv_mask_source"] = Path(mask_path).name

    return FaceModel(
        name="bfm",
        mean_shape=mean - centroid,
        id_basis=id_basis,
        exp_basis=exp_basis,
        triangles=topo["tri"],
        uvs=uvs,
        landmarks=topo["keypoints"],
        mean_albedo=mean_albedo,
        albedo_basis=albedo_basis,
        point_buf=topo.get("point_buf"),
        uv_mask=uv_mask,
        metadata=metadata,
    )


# -- Exp_Pca.bin ---------------------------------------------------------------------------------------
class ExpPca(NamedTuple):
    """Guo et al.'s expression PCA: mean (3M,) and components (3M, K), x/y/z interleaved, float32."""

    mean: np.ndarray
    basis: np.ndarray


def load_exp_pca(path: PathLike, n_vertices: int | None = None) -> ExpPca:
    """``Exp_Pca.bin``: int32 K, float32 mean[3M], float32 K component vectors of 3M (little-endian).

    The header holds no vertex count, so the size is checked against ``n_vertices`` when given
    (53,215 for BFM) and otherwise must divide evenly; a truncated download fails here, not later.
    """
    p = existing_file(path, "Exp_Pca.bin (int32 count, float32 mean, float32 components)")
    size = p.stat().st_size
    if size < 4:
        raise fail(p, f"file is {size} bytes, expected an int32 component count followed by float32 data")
    k = int(np.fromfile(p, dtype="<i4", count=1)[0])
    if not 1 <= k <= 10_000:
        raise fail(p, f"header says {k} components, expected a small positive count (79 for BFM); "
                      f"not an Exp_Pca.bin")
    if n_vertices is not None:
        expected = 4 + 4 * 3 * n_vertices * (k + 1)
        if size != expected:
            raise fail(p, f"expected {expected:,} bytes for {k} components of {n_vertices} vertices, "
                          f"found {size:,} bytes (truncated or a different file)")
    elif (size - 4) % (12 * (k + 1)) or size == 4:
        ref = 4 + 4 * 3 * 53215 * (79 + 1)
        raise fail(p, f"{size:,} bytes do not fit {k} components (expected 4 + 12*M*(K+1) bytes, e.g. "
                      f"{ref:,} for 79 components of 53215 vertices); the file is truncated")
    m3 = (size - 4) // (4 * (k + 1))
    values = np.fromfile(p, dtype="<f4", offset=4)
    numeric(values, p, "data")
    mean = values[:m3].astype(np.float32)
    basis = np.ascontiguousarray(values[m3:].reshape(k, m3).T, dtype=np.float32)
    return ExpPca(mean, basis)


# -- building the front model from the original BFM09 files ---------------------------------------------
def _read_std(path: PathLike, need: int) -> np.ndarray:
    p = existing_file(path, "std_exp.txt (one standard deviation per expression component)")
    try:
        values = np.array(p.read_text().split(), dtype=np.float64)
    except (ValueError, UnicodeDecodeError):
        raise fail(p, "expected whitespace-separated numbers (one standard deviation per expression "
                      "component)") from None
    if values.size < need:
        raise fail(p, f"has {values.size} values, expected at least {need} (one per expression component)")
    return values


def _component_count(path: PathLike, what: str, available: int, wanted: int) -> None:
    if available < wanted:
        raise fail(path, f"has {available} {what} components, expected at least {wanted}")


def build_bfm_front(morphable_model_path: PathLike, exp_pca_path: PathLike, std_exp_path: PathLike,
                    exp_idx_path: PathLike, front_idx_path: PathLike, info_path: PathLike,
                    out_path: PathLike | None = None, *, n_id: int = 80, n_exp: int = 64,
                    n_tex: int = 80) -> dict[str, np.ndarray]:
    """Arrays of ``BFM_model_front.mat`` built from BFM09 + the expression PCA, like Deep3DFaceRecon.

    idBase = shapePC * shapeEV / 1e5, exBase = expPC * std_exp / 1e5, texBase = texPC * texEV (0-255),
    meanshape = shapeMU / 1e5, meantex = texMU, all reduced to the front vertices: BFM09 vertex
    ``trimIndex[idx]`` for the shape/texture, expression-set vertex ``idx`` for the expression basis.
    Topology comes from ``facemodel_info.mat``. Written with scipy.io.savemat when ``out_path`` is
    given (readable by :func:`load_bfm_front` and by Deep3DFaceRecon-style code); returned either way.
    """
    import scipy.io

    mm_what = "BFM09 01_MorphableModel.mat (keys shapeMU, shapePC, shapeEV, texMU, texPC, texEV)"
    mm = read_mat(morphable_model_path, mm_what,
                  keys=["shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV"])
    shape_mu = vector(require(mm, "shapeMU", morphable_model_path, mm_what), morphable_model_path, "shapeMU",
                      expected="(3V, 1) mean shape")
    v3 = shape_mu.size
    if v3 % 3:
        raise fail(morphable_model_path, f"'shapeMU' has {v3} values, expected 3 per vertex (3V, 1)")
    n_full = v3 // 3

    def pcs(mu_key: str, pc_key: str, ev_key: str, wanted: int) -> tuple[np.ndarray, np.ndarray]:
        mu = vector(require(mm, mu_key, morphable_model_path, mm_what), morphable_model_path, mu_key, v3,
                    expected=f"({v3}, 1)")
        pc = matrix(require(mm, pc_key, morphable_model_path, mm_what), morphable_model_path, pc_key,
                    rows=v3, expected=f"({v3}, K) principal components")
        ev = vector(require(mm, ev_key, morphable_model_path, mm_what), morphable_model_path, ev_key,
                    pc.shape[1], expected=f"({pc.shape[1]}, 1) standard deviations, one per column of {pc_key}")
        _component_count(morphable_model_path, pc_key, pc.shape[1], wanted)
        basis = pc[:, :wanted].astype(np.float64) * ev[:wanted].astype(np.float64)[None, :]
        return mu.astype(np.float64), basis

    shape_mu, id_basis = pcs("shapeMU", "shapePC", "shapeEV", n_id)
    tex_mu, tex_basis = pcs("texMU", "texPC", "texEV", n_tex)

    exp_what = "BFM_exp_idx.mat with key 'trimIndex'"
    trim_data = read_mat(exp_idx_path, exp_what, keys=["trimIndex"])
    trim = vector(require(trim_data, "trimIndex", exp_idx_path, exp_what), exp_idx_path, "trimIndex",
                  expected="(M, 1) vertex ids")
    trim = one_based(trim, exp_idx_path, "trimIndex", n_full)
    n_exp_set = len(trim)

    exp = load_exp_pca(exp_pca_path, n_vertices=n_exp_set)
    _component_count(exp_pca_path, "expression", exp.basis.shape[1], n_exp)
    std = _read_std(std_exp_path, n_exp)[:n_exp]
    exp_basis = exp.basis[:, :n_exp].astype(np.float64) * std[None, :]

    front_what = "BFM_front_idx.mat with key 'idx'"
    front_data = read_mat(front_idx_path, front_what, keys=["idx"])
    front = vector(require(front_data, "idx", front_idx_path, front_what), front_idx_path, "idx",
                   expected="(N, 1) vertex ids")
    front = one_based(front, front_idx_path, "idx", n_exp_set)
    n = len(front)
    shape_rows = trim[front]  # BFM09 vertex of each front vertex

    def rows(arr: np.ndarray, verts: np.ndarray) -> np.ndarray:
        per_vertex = arr.reshape(-1, 3, *arr.shape[1:])[verts]
        return per_vertex.reshape(3 * len(verts), *arr.shape[1:])

    info_what = "facemodel_info.mat (keys tri, point_buf, keypoints; optional tri_mask2, frontmask2_idx, skinmask)"
    info = read_mat(info_path, info_what, keys=["tri", "point_buf", "keypoints", "tri_mask2",
                                                "frontmask2_idx", "skinmask"])
    topo = _topology(info, info_path, n, info_what)
    tri = topo["tri"]
    point_buf = topo["point_buf"] if "point_buf" in topo else build_point_buf(tri, n)

    out: dict[str, np.ndarray] = {
        "meanshape": (rows(shape_mu, shape_rows) / BFM_SCALE).reshape(1, -1).astype(np.float32),
        "meantex": rows(tex_mu, shape_rows).reshape(1, -1).astype(np.float32),
        "idBase": (rows(id_basis, shape_rows) / BFM_SCALE).astype(np.float32),
        "exBase": (rows(exp_basis, front) / BFM_SCALE).astype(np.float32),
        "texBase": rows(tex_basis, shape_rows).astype(np.float32),
        "tri": (tri + 1).astype(np.int32),
        "point_buf": (point_buf + 1).astype(np.int32),
        "keypoints": (topo["keypoints"] + 1).astype(np.int32).reshape(1, -1),
    }
    if "tri_mask2" in topo:
        out["tri_mask2"] = (topo["tri_mask2"] + 1).astype(np.int32)
    if "frontmask2_idx" in topo:
        out["frontmask2_idx"] = (topo["frontmask2_idx"] + 1).astype(np.int32).reshape(-1, 1)
    if "skinmask" in topo:
        out["skinmask"] = topo["skinmask"].astype(np.float64).reshape(1, -1)

    if out_path is not None:
        try:
            scipy.io.savemat(str(out_path), out, do_compression=False)
        except OSError as exc:
            raise fail(out_path, f"cannot write the face model ({exc.strerror or type(exc).__name__})") from None
    return out
