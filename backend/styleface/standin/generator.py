"""A procedural stand-in for StyleGAN2: w -> a rendered face whose 3D truth is known.

It has the interface of ``styleface.nets.stylegan2.Generator`` (``mapping``, ``to_wplus`` with
truncation, ``mean_latent``, ``latent_avg``, ``synthesis``, ``n_latent``, ``style_dim``, ``size``), so
every training step runs unchanged on it or on a real checkpoint. W+ decodes through fixed seeded
projections (``standin_latent``) into the face model's coefficients (identity, expression, pose with yaw
linear in w, SH lighting, translation), UV maps (``standin_texture``) and a background gradient; the face
is rendered the way StyleFaceUV renders (vertex mode: displacement and diffuse sampled at vertex UVs,
displacement x 0.01 in model space, normals recomputed, SH shading). ``synthesis(w, return_truth=True)``
returns the coefficients, maps and landmarks too, which makes the stand-in a benchmark of the method.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from ..camera import PinholeCamera
from ..errors import StyleFaceError
from ..facemodel import load_face_model
from ..facemodel.model import FaceModel
from ..geometry import euler_rotation, rigid_transform
from ..render.face import FaceRenderer

from .head import HEAD_FACTORS, HeadTextureBank, expression_groups, sparse_expression
from .latent import LatentSpace
from .texture import TEXTURE_FACTORS, TextureBank

DISPLACEMENT_SCALE = 0.01


@dataclass(frozen=True)
class StandInConfig:
    """Sizes and ranges of the stand-in; ``seed`` fixes every projection (one seed, one world)."""

    style_dim: int = 128
    n_latent: int = 8
    image_size: int = 256
    texture_size: int = 256
    seed: int = 0
    n_mlp: int = 2
    yaw_deg_per_sigma: float = 25.0
    yaw_max_deg: float = 60.0
    pitch_deg_per_sigma: float = 6.0
    roll_deg_per_sigma: float = 3.0
    id_sigma: float = 0.8
    exp_sigma: float = 0.3
    antialias: int = 1  # render at antialias x size and average down
    face_model: str = "demo"  # a built-in name ('demo', 'ict', ...) or a path load_face_model reads

    def __post_init__(self) -> None:
        if self.style_dim < 8 or self.n_latent < 1:
            raise StyleFaceError("stand-in: style_dim must be >= 8 and n_latent >= 1")
        if not 16 <= self.image_size <= 1024 or not 8 <= self.texture_size <= 2048:
            raise StyleFaceError("stand-in: image_size must be in [16, 1024] and texture_size in [8, 2048]")
        if self.antialias < 1:
            raise StyleFaceError("stand-in: antialias must be >= 1")


class StandInGenerator(torch.nn.Module):
    """StyleGAN2-shaped procedural face generator over a face model (the demo head by default)."""

    def __init__(self, config: StandInConfig | None = None, model: FaceModel | None = None,
                 empty: bool = False) -> None:
        super().__init__()
        self.config = config or StandInConfig()
        if model is None:
            model = load_face_model(self.config.face_model)
        self.face_model = model
        self.layout = model.layout
        c = self.config
        self.size, self.style_dim, self.n_latent = c.image_size, c.style_dim, c.n_latent
        factors = {"yaw": ("pose", 1), "pitch": ("pose", 1), "roll": ("pose", 1), "trans": ("pose", 3),
                   "id": ("pose", model.n_id), "exp": ("expression", model.n_exp),
                   "light": ("appearance", 9), "tint": ("appearance", 3), "background": ("appearance", 9)}
        factors.update({k: ("appearance", n) for k, n in TEXTURE_FACTORS.items()})
        # A whole head with ARKit expressions (ICT) gets its own world: sparse expressions, wider looks.
        self.whole_head = "jawOpen" in model.exp_names
        if self.whole_head:
            factors.update({k: ("appearance", n) for k, n in HEAD_FACTORS.items()})
            lead, active = expression_groups(model.exp_names)
            self.register_buffer("exp_lead", lead, persistent=False)
            self.register_buffer("exp_active", active, persistent=False)
        self.latent = LatentSpace(c.style_dim, c.n_latent, factors, c.seed, c.n_mlp, empty=empty)
        bank = HeadTextureBank if self.whole_head else TextureBank
        self.textures = bank(model, c.texture_size, c.seed, empty=empty)
        self.camera = PinholeCamera(image_size=c.image_size)
        self.renderer = FaceRenderer(model, PinholeCamera(image_size=c.image_size * c.antialias),
                                     mode="vertex", displacement_scale=DISPLACEMENT_SCALE)

    # -- StyleGAN2 interface ---------------------------------------------------------------------
    @property
    def latent_avg(self) -> torch.Tensor:
        return self.latent.latent_avg

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, style_dim) -> w (B, style_dim)."""
        return self.latent.mapping(z)

    def mean_latent(self, n: int = 10_000, seed: int = 0) -> torch.Tensor:
        """Mean w (style_dim,): exact statistics of the mapping are known, so ``n`` and ``seed`` are unused."""
        return self.latent.latent_avg.clone()

    def to_wplus(self, latent: torch.Tensor, input_space: str = "z", truncation: float = 1.0,
                 truncation_latent: torch.Tensor | None = None, **_: object) -> torch.Tensor:
        """z, w or W+ -> W+ (B, n_latent, style_dim), truncated towards the mean latent if psi < 1."""
        if input_space not in ("z", "w", "w+"):
            raise StyleFaceError(f"input space must be z, w or w+, got {input_space!r}")
        w = self.mapping(latent) if input_space == "z" else latent
        if truncation != 1.0:
            centre = (truncation_latent if truncation_latent is not None else self.latent_avg).reshape(1, -1)
            centre = centre.unsqueeze(1) if w.dim() == 3 else centre
            w = centre + truncation * (w - centre)
        return w if w.dim() == 3 else w.unsqueeze(1).expand(-1, self.n_latent, -1)

    def forward(self, latent: torch.Tensor, *, input_space: str = "z", truncation: float = 1.0,
                truncation_latent: torch.Tensor | None = None, return_latents: bool = False, **_: object):
        wplus = self.to_wplus(latent, input_space, truncation, truncation_latent)
        image = self.synthesis(wplus)
        return (image, wplus) if return_latents else image

    # -- decoding --------------------------------------------------------------------------------
    def _wplus(self, w: torch.Tensor) -> torch.Tensor:
        if w.dim() == 2:
            w = w.unsqueeze(1).expand(-1, self.n_latent, -1)
        if w.dim() != 3 or w.shape[1:] != (self.n_latent, self.style_dim):
            raise StyleFaceError(f"W+ latent must be (B, {self.n_latent}, {self.style_dim}), got {tuple(w.shape)}")
        return w.float()

    def coefficients(self, w: torch.Tensor, factors: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """W+ (or w) -> true coefficients (B, layout.size) in the face model's CoeffLayout. Cheap: no render."""
        c = self.config
        f = factors if factors is not None else self.latent.factors(self._wplus(w))
        b = f["yaw"].shape[0]
        deg = math.pi / 180
        yaw_max = c.yaw_max_deg * deg
        yaw = (c.yaw_deg_per_sigma * deg * f["yaw"]).clamp(-yaw_max, yaw_max)
        pitch = c.pitch_deg_per_sigma * deg * f["pitch"]
        roll = c.roll_deg_per_sigma * deg * f["roll"]
        ids = 2.5 * torch.tanh(c.id_sigma * f["id"] / 2.5)
        if self.whole_head:
            exp = sparse_expression(f["exp"], self.exp_lead, self.exp_active)
        else:
            exp = torch.tanh(c.exp_sigma * f["exp"])
        trans = f["trans"] * f["trans"].new_tensor([0.03, 0.03, 0.08])
        g = f["light"].new_zeros(b, 3, 9)
        band = f["light"] * f["light"].new_tensor([0.07, 0.14, 0.10, 0.22, 0.04, 0.04, 0.05, 0.04, 0.04])
        band = band + f["light"].new_tensor([0.05, 0.0, 0.12, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])  # light from above-front
        tint = 1 + 0.06 * f["tint"]
        g = band[:, None, :] * tint[:, :, None]
        tex = f["yaw"].new_zeros(b, self.layout.n_tex)
        return torch.cat([ids, exp, tex, pitch, yaw, roll, g.reshape(b, 27), trans], 1)

    def maps(self, w: torch.Tensor, factors: dict[str, torch.Tensor] | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """W+ -> (diffuse (B, 3, T, T) in [0, 1], generalized displacement (B, 3, T, T) in [-1, 1])."""
        f = factors if factors is not None else self.latent.factors(self._wplus(w))
        return self.textures.paint(f)

    def background(self, f: dict[str, torch.Tensor], size: int) -> torch.Tensor:
        """A smooth vertical colour gradient with a horizontal tilt, (B, 3, size, size) in [0, 1]."""
        bgf = f["background"]
        level = 0.15 + 0.7 * torch.sigmoid(0.9 * bgf[:, 0:1])
        top = (level + 0.12 * torch.tanh(bgf[:, 1:4])).clamp(0, 1)
        bottom = (level * (0.7 + 0.2 * torch.tanh(bgf[:, 8:9])) + 0.12 * torch.tanh(bgf[:, 4:7])).clamp(0, 1)
        tilt = 0.25 * torch.tanh(bgf[:, 7])
        coords = (torch.arange(size, device=bgf.device, dtype=bgf.dtype) + 0.5) / size
        t = (coords[None, :, None] + tilt[:, None, None] * (coords[None, None, :] - 0.5)).clamp(0, 1)
        return top[:, :, None, None] * (1 - t[:, None]) + bottom[:, :, None, None] * t[:, None]

    def truth(self, w: torch.Tensor) -> dict[str, torch.Tensor]:
        """The true coefficients and 2D landmarks of W+ codes without rendering (cheap)."""
        coeffs = self.coefficients(self._wplus(w))
        return {"coeffs": coeffs, "landmarks": self._landmarks(coeffs)}

    def _landmarks(self, coeffs: torch.Tensor) -> torch.Tensor:
        parts = self.layout.split(coeffs)
        t = self.face_model.tensors(coeffs.device)
        lm = t.landmarks
        shape = t.mean_shape[lm] + torch.einsum("nck,bk->bnc", t.id_basis[lm], parts.id) \
            + torch.einsum("nck,bk->bnc", t.exp_basis[lm], parts.exp)
        return self.camera.project(rigid_transform(shape, euler_rotation(parts.rot), parts.trans))

    # -- rendering -------------------------------------------------------------------------------
    def synthesis(self, wplus: torch.Tensor, noise: object = None, generator: object = None,
                  return_truth: bool = False):
        """W+ (B, n_latent, style_dim) -> image (B, 3, S, S) in [-1, 1]; with ``return_truth`` also a dict:
        coeffs (B, C), diffuse / displacement (B, 3, T, T), landmarks (B, 68, 2) pixels, mask (B, 1, S, S)."""
        wplus = self._wplus(wplus)
        f = self.latent.factors(wplus)
        coeffs = self.coefficients(wplus, f)
        diffuse, disp = self.maps(wplus, f)
        size = self.config.image_size
        aa = self.config.antialias
        out = self.renderer.render(coeffs, diffuse, disp)
        rgb, mask = out.image, out.mask
        if aa > 1:
            rgb = torch.nn.functional.avg_pool2d(rgb * mask, aa)
            mask = torch.nn.functional.avg_pool2d(mask, aa)
        else:
            rgb = rgb * mask
        image = rgb.clamp(0, 1) + self.background(f, size) * (1 - mask)
        image = image * 2 - 1
        if not return_truth:
            return image
        return image, {"coeffs": coeffs, "diffuse": diffuse, "displacement": disp, "landmarks": self._landmarks(coeffs),
                       "mask": mask}

    def config_dict(self) -> dict:
        """JSON-able description (what a shard or checkpoint records about its generator)."""
        return {"kind": "standin", **asdict(self.config), "face_model_name": self.face_model.name}
