"""The renderer on the procedural demo head: framing, turned views and visibility on a real head shape."""
from __future__ import annotations

import math

import pytest
import torch

from styleface.render import FaceRenderer, PinholeCamera, direct_visibility, gradient_visibility


@pytest.fixture(scope="module")
def demo():
    procedural = pytest.importorskip("styleface.facemodel.procedural")
    return procedural.demo_face_model()


def test_demo_head_front_and_60_degrees(demo):
    r = FaceRenderer(demo, PinholeCamera(128))
    c = demo.layout.zeros(2).replace(rot=torch.tensor([[0.0, 0.0, 0.0], [0.0, math.radians(60), 0.0]]))
    out = r.render(c)
    cover = out.mask.mean((1, 2, 3))
    assert (cover > 0.3).all() and (cover < 0.95).all()
    # Front view is left-right symmetric; the turned head faces the image right (+x).
    front = out.mask[0, 0]
    assert (front != front.flip(-1)).float().mean() < 0.02
    cols = out.mask[1, 0].sum(0)
    assert torch.isfinite(out.image).all() and out.image.max() <= 1.5
    assert cols.nonzero().max() > 64


def test_visibility_methods_agree_on_the_demo_head(demo):
    r = FaceRenderer(demo, PinholeCamera(96))
    g = torch.Generator().manual_seed(1)
    c = demo.layout.zeros(2).replace(gamma=0.3 * torch.randn(2, 27, generator=g),
                                     rot=torch.tensor([[0.0, 0.5, 0.0], [0.1, -1.0, 0.0]]))
    grad = gradient_visibility(r, c, (64, 64))
    direct = direct_visibility(r, c, (64, 64))
    assert (grad == direct).float().mean() >= 0.999
    assert direct.sum() > 0
