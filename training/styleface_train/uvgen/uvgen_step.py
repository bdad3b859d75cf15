"""One training step of the UV generator (StyleFaceUV's ``training_step``, manual optimisation).

Per batch the UV maps are generated once and rendered in the original view and, when lambda_mv > 0,
in the symmetric view (same maps, the symmetric coefficients). Then, as in the official code:

- G step on every batch: GAN + lambda_mv GAN_sym + lambda_rec (photo + lambda_mv photo_sym +
  lambda_percept (LPIPS + lambda_mv LPIPS_sym)); the symmetric photometric term is weighted per pixel
  by the texel weight map (1 newly visible / 0.5 elsewhere in the UV mask / 0) rendered unlit into the
  symmetric view; LPIPS compares the render with target x binary mask;
- D step on every n_critic-th batch: real = target x binary render mask, fake = render (detached),
  logistic loss + lambda_mv x the symmetric one; every d_reg_every-th D step a separate lazy R1 step
  (gamma 10) on real and symmetric-real (x lambda_mv).

One generator pass serves both updates (the official code runs G again for D, with other noise): no
second G pass or render on D batches. The official code updates D first; here G goes first, so G's
graph (about 0.6 GB per 256 px sample) is freed before D's four forward passes are built, which lowers
the peak memory; D still sees renders of the G that made them, and G meets a D one update older on the
batches where D trains (one in n_critic).

A non-finite loss skips that optimiser's update on every rank (the decision is all-reduced, so DDP
ranks never diverge) and is reported by name.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import torch
from styleface.render.face import FaceGeometry, FaceRender, FaceRenderer
from styleface.render.visibility import direct_visibility, gradient_visibility, symmetric_weight_map
from torch.nn.parallel import DistributedDataParallel

from ..common.distributed import DistContext
from .losses import d_logistic_loss, g_nonsaturating_loss, photometric_loss, r1_objective
from .uvgen_config import UVGenConfig
from .uvgen_views import Views


@dataclass
class ViewRender:
    """A rendered view: ``fake`` (B, 3, H, W) in [0, 1] (differentiable), the binary render ``mask``
    (B, 1, H, W) and ``real`` = target x mask (what D sees as real)."""

    render: FaceRender | None          # dropped after the G step (it holds G's graph)
    fake: torch.Tensor
    mask: torch.Tensor
    real: torch.Tensor


@dataclass
class StepResult:
    scalars: dict[str, float]
    skipped: list[tuple[str, str, float]] = field(default_factory=list)   # (optimiser, loss name, value)
    diffuse: torch.Tensor | None = None
    displacement: torch.Tensor | None = None
    view: ViewRender | None = None
    view_sym: ViewRender | None = None


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    return module.module if isinstance(module, DistributedDataParallel) else module


def _detached(geo: FaceGeometry) -> FaceGeometry:
    return FaceGeometry(geo.shape.detach(), geo.vertices.detach(), geo.normals.detach(), geo.rotation.detach())


def _first_bad(values: dict[str, float]) -> tuple[str, float] | None:
    for name, v in values.items():
        if not math.isfinite(v):
            return name, v
    return None


def _grads_finite(params: list[torch.nn.Parameter]) -> bool:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return True
    return bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())


class UVGenStep:
    """Holds the networks, optimisers and renderer; ``__call__(step, views, noise)`` trains one batch."""

    def __init__(self, g: torch.nn.Module, d: torch.nn.Module, ema: torch.nn.Module | None,
                 opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, renderer: FaceRenderer,
                 perceptual: torch.nn.Module | None, uv_mask: torch.Tensor | None, cfg: UVGenConfig,
                 ctx: DistContext) -> None:
        self.g, self.d, self.ema = g, d, ema
        self.g_raw, self.d_raw = unwrap(g), unwrap(d)
        self.opt_g, self.opt_d = opt_g, opt_d
        self.renderer, self.perceptual = renderer, perceptual
        self.uv_mask = None if uv_mask is None else uv_mask.to(ctx.device)
        self.cfg, self.ctx = cfg, ctx
        self.g_params = [p for p in self.g_raw.parameters() if p.requires_grad]
        self.d_params = list(self.d_raw.parameters())

    # -- pieces ------------------------------------------------------------------------------------
    def autocast(self):
        if self.cfg.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def render_view(self, coeffs: torch.Tensor, diffuse: torch.Tensor, disp: torch.Tensor,
                    target: torch.Tensor) -> ViewRender:
        out = self.renderer.render(coeffs, diffuse, disp)
        mask = (out.mask.detach() > 0).to(target.dtype)
        return ViewRender(out, out.image.clamp(0.0, 1.0), mask, target * mask)

    def symmetric_weights(self, coeffs: torch.Tensor, coeffs_sym: torch.Tensor, view: ViewRender,
                          view_sym: ViewRender) -> torch.Tensor:
        """Per-pixel weights (B, 1, H, W) of the symmetric photometric term (no gradient)."""
        size = (self.cfg.uv_size, self.cfg.uv_size)
        with torch.no_grad():
            if self.cfg.visibility == "direct":
                vis = direct_visibility(self.renderer, coeffs, size, fragments=view.render.fragments)
                vis_sym = direct_visibility(self.renderer, coeffs_sym, size, fragments=view_sym.render.fragments)
            else:
                vis = gradient_visibility(self.renderer, coeffs.detach(), size)
                vis_sym = gradient_visibility(self.renderer, coeffs_sym.detach(), size)
            texels = symmetric_weight_map(vis, vis_sym, self.uv_mask)
            out = self.renderer.render(coeffs_sym, texels, None, lighting=False,
                                       geometry=_detached(view_sym.render.geometry))
        return out.image.clamp(0.0, 1.0)[:, :1]

    def lpips(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            return self.perceptual(real * 2 - 1, fake * 2 - 1).float().mean()

    def _d(self, net: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            return net(images * 2 - 1).float()

    def _skip(self, values: dict[str, float]) -> tuple[str, float] | None:
        """The first non-finite term on this rank, or ('another rank', nan) when only another rank has one;
        None when every rank's terms are finite."""
        bad = _first_bad(values)
        if self.ctx.any_true(bad is not None):
            return bad or ("on another rank", float("nan"))
        return None

    def _update(self, opt: torch.optim.Optimizer, loss: torch.Tensor, params: list[torch.nn.Parameter],
                name: str, result: StepResult) -> bool:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if not _grads_finite(params):   # gradients are all-reduced already: every rank agrees
            result.skipped.append((name, "gradient", float("nan")))
            opt.zero_grad(set_to_none=True)
            return False
        opt.step()
        return True

    # -- the step ----------------------------------------------------------------------------------
    def __call__(self, step: int, views: Views, noise: torch.Generator) -> StepResult:
        cfg = self.cfg
        mv = cfg.lambda_mv if cfg.symmetric else 0.0
        result = StepResult({})
        s = result.scalars
        with self.autocast():
            diffuse, disp = self.g(views.w, noise=cfg.noise, generator=noise)
        diffuse, disp = diffuse.float(), disp.float()
        result.diffuse, result.displacement = diffuse, disp
        view = self.render_view(views.coeffs, diffuse, disp, views.target)
        result.view = view
        view_sym = weights_sym = None
        if mv > 0:
            view_sym = self.render_view(views.coeffs_sym, diffuse, disp, views.target_sym)
            weights_sym = self.symmetric_weights(views.coeffs, views.coeffs_sym, view, view_sym)
            result.view_sym = view_sym

        self.g_step(step, views, view, view_sym, weights_sym, mv, result)
        # Keep values only: G's graph must not outlive its step (even a skipped one) into D's.
        for v in (view, view_sym):
            if v is not None:
                v.fake, v.render = v.fake.detach(), None
        result.diffuse, result.displacement = diffuse.detach(), disp.detach()
        del diffuse, disp
        if step % cfg.n_critic == 0:
            self.d_step(step, view, view_sym, mv, result)
        s["lr"] = self.opt_g.param_groups[0]["lr"]
        return result

    def g_step(self, step: int, views: Views, view: ViewRender, view_sym: ViewRender | None,
               weights_sym: torch.Tensor | None, mv: float, result: StepResult) -> None:
        cfg, s = self.cfg, result.scalars
        self.d_raw.requires_grad_(False)
        terms: dict[str, torch.Tensor] = {"g_gan": g_nonsaturating_loss(self._d(self.d_raw, view.fake))}
        terms["photo"] = photometric_loss(view.fake, views.target, view.mask)
        if step in cfg.debug_nan_steps:
            terms["photo"] = terms["photo"] * float("nan")
        use_lpips = self.perceptual is not None and cfg.lambda_percept > 0
        if use_lpips:
            terms["lpips"] = self.lpips(view.real, view.fake)
        if view_sym is not None:
            terms["g_gan_sym"] = g_nonsaturating_loss(self._d(self.d_raw, view_sym.fake))
            terms["photo_sym"] = photometric_loss(view_sym.fake, views.target_sym, weights_sym)
            if use_lpips:
                terms["lpips_sym"] = self.lpips(view_sym.real, view_sym.fake)
        zero = view.fake.new_zeros(())
        rec = terms["photo"] + mv * terms.get("photo_sym", zero)
        if use_lpips:
            rec = rec + cfg.lambda_percept * (terms["lpips"] + mv * terms.get("lpips_sym", zero))
        g_total = terms["g_gan"] + mv * terms.get("g_gan_sym", zero) + cfg.lambda_rec * rec
        terms["g_total"] = g_total
        values = {k: float(v.detach()) for k, v in terms.items()}
        s.update(values)
        bad = self._skip(values)
        if bad is not None:
            result.skipped.append(("g", *bad))
        elif self._update(self.opt_g, g_total, self.g_params, "g", result):
            self.update_ema()

    def d_step(self, step: int, view: ViewRender, view_sym: ViewRender | None, mv: float,
               result: StepResult) -> None:
        cfg, s = self.cfg, result.scalars
        self.d_raw.requires_grad_(True)
        real_pred = self._d(self.d, view.real)
        fake_pred = self._d(self.d, view.fake)
        terms = {"d_loss": d_logistic_loss(real_pred, fake_pred)}
        s["d_real"], s["d_fake"] = float(real_pred.detach().mean()), float(fake_pred.detach().mean())
        total = terms["d_loss"]
        if view_sym is not None:
            real_sym = self._d(self.d, view_sym.real)
            fake_sym = self._d(self.d, view_sym.fake)
            terms["d_loss_sym"] = d_logistic_loss(real_sym, fake_sym)
            s["d_real_sym"], s["d_fake_sym"] = float(real_sym.detach().mean()), float(fake_sym.detach().mean())
            total = total + mv * terms["d_loss_sym"]
        terms["d_total"] = total
        values = {k: float(v.detach()) for k, v in terms.items()}
        s.update(values)
        bad = self._skip(values)
        if bad is not None:
            result.skipped.append(("d", *bad))
        else:
            self._update(self.opt_d, total, self.d_params, "d", result)

        if (step // cfg.n_critic) % cfg.d_reg_every == 0 and cfg.r1_gamma > 0:
            # R1 in float32 (double backward), its own optimiser step as in rosinality / StyleFaceUV.
            reg, r1 = r1_objective(self.d, view.real, cfg.r1_gamma, cfg.d_reg_every)
            terms = {"r1": r1}
            if view_sym is not None:
                reg_sym, r1_sym = r1_objective(self.d, view_sym.real, cfg.r1_gamma, cfg.d_reg_every)
                reg = reg + mv * reg_sym
                terms["r1_sym"] = r1_sym
            values = {k: float(v) for k, v in terms.items()}
            s.update(values)
            bad = self._skip({**values, "r1_total": float(reg.detach())})
            if bad is not None:
                result.skipped.append(("d_r1", *bad))
            else:
                self._update(self.opt_d, reg, self.d_params, "d_r1", result)
        self.d_raw.requires_grad_(False)

    @torch.no_grad()
    def update_ema(self) -> None:
        if self.ema is None:
            return
        w = 1.0 - self.cfg.ema_decay
        for pe, p in zip(self.ema.parameters(), self.g_raw.parameters()):
            pe.lerp_(p.detach(), w)
