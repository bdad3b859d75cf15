"""3DMM fitting of whole images, batched, following 3DMM-Fitting-Pytorch (the tool StyleFaceUV used).

Stage 1 (rigid): rotation and translation only, on the landmark loss. Stage 2 (non-rigid): identity,
expression, albedo, lighting, rotation and translation on landmark + photometric loss + regularisers.
Weights and iteration counts default to the tool's. Unlike the tool, the fit runs on the full uncropped
image with the project camera, so coefficients and images stay aligned (pitfall 1 of the research note).

Every loss is a sum of per-image terms and Adam is element-wise, so a batch fits each image exactly as
it would be fitted alone. Face models without an albedo basis (the demo head) fit a free low-resolution
albedo UV map instead of albedo coefficients; the coefficients' tex slot is then left at zero.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from styleface.camera import PinholeCamera
from styleface.errors import StyleFaceError
from styleface.facemodel.model import FaceModel
from styleface.geometry import euler_rotation, face_albedo, face_shape, rigid_transform
from styleface.render.face import FaceRenderer

from .landmarks import landmark_weights

ALBEDO_MODES = ("auto", "model", "uv")


@dataclass
class FitConfig:
    """Defaults of 3DMM-Fitting-Pytorch (research note section 2.3)."""

    rigid_iters: int = 1000
    rigid_lr: float = 1e-2
    nonrigid_iters: int = 500
    nonrigid_lr: float = 1e-2
    w_landmark: float = 100.0
    w_photo: float = 1.6
    w_id: float = 1e-3
    w_exp: float = 0.8e-3
    w_tex: float = 1.7e-6
    w_reflectance: float = 1.0
    albedo: str = "auto"            # model: the albedo basis; uv: a free UV map; auto: model if it has a basis
    albedo_uv_size: int = 32
    w_albedo_smooth: float = 1.0
    photo_size: int | None = None   # render size of the photometric term (None: the image size)

    def validate(self) -> None:
        if self.albedo not in ALBEDO_MODES:
            raise StyleFaceError(f"--albedo must be one of {', '.join(ALBEDO_MODES)}")
        if self.rigid_iters < 0 or self.nonrigid_iters < 0:
            raise StyleFaceError("iteration counts must be >= 0")
        if self.photo_size is not None and not 16 <= self.photo_size <= 2048:
            raise StyleFaceError("--photo-size must be in [16, 2048]")


@dataclass
class FitResult:
    coeffs: torch.Tensor            # (B, layout.size)
    landmark_rmse: torch.Tensor     # (B,) pixels of the input image
    photo: torch.Tensor             # (B,) masked mean RGB distance in [0, 1] units (the tool's loss)
    render: torch.Tensor            # (B, 3, S, S) in [0, 1], black background
    mask: torch.Tensor              # (B, 1, S, S)
    albedo_uv: torch.Tensor | None  # (B, 3, T, T) when the albedo is a free map


def photometric(render: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image masked mean Euclidean RGB distance (B,), images in [0, 1]."""
    dist = torch.sqrt(((render - target) ** 2).sum(1, keepdim=True) + 1e-8)
    return (dist * mask).sum((1, 2, 3)) / mask.sum((1, 2, 3)).clamp(min=1.0)


def _total_variation(m: torch.Tensor) -> torch.Tensor:
    return ((m[..., 1:, :] - m[..., :-1, :]) ** 2).mean((1, 2, 3)) + ((m[..., 1:] - m[..., :-1]) ** 2).mean((1, 2, 3))


