"""The interim demo bundle builder: exact stand-in mapping, a loadable bundle, sensible metrics."""
from __future__ import annotations

import json

import numpy as np
import torch

from styleface.pipeline import Pipeline
from styleface_train.demo_bundle import build_demo_bundle, standin_mapping
from styleface_train.standin import StandInConfig, StandInGenerator


def test_mapping_copy_is_exact():
    s = StandInGenerator(StandInConfig(style_dim=16, n_latent=6, image_size=32, texture_size=16))
    m = standin_mapping(s)
    z = torch.randn(5, 16)
    torch.testing.assert_close(m(z), s.mapping(z), rtol=0, atol=1e-6)
    torch.testing.assert_close(m.to_wplus(z, 0.7), s.to_wplus(z, truncation=0.7), rtol=0, atol=1e-6)


def test_tiny_build_loads_and_generates(tmp_path):
    out = build_demo_bundle(tmp_path / "demo", uv_size=16, style_dim=16, f3d_steps=150, uv_steps=5, fyaw_steps=60,
                            batch=8, svm_samples=1000, log=lambda s: None)
    man = json.loads((out / "bundle.json").read_text())
    metrics = man["provenance"]["metrics"]
    assert metrics["f3d_val_l1"] < metrics["f3d_mean_baseline_l1"]  # F3D learned something
    assert metrics["svm_train_accuracy"] > 0.9
    pipe = Pipeline.load(out, device="cpu")
    face = pipe.generate_one(3)
    assert face.vertices.shape == (pipe.model.n_vertices, 3) and face.diffuse.shape == (3, 16, 16)
    np.testing.assert_allclose(pipe.generate_one(3).diffuse, face.diffuse, atol=1e-6)
