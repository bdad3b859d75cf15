"""The stand-in's world on the ICT head: sparse ARKit expressions, whole-head parts, varied people."""
from __future__ import annotations

import torch

from styleface_train.standin import StandInConfig, StandInGenerator


def test_ict_world_has_sparse_paired_expressions_and_varied_skin():
    g = StandInGenerator(StandInConfig(face_model="ict", image_size=32, texture_size=32, seed=3))
    assert g.whole_head and g.layout.size == 190
    z = torch.randn(256, g.style_dim, generator=torch.Generator().manual_seed(0))
    w = g.to_wplus(z)
    exp = g.coefficients(w)[:, g.layout.slice("exp")]
    names = g.face_model.exp_names
    assert exp.min() >= 0 and exp.max() <= 1
    active = (exp > 0.05).float()
    assert 0.5 < active.sum(1).mean() < 8  # a few shapes per face, not all 57
    assert (active.sum(1) == 0).float().mean() > 0.1  # some faces are neutral
    left, right = names.index("mouthSmileLeft"), names.index("mouthSmileRight")
    both = (exp[:, left] > 0.05) == (exp[:, right] > 0.05)
    assert both.all()  # paired sides switch on together
    gaze = [i for i, n in enumerate(names) if n.startswith(("eyeLook", "pupilDilate"))]
    assert exp[:, gaze].abs().max() == 0
    diffuse, disp = g.maps(w[:64])
    assert diffuse.shape == (64, 3, 32, 32) and 0 <= diffuse.min() and diffuse.max() <= 1
    skin = g.textures.skin_mask * (1 - g.textures.hair_mask)
    lum = (diffuse.mean(1) * skin).sum((1, 2)) / skin.sum()
    assert lum.max() - lum.min() > 0.35  # light and dark skin in one batch (Fitzpatrick I-VI)
    img = g.synthesis(w[:2])
    assert img.shape == (2, 3, 32, 32) and torch.isfinite(img).all()
