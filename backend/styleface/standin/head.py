"""The stand-in's world on a whole-head model with ARKit expressions (the ICT-FaceKit head).

Two things differ from the procedural head's world (:mod:`.texture`), both smooth in w so a UV
generator and F3D can learn them:

- **Expressions** are sparse and plausible: one factor per ARKit group (``mouthSmile``, ``eyeBlink``,
  ``jawOpen``, ...) switches on only well above its mean (about 2 of 30 groups per face), drives both
  sides with a small asymmetry, and gaze / pupil shapes stay neutral.
- **Appearance** covers people: skin tones over Fitzpatrick I-VI, six iris colours, brow thickness and
  darkness, stubble or beard shadow on the beard area, a receding hairline for some and hair colour on
  the scalp (a texture, not strands), lip colour, freckles, moles, age (wrinkle depth also darkens the
  folds), and fixed colours for teeth, gums, mouth and eye sockets and lashes.
"""
from __future__ import annotations

import numpy as np
import torch

from ..facemodel.model import FaceModel
from ..texture import UVLayers, value_noise
from .texture import TextureBank, _rbf_mix

# Fitzpatrick I-VI (linear-ish RGB albedo), light to dark.
FITZPATRICK = np.array([[0.95, 0.82, 0.74], [0.88, 0.70, 0.58], [0.78, 0.58, 0.44], [0.64, 0.45, 0.31],
                        [0.45, 0.29, 0.19], [0.26, 0.16, 0.10]], np.float32)
IRIS6 = np.array([[0.20, 0.11, 0.05], [0.36, 0.22, 0.10], [0.45, 0.38, 0.18], [0.30, 0.45, 0.28],
                  [0.32, 0.45, 0.65], [0.50, 0.55, 0.58]], np.float32)
HAIR6 = np.array([[0.05, 0.04, 0.035], [0.20, 0.12, 0.07], [0.45, 0.30, 0.17], [0.78, 0.64, 0.42],
                  [0.50, 0.20, 0.09], [0.62, 0.62, 0.62]], np.float32)
TEETH, GUMS, SOCKET = (0.86, 0.82, 0.70), (0.62, 0.25, 0.27), (0.22, 0.07, 0.07)
HEAD_FACTORS = {"stubble": 1, "brow": 2, "hairline": 1, "iris_colour": len(IRIS6)}
GROUP_THRESHOLD = 1.5  # a group's factor must exceed this many sigmas to show (about 7% each)
_NEUTRAL_GROUPS = ("eyeLook", "pupilDilate")


def expression_groups(names: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_exp,) index of each expression's group leader (its first shape) and a (n_exp,) mask of the
    shapes that may show (gaze and pupil shapes stay neutral)."""
    leader: dict[str, int] = {}
    lead = np.zeros(len(names), np.int64)
    active = np.ones(len(names), bool)
    for i, n in enumerate(names):
        base = n[:-4] if n.endswith("Left") else n[:-5] if n.endswith("Right") else n
        lead[i] = leader.setdefault(base, i)
        active[i] = not n.startswith(_NEUTRAL_GROUPS)
    return torch.from_numpy(lead), torch.from_numpy(active)


def sparse_expression(f_exp: torch.Tensor, lead: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """Unit-variance factors (B, n_exp) -> weights in [0, 1], mostly 0, paired sides together."""
    group = f_exp[:, lead.to(f_exp.device)]
    strength = torch.relu(torch.tanh(0.9 * (group - GROUP_THRESHOLD)))
    asym = 1 + 0.1 * torch.tanh(f_exp)  # each side's own factor nudges it
    return (strength * asym).clamp(0, 1) * active.to(f_exp.device)


_HEAD_MAPS = ("r_teeth", "r_gums", "r_socket", "r_eyelashes", "r_brows", "r_scalp", "r_scalp_receded", "r_beard")


class HeadTextureBank(TextureBank):
    """TextureBank with the whole-head parts and the wider appearance factors (HEAD_FACTORS)."""

    def __init__(self, model: FaceModel, size: int, seed: int, empty: bool = False) -> None:
        super().__init__(model, size, seed, empty=empty)
        if empty:  # shapes only, to load saved buffers
            for name in _HEAD_MAPS:
                self.register_buffer(name, torch.zeros(size, size))
            for name, palette in (("fitz", FITZPATRICK), ("iris6", IRIS6), ("hair6", HAIR6)):
                self.register_buffer(name, torch.zeros(palette.shape))
            return
        L = UVLayers.for_model(model, size)
        rng = np.random.default_rng([seed, 0x4EAD])
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
        for name in ("teeth", "gums", "socket", "eyelashes", "brows", "scalp", "scalp_receded"):
            self.register_buffer(f"r_{name}", t(L.region(name)))
        speckle = np.clip(0.5 + 0.5 * value_noise(rng, size, 160, 1) / 1.5, 0, 1)
        self.register_buffer("r_beard", t(L.region("beard") * speckle))
        self.register_buffer("fitz", t(FITZPATRICK))
        self.register_buffer("iris6", t(IRIS6))
        self.register_buffer("hair6", t(HAIR6))

    def paint(self, f: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        diffuse, displacement = super().paint(f)
        dev = diffuse.device
        sig = torch.sigmoid
        col = lambda c: torch.tensor(c, device=dev)[:, None, None]  # noqa: E731
        # Re-tone the skin over Fitzpatrick I-VI (the base painter's palette spans a narrower range).
        tone = sig(1.2 * f["tone"][:, 0])
        old = _rbf_mix(sig(1.1 * f["tone"][:, 0]), self.skin_tones)
        new = _rbf_mix(tone, self.fitz)
        recolour = self.skin_mask * (1 - self.hair_mask)  # skin (and lips, painted from it), not eyes or hair
        img = diffuse * (new / old.clamp(min=1e-3))[:, :, None, None] ** recolour
        hair = torch.softmax(1.5 * f["hair"], 1) @ self.hair6
        # Hairline: full or receding; brows: thickness and darkness.
        recede = sig(2.0 * f["hairline"][:, 0] - 1.0)[:, None, None, None]
        scalp = self.r_scalp + (self.r_scalp_receded - self.r_scalp) * recede
        brow_w = (0.55 + 0.45 * sig(f["brow"][:, 0]))[:, None, None, None]
        brows = (self.r_brows * 1.4 * brow_w).clamp(0, 1) ** (1.5 - brow_w)
        brow_col = hair[:, :, None, None] * (0.5 + 0.5 * sig(f["brow"][:, 1]))[:, None, None, None]
        img = img + (hair[:, :, None, None] - img) * scalp * (0.9 + 0.1 * self.mottle)
        img = img + (brow_col - img) * brows
        stubble = sig(3.0 * f["stubble"][:, 0] - 2.5)[:, None, None, None]
        img = img + (hair[:, :, None, None] * 0.6 - img) * (0.55 * stubble * self.r_beard)
        iris = torch.softmax(2.0 * f["iris_colour"], 1) @ self.iris6
        img = img + (iris[:, :, None, None] - img) * self.iris * (1 - 0.9 * self.pupil)
        for region, c in ((self.r_teeth, TEETH), (self.r_gums, GUMS), (self.r_socket, SOCKET)):
            img = img + (col(c) - img) * region
        img = img + (hair[:, :, None, None] * 0.5 + 0.04 - img) * self.r_eyelashes
        return img.clamp(0, 1), displacement
