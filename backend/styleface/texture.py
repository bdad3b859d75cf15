"""Procedural skin textures in UV space: a diffuse map and a generalized displacement map.

These stand in for the UV generator until trained weights exist, and give the StyleGAN2 stand-in its
ground-truth maps. Everything is painted from per-vertex region labels baked into the UV layout, so any
face model with UVs (and ideally ``metadata["regions"]``) can be textured.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .facemodel.model import FaceModel
from .uvbake import bake_vertex_attributes, dilate

# Skin tones from light to dark (linear-ish RGB in [0,1]); a tone parameter interpolates along them.
_SKIN_TONES = np.array([[0.93, 0.78, 0.69], [0.84, 0.64, 0.52], [0.70, 0.50, 0.38],
                        [0.50, 0.34, 0.24], [0.33, 0.22, 0.16]], np.float32)
_HAIR = np.array([[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.55, 0.38, 0.22], [0.80, 0.68, 0.45],
                  [0.45, 0.20, 0.10], [0.6, 0.6, 0.6]], np.float32)
_IRIS = np.array([[0.25, 0.15, 0.08], [0.35, 0.45, 0.65], [0.35, 0.50, 0.30], [0.15, 0.10, 0.06]],
                 np.float32)
_TEETH = np.array([0.85, 0.82, 0.72], np.float32)
_GUMS = np.array([0.62, 0.24, 0.26], np.float32)
_SOCKET = np.array([0.25, 0.08, 0.08], np.float32)


@dataclass
class SkinParams:
    """What varies between procedural skins; every field is sampled from one seed."""

    tone: float = 0.3            # 0 light .. 1 dark
    redness: float = 0.3         # cheeks, nose, lips
    hair: np.ndarray = field(default_factory=lambda: _HAIR[1].copy())
    iris: np.ndarray = field(default_factory=lambda: _IRIS[0].copy())
    blotch: float = 0.04         # low-frequency tone variation
    pores: float = 0.25          # displacement amplitude of pores (map units)
    wrinkles: float = 0.4        # displacement amplitude of wrinkles (map units)
    freckles: float = 0.0        # density 0..1
    moles: list[tuple[float, float, float]] = field(default_factory=list)  # (u, v, radius) one side only
    scar: tuple[float, float, float, float] | None = None                   # (u, v, angle, length)
    seed: int = 0

    @classmethod
    def random(cls, seed: int) -> "SkinParams":
        rng = np.random.default_rng(seed)
        hair = _HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.85, 1.15)
        iris = _IRIS[rng.integers(len(_IRIS))] * rng.uniform(0.85, 1.15)
        return cls(tone=float(rng.beta(1.5, 2.0)), redness=float(rng.uniform(0.1, 0.6)),
                   hair=np.clip(hair, 0, 1).astype(np.float32), iris=np.clip(iris, 0, 1).astype(np.float32),
                   blotch=float(rng.uniform(0.02, 0.07)), pores=float(rng.uniform(0.1, 0.4)),
                   wrinkles=float(rng.uniform(0.1, 0.8)), freckles=float(rng.uniform(0, 1) ** 3),
                   moles=[], scar=None, seed=seed)


class UVLayers:
    """Static per-model layers baked once per texture size: region masks, normals, positions, coverage."""

    _cache: dict[tuple[int, int], "UVLayers"] = {}

    def __init__(self, model: FaceModel, size: int):
        self.size = size
        regions = model.metadata.get("regions", {}) or {}
        names = sorted(regions)
        n = model.n_vertices
        cols = [np.asarray(regions[k], np.float32).reshape(n, 1) for k in names]
        normals = _vertex_normals_np(model.mean_shape, model.triangles)
        values = np.concatenate(cols + [normals, model.mean_shape], axis=1)
        baked, covered = bake_vertex_attributes(model.uvs, model.triangles, values, size)
        baked = dilate(baked, covered, iterations=3)
        self.covered = covered
        self.regions = {k: baked[i] for i, k in enumerate(names)}
        self.normals = baked[len(names):len(names) + 3]
        norm = np.linalg.norm(self.normals, axis=0, keepdims=True)
        self.normals = self.normals / np.maximum(norm, 1e-6)
        self.positions = baked[len(names) + 3:]
        self.uv_regions = model.metadata.get("uv_regions", {}) or {}

    @classmethod
    def for_model(cls, model: FaceModel, size: int) -> "UVLayers":
        key = (id(model), size)
        if key not in cls._cache:
            cls._cache[key] = cls(model, size)
        return cls._cache[key]

    def region(self, name: str) -> np.ndarray:
        r = self.regions.get(name)
        return np.zeros((self.size, self.size), np.float32) if r is None else np.clip(r, 0, 1)


def _vertex_normals_np(v: np.ndarray, tri: np.ndarray) -> np.ndarray:
    fn = np.cross(v[tri[:, 0]] - v[tri[:, 1]], v[tri[:, 1]] - v[tri[:, 2]])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, tri[:, k], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def value_noise(rng: np.random.Generator, size: int, cells: int, octaves: int = 1) -> np.ndarray:
    """Smooth noise in [-1, 1]-ish: random grids upsampled with cubic splines, summed over octaves."""
    out = np.zeros((size, size), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        c = max(2, cells * 2 ** o)
        grid = rng.standard_normal((c, c)).astype(np.float32)
        out += amp * ndimage.zoom(grid, size / c, order=3, mode="grid-wrap", grid_mode=True)[:size, :size]
        total += amp
        amp *= 0.5
    return out / total


def _discs(size: int, centres: list[tuple[float, float, float]]) -> np.ndarray:
    """Soft discs at UV (u, v, radius) -> (size, size) in [0, 1]."""
    c = (np.arange(size) + 0.5) / size
    u, v = np.meshgrid(c, 1 - c)
    out = np.zeros((size, size), np.float32)
    for cu, cv, r in centres:
        d = np.sqrt((u - cu) ** 2 + (v - cv) ** 2) / max(r, 1e-6)
        out = np.maximum(out, np.clip(1.5 - 1.5 * d, 0, 1) ** 0.7)
    return out


def paint_diffuse(model: FaceModel, params: SkinParams, size: int = 256) -> np.ndarray:
    """Diffuse albedo (3, size, size) in [0, 1]."""
    L = UVLayers.for_model(model, size)
    rng = np.random.default_rng(params.seed * 7919 + 1)
    t = params.tone * (len(_SKIN_TONES) - 1)
    i = min(int(t), len(_SKIN_TONES) - 2)
    skin = (1 - (t - i)) * _SKIN_TONES[i] + (t - i) * _SKIN_TONES[i + 1]
    img = np.broadcast_to(skin[:, None, None], (3, size, size)).copy()
    # Large-scale blotchiness and fine mottling.
    img *= 1 + params.blotch * value_noise(rng, size, 6, 3)[None]
    img *= 1 + 0.025 * value_noise(rng, size, 64, 1)[None]
    red = np.array([0.08, -0.05, -0.05], np.float32)[:, None, None]
    img += params.redness * red * (L.region("nose") + L.region("cheeks") + 0.5 * L.region("ears"))[None]
    lips = L.region("lips")
    lip_col = skin * np.array([0.85, 0.55, 0.55]) + np.array([0.08, 0.0, 0.02]) * (1 + params.redness)
    img = img * (1 - lips[None]) + lip_col[:, None, None].astype(np.float32) * lips[None]
    for name in ("brows", "scalp", "hair"):
        h = L.region(name) * (0.85 + 0.15 * value_noise(rng, size, 48, 1))
        h = np.clip(h, 0, 1)
        img = img * (1 - h[None]) + params.hair[:, None, None] * h[None]
    eyes = L.region("eyes")
    if eyes.any():
        sclera = np.array([0.85, 0.82, 0.78], np.float32)[:, None, None]
        img = img * (1 - eyes[None]) + sclera * eyes[None]
        iris_c = [(c[0], c[1], c[2] if len(c) > 2 else 0.012) for c in
                  _as_list(L.uv_regions.get("iris_centres") or L.uv_regions.get("eye_centres"))]
        iris = _discs(size, iris_c) * eyes
        img = img * (1 - iris[None]) + params.iris[:, None, None] * iris[None]
        pupil_r = L.uv_regions.get("pupil_radius")
        if pupil_r:
            pupil = _discs(size, [(c[0], c[1], float(pupil_r)) for c in iris_c]) * eyes
            img = img * (1 - pupil[None]) + 0.02 * pupil[None]
    # Parts of whole-head models (ICT): teeth, gums and tongue, mouth/eye sockets, eyelashes.
    for name, colour in (("teeth", _TEETH), ("gums", _GUMS), ("socket", _SOCKET)):
        r = L.region(name)
        if r.any():
            img = img * (1 - r[None]) + colour[:, None, None] * r[None]
    lashes = L.region("eyelashes")
    if lashes.any():
        img = img * (1 - lashes[None]) + 0.4 * params.hair[:, None, None] * lashes[None]
    if params.freckles > 0:
        f = (value_noise(rng, size, 96, 1) > 2.2 - params.freckles).astype(np.float32)
        f = ndimage.gaussian_filter(f, 0.7) * L.region("skin")
        img *= 1 - 0.25 * f[None]
    moles = _discs(size, params.moles)
    img *= 1 - 0.6 * moles[None]
    if params.scar is not None:
        img += 0.08 * _scar(size, params.scar)[None] * np.array([1.0, 0.3, 0.3], np.float32)[:, None, None]
    return np.clip(img, 0, 1).astype(np.float32)


def paint_displacement(model: FaceModel, params: SkinParams, size: int = 256) -> np.ndarray:
    """Generalized displacement (3, size, size) in [-1, 1]: a height field along the baked normals."""
    L = UVLayers.for_model(model, size)
    rng = np.random.default_rng(params.seed * 104729 + 2)
    skin = np.clip(L.region("skin") + (0 if "skin" in L.regions else 1), 0, 1)
    pores = ndimage.gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), 0.6)
    height = params.pores * pores / (pores.std() + 1e-6) * 0.3 * skin
    height += params.wrinkles * _wrinkles(L) * skin
    height += 0.5 * _discs(size, params.moles)
    if params.scar is not None:
        height -= 0.4 * _scar(size, params.scar)
    height = np.clip(height, -1, 1)
    return np.clip(L.normals * height[None], -1, 1).astype(np.float32)


def _wrinkles(L: UVLayers) -> np.ndarray:
    """Forehead lines and crow's feet from model-space positions (frame: +y up, facing +z)."""
    x, y, z = L.positions
    fore = L.region("forehead")
    if not fore.any():  # no label: the band above the brows at the front of the head
        fore = np.clip((y - 0.35) * 4, 0, 1) * np.clip((0.95 - y) * 4, 0, 1) * (z > 0.3) * (np.abs(x) < 0.55)
    lines = -np.sin(y * 2 * np.pi * 9.0) ** 8 * fore
    crow = np.zeros_like(x)
    for side in (-1, 1):
        cx = side * 0.62
        d = np.sqrt((x - cx) ** 2 + (y - 0.2) ** 2)
        ang = np.arctan2(y - 0.2, x - cx)
        crow += -np.clip(1 - d / 0.18, 0, 1) * np.abs(np.sin(ang * 5)) ** 6 * (z > 0.0)
    return (lines + 0.7 * crow).astype(np.float32)


