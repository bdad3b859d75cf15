"""The UV generator's losses, as StyleFaceUV computes them.

- photometric: per-pixel Euclidean RGB distance on the 0-255 scale (+1e-8 inside the square root),
  divided by 255, weighted by a per-pixel mask or weight map, summed and divided by the mask's sum per
  image, then averaged over the batch (an empty mask gives 0 instead of the official 0/0);
- GAN: non-saturating generator loss softplus(-D(fake)), logistic discriminator loss;
- R1: the squared gradient norm of D's output with respect to real images, computed out of place with
  ``autograd.grad(create_graph=True)`` so it also works under DDP.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

PHOTO_EPS = 1e-8


def photometric_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """pred, target (B, 3, H, W) in [0, 1]; mask (B, 1, H, W) or (B, H, W) weights -> scalar."""
    if mask.dim() == 4:
        mask = mask[:, 0]
    diff = (pred * 255.0 - target * 255.0).pow(2).sum(1)
    per_pixel = torch.sqrt(diff + PHOTO_EPS) * mask / 255.0
    per_image = per_pixel.sum((1, 2)) / mask.sum((1, 2)).clamp_min(PHOTO_EPS)
    return per_image.mean()


def g_nonsaturating_loss(fake_pred: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_pred).mean()


def d_logistic_loss(real_pred: torch.Tensor, fake_pred: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real_pred).mean() + F.softplus(fake_pred).mean()


def r1_penalty(real_pred: torch.Tensor, real_input: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of |dD/dx|^2 (``real_input`` must require grad and have produced ``real_pred``)."""
    (grad,) = torch.autograd.grad(real_pred.sum(), real_input, create_graph=True)
    return grad.pow(2).reshape(grad.shape[0], -1).sum(1).mean()


def r1_objective(d: torch.nn.Module, real: torch.Tensor, gamma: float, every: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The lazy R1 term gamma/2 * R1 * every (+ 0 * D(real)[0], which keeps every parameter of D in the
    graph so DDP finds all its gradients) and the plain R1 value for logging."""
    x = real.detach().requires_grad_(True)
    pred = d(x)
    r1 = r1_penalty(pred, x)
    return gamma / 2.0 * r1 * every + 0.0 * pred[0, 0], r1.detach()
