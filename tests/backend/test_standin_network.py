"""The stand-in as a bundle network (the demo bundle's generator2d)."""
from __future__ import annotations

import pytest
import torch

from styleface.errors import StyleFaceError
from styleface.nets.io import load_model, save_model
from styleface.standin import StandInConfig, StandInGenerator
from styleface.standin.network import StandInImageGenerator


def test_save_load_roundtrip(tmp_path):
    g = StandInGenerator(StandInConfig(style_dim=16, n_latent=4, image_size=32, texture_size=32, seed=3))
    save_model(StandInImageGenerator.from_standin(g), tmp_path / "g2d")
    net = load_model(tmp_path / "g2d")
    assert isinstance(net, StandInImageGenerator) and (net.size, net.n_latent, net.style_dim) == (32, 4, 16)
    z = torch.randn(2, 16)
    w = net.to_wplus(z, "z", truncation=0.7)
    torch.testing.assert_close(w, g.to_wplus(z, "z", truncation=0.7), atol=0, rtol=0)
    torch.testing.assert_close(net.synthesis(w, noise="const"), g.synthesis(w), atol=1e-6, rtol=0)
    with pytest.raises(StyleFaceError, match="not built in"):
        StandInImageGenerator(face_model="/some/file.npz")


def test_demo_bundle_ships_the_standin():
    from styleface.pipeline import Pipeline, seed_to_z

    pipe = Pipeline.load(None, device="cpu")
    g2d = pipe.bundle.networks["generator2d"]
    assert isinstance(g2d, StandInImageGenerator) and pipe.bundle.manifest.uv_padding == "border"
    # Same W+ as the bundle's mapping network (the one every network was trained on).
    z = torch.cat([seed_to_z(s, pipe.style_dim) for s in (0, 5)])
    torch.testing.assert_close(g2d.to_wplus(z, "z", truncation=0.7),
                               pipe.bundle.networks["mapping"].to_wplus(z, truncation=0.7), atol=1e-6, rtol=0)
    # The shipped layers are those the recorded configuration rebuilds (the world F3D and Fyaw learnt).
    cfg = dict(pipe.bundle.manifest.provenance["generator"])
    cfg.pop("kind"), cfg.pop("face_model_name")
    fresh = StandInGenerator(StandInConfig(**cfg)).state_dict()
    for k, v in g2d.standin.state_dict().items():
        torch.testing.assert_close(v, fresh[k], atol=1e-5, rtol=1e-5, msg=k)