class Fitter:
    """Fits a face model to batches of images given 68 landmarks per image."""

    def __init__(self, model: FaceModel, config: FitConfig | None = None, device: str | torch.device = "cpu"):
        self.model = model
        self.config = config or FitConfig()
        self.config.validate()
        self.device = torch.device(device)
        self.t = model.tensors(self.device)
        self.layout = model.layout
        mode = self.config.albedo
        if mode == "auto":  # the tool fits albedo coefficients; without a basis, fit a free map
            mode = "model" if model.albedo_basis is not None else "uv"
        if mode == "model" and model.mean_albedo is None:
            raise StyleFaceError(f"face model '{model.name}' has no albedo; use --albedo uv")
        self.albedo_mode = mode
        regions = model.metadata.get("regions", {}) or {}
        skin = regions.get("skin")
        self.skin = None if skin is None else torch.as_tensor(skin, dtype=torch.float32, device=self.device) > 0.5
        self.lm_weights = landmark_weights(68, self.device)

    # -- pieces ----------------------------------------------------------------------------------
    def _landmarks(self, id_c: torch.Tensor | None, exp_c: torch.Tensor | None, rot: torch.Tensor,
                   trans: torch.Tensor, camera: PinholeCamera) -> torch.Tensor:
        """Project only the 68 landmark vertices (cheap: the rigid stage never builds the full mesh)."""
        t, lm = self.t, self.t.landmarks
        v = t.mean_shape[lm].unsqueeze(0)
        if id_c is not None and id_c.shape[1]:
            v = v + torch.einsum("nck,bk->bnc", t.id_basis[lm], id_c)
        if exp_c is not None and exp_c.shape[1]:
            v = v + torch.einsum("nck,bk->bnc", t.exp_basis[lm], exp_c)
        v = v.expand(rot.shape[0], -1, -1)
        return camera.project(rigid_transform(v, euler_rotation(rot), trans))

    def _landmark_loss(self, pred: torch.Tensor, target: torch.Tensor, size: int) -> torch.Tensor:
        """Per-image weighted mean squared distance in image-size units (B,)."""
        d = ((pred - target) / size) ** 2
        return (d.sum(-1) * self.lm_weights).sum(-1)

    def _coeffs(self, p: dict[str, torch.Tensor], b: int) -> torch.Tensor:
        tex = p.get("tex", torch.zeros(b, self.layout.n_tex, device=self.device))
        return torch.cat([p["id"], p["exp"], tex, p["rot"], p["gamma"], p["trans"]], 1)

    # -- the fit ---------------------------------------------------------------------------------
    def fit(self, images: torch.Tensor, landmarks: torch.Tensor) -> FitResult:
        """images (B, 3, H, W) in [0, 1] (full uncropped, square); landmarks (B, 68, 2) pixels."""
        cfg = self.config
        if images.dim() != 4 or images.shape[1] != 3 or images.shape[2] != images.shape[3]:
            raise StyleFaceError(f"images must be (B, 3, S, S), got {tuple(images.shape)}")
        if landmarks.shape != (images.shape[0], 68, 2):
            raise StyleFaceError(f"landmarks must be ({images.shape[0]}, 68, 2), got {tuple(landmarks.shape)}")
        images = images.to(self.device, torch.float32)
        landmarks = landmarks.to(self.device, torch.float32)
        b, size = images.shape[0], images.shape[-1]
        camera = PinholeCamera(image_size=size)
        psize = cfg.photo_size or size
        target = images if psize == size else F.interpolate(images, size=(psize, psize), mode="area")
        renderer = FaceRenderer(self.model, PinholeCamera(image_size=psize), mode="vertex")
        z = lambda n: torch.zeros(b, n, device=self.device)  # noqa: E731
        p = {"id": z(self.layout.n_id), "exp": z(self.layout.n_exp), "rot": z(3), "gamma": z(27), "trans": z(3)}

        # Stage 1: rigid, landmarks only.
        rigid = [p["rot"].requires_grad_(), p["trans"].requires_grad_()]
        opt = torch.optim.Adam(rigid, lr=cfg.rigid_lr)
        for _ in range(cfg.rigid_iters):
            opt.zero_grad(set_to_none=True)
            pred = self._landmarks(None, None, p["rot"], p["trans"], camera)
            loss = cfg.w_landmark * self._landmark_loss(pred, landmarks, size).sum()
            loss.backward()
            opt.step()

        # Stage 2: non-rigid.
        albedo_uv = None
        if self.albedo_mode == "uv":
            albedo_uv = self._initial_albedo(p, renderer, target).requires_grad_()
        else:
            p["tex"] = z(self.layout.n_tex)
        params = [v.requires_grad_() for v in p.values()] + ([albedo_uv] if albedo_uv is not None else [])
        opt = torch.optim.Adam(params, lr=cfg.nonrigid_lr)
        for _ in range(cfg.nonrigid_iters):
            opt.zero_grad(set_to_none=True)
            loss = self._nonrigid_loss(p, albedo_uv, renderer, target, landmarks, camera, size)
            loss.backward()
            opt.step()

        with torch.no_grad():
            coeffs = self._coeffs(p, b)
            out = renderer.render(coeffs, albedo_uv)
            photo = photometric(out.image, target, out.mask)
            pred = self._landmarks(p["id"], p["exp"], p["rot"], p["trans"], camera)
            rmse = ((pred - landmarks) ** 2).sum(-1).mean(-1).sqrt()
        return FitResult(coeffs.detach(), rmse, photo, out.image.clamp(0, 1), out.mask,
                         None if albedo_uv is None else albedo_uv.detach())

    def _initial_albedo(self, p: dict[str, torch.Tensor], renderer: FaceRenderer, target: torch.Tensor) -> torch.Tensor:
        """A flat map of each image's mean face colour divided by the ambient light (0.709)."""
        with torch.no_grad():
            out = renderer.render(self._coeffs(p, target.shape[0]),
                                  torch.full((1, 3, 4, 4), 0.5, device=self.device))
            m = out.mask
            mean = (target * m).sum((2, 3)) / m.sum((2, 3)).clamp(min=1)
            col = (mean / 0.709).clamp(0.05, 1.0)
        n = self.config.albedo_uv_size
        return col[:, :, None, None].expand(-1, -1, n, n).contiguous()

    def _nonrigid_loss(self, p: dict[str, torch.Tensor], albedo_uv: torch.Tensor | None, renderer: FaceRenderer,
                       target: torch.Tensor, landmarks: torch.Tensor, camera: PinholeCamera, size: int
                       ) -> torch.Tensor:
        cfg = self.config
        b = target.shape[0]
        coeffs = self._coeffs(p, b)
        out = renderer.render(coeffs, albedo_uv)
        loss = cfg.w_photo * photometric(out.image, target, out.mask.detach())
        pred = self._landmarks(p["id"], p["exp"], p["rot"], p["trans"], camera)
        loss = loss + cfg.w_landmark * self._landmark_loss(pred, landmarks, size)
        loss = loss + cfg.w_id * (p["id"] ** 2).sum(1) + cfg.w_exp * (p["exp"] ** 2).sum(1)
        if "tex" in p:
            loss = loss + cfg.w_tex * (p["tex"] ** 2).sum(1)
            if self.skin is not None and cfg.w_reflectance > 0:
                alb = face_albedo(self.t, p["tex"])[:, self.skin]
                loss = loss + cfg.w_reflectance * ((alb - alb.mean(1, keepdim=True)) ** 2).mean((1, 2))
        if albedo_uv is not None and cfg.w_albedo_smooth > 0:
            loss = loss + cfg.w_albedo_smooth * _total_variation(albedo_uv)
        return loss.sum()

    # -- evaluation --------------------------------------------------------------------------------
    @torch.no_grad()
    def render_mean_face(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The baseline "mean face": zero coefficients, default light, the model's mean albedo (or each
        image's mean colour inside the face when there is none), rendered at the images' size."""
        images = images.to(self.device, torch.float32)
        b, size = images.shape[0], images.shape[-1]
        renderer = FaceRenderer(self.model, PinholeCamera(image_size=size), mode="vertex")
        coeffs = torch.zeros(b, self.layout.size, device=self.device)
        if self.model.mean_albedo is not None:
            out = renderer.render(coeffs)
            return out.image.clamp(0, 1), out.mask
        p = {k: coeffs[:, self.layout.slice(k)] for k in ("id", "exp", "rot", "gamma", "trans")}
        albedo = self._initial_albedo(p, renderer, images)
        out = renderer.render(coeffs, albedo)
        return out.image.clamp(0, 1), out.mask

    def config_dict(self) -> dict:
        return {**asdict(self.config), "albedo_mode": self.albedo_mode, "face_model": self.model.name}


def posed_shape(model: FaceModel, coeffs: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) posed vertices of coefficients (for exports and checks)."""
    t = model.tensors(coeffs.device)
    c = model.layout.split(coeffs)
    return rigid_transform(face_shape(t, c.id, c.exp), euler_rotation(c.rot), c.trans)
