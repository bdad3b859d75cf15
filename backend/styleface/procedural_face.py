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


class ProceduralFaceGenerator:
    """seed -> FaceAssets: identity, expression, pose and lighting coefficients drawn from the model's
    prior, textures painted procedurally. The face model is built once and kept."""

    def __init__(self, model: FaceModel | None = None, texture_size: int = 256, id_sigma: float = 0.8,
                 exp_sigma: float = 0.3):
        if model is None:
            from .facemodel.procedural import demo_face_model
            model = demo_face_model()
        self.model = model
        self.texture_size = texture_size
        self.id_sigma = id_sigma
        self.exp_sigma = exp_sigma

    def coefficients(self, seed: int, expression: dict[str, float] | None = None) -> dict[str, np.ndarray]:
        m = self.model
        rng = np.random.default_rng([seed, 0x5F3D])
        idc = np.clip(rng.standard_normal(m.n_id) * self.id_sigma, -2.5, 2.5)
        # Expressions are activations (jaw open, eye close, ...): non-negative, most of them off.
        exp = np.clip(np.abs(rng.standard_normal(m.n_exp)) * self.exp_sigma, 0.0, 1.0)
        exp *= rng.uniform(size=m.n_exp) < 0.35
        if expression is not None:
            exp = np.zeros(m.n_exp)
            for name, strength in expression.items():
                exp[m.expression_index(name)] = strength
        rot = np.array([rng.uniform(-0.15, 0.15), rng.uniform(-0.5, 0.5), rng.uniform(-0.08, 0.08)])
        gamma = np.zeros(27)
        gamma.reshape(3, 9)[:, 1:4] = rng.normal(0, 0.12, 3)  # one white-ish directional light
        gamma.reshape(3, 9)[:, 0] += rng.normal(0, 0.05, 3)
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
        return FaceAssets(
            vertices=verts, faces=m.triangles, uvs=m.uvs,
            diffuse=paint_diffuse(m, skin, self.texture_size),
            displacement=paint_displacement(m, skin, self.texture_size),
            displacement_info=DisplacementInfo(mode="generalized-xyz", scale=0.01, mid_level=0.0),
            coefficients=coeffs, stylecode=None, seed=int(seed),
            provenance={"generator": "procedural", "face_model": m.name, "styleface": __version__,
                        "texture_size": self.texture_size},
        )
