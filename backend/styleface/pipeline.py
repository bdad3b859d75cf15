"""The generation pipeline: seed / z / w -> W+ -> (F3D coefficients, UV maps) -> FaceAssets.

A Pipeline keeps one bundle's networks resident on one device, so repeated calls (the worker, the
Blender add-on, crowds) pay the load cost once. Every face is reproducible from (bundle id, seed,
options): z comes from a seeded CPU generator and the UV generator uses its fixed noise buffers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from . import __version__
from .assets import DisplacementInfo, FaceAssets
from .bundle import Bundle, open_bundle
from .errors import StyleFaceError
from .rig import FaceRig
from .facemodel.coeffs import Coeffs
from .geometry import face_shape


@dataclass
class GenerateOptions:
    """Per-call options; the defaults reproduce the bundle's own faces."""

    truncation: float | None = None                    # None: the bundle's default
    expression: Mapping[str, float] | Sequence[float] | None = None  # named presets or full coefficients
    expression_strength: float = 1.0                   # scales the expression (override or predicted)
    expression_from_seed: int | None = None            # take the expression of another seed
    pose: Sequence[float] | None = None                # Euler x, y, z radians (stored in coefficients)
    lighting: Sequence[float] | None = None            # 27 SH coefficients
    displacement_strength: float = 1.0                 # multiplies the displacement scale

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "GenerateOptions":
        d = dict(d or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise StyleFaceError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**d)


def seed_to_z(seed: int, style_dim: int) -> torch.Tensor:
    """The z of a seed: a seeded CPU draw, identical on every device and platform."""
    if not 0 <= int(seed) < 2**63:
        raise StyleFaceError(f"seed must be a non-negative integer, got {seed}")
    return torch.randn(1, style_dim, generator=torch.Generator().manual_seed(int(seed)))