def _scar(size: int, scar: tuple[float, float, float, float]) -> np.ndarray:
    cu, cv, ang, length = scar
    c = (np.arange(size) + 0.5) / size
    u, v = np.meshgrid(c, 1 - c)
    du, dv = u - cu, v - cv
    along = du * np.cos(ang) + dv * np.sin(ang)
    across = -du * np.sin(ang) + dv * np.cos(ang)
    return (np.clip(1 - np.abs(across) / 0.004, 0, 1) * (np.abs(along) < length / 2)).astype(np.float32)


def _as_list(x) -> list:
    if x is None:
        return []
    return [tuple(float(t) for t in c) for c in x]


def one_sided_marks(model: FaceModel, rng: np.random.Generator, n_moles: int, scar: bool) -> tuple[list, tuple | None]:
    """Moles (and maybe a scar) on the subject's left cheek/temple only (x > 0): asymmetric marks that a
    view-consistent generator must not mirror."""
    regions = model.metadata.get("regions", {}) or {}
    cand = (model.mean_shape[:, 0] > 0.15) & (model.mean_shape[:, 2] > 0.2)
    if "skin" in regions:
        cand &= np.asarray(regions["skin"], bool)
    for k in ("lips", "eyes", "brows", "scalp", "hair"):
        if k in regions:
            cand &= ~np.asarray(regions[k], bool)
    ids = np.flatnonzero(cand)
    if len(ids) == 0:
        return [], None
    pick = rng.choice(ids, size=min(n_moles + 1, len(ids)), replace=False)
    moles = [(float(model.uvs[i, 0]), float(model.uvs[i, 1]), float(rng.uniform(0.003, 0.007)))
             for i in pick[:n_moles]]
    sc = None
    if scar:
        i = pick[-1]
        sc = (float(model.uvs[i, 0]), float(model.uvs[i, 1]), float(rng.uniform(0, np.pi)),
              float(rng.uniform(0.02, 0.05)))
    return moles, sc


def random_skin(model: FaceModel, seed: int) -> SkinParams:
    """SkinParams for a seed, with 0-3 moles and sometimes a scar on one side of the face."""
    p = SkinParams.random(seed)
    rng = np.random.default_rng(seed * 31 + 5)
    p.moles, p.scar = one_sided_marks(model, rng, int(rng.integers(0, 4)), bool(rng.uniform() < 0.3))
    return p
