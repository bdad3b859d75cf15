"""The StyleGAN2 stand-in: interface, determinism, truth consistency, linear yaw, smoothness, asymmetry."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from styleface.camera import PinholeCamera, project_landmarks
from styleface.errors import StyleFaceError
from styleface.geometry import euler_rotation, face_shape, rigid_transform
from trainhelpers import IMAGE, N_LATENT, STYLE_DIM, TEXTURE, small_config

from styleface_train.standin import StandInConfig, StandInGenerator


def _z(n, seed=0):
    return torch.randn(n, STYLE_DIM, generator=torch.Generator().manual_seed(seed))


def test_interface_shapes_and_ranges(standin):
    g = standin
    assert (g.style_dim, g.n_latent, g.size) == (STYLE_DIM, N_LATENT, IMAGE)
    w = g.mapping(_z(4))
    assert w.shape == (4, STYLE_DIM)
    wp = g.to_wplus(_z(4))
    assert wp.shape == (4, N_LATENT, STYLE_DIM) and torch.equal(wp[:, 0], wp[:, -1])
    img, truth = g.synthesis(wp, return_truth=True)
    assert img.shape == (4, 3, IMAGE, IMAGE) and img.min() >= -1 and img.max() <= 1
    assert truth["coeffs"].shape == (4, g.layout.size)
    assert truth["diffuse"].shape == (4, 3, TEXTURE, TEXTURE)
    assert 0 <= truth["diffuse"].min() and truth["diffuse"].max() <= 1
    assert truth["displacement"].shape == (4, 3, TEXTURE, TEXTURE)
    assert truth["displacement"].abs().max() <= 1 and truth["displacement"].abs().max() > 0
    assert truth["landmarks"].shape == (4, 68, 2)
    assert torch.equal(g.synthesis(wp), img)
    # Same world seed -> same generator; the mean latent is the truncation centre.
    assert torch.allclose(g.mean_latent(), g.latent_avg)
    assert torch.allclose(g.to_wplus(_z(2), truncation=0.0)[:, 0], g.latent_avg.expand(2, -1))
    assert torch.allclose(g(_z(2)), g.synthesis(g.to_wplus(_z(2))))


def test_world_seed_is_deterministic(toy_npz, toy_model, standin):
    other = StandInGenerator(small_config(toy_npz), model=toy_model)
    wp = standin.to_wplus(_z(3, 5))
    assert torch.equal(other.to_wplus(_z(3, 5)), wp)
    assert torch.equal(other.synthesis(wp), standin.synthesis(wp))
    changed = StandInGenerator(small_config(toy_npz, seed=1), model=toy_model)
    assert not torch.allclose(changed.to_wplus(_z(3, 5)), wp)


def test_yaw_is_linear_in_w_and_wide(standin):
    g = standin
    wp = g.to_wplus(_z(4000, 1))
    yaw = g.coefficients(wp)[:, g.layout.yaw_index] * 180 / math.pi
    assert yaw.min() < -45 and yaw.max() > 45
    d = g.latent.factor_direction("yaw", tied=False)
    proj = (wp * d).sum((1, 2))
    inside = yaw.abs() < g.config.yaw_max_deg - 1e-3
    a = np.polyfit(proj[inside].numpy(), yaw[inside].numpy(), 1)
    resid = yaw[inside].numpy() - np.polyval(a, proj[inside].numpy())
    assert np.abs(resid).max() < 1e-2
    # Moving along any direction orthogonal to d leaves the yaw unchanged.
    e = torch.randn_like(d)
    e = e - (e * d).sum() * d
    moved = g.coefficients(wp[:10] + 3 * e)[:, g.layout.yaw_index] * 180 / math.pi
    assert torch.allclose(moved, yaw[:10], atol=1e-3)


def test_landmarks_follow_the_true_coefficients(standin):
    g = standin
    img, truth = g.synthesis(g.to_wplus(_z(3, 2)), return_truth=True)
    c = g.layout.split(truth["coeffs"])
    t = g.face_model.tensors("cpu")
    posed = rigid_transform(face_shape(t, c.id, c.exp), euler_rotation(c.rot), c.trans)
    lm = project_landmarks(posed, t.landmarks, PinholeCamera(image_size=IMAGE))
    assert torch.allclose(lm, truth["landmarks"], atol=1e-4)
    # The face covers the landmarks: the mask is on at (nearly) every landmark pixel.
    ij = truth["landmarks"].round().long().clamp(0, IMAGE - 1)
    on = truth["mask"][torch.arange(3)[:, None], 0, ij[..., 1], ij[..., 0]]
    assert on.mean() > 0.9


def test_outputs_are_smooth_in_w(standin):
    g = standin
    wp = g.to_wplus(_z(1, 3))
    step = 1e-3 * torch.randn(wp.shape, generator=torch.Generator().manual_seed(9))
    _, a = g.synthesis(wp, return_truth=True)
    _, b = g.synthesis(wp + step, return_truth=True)
    for k in ("coeffs", "diffuse", "displacement"):
        assert (a[k] - b[k]).abs().max() < 0.02, k


def test_marks_are_on_one_side_only(standin):
    bank = standin.textures
    marks = bank.moles.sum(0) + bank.scar
    assert marks.sum() > 0
    # Texels of the marks map to positive model x (the subject's left) only.
    x = torch.from_numpy(__import__("styleface.texture", fromlist=["UVLayers"]).UVLayers.for_model(
        standin.face_model, TEXTURE).positions[0])
    assert (x[marks > 0.05] > 0).all()


def test_mark_intensity_depends_on_w(standin):
    g = standin
    d, _ = g.maps(g.to_wplus(_z(64, 4)))
    mole_area = g.textures.moles.sum(0) > 0.5
    darkness = d[:, 0][:, mole_area].mean(1)
    assert darkness.std() > 0.01


def test_bad_configs_and_latents(standin):
    with pytest.raises(StyleFaceError):
        StandInConfig(style_dim=4)
    with pytest.raises(StyleFaceError):
        StandInConfig(image_size=8)
    with pytest.raises(StyleFaceError, match="W\\+ latent"):
        standin.synthesis(torch.zeros(1, N_LATENT + 1, STYLE_DIM))
