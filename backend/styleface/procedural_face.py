"""Random faces straight from the face model and procedural textures: the generator behind
``styleface generate`` until a trained bundle is the default, and a reference for the pipeline tests.
"""
from __future__ import annotations

import numpy as np
import torch

from . import __version__
from .assets import DisplacementInfo, FaceAssets
from .errors import StyleFaceError
from .facemodel.model import FaceModel
from .geometry import face_shape
from .rig import FaceRig
from .texture import paint_diffuse, paint_displacement, random_skin


def parse_expression(text: str) -> dict[str, float]:
    """'smile_left=0.8,brow_raise' -> {'smile_left': 0.8, 'brow_raise': 1.0}."""
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, val = part.strip().partition("=")
        if not name:
            continue
        try:
            out[name.strip()] = float(val) if sep else 1.0
        except ValueError:
            raise StyleFaceError(f"bad expression strength in '{part}': use name=number") from None
    if not out:
        raise StyleFaceError(f"bad expression '{text}': use e.g. smile_left=0.8")
    return out


def _has_arkit_names(model: FaceModel) -> bool:
    return "jawOpen" in model.exp_names


def expression_vector(model: FaceModel, expression: dict[str, float]) -> np.ndarray:
    """Expression weights from {name: strength}: model names, ARKit names (browInnerUp drives both
    sides) or original ICT names (eyeBlink_L)."""
    from .facemodel.arkit import resolve_expression_name

    exp = np.zeros(model.n_exp)
    for name, strength in expression.items():
        targets = resolve_expression_name(name, model.exp_names)
        if not targets:
            model.expression_index(name)  # raises with the list of known names
        for t in targets:
            exp[model.exp_names.index(t)] = strength
    return exp


# ARKit shapes a random face may wear; gaze and pupil shapes stay neutral.
_RANDOM_EXCLUDE = ("eyeLook", "pupilDilate")


def sparse_arkit_expression(names: tuple[str, ...], rng: np.random.Generator) -> np.ndarray:
    """A plausible expression: 0-3 ARKit shapes (both sides of paired ones, nearly symmetric) at
    moderate strength, everything else off."""
    groups: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        if n.startswith(_RANDOM_EXCLUDE):
            continue
        base = n[:-4] if n.endswith("Left") else n[:-5] if n.endswith("Right") else n
        groups.setdefault(base, []).append(i)
    keys = sorted(groups)
    exp = np.zeros(len(names))
    k = int(rng.choice([0, 1, 1, 2, 2, 3]))
    for g in rng.choice(len(keys), size=min(k, len(keys)), replace=False):
        strength = rng.uniform(0.2, 0.8)
        for i in groups[keys[g]]:
            exp[i] = np.clip(strength + rng.normal(0, 0.05), 0, 1)
    return exp


class ProceduralFaceGenerator:
    """seed -> FaceAssets: identity, expression, pose and lighting coefficients drawn from the model's
    prior, textures painted procedurally. The face model is built once and kept."""

    def __init__(self, model: FaceModel | None = None, texture_size: int = 256, id_sigma: float | None = None,
                 exp_sigma: float = 0.3):
        if model is None:
            from .facemodel.store import builtin_face_model
            model = builtin_face_model("default")
        self.model = model
        self.texture_size = texture_size
        self.arkit = _has_arkit_names(model)
        # ICT's identity modes have an N(0, 1) prior; the procedural head's basis is pre-scaled to 0.8.
        self.id_sigma = (1.0 if self.arkit else 0.8) if id_sigma is None else id_sigma
        self.exp_sigma = exp_sigma

    def coefficients(self, seed: int, expression: dict[str, float] | None = None) -> dict[str, np.ndarray]:
        m = self.model
        rng = np.random.default_rng([seed, 0x5F3D])
        idc = np.clip(rng.standard_normal(m.n_id) * self.id_sigma, -2.5, 2.5)
        if self.arkit:
            exp = sparse_arkit_expression(m.exp_names, rng)
        else:
            # Expressions are activations (jaw open, eye close, ...): non-negative, most of them off.
            exp = np.clip(np.abs(rng.standard_normal(m.n_exp)) * self.exp_sigma, 0.0, 1.0)
            exp *= rng.uniform(size=m.n_exp) < 0.35
        if expression is not None:
            exp = expression_vector(m, expression)
        rot = np.array([rng.uniform(-0.15, 0.15), rng.uniform(-0.5, 0.5), rng.uniform(-0.08, 0.08)])
        gamma = np.zeros(27)
        gamma.reshape(3, 9)[:, 1:4] = rng.normal(0, 0.12, 3)  # one white-ish directional light
        # Coloured ambient light; whole-head (ICT) faces keep it near white so skin tones read true.
        gamma.reshape(3, 9)[:, 0] += rng.normal(0, 0.015 if self.arkit else 0.05, 3)
        tex = np.zeros(m.n_tex)
        return {"id": idc, "exp": exp, "tex": tex, "rot": rot, "gamma": gamma, "trans": np.zeros(3)}

    def generate(self, seed: int, expression: dict[str, float] | None = None) -> FaceAssets:
        m = self.model
        coeffs = self.coefficients(seed, expression)
        with torch.no_grad():
            t = m.tensors("cpu")
            verts = face_shape(t, torch.as_tensor(coeffs["id"], dtype=torch.float32)[None],
                               torch.as_tensor(coeffs["exp"], dtype=torch.float32)[None])[0].numpy()
        skin = random_skin(m, seed)
        if self.arkit:  # whole-head faces: skin tones evenly over the palette, light to dark
            skin.tone = float(np.random.default_rng([seed, 0x70E]).uniform())
        return FaceAssets(
            vertices=verts, faces=m.triangles, uvs=m.uvs,
            diffuse=paint_diffuse(m, skin, self.texture_size),
            displacement=paint_displacement(m, skin, self.texture_size),
            displacement_info=DisplacementInfo(mode="generalized-xyz", scale=0.01, mid_level=0.0),
            coefficients=coeffs, stylecode=None, seed=int(seed),
            provenance={"generator": "procedural", "face_model": m.name, "styleface": __version__,
                        "texture_size": self.texture_size},
            rig=FaceRig.from_model(m) if m.topology is not None else None,
        )
