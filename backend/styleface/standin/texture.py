"""The stand-in's UV maps: fixed layers baked once per face model, mixed with weights that are smooth
functions of w.

Why layers: a UV generator has to learn w -> maps, so the maps must vary smoothly with w; painting a
fresh random texture per sample (as ``styleface.texture`` does for seeds) would not be learnable.
Region masks, noise fields and displacement layers come from ``styleface.texture``; only their weights
(skin tone, lip/brow/iris colours, blotch pattern, pore and wrinkle depth, the intensity of moles and a
scar on one side of the face) depend on w.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from ..facemodel.model import FaceModel
from ..texture import SkinParams, UVLayers, one_sided_marks, paint_displacement, value_noise

SKIN_TONES = np.array([[0.93, 0.78, 0.69], [0.84, 0.64, 0.52], [0.70, 0.50, 0.38],
                       [0.50, 0.34, 0.24], [0.33, 0.22, 0.16]], np.float32)
HAIR = np.array([[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.55, 0.38, 0.22], [0.80, 0.68, 0.45],
                 [0.45, 0.20, 0.10], [0.55, 0.55, 0.55]], np.float32)
IRIS = np.array([[0.25, 0.15, 0.08], [0.35, 0.45, 0.65], [0.35, 0.50, 0.30], [0.15, 0.10, 0.06]], np.float32)
SCLERA = (0.85, 0.82, 0.78)
MOUTH = (0.35, 0.12, 0.12)
N_BLOTCH = 4
N_PORES = 2
N_MOLES = 3

# Factors (name -> size) this module reads; all unit variance under the prior.
TEXTURE_FACTORS = {"tone": 1, "redness": 1, "hair": len(HAIR), "iris": len(IRIS), "lip": 3,
                   "blotch": N_BLOTCH, "freckles": 1, "pores": N_PORES, "wrinkles": 1, "moles": N_MOLES,
                   "scar": 1}


def _disc(size: int, u: float, v: float, r: float) -> np.ndarray:
    c = (np.arange(size) + 0.5) / size
    uu, vv = np.meshgrid(c, 1 - c)
    d = np.sqrt((uu - u) ** 2 + (vv - v) ** 2) / max(r, 0.5 / size)
    return np.clip(1.5 - 1.5 * d, 0, 1).astype(np.float32)


def _line(size: int, u: float, v: float, angle: float, length: float) -> np.ndarray:
    c = (np.arange(size) + 0.5) / size
    uu, vv = np.meshgrid(c, 1 - c)
    du, dv = uu - u, vv - v
    along = du * np.cos(angle) + dv * np.sin(angle)
    across = -du * np.sin(angle) + dv * np.cos(angle)
    width = max(0.007, 1.0 / size)
    return (np.clip(1 - np.abs(across) / width, 0, 1) * np.clip(1 - np.abs(along) / (length / 2), 0, 1) ** 0.3
            ).astype(np.float32)


def _rbf_mix(t: torch.Tensor, palette: torch.Tensor, width: float = 0.35) -> torch.Tensor:
    """Smoothly interpolate a palette (K, 3) at t (B,) in [0, 1] with normalised Gaussian weights."""
    k = palette.shape[0]
    centres = torch.linspace(0, 1, k, device=t.device)
    wts = torch.softmax(-((t[:, None] - centres) / (width / (k - 1))) ** 2, dim=1)
    return wts @ palette


def _buffer_shapes(size: int) -> dict[str, tuple[int, ...]]:
    t = (size, size)
    return {"skin_mask": t, "lips": t, "hair_mask": t, "eyes": t, "flush": t, "iris": t, "mouth": t, "pupil": t,
            "blotch": (N_BLOTCH, *t), "mottle": t, "freckle": t, "moles": (N_MOLES, *t), "scar": t,
            "disp_pores": (N_PORES, 3, *t), "disp_wrinkles": (3, *t), "normals": (3, *t),
            "skin_tones": SKIN_TONES.shape, "hair_palette": HAIR.shape, "iris_palette": IRIS.shape}


class TextureBank(torch.nn.Module):
    """Fixed UV layers of one face model at one texture size, and the w-dependent painter
    (``empty=True``: buffers allocated only, to load saved ones)."""

    def __init__(self, model: FaceModel, size: int, seed: int, empty: bool = False) -> None:
        super().__init__()
        self.size = size
        if empty:
            for name, shape in _buffer_shapes(size).items():
                self.register_buffer(name, torch.zeros(shape))
            return
        L = UVLayers.for_model(model, size)
        rng = np.random.default_rng([seed, 0x7E7])
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
        reg = {k: L.region(k) for k in ("skin", "lips", "brows", "scalp", "hair", "eyes", "iris", "nose", "cheeks",
                                         "ears", "mouth_interior")}
        has_skin = "skin" in L.regions
        self.register_buffer("skin_mask", t(reg["skin"] if has_skin else np.ones((size, size))))
        self.register_buffer("lips", t(reg["lips"]))
        hair = np.clip(reg["brows"] + reg["scalp"] + reg["hair"], 0, 1) * (0.85 + 0.15 * value_noise(rng, size, 48))
        self.register_buffer("hair_mask", t(np.clip(hair, 0, 1)))
        self.register_buffer("eyes", t(reg["eyes"]))
        flush = ndimage.gaussian_filter(0.6 * reg["nose"] + reg["cheeks"] + 0.5 * reg["ears"], size / 40)
        self.register_buffer("flush", t(flush))
        iris_c = L.uv_regions.get("iris_centres") or L.uv_regions.get("eye_centres") or []
        iris = np.zeros((size, size), np.float32)
        pupil = np.zeros((size, size), np.float32)
        for c in iris_c:
            r = float(c[2]) if len(c) > 2 else 0.012
            iris = np.maximum(iris, _disc(size, float(c[0]), float(c[1]), r))
            pupil = np.maximum(pupil, _disc(size, float(c[0]), float(c[1]), 0.4 * r))
        if reg["iris"].any():  # the model labels its irises: use them, keep the discs for the pupils
            iris = reg["iris"]
        self.register_buffer("iris", t(iris * reg["eyes"] if reg["eyes"].any() else iris))
        self.register_buffer("mouth", t(reg["mouth_interior"]))
        self.register_buffer("pupil", t(pupil * reg["eyes"] if reg["eyes"].any() else pupil))
        self.register_buffer("blotch", t(np.stack([value_noise(rng, size, 6, 3) for _ in range(N_BLOTCH)])))
        self.register_buffer("mottle", t(value_noise(rng, size, 64, 1)))
        fr = ndimage.gaussian_filter((value_noise(rng, size, 96, 1) > 1.7).astype(np.float32), 0.5)
        self.register_buffer("freckle", t(fr * self.skin_mask.numpy() * (1 - reg["lips"])))
        # Marks on one side of the face only, at fixed places; their strength depends on w.
        moles, scar = one_sided_marks(model, np.random.default_rng([seed, 0x30E]), N_MOLES, True)
        # Radii large enough to survive StyleFaceUV's sampling at vertex UVs.
        mole_maps = [_disc(size, u, v, max(2.5 * r, 0.011, 1.5 / size)) for (u, v, r) in moles]
        while len(mole_maps) < N_MOLES:
            mole_maps.append(np.zeros((size, size), np.float32))
        self.register_buffer("moles", t(np.stack(mole_maps)))
        self.register_buffer("scar", t(_line(size, *scar) if scar is not None else np.zeros((size, size))))
        # Displacement layers (3, T, T) from the project's painter, linear in their amplitudes.
        blank = dict(pores=0.0, wrinkles=0.0, moles=[], scar=None)
        pores = [paint_displacement(model, SkinParams(**{**blank, "pores": 1.0, "seed": seed * 31 + k}), size)
                 for k in range(N_PORES)]
        self.register_buffer("disp_pores", t(np.stack(pores)))
        wrinkles = paint_displacement(model, SkinParams(**{**blank, "wrinkles": 1.0}), size)
        self.register_buffer("disp_wrinkles", t(wrinkles))
        normals = L.normals
        self.register_buffer("normals", t(normals))
        self.register_buffer("skin_tones", t(SKIN_TONES))
        self.register_buffer("hair_palette", t(HAIR))
        self.register_buffer("iris_palette", t(IRIS))

    def paint(self, f: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit-variance factors -> (diffuse (B, 3, T, T) in [0, 1], displacement (B, 3, T, T) in [-1, 1])."""
        sig = torch.sigmoid
        tone = sig(1.1 * f["tone"][:, 0])
        skin = _rbf_mix(tone, self.skin_tones)[:, :, None, None]
        blotch_amp = 0.05 * sig(f["redness"][:, 0] - 0.5)[:, None, None, None]
        pattern = torch.einsum("bk,khw->bhw", torch.tanh(f["blotch"]), self.blotch) / N_BLOTCH ** 0.5
        img = skin * (1 + blotch_amp * pattern[:, None]) * (1 + 0.02 * self.mottle)
        red = sig(f["redness"][:, 0])[:, None, None, None]
        img = img * (1 + 0.18 * red * self.flush * torch.tensor([0.25, -0.35, -0.3], device=img.device)[:, None, None])
        lip = skin * torch.tensor([0.86, 0.66, 0.66], device=img.device)[:, None, None] \
            + (0.03 * (1 + red) + 0.02 * torch.tanh(f["lip"])[:, :, None, None]) \
            * torch.tensor([1.0, 0.1, 0.3], device=img.device)[:, None, None]
        img = img + (lip - img) * self.lips
        hair = torch.softmax(1.5 * f["hair"], 1) @ self.hair_palette
        img = img + (hair[:, :, None, None] - img) * self.hair_mask
        sclera = torch.tensor(SCLERA, device=img.device)[:, None, None]
        img = img + (sclera - img) * self.eyes
        iris = torch.softmax(1.5 * f["iris"], 1) @ self.iris_palette
        img = img + (iris[:, :, None, None] - img) * self.iris
        img = img * (1 - 0.9 * self.pupil)
        img = img + (torch.tensor(MOUTH, device=img.device)[:, None, None] - img) * self.mouth
        freck = sig(2 * f["freckles"][:, 0] - 2)[:, None, None, None]
        img = img * (1 - 0.18 * freck * self.freckle)
        mole_i = sig(2.5 * f["moles"] - 0.5)  # (B, M)
        mole = torch.einsum("bm,mhw->bhw", mole_i, self.moles).clamp(max=1)[:, None]
        img = img * (1 - 0.65 * mole)
        scar_i = sig(2.5 * f["scar"][:, 0] - 1)[:, None, None, None]
        img = img + 0.1 * scar_i * self.scar * torch.tensor([1.0, 0.35, 0.35], device=img.device)[:, None, None]
        diffuse = img.clamp(0, 1)

        pores = torch.einsum("bk,kchw->bchw", 0.35 * sig(f["pores"]), self.disp_pores)
        wr = 0.8 * sig(1.5 * f["wrinkles"][:, 0] - 0.5)[:, None, None, None] * self.disp_wrinkles
        bump = (0.5 * mole - 0.4 * scar_i * self.scar) * self.normals
        displacement = (pores + wr + bump).clamp(-1, 1)
        return diffuse, displacement