class Pipeline:
    """Generate FaceAssets from a bundle. ``Pipeline.load(path, device)`` or ``Pipeline(bundle)``."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.model = bundle.face_model
        self.device = torch.device(bundle.device)
        self.layout = self.model.layout
        self._tensors = self.model.tensors(self.device)

    @classmethod
    def load(cls, path: str | None = None, device: str | None = "auto") -> "Pipeline":
        return cls(open_bundle(path, device))

    @property
    def style_dim(self) -> int:
        return self.bundle.manifest.style_dim

    @property
    def n_latent(self) -> int:
        return self.bundle.manifest.n_latent

    # -- latents -------------------------------------------------------------------------------
    @torch.no_grad()
    def wplus(self, seeds: Sequence[int] | None = None, z: torch.Tensor | None = None,
              w: torch.Tensor | None = None, truncation: float | None = None) -> torch.Tensor:
        """W+ (B, n_latent, style_dim) from seeds, z (B, style_dim), w (B, style_dim) or W+."""
        given = [x is not None for x in (seeds, z, w)]
        if sum(given) != 1:
            raise StyleFaceError("give exactly one of seeds, z or w")
        psi = self.bundle.manifest.truncation if truncation is None else float(truncation)
        if not 0.0 <= psi <= 2.0:
            raise StyleFaceError(f"truncation must be in [0, 2], got {psi}")
        if w is not None:
            w = torch.as_tensor(w, dtype=torch.float32, device=self.device)
            if w.dim() == 2:
                w = w.unsqueeze(1).expand(-1, self.n_latent, -1)
            if w.dim() != 3 or w.shape[1:] != (self.n_latent, self.style_dim):
                raise StyleFaceError(f"w must be (B, {self.style_dim}) or (B, {self.n_latent}, {self.style_dim})")
            return w.contiguous()
        if seeds is not None:
            z = torch.cat([seed_to_z(s, self.style_dim) for s in seeds])
        z = torch.as_tensor(z, dtype=torch.float32)
        if z.dim() != 2 or z.shape[1] != self.style_dim:
            raise StyleFaceError(f"z must be (B, {self.style_dim}), got {tuple(z.shape)}")
        z = z.to(self.device)
        g2d = self.bundle.networks.get("generator2d")
        if g2d is not None:
            if psi != 1.0 and g2d.latent_avg is None:
                g2d.set_latent_avg(g2d.mean_latent())
            return g2d.to_wplus(z, "z", truncation=psi)
        return self.bundle.networks["mapping"].to_wplus(z, truncation=psi)

    # -- networks ------------------------------------------------------------------------------
    @torch.no_grad()
    def coefficients(self, wplus: torch.Tensor) -> Coeffs:
        return self.layout.split(self.bundle.networks["f3d"](wplus))

    @torch.no_grad()
    def uv_maps(self, wplus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(diffuse (B,3,S,S) in [0,1], displacement (B,3,S,S) in [-1,1]) with the fixed noise."""
        return self.bundle.networks["uvgen"](wplus, noise="const")

    @torch.no_grad()
    def symmetric(self, wplus: torch.Tensor) -> torch.Tensor:
        yaw = self.bundle.networks.get("yaw")
        if yaw is None:
            raise StyleFaceError(f"bundle '{self.bundle.id}' has no yaw direction / Fyaw")
        return yaw(wplus)

    # -- generation ----------------------------------------------------------------------------
    def generate(self, seeds: int | Sequence[int] | None = None, *, z: torch.Tensor | None = None,
                 w: torch.Tensor | None = None, batch_size: int = 8,
                 on_progress: Callable[[int, int], None] | None = None, **options: Any) -> list[FaceAssets]:
        """FaceAssets for each seed (or row of z / w), in batches; options: see GenerateOptions."""
        opts = GenerateOptions.from_dict(options)
        if isinstance(seeds, (int, np.integer)):
            seeds = [int(seeds)]
        n = len(seeds) if seeds is not None else len(z if z is not None else w)  # type: ignore[arg-type]
        if batch_size < 1:
            raise StyleFaceError("batch_size must be at least 1")
        out: list[FaceAssets] = []
        for start in range(0, n, batch_size):
            sl = slice(start, min(n, start + batch_size))
            wp = self.wplus(seeds=None if seeds is None else list(seeds)[sl],
                            z=None if z is None else z[sl], w=None if w is None else w[sl],
                            truncation=opts.truncation)
            out.extend(self._assets(wp, None if seeds is None else list(seeds)[sl], opts))
            if on_progress is not None:
                on_progress(len(out), n)
        return out

    def generate_batch(self, seeds: Sequence[int], **options: Any) -> list[FaceAssets]:
        """The worker's batch entry point."""
        return self.generate(list(seeds), batch_size=len(seeds), **options)

    def generate_one(self, seed: int, **options: Any) -> FaceAssets:
        return self.generate([seed], **options)[0]

    @torch.no_grad()
    def _assets(self, wp: torch.Tensor, seeds: list[int] | None, o: GenerateOptions) -> list[FaceAssets]:
        c = self.coefficients(wp)
        exp = self._expression(c, o)
        diffuse, disp = self.uv_maps(wp)
        shape = face_shape(self._tensors, c.id, exp)
        info = self.bundle.manifest.displacement
        if o.displacement_strength < 0:
            raise StyleFaceError("displacement_strength must be >= 0")
        info = DisplacementInfo(info.mode, max(info.scale * o.displacement_strength, 1e-12), info.mid_level)
        rot = c.rot if o.pose is None else self._fixed(o.pose, 3, "pose").expand_as(c.rot)
        gamma = c.gamma if o.lighting is None else self._fixed(o.lighting, 27, "lighting").expand_as(c.gamma)
        c = c.replace(exp=exp, rot=rot, gamma=gamma)
        provenance = {"bundle": self.bundle.id, "styleface": __version__, "device": str(self.device),
                      "options": {k: v for k, v in o.__dict__.items() if v is not None and not callable(v)}}
        rig = FaceRig.from_model(self.model) if self.model.topology is not None else None
        faces = []
        for i in range(wp.shape[0]):
            groups = {k: getattr(c, k)[i].float().cpu().numpy() for k in self.layout.sizes()}
            faces.append(FaceAssets(
                vertices=shape[i].float().cpu().numpy(), faces=self.model.triangles, uvs=self.model.uvs,
                diffuse=diffuse[i].float().clamp(0, 1).cpu().numpy(),
                displacement=disp[i].float().clamp(-1, 1).cpu().numpy(), displacement_info=info,
                coefficients=groups, stylecode=wp[i].float().cpu().numpy(),
                seed=None if seeds is None else int(seeds[i]), provenance=_jsonable(provenance),
                uv_padding=self.bundle.manifest.uv_padding, rig=rig))
        return faces

    def _fixed(self, values: Sequence[float], n: int, what: str) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(values, dtype=np.float32).reshape(-1), device=self.device)
        if t.numel() != n:
            raise StyleFaceError(f"{what} needs {n} values, got {t.numel()}")
        return t.view(1, n)

    def _expression(self, c: Coeffs, o: GenerateOptions) -> torch.Tensor:
        exp = c.exp
        if o.expression_from_seed is not None:
            exp = self.coefficients(self.wplus(seeds=[o.expression_from_seed], truncation=o.truncation)).exp
            exp = exp.expand_as(c.exp)
        if o.expression is not None:
            if isinstance(o.expression, Mapping):
                from .procedural_face import expression_vector  # ARKit / ICT / procedural names
                vec = expression_vector(self.model, {str(k): float(v) for k, v in o.expression.items()})
                e = torch.as_tensor(vec, dtype=torch.float32, device=self.device).view(1, -1)
            else:
                e = self._fixed(o.expression, self.layout.n_exp, "expression")
            exp = e.expand_as(c.exp)
        return exp * float(o.expression_strength)

    # -- views ---------------------------------------------------------------------------------
    @torch.no_grad()
    def reference_images(self, wp: torch.Tensor, yaws_deg: Sequence[float], steps: int = 3) -> torch.Tensor:
        """2D images from the bundle's StyleGAN2 at target yaws, by moving w along the yaw direction
        (InterFaceGAN-style) until F3D predicts the target yaw (secant steps). -> (B, Y, 3, S, S) in [0,1]."""
        g2d = self.bundle.networks.get("generator2d")
        yaw_net = self.bundle.networks.get("yaw")
        if g2d is None or yaw_net is None:
            raise StyleFaceError(f"bundle '{self.bundle.id}' has no 2D generator and yaw direction for reference images")
        d = yaw_net.direction.to(wp)
        yi = self.layout.slice("rot").start + 1
        yaw_of = lambda w: self.bundle.networks["f3d"](w)[:, yi]  # noqa: E731
        y0 = yaw_of(wp)
        unit = yaw_of(wp + d) - y0  # yaw change per unit step (the direction is ~linear in yaw)
        unit = torch.where(unit.abs() < 1e-6, torch.full_like(unit, 1e-6), unit)
        codes = []
        for target in yaws_deg:
            t = torch.full_like(y0, float(np.deg2rad(target)))
            s = (t - y0) / unit
            for _ in range(steps):
                err = t - yaw_of(wp + s.view(-1, 1, 1) * d)
                s = s + err / unit
            codes.append(wp + s.view(-1, 1, 1) * d)
        # One synthesis call for all yaws (B, Y, ...) -> (B * Y, ...): cheaper than one call per yaw.
        img = g2d.synthesis(torch.stack(codes, 1).flatten(0, 1), noise="const")
        img = ((img.clamp(-1, 1) + 1) / 2).cpu()
        return img.view(wp.shape[0], len(yaws_deg), *img.shape[1:])

    def views(self, seeds: Sequence[int] | None = None, yaws_deg: Sequence[float] = (-30.0, 0.0, 30.0),
              **kwargs: Any) -> list:
        """View-consistent image synthesis (the paper's Figure 4): see ``styleface.views.view_strips``."""
        from .views import view_strips

        return view_strips(self, seeds, yaws_deg, **kwargs)

    def interpolate(self, start: Any, end: Any, steps: int = 5, **kwargs: Any) -> Any:
        """Faces along the W+ line between two seeds / W+ codes: see ``styleface.interpolate``."""
        from .interpolate import interpolate_faces

        return interpolate_faces(self, start, end, steps, **kwargs)

    @torch.no_grad()
    def preview(self, faces: Sequence[FaceAssets], yaws_deg: Sequence[float] = (0.0, 45.0),
                image_size: int = 256, lighting: bool = True, background: float = 1.0) -> np.ndarray:
        """Render faces with the project's renderer at the given yaws -> (B, Y, H, W, 3) float in [0,1]."""
        from .preview import render_previews

        return render_previews(self.model, faces, yaws_deg, image_size, lighting, background, self.device)


class PipelineGenerator:
    """A Pipeline behind the worker's Generator interface: one FaceAssets per seed, plus batches."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.device = str(pipeline.device)

    def generate(self, seed: int, texture_size: int | None = None, **options: Any) -> FaceAssets:
        return self.pipeline.generate([seed], **options)[0]

    def generate_batch(self, seeds: Sequence[int], texture_size: int | None = None, **options: Any) -> list[FaceAssets]:
        return self.pipeline.generate_batch(seeds, **options)


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.generic,)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x
